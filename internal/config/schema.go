package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML is checked node by node before viper sees it: viper folds key
// case, forgets line numbers and turns the tags and aliases that YAML makes
// of unquoted "!wheel" and "*admin" into nothing at all. The walk knows the
// schema (derived from Config's mapstructure tags, so the two cannot drift)
// and reports unknown and reserved keys, wrong types and unquoted group
// patterns with the full dotted key.

// kind is what a key's value must be.
type kind int

const (
	kString   kind = iota
	kInt           // a YAML integer, never a quoted one or a fraction
	kBool          // true or false
	kDuration      // a string with a unit: "60s", "3m"
	kPatterns      // groups: a list of quoted pattern-lists
	kStrings       // a list of strings
	kMap           // a nested section
	kSections      // a list of sections (radius.servers)
)

type field struct {
	name   string
	kind   kind
	fields []field // for kMap
}

var schema = fieldsOf(reflect.TypeFor[Config]())

// reserved keys belong to later work; naming them now is an error, so that a
// config written for a newer logingate is not half-applied by this one.
var reserved []string

// offDurations are the durations for which 0 means "off", written bare
// ("0") or with a unit ("0s"). Elsewhere a bare number is refused.
var offDurations = []string{"grace_period", "duo.https_timeout"}

// duoUnsupported are login_duo keys that logingate does not implement,
// with why, for a clear error in a duo: section (loginduo.go has the same
// for login_duo files).
var duoUnsupported = map[string]string{
	"motd":                 "read from a login_duo file only; here the login shell or pam_motd prints it",
	"send_gecos":           "read from a login_duo file only",
	"gecos_username_pos":   "read from a login_duo file only",
	"gecos_delim":          "read from a login_duo file only",
	"verified_push":        "read from a login_duo file only",
	"fallback_local_ip":    "read from a login_duo file only",
	"min_tls":              "",
	"offline_secrets_path": "Duo offline access is not implemented",
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("mapstructure")
		if name == "" || name == "-" {
			continue
		}
		f := field{name: name}
		switch {
		case sf.Type == durationType:
			f.kind = kDuration
		case sf.Type.Kind() == reflect.String:
			f.kind = kString
		case sf.Type.Kind() == reflect.Int:
			f.kind = kInt
		case sf.Type.Kind() == reflect.Bool:
			f.kind = kBool
		case sf.Type == reflect.TypeFor[[]string]() && name == "groups":
			f.kind = kPatterns
		case sf.Type == reflect.TypeFor[[]string]():
			f.kind = kStrings
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
			f.kind = kSections
			f.fields = fieldsOf(sf.Type.Elem())
		case sf.Type.Kind() == reflect.Struct:
			f.kind = kMap
			f.fields = fieldsOf(sf.Type)
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
			// An optional section (duo): nil when absent.
			f.kind = kMap
			f.fields = fieldsOf(sf.Type.Elem())
		default:
			panic("config: no schema kind for field " + sf.Name)
		}
		out = append(out, f)
	}
	return out
}

const quoteHint = `quote each pattern-list, e.g. groups: ["users,!wheel"]`

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

