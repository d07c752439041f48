package doctor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseEffective(t *testing.T) {
	debian := readTestdata(t, "sshd-T-debian12.txt")
	cases := []struct {
		name    string
		in      string
		wantErr bool
		check   map[string][]string // keyword -> all values
	}{
		{name: "debian 12 sshd -T", in: debian, check: map[string][]string{
			"forcecommand":       {"none"},
			"acceptenv":          {"LANG", "LC_*"},
			"x11forwarding":      {"yes"},
			"disableforwarding":  {"no"},
			"allowtcpforwarding": {"yes"},
			"permitopen":         {"any"},
			"listenaddress":      {"[::]:22", "0.0.0.0:22"},
			"subsystem":          {"sftp /usr/lib/openssh/sftp-server"},
		}},
		{name: "value with blanks and quotes", in: "forcecommand /usr/local/bin/logingate -c \"/etc/x y\"\n",
			check: map[string][]string{"forcecommand": {`/usr/local/bin/logingate -c "/etc/x y"`}}},
		{name: "crlf and blank lines", in: "port 22\r\n\r\nusepam yes\r\n",
			check: map[string][]string{"port": {"22"}, "usepam": {"yes"}}},
		{name: "keyword without value", in: "banner\n", check: map[string][]string{"banner": {""}}},
		{name: "acceptenv pattern with a blank", in: "acceptenv C D\nacceptenv LANG\n",
			check: map[string][]string{"acceptenv": {"C D", "LANG"}}},
		{name: "empty", in: "", wantErr: true},
		{name: "only blank lines", in: "\n\n", wantErr: true},
		{name: "an error message", in: "Bad configuration option: Bogus\n", wantErr: true},
		{name: "leading blank", in: " port 22\n", wantErr: true},
		{name: "upper-case keyword", in: "Port 22\n", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseEffective([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			for k, want := range tc.check {
				if !slices.Equal(e[k], want) {
					t.Errorf("%s = %q, want %q", k, e[k], want)
				}
			}
		})
	}
	e, _ := parseEffective([]byte("PermitTunnel x\n"))
	if e != nil {
		t.Error("a config line parsed as sshd -T output")
	}
	e, _ = parseEffective([]byte("x11forwarding Yes\n"))
	if e.get("x11forwarding") != "yes" || e.raw("x11forwarding") != "Yes" || e.get("nosuch") != "" {
		t.Errorf("get/raw: %q %q", e.get("x11forwarding"), e.raw("x11forwarding"))
	}
}

func TestArgvSplit(t *testing.T) {
	cases := []struct {
		in   string
		key  string
		args []string
	}{
		{"ForceCommand /usr/local/bin/logingate", "forcecommand", []string{"/usr/local/bin/logingate"}},
		{"ForceCommand=/x -c y", "forcecommand", []string{"/x", "-c", "y"}},
		{"Port = 22", "port", []string{"22"}},
		{"Port =22", "port", []string{"22"}},
		{`"PermitTunnel" "yes"   # comment`, "permittunnel", []string{"yes"}},
		{`AcceptEnv "C D" E`, "acceptenv", []string{"C D", "E"}},
		{`AcceptEnv 'single quoted' x\ y`, "acceptenv", []string{"single quoted", "x y"}},
		{"Match User=bob Address 1.2.3.4 # c", "match", []string{"User=bob", "Address", "1.2.3.4"}},
		{"X11Forwarding no#notacomment", "x11forwarding", []string{"no#notacomment"}},
		{"\tPermitUserRC\tno", "permituserrc", []string{"no"}},
		{"# only a comment", "", nil},
		{`Banner "unterminated`, "banner", []string{"unterminated"}},
	}
	for _, tc := range cases {
		key, args := keywordArgs(argvSplit(tc.in))
		if key != tc.key || !slices.Equal(args, tc.args) {
			t.Errorf("%q: %q %q, want %q %q", tc.in, key, args, tc.key, tc.args)
		}
	}
}

func TestCriteria(t *testing.T) {
	got := criteria([]string{"User=bob,alice", "Address", "10.0.0.0/8", "all", "Group"})
	want := []criterion{{"user", "bob,alice"}, {"address", "10.0.0.0/8"}, {"all", ""}, {"group", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("criteria %+v, want %+v", got, want)
	}
}

// TestReadSSHDConfig: Includes as sshd reads them (relative to /etc/ssh,
// globs in order, a Match lasting to the end of its file), and the lines
// a fix names.
func TestReadSSHDConfig(t *testing.T) {
	dir := t.TempDir()
	put := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("sshd_config", "Include conf.d/*.conf\nX11Forwarding yes\nMatch User bob\n  Include bob.inc\nMatch Group staff Address 10.0.0.0/8\n  ForceCommand none\n")
	put("conf.d/10-b.conf", "ForceCommand /usr/bin/true\n")
	put("conf.d/00-logingate.conf", "ForceCommand /usr/local/bin/logingate\nMatch User carol\n  PermitTunnel yes\n")
	put("conf.d/20-loop.conf", "Include "+filepath.Join(dir, "conf.d/20-loop.conf")+"\n")
	put("bob.inc", "AllowTcpForwarding yes\n")
	put("conf.d/ignored.txt", "PermitUserRC yes\n")

	cfg := readSSHDConfig(filepath.Join(dir, "sshd_config"), dir, readLimited, filepath.Glob)

	fc := cfg.globalAll("forcecommand")
	if len(fc) != 2 || fc[0].Args[0] != "/usr/local/bin/logingate" || !strings.HasSuffix(fc[0].At.File, "00-logingate.conf") || fc[1].Args[0] != "/usr/bin/true" {
		t.Errorf("global ForceCommand lines %+v: want 00-logingate.conf first, then 10-b.conf", fc)
	}
	if s := cfg.firstGlobal("x11forwarding"); s == nil || s.At.Line != 2 || s.At.Text != "X11Forwarding yes" {
		t.Errorf("X11Forwarding at %+v, want sshd_config line 2", s)
	}
	if cfg.firstGlobal("permittunnel") != nil || cfg.firstGlobal("permituserrc") != nil {
		t.Error("a Match line or a file the glob does not match counted as global")
	}
	if len(cfg.Blocks) != 3 {
		t.Fatalf("%d Match blocks, want 3", len(cfg.Blocks))
	}
	carol, bob, staff := cfg.Blocks[0], cfg.Blocks[1], cfg.Blocks[2]
	if carol.first("permittunnel") == nil || carol.Criteria[0] != (criterion{"user", "carol"}) {
		t.Errorf("carol's block %+v", carol)
	}
	if s := bob.first("allowtcpforwarding"); s == nil || !strings.HasSuffix(s.At.File, "bob.inc") {
		t.Errorf("an Include inside Match User bob did not land in that block: %+v", bob)
	}
	if len(staff.Criteria) != 2 || staff.first("forcecommand") == nil {
		t.Errorf("staff block %+v", staff)
	}
	if got := cfg.blocksSetting("forcecommand", "permittunnel"); len(got) != 2 || got[0] != carol || got[1] != staff {
		t.Errorf("blocksSetting = %v", got)
	}
	if p, inc, ok := cfg.dropin(); !ok || p != filepath.Join(dir, "conf.d/00-logingate.conf") || inc.Line != 1 {
		t.Errorf("dropin() = %q %+v %v", p, inc, ok)
	}
	if !slices.ContainsFunc(cfg.Problems, func(s string) bool { return strings.Contains(s, "nested too deeply") }) {
		t.Errorf("a self-including file did not hit the depth limit: %q", cfg.Problems)
	}
	if len(cfg.Files) > maxConfigFiles {
		t.Errorf("read %d files", len(cfg.Files))
	}

	missing := readSSHDConfig(filepath.Join(dir, "nosuch"), dir, readLimited, filepath.Glob)
	if len(missing.Problems) != 1 || !strings.Contains(missing.Problems[0], "no such file") {
		t.Errorf("missing config: %q", missing.Problems)
	}
}

func TestParsePAM(t *testing.T) {
	lines := parsePAM([]byte(readTestdata(t, "pam.d/sshd")))
	var readenv []int
	var includes []string
	for _, l := range lines {
		if l.readsUserEnv() {
			readenv = append(readenv, l.Line)
		}
		if inc := l.includes(); inc != "" {
			includes = append(includes, inc)
		}
	}
	if !slices.Equal(readenv, []int{47}) {
		t.Errorf("user_readenv=1 on lines %v, want [47] (Debian 12's pam.d/sshd)", readenv)
	}
	if !slices.Equal(includes, []string{"common-auth", "common-account", "common-session", "common-password"}) {
		t.Errorf("includes %q", includes)
	}

	cases := []struct {
		in      string
		readenv bool
		include string
		control string
		args    []string
	}{
		{in: "session required pam_env.so user_readenv=1", readenv: true},
		{in: "session required pam_env.so user_readenv=0", readenv: false},
		{in: "session required pam_env.so user_readenv=1 user_readenv=0", readenv: false},
		{in: "session required pam_env.so readenv=1", readenv: false},
		{in: "-session optional /lib/x86_64-linux-gnu/security/pam_env.so user_readenv=1", readenv: true},
		{in: "auth required pam_env.so \\\n  user_readenv=1", readenv: true},
		{in: "session required pam_env.so # user_readenv=1", readenv: false},
		{in: "#session required pam_env.so user_readenv=1", readenv: false},
		{in: "session required pam_envx.so user_readenv=1", readenv: false},
		{in: "session [success=ok default=bad] pam_env.so [user_readenv=1]", readenv: true, control: "[success=ok default=bad]", args: []string{"user_readenv=1"}},
		{in: "session [success=ok default=bad pam_env.so user_readenv=1", readenv: false},
		{in: "auth include common-auth", include: "common-auth", control: "include"},
		{in: "session substack other", include: "other", control: "substack"},
		{in: "@include common-session", include: "common-session"},
		{in: "session optional pam_motd.so motd=/run/motd.dynamic [x y\\] z]", args: []string{"motd=/run/motd.dynamic", "x y] z"}},
	}
	for _, tc := range cases {
		ls := parsePAM([]byte(tc.in))
		var l pamLine
		if len(ls) > 0 {
			l = ls[0]
		}
		if l.readsUserEnv() != tc.readenv || l.includes() != tc.include {
			t.Errorf("%q: readenv %v include %q, want %v %q (%+v)", tc.in, l.readsUserEnv(), l.includes(), tc.readenv, tc.include, l)
		}
		if tc.control != "" && l.Control != tc.control {
			t.Errorf("%q: control %q, want %q", tc.in, l.Control, tc.control)
		}
		if tc.args != nil && !slices.Equal(l.Args, tc.args) {
			t.Errorf("%q: args %q, want %q", tc.in, l.Args, tc.args)
		}
	}
	if ls := parsePAM([]byte("a\\\nb\\\nc d e\nsession required pam_env.so user_readenv=1\n")); len(ls) != 2 || ls[1].Line != 4 || !ls[1].readsUserEnv() {
		t.Errorf("continuation lines: %+v", ls)
	}
}

func TestWithoutUserReadenv(t *testing.T) {
	cases := map[string]string{
		"session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale": "session    required     pam_env.so envfile=/etc/default/locale",
		"session required pam_env.so user_readenv=1":                                    "session required pam_env.so",
		"session required pam_env.so [user_readenv=1] readenv=1":                        "session required pam_env.so readenv=1",
	}
	for in, want := range cases {
		if got := withoutUserReadenv(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

// TestScanPAM follows includes one level, and no deeper.
func TestScanPAM(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sshd":           "@include common-session\nauth include deeper\nsession required pam_env.so\n@include missing\n",
		"common-session": "session required pam_env.so user_readenv=1\n",
		"deeper":         "@include deepest\n",
		"deepest":        "session required pam_env.so user_readenv=1\n",
	}
	for name, c := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits, unread, err := scanPAM(filepath.Join(dir, "sshd"), readLimited)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].File != filepath.Join(dir, "common-session") || hits[0].Line.Line != 1 {
		t.Errorf("hits %+v, want common-session line 1 only", hits)
	}
	if !slices.Equal(unread, []string{filepath.Join(dir, "missing")}) {
		t.Errorf("unread %q", unread)
	}
	if _, _, err := scanPAM(filepath.Join(dir, "none"), readLimited); err == nil {
		t.Error("a missing service file is no error")
	}
}

func TestMatchPattern(t *testing.T) {
	cases := []struct {
		s, p string
		want bool
	}{
		{"LANG", "LANG", true}, {"LC_ALL", "LC_*", true}, {"LD_PRELOAD", "LC_*", false},
		{"LD_PRELOAD", "*", true}, {"", "*", true}, {"", "?", false}, {"ab", "a?", true},
		{"abc", "a*c", true}, {"abc", "a*b", false}, {"aXbXc", "a*b*c", true}, {"abc", "", false},
		{"LD_PRELOAD", "L*", true}, {"PS4", "PS?", true}, {"SHELLOPTS", "*OPTS", true},
	}
	for _, tc := range cases {
		if got := matchPattern(tc.s, tc.p); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
	lists := []struct {
		s, l string
		want bool
	}{
		{"bob", "bob,alice", true}, {"root", "*,!root", false}, {"bob", "*,!root", true},
		{"bob", "!root", false}, {"LANG", "LANG,!LD_*", true}, {"LD_PRELOAD", "*,!LD_*", false},
	}
	for _, tc := range lists {
		if got := matchPatternList(tc.s, tc.l); got != tc.want {
			t.Errorf("matchPatternList(%q, %q) = %v", tc.s, tc.l, got)
		}
	}
}

func TestAddrMatchList(t *testing.T) {
	cases := []struct {
		addr, list string
		want       bool
	}{
		{"10.1.2.3", "10.0.0.0/8", true}, {"10.1.2.3", "10.0.0.0/8,!10.1.0.0/16", false},
		{"10.2.0.1", "10.0.0.0/8,!10.1.0.0/16", true}, {"10.1.2.3", "!10.1.0.0/16,10.0.0.0/8", false},
		{"192.0.2.7", "192.0.2.7", true}, {"192.0.2.7", "192.0.2.*", true}, {"192.0.2.7", "192.0.2.*,!192.0.2.7", false},
		{"10.0.0.1", "!10.0.0.2", false}, // negations alone match nothing
		{"2001:db8::1", "2001:db8::/32", true}, {"2001:db8::1", "10.0.0.0/8", false}, {"10.0.0.1", "::/0", false},
		{"10.0.0.1", "10.0.0.0/8,", false}, // an empty entry: sshd refuses the list
	}
	for _, tc := range cases {
		if got := addrMatchList(tc.addr, tc.list); got != tc.want {
			t.Errorf("addrMatchList(%q, %q) = %v", tc.addr, tc.list, got)
		}
	}
}

func TestSolveAddr(t *testing.T) {
	cases := map[string]string{
		"10.0.0.0/8": "10.0.0.1", "192.0.2.7/32": "192.0.2.7", "192.0.2.7": "192.0.2.7",
		"10.1.*": "10.1.1.1", "192.168.1.?": "192.168.1.1", "*": "1.1.1.1",
		"2001:db8::/32": "2001:db8::1", "::1": "::1", "host.example": "", "1.2.3.4.5.*": "",
		"10.0.0.0/33":                          "",
		"10.0.0.0/8,!10.0.0.1":                 "10.0.0.2",
		"10.0.0.0/8,!10.0.0.0/16":              "10.1.0.0",
		"10.0.0.0/8,!10.0.0.0/9,!10.128.0.0/9": "",
		"203.0.113.*,!203.0.113.1":             "203.0.113.2",
		"*,!203.0.113.10":                      "1.1.1.1",
		"192.0.2.0/30,!192.0.2.1,!192.0.2.2":   "192.0.2.0",
		"!10.0.0.1":                            "",
	}
	for in, want := range cases {
		got := solveAddr(in)
		if got != want {
			t.Errorf("solveAddr(%q) = %q, want %q", in, got, want)
		}
		if got != "" && !addrMatchList(got, in) {
			t.Errorf("solveAddr(%q) = %q, which the list does not match", in, got)
		}
	}
	if got := refusedAddrs("10.0.0.0/8,!10.0.0.0/16,!10.9.9.9,!172.16.*"); !slices.Equal(got, []string{"10.0.0.1", "10.9.9.9", "172.16.1.1"}) {
		t.Errorf("refusedAddrs = %q", got)
	}
}

func TestSolveName(t *testing.T) {
	cases := []struct {
		list   string
		prefer []string
		want   string
		none   bool
	}{
		{"bob", nil, "bob", false},
		{"*,!root", []string{"root", "alice"}, "alice", false},
		{"*,!root", nil, "x", false},
		{"*,!x", nil, "q", false},
		{"zz*,!zz,!zzx", nil, "zzq", false},
		{"a?,!a*", nil, "", true},
		{"svc-*,!svc-x", nil, "svc-", false},
		{"!root", []string{"alice"}, "", true},
		{"adm*,!admin?", []string{"admin7"}, "admx", false},
		{"*-hidden,!*-*-*", nil, "x-hidden", false},
		{"*-hidden,!x*", nil, "-hidden", false},
		{"\x99?,!\x99x", nil, "\x99q", false}, // a made-up name is built of bytes, not runes
	}
	for _, tc := range cases {
		got, none := solveName(tc.list, tc.prefer)
		if got != tc.want || none != tc.none {
			t.Errorf("solveName(%q, %q) = %q, %v; want %q, %v", tc.list, tc.prefer, got, none, tc.want, tc.none)
		}
		if got != "" && !matchPatternList(got, tc.list) {
			t.Errorf("solveName(%q) = %q, which the list does not match", tc.list, got)
		}
	}
}

func TestShellWords(t *testing.T) {
	cases := []struct {
		in     string
		words  []string
		config string
	}{
		{`/usr/local/bin/logingate`, []string{"/usr/local/bin/logingate"}, ""},
		{`/usr/local/bin/logingate -c /etc/duo/login_duo.conf`, []string{"/usr/local/bin/logingate", "-c", "/etc/duo/login_duo.conf"}, "/etc/duo/login_duo.conf"},
		{`logingate -c"/etc/x y"`, []string{"logingate", "-c/etc/x y"}, "/etc/x y"},
		{`logingate -d -f alice -c 'a b'`, []string{"logingate", "-d", "-f", "alice", "-c", "a b"}, "a b"},
		{`logingate -- -c x`, []string{"logingate", "--", "-c", "x"}, ""},
		{`logingate cmd -c x`, []string{"logingate", "cmd", "-c", "x"}, ""},
		{`a\ b "c\"d" 'e'`, []string{"a b", `c"d`, "e"}, ""},
		{``, nil, ""},
	}
	for _, tc := range cases {
		w, _, _ := shellSplit(tc.in)
		if !slices.Equal(w, tc.words) {
			t.Errorf("shellSplit(%q) = %q, want %q", tc.in, w, tc.words)
		}
		if g, _ := gateFlags(w); g.Config != tc.config {
			t.Errorf("gateFlags(%q) = %q, want %q", w, g.Config, tc.config)
		}
	}
}

func TestIsGate(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lg-build")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		word string
		want bool
	}{
		{"/usr/local/bin/logingate", true}, {"logingate", true}, {bin, true}, {link, true},
		{"/usr/bin/true", false}, {"internal-sftp", false}, {"", false}, {"/usr/local/bin/logingate-old", false},
	}
	for _, tc := range cases {
		if got := isGate(tc.word, bin); got != tc.want {
			t.Errorf("isGate(%q) = %v", tc.word, got)
		}
	}
}

func TestDangerousMatches(t *testing.T) {
	if got := dangerousMatches([]string{"LANG", "LC_*", "TZ"}); len(got) != 0 {
		t.Errorf("locale patterns let in %q", got)
	}
	if got := dangerousMatches([]string{"LD_*"}); !slices.Equal(got, []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"}) {
		t.Errorf("LD_* lets in %q", got)
	}
	if got := dangerousMatches([]string{"*,!LD_*,!SSH_*"}); !slices.Contains(got, "SHELLOPTS") || slices.Contains(got, "LD_PRELOAD") {
		t.Errorf("pattern-list with negations lets in %q", got)
	}
}

func TestShellControl(t *testing.T) {
	cases := []struct{ in, op string }{
		{`/usr/local/bin/logingate`, ""},
		{`/usr/local/bin/logingate -c /etc/x.yaml`, ""},
		{`logingate || exec /bin/bash -l`, "||"},
		{`logingate && bash`, "&&"},
		{`logingate; bash`, ";"},
		{`logingate & bash`, "&"},
		{`logingate | tee x`, "|"},
		{`logingate |& tee x`, "|&"},
		{"logingate\nbash", "a newline"},
		{`logingate -c $(cat /x)`, "$("},
		{"logingate -c `cat /x`", "`"},
		{`logingate -c "$(cat /x)"`, "$("},
		{"logingate -c \"`cat /x`\"", "`"},
		{`(logingate)`, "("},
		{`logingate -c '/a;b|c&d$(e)'`, ""},
		{`logingate -c "/a;b|c"`, ""},
		{`logingate -c /a\;b`, ""},
		{`logingate -c "\$(x)"`, ""},
	}
	for _, tc := range cases {
		if _, op, _ := shellSplit(tc.in); op != tc.op {
			t.Errorf("shellSplit(%q) = %q, want %q", tc.in, op, tc.op)
		}
	}
}
