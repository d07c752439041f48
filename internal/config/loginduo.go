package config

// The login_duo drop-in: a login_duo.conf (given with -c, or found at
// LoginDuoPath without it) is read with login_duo's keys, defaults and
// meaning, in inih's dialect as duo_unix bundles it, so that an operator
// swaps the binary in the ForceCommand line and keeps the file. The man
// page (docs/logingate.1, LOGIN_DUO DROP-IN) lists each key, what logingate
// does with it, and every deliberate difference with its reason and fix;
// keep it and this file in step.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/groups"
)

// maxINILine is the longest line login_duo reads whole: inih's
// fgets(line, 200) returns at most 199 bytes, the newline included.
const maxINILine = 199

// loginDuoName reports a file name that makes a config a login_duo file.
// ForLoadError is the configuration a gate logs a failed load of path
// with, since nothing in the file can be trusted: the defaults, and for a
// file named as login_duo's (.conf, .ini) login_duo's syslog ident and
// facility with DropIn set, so that alerts on login_duo's lines still see
// the denial.
func ForLoadError(path string) Config {
	d := Default("")
	if loginDuoName(path) {
		d.DropIn = true
		d.Syslog.Ident, d.Syslog.Facility = "login_duo", "user"
	}
	return d
}

func loginDuoName(path string) bool {
	return strings.HasSuffix(path, ".conf") || strings.HasSuffix(path, ".ini")
}

// isLoginDuo decides the dialect: a login_duo INI file when the name ends
// in .conf or .ini, or when the first line that is neither blank nor a
// comment is a "[section]" header; logingate's YAML otherwise. A YAML flow
// list at the top ("[a, b]", `["*"]`) is not a section header.
func isLoginDuo(path string, data []byte) bool {
	if loginDuoName(path) {
		return true
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		t := strings.TrimSpace(string(line))
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if t[0] != '[' {
			return false
		}
		name, _, ok := strings.Cut(t[1:], "]")
		return ok && !strings.ContainsAny(name, "\"',[]{}")
	}
	return false
}

// iniEntry is one "key = value" line, or a continuation of one.
type iniEntry struct {
	key, value string
	line       int
	cont       bool // a continuation line of key
}

// scanINI splits data into entries as inih does and adds a problem for
// each line login_duo would stop at or misread.
func scanINI(p *problems, data []byte) []iniEntry {
	var out []iniEntry
	prev, prevLine := "", 0 // the key a continuation line extends (inih's prev_name)
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			line, data = data, nil
		}
		if len(line) > maxINILine {
			p.add("", n, "longer than %d bytes: login_duo reads longer lines in pieces and takes the rest for a line of its own; shorten it", maxINILine)
			prev = ""
			continue
		}
		text := strings.TrimSuffix(string(line), "\n")
		if n == 1 {
			// A byte-order mark (an editor's) cannot change what the
			// file means: skipped, as inih's INI_ALLOW_BOM does.
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if msg := iniBadBytes(text); msg != "" {
			p.add("", n, "%s", msg)
			prev = ""
			continue
		}
		content := strings.TrimRight(text, " \t\r")
		start := strings.TrimLeft(content, " \t")
		switch {
		case prev != "" && start != "" && len(start) < len(content):
			// Continuation, before any other test, as inih does: even
			// an indented comment or "[section]" continues the key.
			if e, ok := p.continuation(prev, prevLine, start, n); ok {
				out = append(out, e)
			}
		case start == "" || start[0] == ';' || start[0] == '#':
		case start[0] == '[':
			end := commentOr(start[1:], ']')
			if end == len(start)-1 || start[1+end] != ']' {
				p.add("", n, `a "[section]" line without "]"`)
			}
			prev = ""
		default:
			eq := commentOr(start, '=')
			if eq == len(start) || start[eq] != '=' {
				hint := ""
				if strings.Contains(start[:eq], ":") {
					hint = `; login_duo separates key and value with "=", not ":"`
				}
				p.add("", n, `not "key = value", a "[section]" or a comment%s`, hint)
				prev = ""
				continue
			}
			name := strings.TrimRight(start[:eq], " \t")
			value := strings.TrimLeft(start[eq+1:], " \t")
			value = strings.TrimRight(value[:commentOr(value, 0)], " \t")
			prev, prevLine = name, n
			switch {
			case name == "":
				p.add("", n, `no key before "="`)
			case !keyLike(name):
				// Not printed: it may be a secret pasted in the wrong place.
				p.add("", n, "unknown key (not shown: it is not a key name, and may be a secret)")
			case strings.HasPrefix(value, ";"):
				p.add(name, n, `the value starts with ";", which login_duo reads as part of the value, not as a comment; remove the comment or move it to a line of its own`)
			default:
				out = append(out, iniEntry{key: name, value: value, line: n})
			}
		}
	}
	return out
}

