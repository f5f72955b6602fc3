package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yamlText is a YAML document edited in place: an edit splices only the text it changes, so comments, blank
// lines, quoting and flow or block style of everything else stay byte for byte (yaml.v3's encoder would
// drop blank lines and re-indent the file).
type yamlText struct {
	text string
}

// root parses the document and returns its top-level mapping.
func (y *yamlText) root() (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(y.text), &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the document is not a mapping")
	}
	return doc.Content[0], nil
}

// mappingValue is the value of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// find walks path through mappings: it returns the node at path, or the deepest mapping on the way and how
// many keys of path it holds.
func find(root *yaml.Node, path []string) (node *yaml.Node, depth int, err error) {
	node = root
	for i, key := range path {
		if node.Kind != yaml.MappingNode {
			return nil, i, fmt.Errorf("%s (line %d) is not a mapping", strings.Join(path[:i], "."), node.Line)
		}
		v := mappingValue(node, key)
		if v == nil {
			return node, i, nil
		}
		node = v
	}
	return node, len(path), nil
}

// set makes the scalar at path value: the scalar's text is replaced where it is, and a missing key is added
// after the last entry of the deepest mapping that exists, indented as its entries.
func (y *yamlText) set(path []string, value string) error {
	return y.setText(path, scalarText(value))
}

// setText is set with the scalar's YAML text as given (true, say, which set would quote as a string).
func (y *yamlText) setText(path []string, text string) error {
	root, err := y.root()
	if err != nil {
		return err
	}
	node, depth, err := find(root, path)
	if err != nil {
		return err
	}
	if depth < len(path) {
		var b strings.Builder
		rest := path[depth:]
		for i, key := range rest {
			b.WriteString(strings.Repeat("  ", i) + keyText(key) + ":")
			if i == len(rest)-1 {
				b.WriteString(" " + text)
			}
			b.WriteString("\n")
		}
		return y.appendToMapping(node, strings.Join(path[:depth], "."), b.String())
	}
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s (line %d) is not a single value", strings.Join(path, "."), node.Line)
	}
	start, end, err := y.scalarSpan(node)
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
	}
	y.text = y.text[:start] + text + y.text[end:]
	return nil
}

// appendToMapping adds entries (block YAML indented from column 0) after the last entry of the block
// mapping m, at the column of its keys.
func (y *yamlText) appendToMapping(m *yaml.Node, name, entries string) error {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("cannot add to %s (line %d): only a block mapping with entries can be extended in place", orDocument(name), m.Line)
	}
	keyColumn := m.Content[0].Column - 1
	at := y.blockEnd(m.Content[len(m.Content)-2].Line-1, keyColumn)
	y.insertLines(at, indentLines(entries, keyColumn))
	return nil
}

func orDocument(name string) string {
	if name == "" {
		return "the document"
	}
	return name
}

// appendToSequence adds an item to the sequence at path: for a block sequence, item (block YAML of the item's
// mapping, from column 0) goes after the last item, its dash and keys aligned with that item's; for a flow
// sequence, flow (the item in flow style) goes before the closing bracket; a missing key becomes a block
// sequence of the one item.
func (y *yamlText) appendToSequence(path []string, item, flow string) error {
	root, err := y.root()
	if err != nil {
		return err
	}
	node, depth, err := find(root, path)
	if err != nil {
		return err
	}
	name := strings.Join(path, ".")
	switch {
	case depth < len(path)-1:
		return fmt.Errorf("%s: its parent %s is missing", name, strings.Join(path[:len(path)-1], "."))
	case depth == len(path)-1:
		return y.appendToMapping(node, strings.Join(path[:depth], "."), keyText(path[depth])+":\n"+indentLines("- "+strings.ReplaceAll(strings.TrimSuffix(item, "\n"), "\n", "\n  ")+"\n", 2))
	case node.Kind != yaml.SequenceNode:
		return fmt.Errorf("%s (line %d) is not a list", name, node.Line)
	case node.Style&yaml.FlowStyle != 0:
		end, err := y.flowEnd(node)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(node.Content) > 0 {
			flow = ", " + flow
		}
		y.text = y.text[:end] + flow + y.text[end:]
		return nil
	}
	last := node.Content[len(node.Content)-1]
	if last.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: its last item (line %d) is not a mapping", name, last.Line)
	}
	dash, content := node.Column-1, last.Column-1
	if content <= dash {
		return fmt.Errorf("%s: unexpected layout of the item at line %d", name, last.Line)
	}
	lines := strings.Split(strings.TrimSuffix(item, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.Repeat(" ", content) + lines[i]
	}
	first := []byte(lines[0])
	first[dash] = '-'
	lines[0] = string(first)
	y.insertLines(y.blockEnd(last.Line-1, dash), strings.Join(lines, "\n")+"\n")
	return nil
}

