// Package doctor turns the seed's Known Gotchas and Troubleshooting sections into checks that read live
// state: the global cluster's objects, a site's objects and secrets, and the network path from a site to
// the global PostgreSQL and Redis. Every check yields one line, PASS, WARN or FAIL; a FAIL carries the
// seed's fix.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is a check's outcome. WARN is a check that could not be made (an input is missing, a controller
// has not reported yet) or a risk that is not yet a failure (a certificate inside its renewal window).
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Check is one line of a report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is what one doctor command found, in the order it checked.
type Report struct {
	Command string  `json:"command"`
	Checks  []Check `json:"checks"`
}

func (r *Report) add(status Status, name, fix, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...), Fix: fix})
}

// Pass records a check that passed.
func (r *Report) Pass(name, format string, args ...any) { r.add(Pass, name, "", format, args...) }

// Warn records a check that could not be made or found a risk short of a failure.
func (r *Report) Warn(name, fix, format string, args ...any) { r.add(Warn, name, fix, format, args...) }

// Fail records a failed check and the fix for it.
func (r *Report) Fail(name, fix, format string, args ...any) { r.add(Fail, name, fix, format, args...) }

// Merge appends another report's checks, their names prefixed (a secret's checks under its name, say).
func (r *Report) Merge(prefix string, other Report) {
	for _, c := range other.Checks {
		if prefix != "" {
			c.Name = prefix + ": " + c.Name
		}
		r.Checks = append(r.Checks, c)
	}
}

// Find returns the first check of that name (tests and callers that act on one outcome).
func (r *Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Count returns how many checks ended with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// ExitCode is 0 when every check passed, 1 when any failed, 3 when none failed but some could not pass
// (WARN): automation that waits for a healthy system waits on 0.
func (r *Report) ExitCode() int {
	switch {
	case r.Count(Fail) > 0:
		return 1
	case r.Count(Warn) > 0:
		return 3
	}
	return 0
}

// WriteText prints one line per check, and the fix under each FAIL and WARN that has one.
func (r *Report) WriteText(w io.Writer) error {
	for _, c := range r.Checks {
		if _, err := fmt.Fprintf(w, "%-4s %s: %s\n", c.Status, c.Name, c.Detail); err != nil {
			return err
		}
		if c.Fix != "" && c.Status != Pass {
			if _, err := fmt.Fprintf(w, "     fix: %s\n", c.Fix); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%s: %d passed, %d warnings, %d failed\n", r.Command, r.Count(Pass), r.Count(Warn), r.Count(Fail))
	return err
}

// WriteJSON prints the report as one JSON document, with the counts and the exit code.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Report
		Passed   int `json:"passed"`
		Warnings int `json:"warnings"`
		Failed   int `json:"failed"`
		ExitCode int `json:"exitCode"`
	}{*r, r.Count(Pass), r.Count(Warn), r.Count(Fail), r.ExitCode()})
}
