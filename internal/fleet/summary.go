package fleet

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
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
	case r.Note != "":
		return "ok, " + r.Note
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

// WriteMarkdown writes the summary as Markdown (a pull request comment): the table, then per stack that
// changes or failed a folded section with its error and the resources that change, how, and which of their
// properties. A limit above 0 caps its size in bytes (GitHub refuses a comment over 65536 characters): the
// table stays whole and the sections share what is left fairly, the small ones whole and the large ones
// trimmed with a note, so one stack with a thousand changes does not push the others' out.
func WriteMarkdown(w io.Writer, op string, results []Result, limit int) error {
	var head strings.Builder
	fmt.Fprintf(&head, "### fleet %s: %d stack(s), %d failed\n\n", op, len(results), failures(results))
	fmt.Fprintf(&head, "| stack | %s | duration | result |\n|---|%s---|---|\n", strings.Join(Columns, " | "), strings.Repeat("---:|", len(Columns)))
	for _, r := range results {
		fmt.Fprintf(&head, "| `%s` | %s | %s | %s |\n", r.Stack, counts(r, " | "), r.Duration.Round(100*time.Millisecond), inlineText(status(r)))
	}
	var sections []section
	for _, r := range results {
		if r.Err != nil || len(r.Steps) > 0 {
			sections = append(sections, newSection(r))
		}
	}
	budget := limit - head.Len()
	sizes := make([]int, len(sections))
	for i, s := range sections {
		sizes[i] = s.size()
		budget -= s.overhead()
	}
	shares := sizes
	if limit > 0 {
		shares = fairShares(sizes, budget)
	}
	if _, err := io.WriteString(w, head.String()); err != nil {
		return err
	}
	for i, s := range sections {
		if _, err := io.WriteString(w, s.render(shares[i])); err != nil {
			return err
		}
	}
	return nil
}

// section is one stack's folded part of the Markdown summary, its error and rows already escaped.
type section struct {
	open, err string
	rows      []string
}

const (
	tableHead   = "| change | type | name | properties |\n|---|---|---|---|\n"
	sectionEnd  = "\n</details>\n"
	trimmedNote = "\n<i>%d more not shown: the comment has a size limit; the run's log lists every change.</i>\n"
	errorCut    = "\n… (cut to fit the comment: the run's log has the whole error) …\n"
)

func newSection(r Result) section {
	var ops []string
	n := map[string]int{}
	for _, s := range r.Steps {
		if n[s.Op]++; n[s.Op] == 1 {
			ops = append(ops, s.Op)
		}
	}
	slices.SortFunc(ops, func(a, b string) int { return slices.Index(stepOps, a) - slices.Index(stepOps, b) })
	var what []string
	for _, op := range ops {
		what = append(what, fmt.Sprintf("%d %s", n[op], op))
	}
	if r.Err != nil {
		what = append(what, "failed")
	}
	s := section{open: fmt.Sprintf("\n<details><summary><code>%s</code>: %s</summary>\n", inlineText(r.Stack), strings.Join(what, ", "))}
	if r.Err != nil {
		s.err = strings.TrimSpace(r.Err.Error())
	}
	for _, step := range r.Steps {
		op := step.Op
		if step.Failed {
			op += " (failed)"
		}
		props := make([]string, len(step.Properties))
		for i, p := range step.Properties {
			props[i] = "<code>" + inlineText(p) + "</code>"
		}
		s.rows = append(s.rows, fmt.Sprintf("| %s | <code>%s</code> | <code>%s</code> | %s |\n", op, inlineText(step.Type),
			inlineText(step.Name), strings.Join(props, " ")))
	}
	return s
}

// overhead is what the section takes whatever its share: its frame, the table's head and a trim note.
func (s section) overhead() int {
	n := len(s.open) + len(sectionEnd) + len(fmt.Sprintf(trimmedNote, len(s.rows)))
	if len(s.rows) > 0 {
		n += len(tableHead) + 1
	}
	if s.err != "" {
		n += len(preBlock("")) + len(errorCut)
	}
	return n
}

// size is what the section's error and rows take in full.
func (s section) size() int {
	n := len(html.EscapeString(s.err))
	for _, row := range s.rows {
		n += len(row)
	}
	return n
}

// render writes the section within share bytes beyond its overhead: the error first (a failed stack's
// error is what a reviewer needs most), then as many rows as fit.
func (s section) render(share int) string {
	var b strings.Builder
	b.WriteString(s.open)
	if s.err != "" {
		text := clipEscaped(s.err, share)
		b.WriteString(preBlock(text))
		share -= len(text)
	}
	shown := 0
	for _, row := range s.rows {
		if len(row) > share {
			break
		}
		share -= len(row)
		shown++
	}
	if shown > 0 {
		b.WriteString("\n" + tableHead + strings.Join(s.rows[:shown], ""))
	}
	if shown < len(s.rows) {
		fmt.Fprintf(&b, trimmedNote, len(s.rows)-shown)
	}
	b.WriteString(sectionEnd)
	return b.String()
}

// preBlock puts escaped text in an HTML <pre> block, whose content Markdown leaves alone and which only a
// line holding </pre> ends: escaped, the text holds no tag, so no fence, </pre> or </details> in an error
// can end the block or the section early.
func preBlock(escaped string) string {
	return "\n<pre>\n" + escaped + "\n</pre>\n"
}

// clipEscaped is text HTML-escaped, cut in the middle to at most limit bytes when it is longer: its start
// says which command failed, its end the error itself.
func clipEscaped(text string, limit int) string {
	escaped := html.EscapeString(text)
	if len(escaped) <= limit {
		return escaped
	}
	keep := max(limit-len(errorCut), 0)
	runes := []rune(text)
	head, tail := escapedRunes(runes, keep/2, false), escapedRunes(runes, keep-keep/2, true)
	return head + errorCut + tail
}

// escapedRunes is the longest start (or end) of runes whose HTML-escaped form fits in limit bytes.
func escapedRunes(runes []rune, limit int, fromEnd bool) string {
	var parts []string
	n := 0
	for i := range runes {
		r := runes[i]
		if fromEnd {
			r = runes[len(runes)-1-i]
		}
		e := html.EscapeString(string(r))
		if n+len(e) > limit {
			break
		}
		n += len(e)
		parts = append(parts, e)
	}
	if fromEnd {
		slices.Reverse(parts)
	}
	return strings.Join(parts, "")
}

// fairShares divides budget among sizes: the smallest get what they need, the rest an equal part of what is
// left.
func fairShares(sizes []int, budget int) []int {
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sizes[a] - sizes[b] })
	shares := make([]int, len(sizes))
	remaining := max(budget, 0)
	for k, i := range order {
		shares[i] = min(sizes[i], remaining/(len(order)-k))
		remaining -= shares[i]
	}
	return shares
}

// inlineText is text for a table cell or a summary line: every character Markdown or HTML could read as
// syntax (a pipe ending the cell, a backtick, emphasis, a tag) as a numeric character reference, and line
// breaks as spaces.
func inlineText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < ' ' || r == 0x7f:
		case r < 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" .-/,", r):
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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

func failures(results []Result) int {
	n := 0
	for _, r := range results {
		if r.Err != nil {
			n++
		}
	}
	return n
}