// lines splits the text after each newline; the last element is what follows the last newline.
func (y *yamlText) lines() []string { return strings.SplitAfter(y.text, "\n") }

// blockEnd is the index of the line after the block that starts at line start (0-based): the lines after it
// that are indented deeper than column belong to it, blank ones too when deeper lines follow. A comment at
// or left of column belongs to what follows it.
func (y *yamlText) blockEnd(start, column int) int {
	lines := y.lines()
	end := start + 1
	for i := start + 1; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		if strings.TrimSpace(trimmed) == "" {
			continue
		}
		if len(lines[i])-len(trimmed) <= column {
			break
		}
		end = i + 1
	}
	return end
}

// insertLines inserts text (whole lines) before line index at; a last line without a newline gets one.
func (y *yamlText) insertLines(at int, text string) {
	lines := y.lines()
	if at > 0 && at <= len(lines) && !strings.HasSuffix(lines[at-1], "\n") {
		lines[at-1] += "\n"
	}
	lines = slices.Insert(lines, min(at, len(lines)), text)
	y.text = strings.Join(lines, "")
}

func indentLines(text string, column int) string {
	pad := strings.Repeat(" ", column)
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "")
}

// offset is the byte offset of a node's position (1-based line and column, the column counted in
// characters, as yaml.v3 reports them).
func (y *yamlText) offset(line, column int) (int, error) {
	lines := y.lines()
	if line < 1 || line > len(lines) {
		return 0, fmt.Errorf("line %d is outside the file", line)
	}
	off := 0
	for _, l := range lines[:line-1] {
		off += len(l)
	}
	l := lines[line-1]
	for i := 1; i < column; i++ {
		_, size := utf8.DecodeRuneInString(l)
		if size == 0 {
			return 0, fmt.Errorf("column %d is outside line %d", column, line)
		}
		l, off = l[size:], off+size
	}
	return off, nil
}

// scalarSpan is where a one-line scalar's text is, quotes included.
func (y *yamlText) scalarSpan(n *yaml.Node) (int, int, error) {
	start, err := y.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	rest := y.text[start:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	end := -1
	switch n.Style {
	case 0:
		if strings.HasPrefix(rest, n.Value) {
			end = len(n.Value)
		}
	case yaml.DoubleQuotedStyle:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
			} else if rest[i] == '"' {
				end = i + 1
				break
			}
		}
	case yaml.SingleQuotedStyle:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
	}
	if end < 0 {
		return 0, 0, fmt.Errorf("the value at line %d is not a one-line scalar that can be replaced in place", n.Line)
	}
	return start, start + end, nil
}

// flowEnd is the offset of the closing bracket of a flow sequence.
func (y *yamlText) flowEnd(n *yaml.Node) (int, error) {
	start, err := y.offset(n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	depth := 0
	for i := start; i < len(y.text); i++ {
		switch c := y.text[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return i, nil
			}
		case '"', '\'':
			for i++; i < len(y.text) && y.text[i] != c; i++ {
				if c == '"' && y.text[i] == '\\' {
					i++
				}
			}
		case '#':
			if i > 0 && (y.text[i-1] == ' ' || y.text[i-1] == '\t') {
				for i < len(y.text) && y.text[i] != '\n' {
					i++
				}
			}
		}
	}
	return 0, fmt.Errorf("no closing bracket for the list at line %d", n.Line)
}

var (
	plainScalar = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./-]*$`)
	// A config key is <project>:<key>: a colon not followed by a space is part of a plain scalar.
	plainKey = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*(:[A-Za-z0-9_][A-Za-z0-9_./-]*)?$`)
	// YAML 1.1 reads these as booleans or null, and some readers of stack files still do.
	yaml11Special = regexp.MustCompile(`^(?i:y|yes|n|no|on|off|true|false|null|~)$`)
)

// keyText renders a mapping key: plain as Pulumi writes config keys, else as scalarText does.
func keyText(s string) string {
	if plainKey.MatchString(s) && !yaml11Special.MatchString(s) {
		return s
	}
	return scalarText(s)
}

// scalarText renders s as a YAML string scalar: plain where every reader takes it as that string, else
// double-quoted (JSON's quoting is valid YAML).
func scalarText(s string) string {
	if plainScalar.MatchString(s) && !yaml11Special.MatchString(s) {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err == nil && v == s {
			return s
		}
	}
	b, _ := json.Marshal(s)
	return string(b)
}
