package config

// Parsing the YAML, and placing a syntax error on the line that broke it:
// yaml.v3's own line numbers are often the enclosing construct's.

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses data into its top-level mapping node, or nil for a file
// with no content (all defaults). Syntax errors get a line number.
func (p *problems) parseYAML(data []byte) *yaml.Node {
	doc, extra, err := decodeDocs(data)
	switch {
	case err != nil:
		p.syntax(data, err)
		return nil
	case doc == nil:
		return nil
	case extra != nil:
		p.add("", extra.Line, "a second YAML document; the config is one document (remove the \"---\" line)")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.add("", 0, "not a YAML document")
		return nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null" && root.Style&yaml.TaggedStyle == 0:
		return nil
	case root.Kind != yaml.MappingNode:
		p.add("", root.Line, "the config must be a mapping of keys, e.g. failmode: secure")
		return nil
	}
	return root
}

// decodeDocs parses the first document and looks for a second one.
func decodeDocs(data []byte) (doc, extra *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = new(yaml.Node)
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	extra = new(yaml.Node)
	if err := dec.Decode(extra); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, nil, nil
		}
		return nil, nil, err
	}
	return doc, extra, nil
}

// splitYAMLError splits "yaml: line N: problem" into N (0 when absent) and
// the problem.
func splitYAMLError(err error) (int, string) {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if num, problem, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return n, problem
			}
		}
	}
	return 0, s
}

// parserProblems are the YAML errors raised by the parser rather than the
// scanner: yaml.v3 reports their line counting from 0.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
}

// flowProblems are errors whose best line is yaml.v3's: where the unclosed
// "[" or "{" is. A prefix of the file cut inside the brackets fails the same
// way, so searching would point at an arbitrary line in between.
var flowProblems = map[string]bool{
	"did not find expected ',' or ']'": true,
	"did not find expected ',' or '}'": true,
}

// syntax reports a YAML parse error as "line N: message". yaml.v3's own
// number is often the start of the enclosing construct (line 1 for the whole
// mapping), counted from 0 or 1 depending on the error, and missing on line
// 1. So: parse again one line down, where the number is always there, and
// correct it; then, from that line on, find the first prefix of the file
// that fails the same way, which is the line that broke it. Unknown aliases
// carry no position at all: search for the alias.
func (p *problems) syntax(data []byte, err error) {
	_, msg := splitYAMLError(err)
	line := 0
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok && strings.HasSuffix(name, "' referenced") {
		name = strings.TrimSuffix(name, "' referenced")
		line = aliasLine(data, name)
		msg = "unknown alias *" + name
	} else {
		start := 1
		shifted := append([]byte("\n"), bytes.TrimPrefix(data, []byte("\ufeff"))...)
		if _, _, err2 := decodeDocs(shifted); err2 != nil {
			n, problem := splitYAMLError(err2)
			if parserProblems[problem] {
				n++
			}
			start = max(n-1, 1)
		}
		line = start
		if !flowProblems[msg] {
			line = failingLine(data, start, msg)
		}
		// An error at the end of the stream is on the last line.
		line = min(line, max(bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))+1, 1))
	}
	switch topKeyAt(data, line) {
	case "groups":
		msg += "; YAML reads an unquoted \"!\" as a tag and \"*\" as an alias: " + quoteHint
	case "authorized_keys_files":
		msg += `; a YAML value cannot start with an unquoted "%": quote each path, e.g. ["%h/.ssh/authorized_keys"]`
	}
	p.add("", line, "%s", msg)
}

// failingLine returns the first line from start whose prefix of data fails
// to parse with msg; start if none does within a bounded amount of work.
func failingLine(data []byte, start int, msg string) int {
	budget := 8 * maxSize
	end, line := 0, 0
	for end < len(data) && budget > 0 {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = len(data)
		} else {
			end += i + 1
		}
		line++
		if line < start {
			continue
		}
		budget -= end
		if _, _, err := decodeDocs(data[:end]); err != nil {
			if _, problem := splitYAMLError(err); problem == msg {
				return line
			}
		}
	}
	return start
}

// aliasLine finds the first line that uses *name, or 0.
func aliasLine(data []byte, name string) int {
	for i, l := range strings.Split(string(data), "\n") {
		for j := strings.Index(l, "*"+name); j >= 0; {
			end := j + 1 + len(name)
			if end == len(l) || strings.ContainsRune(" \t,]}\r#", rune(l[end])) {
				return i + 1
			}
			k := strings.Index(l[end:], "*"+name)
			if k < 0 {
				break
			}
			j = end + k
		}
	}
	return 0
}

// topKeyAt returns the top-level key whose value spans line (1-based): the
// nearest line at or above it that starts in column 0 with a key.
func topKeyAt(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	for i := min(line, len(lines)) - 1; i >= 0; i-- {
		l := lines[i]
		if l == "" || strings.ContainsRune(" \t#-", rune(l[0])) {
			continue
		}
		k, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		return strings.Trim(strings.TrimSpace(k), `"'`)
	}
	return ""
}