// keyLike reports a string that may be printed as a key: short, letters,
// digits, "_", "-" and "." only. login_duo's keys are all like that; a
// 40-character secret key is not.
func keyLike(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// continuation handles an indented line after key (set on line keyLine).
func (p *problems) continuation(key string, keyLine int, text string, n int) (iniEntry, bool) {
	comment := text[0] == ';' || text[0] == '#'
	switch {
	case key != "groups" && key != "group" && comment:
		p.add(key, n, "an indented comment after %s: login_duo reads it as a new value of %s; start the comment at the beginning of the line", key, key)
	case key != "groups" && key != "group":
		p.add(key, n, "indented, so login_duo reads the whole line as a new value of %s (line %d), not as a key of its own; remove the indentation", key, keyLine)
	case comment || commentOr(text, 0) < len(text):
		p.add(key, n, "a comment on a continuation line of %s: login_duo reads it as group patterns; move it to a line of its own", key)
	default:
		return iniEntry{key: key, value: text, line: n, cont: true}, true
	}
	return iniEntry{}, false
}

// commentOr returns the index in s of the first c, or of a ";" that follows
// white space (an inline comment), or len(s); c == 0 finds comments only.
// This is inih's find_char_or_comment.
func commentOr(s string, c byte) int {
	space := false
	for i := 0; i < len(s); i++ {
		if (c != 0 && s[i] == c) || (space && s[i] == ';') {
			return i
		}
		space = s[i] == ' ' || s[i] == '\t'
	}
	return len(s)
}

// iniBadBytes refuses control characters other than a tab, and a carriage
// return other than at the end (CRLF files work, as in login_duo).
func iniBadBytes(s string) string {
	s = strings.TrimSuffix(s, "\r")
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "contains a control character (login_duo would misread the line); remove it"
		}
	}
	return ""
}

// iniKeys are login_duo's keys that logingate reads; for suggestions.
var iniKeys = []string{"ikey", "skey", "host", "groups", "group", "failmode", "pushinfo", "autopush", "prompts",
	"accept_env_factor", "https_timeout", "http_proxy", "cafile", "noverify",
	"fallback_local_ip", "send_gecos", "gecos_username_pos", "gecos_delim", "gecos_parsed", "verified_push", "motd", "dev_fips_mode"}

// iniUnsupportedBools are login_duo booleans logingate does not implement:
// false (login_duo's default) is what logingate does, true is an error.
var iniUnsupportedBools = map[string]string{
	"dev_fips_mode": "a login_duo development flag",
}

// iniRename maps the keys validate and resolve name to login_duo's.
var iniRename = map[string]string{
	"duo.host": "host", "duo.ikey": "ikey", "duo.skey": "skey", "duo.autopush": "autopush", "duo.pushinfo": "pushinfo",
	"duo.https_timeout": "https_timeout", "duo.http_proxy": "http_proxy", "duo.cafile": "cafile", "duo.noverify": "noverify",
}