// walk checks a mapping node against the fields of one section.
func (p *problems) walk(m *yaml.Node, prefix string, fields []field) {
	if !p.plain(prefix, m) {
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Style&yaml.TaggedStyle != 0 || k.Anchor != "" {
			p.add("", k.Line, "a key must be a plain name")
			continue
		}
		if !keyLike(k.Value) && k.Value != "<<" {
			// Not printed, to the log or to the user at the prompt: a
			// key that is no key name is most often a secret written
			// without the space after its colon ("skey:SECRET").
			p.add("", k.Line, `unknown key (not shown: it is not a key name, and may be a secret; write "key: value", with a space after the colon)`)
			continue
		}
		key := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			p.add(key, k.Line, "set twice (lines %d and %d); keep one", first, k.Line)
			continue
		}
		seen[k.Value] = k.Line
		at := slices.IndexFunc(fields, func(f field) bool { return f.name == k.Value })
		if at < 0 {
			if prefix == "" && slices.Contains(reserved, k.Value) {
				p.add(key, k.Line, "not supported by this version of logingate yet (reserved for later work); remove it")
				continue
			}
			if prefix == "duo." {
				if why, ok := duoUnsupported[k.Value]; ok {
					if why != "" {
						why = " (" + why + ")"
					}
					p.add(key, k.Line, "a login_duo key that logingate does not support%s; remove it", why)
					continue
				}
				if slices.ContainsFunc(schema, func(f field) bool { return f.name == k.Value }) {
					p.add(key, k.Line, "belongs at the top level of the config, not in the duo: section")
					continue
				}
			}
			if k.Value == "secret" && strings.HasPrefix(prefix, "radius.servers[") {
				p.add(key, k.Line, "the shared secret is never written in the config; put it in a file (root:logingate, mode 0640) and name it with secret_file")
				continue
			}
			if strings.Contains(k.Value, ".") {
				p.add(key, k.Line, "unknown key; a key has no \".\" in it: write nested keys as sections, e.g. totp: {digits: 8}")
				continue
			}
			p.add(key, k.Line, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		p.value(key, v, fields[at])
	}
}

// plain refuses YAML features the config has no use for and that hide what
// a value is: aliases, anchors and explicit tags.
func (p *problems) plain(key string, n *yaml.Node) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		p.add(key, n.Line, "YAML aliases are not supported; write the value out")
	case n.Anchor != "":
		p.add(key, n.Line, "YAML anchors are not supported; remove the &")
	case n.Style&yaml.TaggedStyle != 0:
		p.add(key, n.Line, "YAML tags are not supported; write the plain value")
	default:
		return true
	}
	return false
}

func (p *problems) value(key string, v *yaml.Node, f field) {
	switch f.kind {
	case kPatterns:
		p.patterns(key, v)
		return
	case kStrings:
		p.strings(key, v)
		return
	case kSections:
		p.sections(key, v, f.fields)
		return
	}
	if !p.plain(key, v) {
		return
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		p.add(key, v.Line, "has no value; give one, or remove the line to keep the default")
		return
	}
	quoted := v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
	switch f.kind {
	case kMap:
		if v.Kind != yaml.MappingNode {
			p.add(key, v.Line, "must be a section of keys, not %s", describe(v))
			return
		}
		p.walk(v, key+".", f.fields)
	case kString:
		if v.Tag != "!!str" {
			p.add(key, v.Line, "must be a string, not %s%s", describe(v), ifScalar(v, "; quote it"))
		}
	case kInt:
		switch {
		case v.Tag == "!!int":
		case v.Tag == "!!str" && quoted:
			p.add(key, v.Line, "must be a whole number, not a quoted string; remove the quotes")
		case v.Tag == "!!float" && strings.Trim(v.Value, "+-0123456789_") == "":
			p.add(key, v.Line, "is too large a number")
		default:
			p.add(key, v.Line, "must be a whole number, not %s", describe(v))
		}
	case kBool:
		switch {
		case v.Tag == "!!bool":
		case v.Tag == "!!str" && !quoted && yamlOneOneBool(v.Value):
			p.add(key, v.Line, "must be true or false (YAML 1.2 reads yes, no, on and off as strings)")
		default:
			p.add(key, v.Line, "must be true or false, not %s", describe(v))
		}
	case kDuration:
		if slices.Contains(offDurations, key) && (v.Tag == "!!int" || v.Tag == "!!str") && v.Value == "0" {
			return
		}
		switch v.Tag {
		case "!!str":
			if _, err := parseDuration(v.Value); err != nil {
				p.add(key, v.Line, "%v", err)
			}
		case "!!int", "!!float":
			p.add(key, v.Line, "%v", errDurationUnit)
		default:
			p.add(key, v.Line, "must be a duration such as \"60s\", not %s", describe(v))
		}
	}
}

