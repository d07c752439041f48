package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t testing.TB, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuthKeys(t *testing.T) {
	dir := t.TempDir()
	info := func(data string) []string {
		return []string{"SSH_USER_AUTH=" + writeFile(t, filepath.Join(dir, "auth"), data)}
	}
	keys, err := AuthKeys(info("publickey " + edType + " " + edB64 + "\n"))
	if err != nil || len(keys) != 1 || keys[0].Type != edType || keys[0].Fingerprint() != edFP || keys[0].isCertificate() {
		t.Fatalf("keys %+v, err %v", keys, err)
	}
	// Two methods (AuthenticationMethods publickey,keyboard-interactive
	// publickey): the keys in order, other methods skipped.
	keys, err = AuthKeys(info("publickey " + ecType + " " + ecB64 + "\nkeyboard-interactive\npublickey " + certType + " " + certB64 + " extra\n"))
	if err != nil || len(keys) != 2 || keys[0].Fingerprint() != ecFP || !keys[1].isCertificate() {
		t.Fatalf("keys %+v, err %v", keys, err)
	}
	for _, env := range [][]string{nil, {"SSH_USER_AUTH="}, {"HOME=/x"}} {
		if keys, err := AuthKeys(env); keys != nil || err != nil {
			t.Errorf("AuthKeys(%q) = %v, %v; want nothing", env, keys, err)
		}
	}
	if keys, err := AuthKeys(info("password\n")); keys != nil || err != nil {
		t.Errorf("no publickey line: %v, %v", keys, err)
	}
	for _, bad := range []string{"publickey\n", "publickey " + edType + "\n", "publickey " + edType + " !!!\n", "publickey ssh-rsa " + edB64 + "\n"} {
		if _, err := AuthKeys(info(bad)); err == nil {
			t.Errorf("AuthKeys accepted %q", bad)
		}
	}
	if _, err := AuthKeys([]string{"SSH_USER_AUTH=" + filepath.Join(dir, "missing")}); err == nil {
		t.Errorf("a missing SSH_USER_AUTH file is not an error")
	}
	if _, err := AuthKeys([]string{"SSH_USER_AUTH=" + dir}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory as SSH_USER_AUTH: %v", err)
	}
	big := writeFile(t, filepath.Join(dir, "big"), strings.Repeat("x", maxAuthInfo+1))
	if _, err := AuthKeys([]string{"SSH_USER_AUTH=" + big}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized SSH_USER_AUTH: %v", err)
	}
}

