package doctor

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/logingate/logingate/internal/voice"
)

// pamLine is one rule of a PAM service file (or an @include).
type pamLine struct {
	Line    int    // first physical line
	Text    string // the rule, continuation lines joined, comment removed
	Type    string // auth, account, session, password (a leading '-' kept), or @include
	Control string // required, [success=ok ...], include, substack, ...
	Module  string // module path, or the included service name
	Args    []string
}

// maxPAMSize bounds a PAM file; real ones are a few KiB.
const maxPAMSize = 1 << 20

// parsePAM reads a pam.d service file as Linux-PAM does: '#' starts a
// comment, a trailing backslash continues the line, and square brackets
// group a control or an argument that holds blanks. Lines it cannot read
// as a rule are skipped, as PAM skips them (with a log line).
func parsePAM(data []byte) []pamLine {
	if len(data) > maxPAMSize {
		data = data[:maxPAMSize]
	}
	var out []pamLine
	phys := strings.Split(string(data), "\n")
	for i := 0; i < len(phys); i++ {
		start := i + 1
		line := phys[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(phys) {
			i++
			line = line[:len(line)-1] + " " + phys[i]
		}
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		text := strings.TrimSpace(line)
		words := pamWords(text)
		if len(words) == 0 {
			continue
		}
		l := pamLine{Line: start, Text: text, Type: words[0]}
		switch {
		case l.Type == "@include" && len(words) > 1:
			l.Module = words[1]
		case l.Type != "@include" && len(words) >= 3:
			l.Control, l.Module, l.Args = words[1], words[2], words[3:]
		default:
			continue
		}
		out = append(out, l)
	}
	return out
}

// pamWords splits on blanks, keeping a [...] group as one word (without
// its brackets when it is an argument, as PAM passes it).
func pamWords(s string) []string {
	var out []string
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t\r\f\v")
		if s == "" {
			break
		}
		if s[0] == '[' {
			end := -1
			for j := 1; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					continue
				}
				if s[j] == ']' {
					end = j
					break
				}
			}
			if end < 0 {
				out = append(out, s)
				break
			}
			w := s[:end+1]
			if len(out) >= 3 { // an argument: PAM strips the brackets
				w = strings.ReplaceAll(w[1:end], `\]`, "]")
			}
			out = append(out, w)
			s = s[end+1:]
			continue
		}
		j := strings.IndexAny(s, " \t\r\f\v")
		if j < 0 {
			j = len(s)
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

// includes returns the service a line pulls in ("" if none).
func (l pamLine) includes() string {
	if l.Type == "@include" || l.Control == "include" || l.Control == "substack" {
		return l.Module
	}
	return ""
}

// readsUserEnv reports whether the line runs pam_env with user_readenv on
// (the last user_readenv argument counts).
func (l pamLine) readsUserEnv() bool {
	if base := filepath.Base(l.Module); base != "pam_env.so" && base != "pam_env" {
		return false
	}
	on := false
	for _, a := range l.Args {
		if v, ok := strings.CutPrefix(a, "user_readenv="); ok {
			on = v == "1"
		}
	}
	return on
}

// userReadenvArg is compiled on first use: doctor is linked into the gate,
// and a regexp compiled at start-up would cost every login its time.
var userReadenvArg = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[ \t]+\[?user_readenv=[^ \t\]]*\]?`)
})

// withoutUserReadenv is the line with every user_readenv argument removed.
func withoutUserReadenv(text string) string {
	return userReadenvArg().ReplaceAllString(text, "")
}

// pamHit is a pam_env line with user_readenv=1, and where it is.
type pamHit struct {
	File string
	Line pamLine
}

// scanPAM reads the service file at path and the files it includes, one
// level deep, for pam_env with user_readenv=1. unread lists included files
// that could not be read.
func scanPAM(path string, read func(string) ([]byte, error)) (hits []pamHit, unread []string, err error) {
	data, err := read(path)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range parsePAM(data) {
		if l.readsUserEnv() {
			hits = append(hits, pamHit{path, l})
		}
		inc := l.includes()
		if inc == "" {
			continue
		}
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		sub, err := read(inc)
		if err != nil {
			unread = append(unread, inc)
			continue
		}
		for _, sl := range parsePAM(sub) {
			if sl.readsUserEnv() {
				hits = append(hits, pamHit{inc, sl})
			}
		}
	}
	return hits, unread, nil
}

// checkPAM looks for pam_env reading ~/.pam_environment.
func (a *auditor) checkPAM(ref effective) {
	if ref.get("usepam") == "no" {
		a.hostFinding(finding{ID: "pam-not-used", Severity: sevInfo, Setting: "usepam no",
			Problem: "sshd does not use PAM, so " + a.o.PAM + " does not apply", Attack: "none", Fix: "none needed"})
		return
	}
	hits, unread, err := scanPAM(a.o.PAM, readLimited)
	if err != nil {
		a.hostFinding(finding{ID: "pam-unread", Severity: sevMedium, Setting: a.o.PAM,
			Problem: "cannot read sshd's PAM service file: " + voice.ErrnoText(err) + "; pam_env user_readenv was not checked",
			Attack:  "if it runs pam_env with user_readenv=1, see pam-user-readenv",
			Fix:     "run doctor as root, or name the file with --pam FILE"})
		return
	}
	for _, inc := range unread {
		a.hostFinding(finding{ID: "pam-include-unread", Severity: sevInfo, Setting: inc,
			Problem: "cannot read " + inc + ", which " + a.o.PAM + " includes; it was not checked",
			Attack:  "none known", Fix: "none needed if it does not run pam_env"})
	}
	for _, h := range hits {
		where := fmt.Sprintf("%s:%d", h.File, h.Line.Line)
		a.hostFinding(finding{ID: "pam-user-readenv", Severity: sevHigh,
			Setting: "pam_env.so user_readenv=1",
			Context: "every login through PAM (usepam yes)",
			Problem: fmt.Sprintf("%s (%s) reads each user's ~/.pam_environment into the environment sshd starts logingate with", quoteCmd(h.Line.Text), where),
			Attack:  "a user puts LD_PRELOAD=/home/u/x.so in ~/.pam_environment once (after one login, or through a shared home); from then on the library runs inside the gate before it asks, and the key alone logs in",
			Fix:     fmt.Sprintf("change %s to %s", where, quoteCmd(withoutUserReadenv(h.Line.Text)))})
	}
}