// patterns checks groups: a non-empty list of quoted, untagged, non-empty
// strings. Unquoted, "!wheel" becomes a tag on an empty value and "*admin"
// an alias, so a pattern would arrive empty or mangled.
func (p *problems) patterns(key string, v *yaml.Node) {
	if v.Kind == yaml.AliasNode || v.Style&yaml.TaggedStyle != 0 || v.Anchor != "" {
		p.add(key, v.Line, "must be a list of quoted pattern-lists; %s", quoteHint)
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.add(key, v.Line, "must be a list, not %s; %s", describe(v), quoteHint)
		return
	}
	if len(v.Content) == 0 {
		p.add(key, v.Line, "empty list; use [\"*\"] to require a second factor from everyone")
		return
	}
	for i, it := range v.Content {
		quoted := it.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
		switch {
		case it.Kind == yaml.AliasNode:
			p.add(key, it.Line, "item %d is a YAML alias (an unquoted \"*\"); %s", i+1, quoteHint)
		case it.Style&yaml.TaggedStyle != 0:
			p.add(key, it.Line, "item %d is a YAML tag (an unquoted \"!\"), so its pattern is lost; %s", i+1, quoteHint)
		case it.Anchor != "":
			p.add(key, it.Line, "item %d is a YAML anchor (an unquoted \"&\"); %s", i+1, quoteHint)
		case it.Kind != yaml.ScalarNode:
			p.add(key, it.Line, "item %d is %s, not a string; %s", i+1, describe(it), quoteHint)
		case !quoted:
			p.add(key, it.Line, "item %d is not quoted; %s", i+1, quoteHint)
		case strings.TrimSpace(it.Value) == "":
			p.add(key, it.Line, "item %d is empty; %s", i+1, quoteHint)
		}
	}
}

// strings checks a list of plain strings (an empty list is allowed).
func (p *problems) strings(key string, v *yaml.Node) {
	if !p.plain(key, v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.add(key, v.Line, "must be a list of strings, not %s", describe(v))
		return
	}
	for i, it := range v.Content {
		switch {
		case it.Kind == yaml.AliasNode || it.Anchor != "" || it.Style&yaml.TaggedStyle != 0:
			p.add(key, it.Line, "item %d: YAML aliases, anchors and tags are not supported; quote the value", i+1)
		case it.Kind != yaml.ScalarNode || it.Tag != "!!str":
			p.add(key, it.Line, "item %d is %s, not a string; quote it", i+1, describe(it))
		}
	}
}

// sections checks a list of sections (radius.servers), each against
// fields; an item's keys are named key[N].name, N from 1.
func (p *problems) sections(key string, v *yaml.Node, fields []field) {
	if !p.plain(key, v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.add(key, v.Line, "must be a list of sections, e.g. [{address: ..., secret_file: ...}], not %s", describe(v))
		return
	}
	for i, it := range v.Content {
		item := fmt.Sprintf("%s[%d]", key, i+1)
		if it.Kind != yaml.MappingNode && p.plain(item, it) {
			p.add(item, it.Line, "must be a section of keys, not %s", describe(it))
			continue
		}
		p.walk(it, item+".", fields)
	}
}

// describe names what a node is, never its value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "a YAML alias"
	}
	switch n.Tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a fraction"
	case "!!bool":
		return "true/false"
	case "!!null":
		return "empty"
	case "!!timestamp":
		return "a date"
	}
	return "a tagged value"
}

func ifScalar(n *yaml.Node, s string) string {
	if n.Kind == yaml.ScalarNode {
		return s
	}
	return ""
}

func yamlOneOneBool(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
}

// suggest proposes a known key for a misspelt one.
func suggest(name string, fields []field) string {
	best, bestD := "", 3
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			return "; did you mean " + f.name + "? (keys are lower case)"
		}
		if d := distance(name, f.name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best != "" {
		return "; did you mean " + best + "?"
	}
	return ""
}

// distance is the Levenshtein distance, for short keys only.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