func TestExpandKeysFile(t *testing.T) {
	u := &User{Name: "alice", UID: 1001, Home: "/home/alice"}
	for _, tc := range []struct{ in, want, err string }{
		{in: "%h/.ssh/authorized_keys", want: "/home/alice/.ssh/authorized_keys"},
		{in: ".ssh/authorized_keys2", want: "/home/alice/.ssh/authorized_keys2"},
		{in: "/etc/ssh/keys/%u.%U", want: "/etc/ssh/keys/alice.1001"},
		{in: "/srv/100%%/%u", want: "/srv/100%/alice"},
		{in: "none", want: ""},
		{in: "/x/%d", err: `unknown token "%d"`},
		{in: "/x/%", err: `ends with "%"`},
	} {
		got, err := expandKeysFile(tc.in, u)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestLookupKeys(t *testing.T) {
	ed := PublicKey{Type: edType, Blob: decode(t, edB64)}
	ec := PublicKey{Type: ecType, Blob: decode(t, ecB64)}
	cert := PublicKey{Type: certType, Blob: decode(t, certB64)}
	patterns := []string{"%h/.ssh/authorized_keys", ".ssh/authorized_keys2"}
	for _, tc := range []struct {
		name       string
		files      map[string]string // below the home directory
		keys       []PublicKey
		found, has bool
		command    string
		where      string
		err        string
	}{
		{name: "no files", keys: []PublicKey{ed}},
		{name: "unrestricted key", files: map[string]string{"authorized_keys": edType + " " + edB64 + "\n"},
			keys: []PublicKey{ed}, found: true, where: ".ssh/authorized_keys:1"},
		{name: "restricted key on the second line", files: map[string]string{
			"authorized_keys": edType + " " + edB64 + "\n" + `restrict,command="echo restricted" ` + ecType + " " + ecB64 + "\n"},
			keys: []PublicKey{ec}, found: true, has: true, command: "echo restricted", where: ".ssh/authorized_keys:2"},
		{name: "restricted in authorized_keys2", files: map[string]string{"authorized_keys2": `command="backup" ` + ecType + " " + ecB64},
			keys: []PublicKey{ec}, found: true, has: true, command: "backup", where: ".ssh/authorized_keys2:1"},
		{name: "key elsewhere (AuthorizedKeysCommand)", files: map[string]string{"authorized_keys": edType + " " + edB64},
			keys: []PublicKey{ec}},
		{name: "no keys from sshd", files: map[string]string{"authorized_keys": edType + " " + edB64}},
		{name: "cert-authority lines do not authorize the key", files: map[string]string{"authorized_keys": `cert-authority,command="x" ` + ecType + " " + ecB64},
			keys: []PublicKey{ec}},
		{name: "a certificate is not its key", files: map[string]string{"authorized_keys": `command="x" ` + edType + " " + edB64},
			keys: []PublicKey{cert}},
		{name: "same key twice, same command", files: map[string]string{
			"authorized_keys": `command="a" ` + edType + " " + edB64, "authorized_keys2": `no-pty,command="a" ` + edType + " " + edB64},
			keys: []PublicKey{ed}, found: true, has: true, command: "a", where: ".ssh/authorized_keys:1"},
		{name: "same key twice, different commands", files: map[string]string{
			"authorized_keys": `from="10.0.0.0/8" ` + edType + " " + edB64 + "\n" + `command="a" ` + edType + " " + edB64},
			keys: []PublicKey{ed}, err: "with different command= options"},
		{name: "two keys sshd accepted, one restricted", files: map[string]string{
			"authorized_keys": edType + " " + edB64 + "\n" + `command="a" ` + ecType + " " + ecB64},
			keys: []PublicKey{ed, ec}, err: "with different command= options"},
		{name: "broken line naming the key", files: map[string]string{
			"authorized_keys": `command="unterminated ` + edType + " " + edB64},
			keys: []PublicKey{ed}, err: "its restrictions are unknown"},
		{name: "broken line of another key is skipped", files: map[string]string{
			"authorized_keys": `bogus ` + ecType + " " + ecB64 + "\n" + edType + " " + edB64},
			keys: []PublicKey{ed}, found: true, where: ".ssh/authorized_keys:2"},
		{name: "unreadable file", files: map[string]string{"authorized_keys": "<dir>"},
			keys: []PublicKey{ed}, err: "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			for name, data := range tc.files {
				p := filepath.Join(home, ".ssh", name)
				if data == "<dir>" {
					if err := os.MkdirAll(p, 0o700); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, p, data)
			}
			u := &User{Name: "alice", UID: 1001, Home: home}
			got, err := LookupKeys(u, patterns, tc.keys)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), edB64[10:30]) {
					t.Errorf("error quotes a key line: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Found != tc.found || got.HasCommand != tc.has || got.Command != tc.command {
				t.Errorf("lookup %+v, want found %v command %q (%v)", got, tc.found, tc.command, tc.has)
			}
			if tc.where != "" && got.Where != filepath.Join(home, tc.where) {
				t.Errorf("where %q, want %q", got.Where, filepath.Join(home, tc.where))
			}
		})
	}
}

func TestForceCommand(t *testing.T) {
	s := FromEnv([]string{"SSH_ORIGINAL_COMMAND=rm -rf /"}, nil, "", &User{Name: "alice", Shell: "/bin/bash"})
	s.ForceCommand("echo restricted-$SSH_ORIGINAL_COMMAND")
	path, argv, err := s.argv()
	if err != nil || path != "/bin/bash" || strings.Join(argv, "|") != "bash|-c|echo restricted-$SSH_ORIGINAL_COMMAND" {
		t.Fatalf("argv = %q %q %v", path, argv, err)
	}
	if v, _ := lookupEnv(s.Env, "SSH_ORIGINAL_COMMAND"); v != "rm -rf /" {
		t.Errorf("SSH_ORIGINAL_COMMAND = %q, want the client's command kept for the forced one", v)
	}
	// A login-shell request gets the forced command too.
	s = FromEnv(nil, nil, "", &User{Name: "alice", Shell: "/bin/bash"})
	s.ForceCommand("internal-sftp")
	if _, argv, err := s.argv(); err == nil && argv[0] == "-bash" {
		t.Errorf("a forced command still starts a login shell")
	}
}

func TestRunsFile(t *testing.T) {
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	exe := writeFile(t, filepath.Join(bin, "logingate"), "#!/bin/sh\n")
	other := writeFile(t, filepath.Join(bin, "other"), "#!/bin/sh\n")
	link := filepath.Join(home, "gate-link")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + bin}
	for _, tc := range []struct {
		command string
		want    bool
	}{
		{exe, true},
		{exe + " -c /etc/logingate/x.yaml", true},
		{"logingate", true},
		{"exec logingate -d", true},
		{`"` + exe + `"`, true},
		{"bin/logingate", true}, // below the home directory
		{link, true},
		{"echo restricted-$SSH_ORIGINAL_COMMAND", false},
		{other, false},
		{"other logingated", false},
		{"", false},
	} {
		if got := RunsFile(tc.command, exe, env, home); got != tc.want {
			t.Errorf("RunsFile(%q) = %v, want %v", tc.command, got, tc.want)
		}
	}
	if RunsFile("logingate", exe, []string{"PATH=/nonexistent"}, home) {
		t.Errorf("found through a PATH that does not hold it")
	}
	if RunsFile(exe, filepath.Join(home, "missing"), env, home) {
		t.Errorf("a missing executable matched")
	}
}
