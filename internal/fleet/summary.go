package fleet

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Columns are the summary's change kinds, in order.
var Columns = []string{"create", "update", "replace", "delete", "same"}

// Failed reports whether any stack failed (a skipped stack counts: it did not do its part).
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Err != nil || (r.Skipped != "" && r.Skipped != "no such stack") {
			return true
		}
	}
	return false
}

func status(r Result) string {
	switch {
	case r.Interrupted:
		return "interrupted: " + firstLine(r.Err.Error())
	case r.Err != nil:
		return "failed: " + firstLine(r.Err.Error())
	case r.Skipped != "":
		return "skipped: " + r.Skipped
	}
	return "ok"
}

// firstLine keeps a table cell to one line; the whole error is in the stack's log above the table.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// WriteTable writes the summary as an aligned text table.
func WriteTable(w io.Writer, op string, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "STACK\t%s\tDURATION\tRESULT\n", strings.ToUpper(strings.Join(Columns, "\t")))
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Stack, counts(r, "\t"), r.Duration.Round(100*time.Millisecond), status(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "fleet %s: %d stack(s), %d failed\n", op, len(results), failures(results))
	return err
}

// WriteMarkdown writes the summary as a Markdown table (a pull request comment), with each failure's
// whole error folded below it.
func WriteMarkdown(w io.Writer, op string, results []Result) error {
	fmt.Fprintf(w, "### fleet %s: %d stack(s), %d failed\n\n", op, len(results), failures(results))
	fmt.Fprintf(w, "| stack | %s | duration | result |\n|---|%s---|---|\n", strings.Join(Columns, " | "), strings.Repeat("---:|", len(Columns)))
	for _, r := range results {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", r.Stack, counts(r, " | "), r.Duration.Round(100*time.Millisecond), escapeCell(status(r)))
	}
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(w, "\n<details><summary><code>%s</code> error</summary>\n\n```\n%s\n```\n</details>\n", r.Stack, strings.TrimSpace(r.Err.Error()))
		}
	}
	return nil
}

func counts(r Result, sep string) string {
	cells := make([]string, len(Columns))
	for i, c := range Columns {
		if r.Changes == nil {
			cells[i] = "-"
		} else {
			cells[i] = fmt.Sprint(r.Changes[c])
		}
	}
	return strings.Join(cells, sep)
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func failures(results []Result) int {
	n := 0
	for _, r := range results {
		if r.Err != nil {
			n++
		}
	}
	return n
}
