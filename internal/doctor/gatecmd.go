package doctor

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/logingate/logingate/internal/cmdline"
)

// checkForceCommand: the gate must be the ForceCommand of every connection,
// alone, by its path.
func (a *auditor) checkForceCommand(e effective) []finding {
	fc := e.raw("forcecommand")
	f := finding{ID: "forcecommand-other", Severity: sevHigh, Setting: "forcecommand " + fc,
		Want: "ForceCommand " + a.gatePath(), Keys: []string{"forcecommand"}}
	if fc == "" || strings.EqualFold(fc, "none") {
		f.ID, f.Setting = "forcecommand-missing", "forcecommand none"
		f.Problem = "no ForceCommand applies: sshd runs the client's command or a login shell directly"
		f.Attack = "log in, run commands, scp, sftp with the key alone: no second factor is asked"
		return []finding{f}
	}
	words, op, at := shellSplit(fc)
	first := ""
	if len(words) > 0 {
		first = words[0]
	}
	_, argsErr := gateFlags(words)
	switch {
	case !isGate(first, a.binary):
		f.Problem = "the ForceCommand is not logingate"
		f.Attack = "with the key alone the session runs " + quoteCmd(fc) + " and no second factor is asked"
		f.Problem, f.Fix = a.shadowedGate(f.Problem)
	case op != "":
		f.ID, f.Want = "forcecommand-chained", "ForceCommand "+strings.TrimSpace(fc[:at])
		f.Problem = "the ForceCommand is logingate and more: sshd runs the whole line with the user's shell, and " + quoteCmd(op) + " makes it run more than the gate, whatever the gate decides"
		f.Attack = "with the key alone, answer the prompt wrongly or press Ctrl-C: the gate says no, and the rest of the line (" + quoteCmd(fc) + ") still runs, or runs first"
	case argsErr != nil:
		f.ID, f.Want = "forcecommand-args", "ForceCommand "+first+" [-c FILE] [-d] [-f USER] [-h HOST]"
		f.Problem = "the gate refuses the ForceCommand's arguments (" + argsErr.Error() + "), so it denies every gated login"
		f.Attack = "none: logins fail closed, which locks out everyone the gate guards"
	case !filepath.IsAbs(first):
		f.ID, f.Severity, f.Want = "forcecommand-path", sevLow, f.Want+strings.TrimPrefix(fc, first)
		f.Problem = "the ForceCommand names logingate without a path, so the PATH of the shell sshd runs it with picks the program"
		f.Attack = "a PATH set by shell start-up files or the environment runs another program named logingate instead of the gate"
	default:
		what := a.notGate(first)
		if what == "" {
			a.gateBins[first] = true
			return nil
		}
		f.ID = "forcecommand-wrapper"
		f.Problem = "the ForceCommand names " + first + ", which is " + what + ", not the logingate program: what it runs before, instead of, or after the gate decides, and doctor cannot tell"
		f.Attack = "if it runs a shell or the command when the gate fails (or never runs the gate), the key alone logs in"
	}
	return []finding{f}
}

// shadowedGate explains a ForceCommand that is not logingate when the
// config does name logingate on a later global line: sshd keeps the first.
// Otherwise it returns problem and no fix.
func (a *auditor) shadowedGate(problem string) (string, string) {
	all := a.cfg.globalAll("forcecommand")
	for i := 1; i < len(all); i++ {
		if s, first := all[i], all[0]; len(s.Args) > 0 && isGate(s.Args[0], a.binary) {
			return fmt.Sprintf("logingate's ForceCommand at %s is shadowed: %s (%s) comes first, and sshd keeps the first ForceCommand it reads",
					s.At, first.At, quoteCmd(first.At.Text)),
				fmt.Sprintf("delete %s (%s), so that logingate's line at %s applies", quoteCmd(first.At.Text), first.At, s.At)
		}
	}
	return problem, ""
}

// isGate reports whether a ForceCommand's first word runs logingate.
func isGate(word, binary string) bool {
	if word == "" {
		return false
	}
	if filepath.Base(word) == "logingate" || word == binary {
		return true
	}
	if binary != "" && filepath.IsAbs(word) {
		a, err1 := filepath.EvalSymlinks(word)
		b, err2 := filepath.EvalSymlinks(binary)
		return err1 == nil && err2 == nil && a == b
	}
	return false
}

// modulePath is logingate's Go module: a program built from it carries it
// in its build info.
const modulePath = "github.com/logingate/logingate"

// notGate says what the file a ForceCommand names as logingate is when it
// is not the gate: "a script", or another program. It is "" for the binary
// doctor audits for, any Go program built from logingate's module, and a
// file doctor cannot read (missing, or doctor is not root).
func (a *auditor) notGate(path string) string {
	if a.binary != "" && sameFile(path, a.binary) {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	_, err = io.ReadFull(f, head)
	switch {
	case err == nil && bytes.HasPrefix(head, []byte("#!")):
		return "a script"
	case err == nil && bytes.Equal(head, []byte("\x7fELF")):
		if info, err := buildinfo.Read(f); err == nil && info.Main.Path == modulePath {
			return ""
		}
	}
	return "a program that is not logingate (it has no logingate build info)"
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// shellSplit splits a command line as sh would for plain words (blanks,
// quotes, backslashes; no expansion) up to the first piece of syntax that
// makes sh run more than the one command: ; & && | || a newline, a
// subshell, $(...) or backquotes. op is that piece and at where it starts,
// or "" and -1. sshd hands the line to the user's shell, so
// `logingate || exec bash` runs bash whenever the gate says no.
func shellSplit(s string) (words []string, op string, at int) {
	var cur strings.Builder
	in := false
	var quote byte
	word := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '`':
			word()
			return words, "`", i
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			word()
			return words, "$(", i
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\n':
			word()
			return words, "a newline", i
		case strings.IndexByte(";&|()", c) >= 0:
			word()
			if i+1 < len(s) && (s[i+1] == c || c == '|' && s[i+1] == '&') {
				return words, s[i : i+2], i
			}
			return words, string(c), i
		case c == ' ' || c == '\t':
			word()
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	word()
	return words, "", -1
}

// gateFlags reads the global flags of a logingate command line (words,
// the program first) as the gate does (cmdline.Parse); err is the gate's
// refusal of the line.
func gateFlags(words []string) (cmdline.Globals, error) {
	if len(words) == 0 {
		return cmdline.Globals{}, nil
	}
	g, _, _, err := cmdline.Parse(words[1:])
	return g, err
}
