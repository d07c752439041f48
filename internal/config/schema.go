package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML's node tree is checked here before viper decodes it: viper
// folds key case, forgets line numbers and turns the tags and aliases that
// YAML makes of unquoted "!wheel" and "*admin" into nothing at all. The
// walk knows the schema (derived from Config's mapstructure tags, so the
// two cannot drift) and reports unknown and reserved keys, wrong types and
// unquoted group patterns with the full dotted key.

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
