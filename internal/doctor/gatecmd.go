package doctor

import (
	"bytes"
	"debug/buildinfo"
	"io"
	"os"
	"strings"
)

// modulePath is logingate's Go module: a program built from it carries it
// in its build info.
const modulePath = "github.com/logingate/logingate"

// shellControl returns the first piece of shell syntax in a ForceCommand
// that makes sh run more than the one command it names (; & && | || a
// newline, a subshell) or run a command to build a word ($(...) and
// backquotes), and where it starts; "" when the line is one plain
// command. sshd hands the line to the user's shell, so
// `logingate || exec bash` runs bash whenever the gate says no.
func shellControl(s string) (op string, at int) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\' && i+1 < len(s):
			i++ // the next byte is literal (inside double quotes too, for $ and `)
		case c == '`':
			return "`", i
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			return "$(", i
		case quote == '"':
			if c == '"' {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '\n':
			return "a newline", i
		case strings.IndexByte(";&|()", c) >= 0:
			if i+1 < len(s) && (s[i+1] == c || c == '|' && s[i+1] == '&') {
				return s[i : i+2], i
			}
			return string(c), i
		}
	}
	return "", -1
}

// program kinds gateProgram tells apart.
const (
	progGate    = "gate"    // the logingate program
	progScript  = "script"  // a #! script: whatever it runs decides
	progOther   = "other"   // a program that is not logingate
	progUnknown = "unknown" // cannot be read (missing, or doctor is not root)
)

// gateProgram says what the file a ForceCommand names as logingate really
// is. The binary doctor audits for (--binary, or doctor itself) is the
// gate; any other file must be a Go program built from logingate's module.
func (a *auditor) gateProgram(path string) string {
	if a.binary != "" && sameFile(path, a.binary) {
		return progGate
	}
	f, err := os.Open(path)
	if err != nil {
		return progUnknown
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return progOther
	}
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		return progScript
	case bytes.Equal(head, []byte("\x7fELF")):
		if info, err := buildinfo.Read(f); err == nil && info.Main.Path == modulePath {
			return progGate
		}
	}
	return progOther
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
