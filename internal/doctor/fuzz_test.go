package doctor

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse feeds the same bytes to each parser doctor runs on text it did
// not write: sshd -T output, an sshd_config file and a PAM service file.
// None may panic or loop, and what each returns must be well-formed. Seeds
// are the real files in testdata and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"sshd-T-debian12.txt", "pam.d/sshd", "pam.d/common-session"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := os.ReadFile("../../etc/sshd_config.d/00-logingate.conf"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := parseEffective(data); err == nil {
			if len(e) == 0 {
				t.Fatal("no error and no settings")
			}
			for k := range e {
				if k == "" || !isKeyword(k) {
					t.Fatalf("keyword %q", k)
				}
			}
		} else if e != nil {
			t.Fatal("settings returned with an error")
		}

		cfg := parseSSHDConfigData("c", data)
		check := func(s setting) {
			if s.Key == "" || s.Key != strings.ToLower(s.Key) || s.At.Line < 1 || s.Key == "match" || s.Key == "include" {
				t.Fatalf("setting %+v", s)
			}
		}
		for _, s := range cfg.Global {
			check(s)
		}
		for _, b := range cfg.Blocks {
			for _, s := range b.Lines {
				check(s)
			}
			_ = overlay(effective{"forcecommand": {"none"}}, b)
		}
		probes(cfg, testDir, nil, nil, "22")

		for _, l := range parsePAM(data) {
			if l.Line < 1 || l.Type == "" || l.Module == "" {
				t.Fatalf("pam line %+v", l)
			}
			_ = l.readsUserEnv()
			if strings.Contains(withoutUserReadenv(l.Text), " user_readenv=") {
				t.Fatalf("user_readenv left in %q", l.Text)
			}
		}
		words, op, at := shellSplit(string(data))
		gateFlags(words)
		if (op == "") != (at < 0) || at >= len(data) {
			t.Fatalf("shellSplit(%q) = %q at %d", data, op, at)
		}
	})
}

// FuzzSolve checks the Match pattern solver: a name or address it returns
// satisfies the list, and a list it calls unsatisfiable refuses every short
// name over the list's own bytes.
func FuzzSolve(f *testing.F) {
	for _, s := range []string{"svc-*,!svc-x", "*,!root", "zz*,!zz,!zzx", "a?,!a*", "!root",
		"10.0.0.0/8,!10.0.0.1", "192.0.2.0/24,!192.0.2.0/25", "203.0.113.*,!203.0.113.1", "2001:db8::/32,!2001:db8::/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		if len(list) > 256 {
			return
		}
		name, none := solveName(list, []string{"root", "alice"})
		if name != "" && (!validName(name) || !matchPatternList(name, list)) {
			t.Fatalf("solveName(%q) = %q, which the list does not match", list, name)
		}
		if none {
			if name != "" {
				t.Fatalf("solveName(%q) = %q and no name can match", list, name)
			}
			var bytes []byte
			for i := 0; i < len(list) && len(bytes) < 4; i++ {
				if c := list[i]; c > ' ' && c != ',' && c != '!' && c != '*' && c != '?' && c != 0x7f {
					bytes = append(bytes, c)
				}
			}
			bytes = append(bytes, 'x')
			var try func(prefix string)
			try = func(prefix string) {
				if prefix != "" && matchPatternList(prefix, list) {
					t.Fatalf("solveName(%q) says no name matches, but %q does", list, prefix)
				}
				if len(prefix) < 3 {
					for _, c := range bytes {
						try(prefix + string(c))
					}
				}
			}
			try("")
		}
		if a := solveAddr(list); a != "" && !addrMatchList(a, list) {
			t.Fatalf("solveAddr(%q) = %q, which the list does not match", list, a)
		}
		for _, a := range refusedAddrs(list) {
			if addrMatchList(a, list) {
				t.Fatalf("refusedAddrs(%q) has %q, which the list matches", list, a)
			}
		}
	})
}

// FuzzMatchPattern checks the sshd wildcard matcher against a regular
// expression doing the same on ASCII input.
func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"LD_PRELOAD", "LD_*"}, {"LANG", "L?NG"}, {"aXbXc", "a*b*c"}, {"", "*"}, {"abc", "a**?"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		if len(s) > 64 || len(p) > 64 || !ascii(s) || !ascii(p) {
			return
		}
		var re strings.Builder
		re.WriteString(`^(?s)`)
		for _, c := range p {
			switch c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := matchPattern(s, p); got != want {
			t.Fatalf("matchPattern(%q, %q) = %v, want %v", s, p, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