// parseLoginDuo is Load of a login_duo INI file after it has been read.
func parseLoginDuo(path, hostname string, data []byte) (*Config, error) {
	p := &problems{path: path, ini: true}
	entries := scanINI(p, data)

	cfg := Default(hostname)
	cfg.Path = path
	cfg.DropIn = true
	// Only Duo: no local factors, so no state, no trusted windows.
	cfg.LocalFactors = false
	cfg.GracePeriod = 0
	cfg.Failmode, cfg.FailmodeDefaulted = FailmodeSafe, true
	cfg.Headless = HeadlessPush
	cfg.Syslog.Ident, cfg.Syslog.Facility = "login_duo", "user"
	if cfg.TOTP.Issuer == "" {
		cfg.TOTP.Issuer = "logingate" // unused without local factors
	}
	d := &Duo{} // https_timeout: none, as login_duo
	cfg.Duo = d
	strs := map[string]*string{"ikey": &d.IKey, "skey": &d.SKey, "host": &d.Host, "cafile": &d.CAFile}
	bools := map[string]*bool{"motd": &cfg.Motd, "send_gecos": &d.SendGECOS, "fallback_local_ip": &d.FallbackLocalIP,
		"verified_push": &d.VerifiedPush, "pushinfo": &d.Pushinfo, "autopush": &d.Autopush, "noverify": &d.NoVerify,
		"accept_env_factor": &cfg.AcceptEnvFactor}

	lines := map[string]int{} // key as written -> its (last) line, for validate's problems
	warn := func(e iniEntry, format string, args ...any) {
		cfg.Warnings = append(cfg.Warnings, (&Error{Path: path, Key: e.key, Line: e.line, Msg: fmt.Sprintf(format, args...), showLine: true}).Error())
	}
	var patterns []string
	for _, e := range entries {
		if !e.cont && e.key != "groups" && e.key != "group" {
			if first, dup := lines[e.key]; dup {
				// login_duo keeps the last value: so does logingate,
				// saying so at every login.
				warn(e, "set twice (lines %d and %d); the last value counts, as in login_duo; keep one", first, e.line)
				delete(lines, e.key)
			}
		}
		if _, seen := lines[e.key]; !seen {
			lines[e.key] = e.line
		}
		v := e.value
		switch e.key {
		case "http_proxy":
			if v == "" {
				d.HTTPProxy = "" // login_duo: no proxy
				continue
			}
			if !strings.Contains(v, "://") {
				v = "http://" + v // login_duo's default scheme
			}
			d.HTTPProxy = v
		case "ikey", "skey", "host", "cafile":
			if v == "" {
				msg := "has no value; give one, or remove the line"
				if e.key == "cafile" {
					msg = "is empty, which login_duo reads as noverify = yes; write that if it is meant, or remove the line"
				}
				p.add(e.key, e.line, "%s", msg)
				continue
			}
			*strs[e.key] = v
		case "groups", "group":
			if lists, ok := p.iniGroups(e); ok {
				patterns = append(patterns, lists...)
			}
		case "failmode":
			if m := Failmode(v); m != FailmodeSecure && m != FailmodeSafe {
				p.add(e.key, e.line, `must be "secure" or "safe"`)
				continue
			}
			cfg.Failmode, cfg.FailmodeDefaulted = Failmode(v), false
		case "pushinfo", "autopush", "noverify", "accept_env_factor", "motd", "send_gecos", "fallback_local_ip", "verified_push":
			b, ok := iniBool(e.value)
			if !ok {
				warn(e, "%s is read as no, as login_duo reads every value but yes, true, on and 1 (lower case); write yes or no", quoteValue(e.value))
			}
			*bools[e.key] = b
		case "prompts":
			n, ok := p.iniInt(e)
			if !ok {
				continue
			}
			// login_duo clamps into 1..3.
			cfg.Prompts = min(max(n, 1), 3)
		case "https_timeout":
			n, ok := p.iniInt(e)
			if !ok {
				continue
			}
			d.HTTPSTimeout = 0 // 0 or less: none, as login_duo
			if n > 0 {
				if n > int(maxHTTPSTimeout.Seconds()) {
					p.add(e.key, e.line, "must be at most %d seconds", int(maxHTTPSTimeout.Seconds()))
					continue
				}
				d.HTTPSTimeout = time.Duration(n) * time.Second
			}
		case "gecos_delim":
			// Checked as login_duo checks it; no effect without send_gecos.
			if len(v) != 1 || !isPunct(v[0]) || v == ":" {
				p.add(e.key, e.line, `must be one punctuation character other than ":"`)
				continue
			}
			d.GECOSDelim = v
		case "gecos_username_pos":
			n, ok := p.iniInt(e)
			if ok && n < 1 {
				p.add(e.key, e.line, "must be 1 or more (positions start at 1)")
				continue
			}
			d.GECOSPos = n
		case "gecos_parsed":
			// login_duo accepts it and ignores it.
			warn(e, "has no effect, as in login_duo; use gecos_username_pos and gecos_delim")
		case "offline_secrets_path":
			p.add(e.key, e.line, "not supported by logingate (%s); remove it", duoUnsupported["offline_secrets_path"])
		case "min_tls":
			p.add(e.key, e.line, "not supported by logingate; remove it")
		default:
			if why, ok := iniUnsupportedBools[e.key]; ok {
				if b, _ := iniBool(e.value); b {
					p.add(e.key, e.line, "not supported by logingate (%s); remove it", why)
				}
				continue
			}
			fields := make([]field, len(iniKeys))
			for i, k := range iniKeys {
				fields[i] = field{name: k}
			}
			p.add(e.key, e.line, "unknown key%s", suggest(e.key, fields))
		}
	}
	for _, k := range []string{"host", "ikey", "skey"} {
		if _, ok := lines[k]; !ok {
			p.add(k, 0, "missing; a login_duo file must set host, ikey and skey")
		}
	}
	if patterns != nil {
		cfg.Groups = patterns
	}
	if d.SendGECOS && d.GECOSDelim == "" {
		d.GECOSDelim = "," // login_duo's default
	}
	if d.Autopush && d.VerifiedPush {
		// A config error in login_duo too: an automatic push has no
		// terminal moment to show the number at.
		p.add("verified_push", lines["verified_push"], "cannot be used with autopush (the number to type would never be shown); turn one off")
	}
	if d.NoVerify && d.CAFile != "" {
		// login_duo lets noverify win; so does logingate, loudly.
		warn(iniEntry{key: "cafile", line: lines["cafile"]},
			"is ignored because noverify is set, as in login_duo: Duo's certificate is not checked at all; remove noverify")
	}

	// The checks shared with the YAML config, named as login_duo names
	// them, each with its line; one problem per key.
	v := &problems{path: path}
	caFile := d.CAFile
	if d.NoVerify {
		d.CAFile = "" // ignored, as in login_duo: not read, not checked
	}
	d.resolve(v)
	cfg.validate(v)
	d.CAFile = caFile
	for _, err := range v.errs {
		e, ok := err.(*Error)
		if !ok {
			continue
		}
		key := e.Key
		if k, ok := iniRename[key]; ok {
			key = k
		}
		if key == "groups" && lines["groups"] == 0 {
			key = "group"
		}
		if key != "" && p.hasAt(key, lines[key]) {
			continue
		}
		p.add(key, lines[key], "%s", e.Msg)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// iniGroups splits a groups value into pattern-lists as login_duo does (on
// single spaces) and checks them.
func (p *problems) iniGroups(e iniEntry) ([]string, bool) {
	switch {
	case e.value == "":
		return nil, true // login_duo: no pattern-list, so Duo for everyone
	case strings.Contains(e.value, `\ `):
		p.add(e.key, e.line, `a group name with a space ("\ ") is not supported; match the space with "?"`)
		return nil, false
	case strings.Contains(e.value, "\t"):
		p.add(e.key, e.line, "has a tab inside; separate pattern-lists with spaces")
		return nil, false
	}
	lists := strings.Fields(e.value)
	if _, err := groups.Parse(lists); err != nil {
		p.add(e.key, e.line, "%v", err)
		return nil, false
	}
	return lists, true
}

// iniBool reads a login_duo boolean as login_duo does: true for yes, true,
// on and 1, false for anything else. ok is false for a value other than
// those and no, false, off and 0, which the caller warns about.
func iniBool(v string) (b, ok bool) {
	switch v {
	case "yes", "true", "on", "1":
		return true, true
	case "no", "false", "off", "0":
		return false, true
	}
	return false, false
}

// quoteValue quotes a boolean's value for a warning when it is short and
// printable; anything else may be a pasted secret.
func quoteValue(v string) string {
	switch {
	case v == "":
		return "an empty value"
	case len(v) <= 8 && !badToken(v):
		return strconv.Quote(v)
	}
	return "this value (not shown)"
}

// iniInt reads a whole number, where login_duo's atoi reads garbage as 0.
func (p *problems) iniInt(e iniEntry) (int, bool) {
	n, err := strconv.Atoi(e.value)
	switch {
	case err == nil:
		return n, true
	case strings.Trim(e.value, "+-0123456789") == "" && e.value != "":
		p.add(e.key, e.line, "is too large a number")
	default:
		p.add(e.key, e.line, "must be a whole number")
	}
	return 0, false
}

// isPunct is C's ispunct in the C locale.
func isPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}
