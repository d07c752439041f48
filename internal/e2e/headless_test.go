package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// The trusted-window tests: under headless: trusted, one interactive login
// with a code lets scp, sftp, rsync and git through for grace_period, for
// that key from that address only; under deny they are refused with a
// clear message. And a key restricted with command="..." runs that command.

const trustedYAML = "headless: trusted\ngrace_period: 1h\n"

// extraKey returns u with a new key of its own (not yet authorized).
func extraKey(t *testing.T, h *host, u *sshtest.User, label string) *sshtest.User {
	t.Helper()
	k := *u
	k.KeyPath = filepath.Join(h.Dir, u.Name+"_"+label)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", label, "-f", k.KeyPath).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(k.KeyPath + ".pub")
	must(t, err)
	k.PublicKey = strings.TrimSpace(string(pub))
	return &k
}

// loginWithTerminal logs u in on a terminal with code, runs command (or
// the login shell's exit), and checks that the session started.
func loginWithTerminal(t *testing.T, h *host, u *sshtest.User, code string, window bool, command ...string) string {
	t.Helper()
	args := command
	if len(args) == 0 {
		args = []string{"echo interactive-ok"}
	}
	s := h.SSHPty(t, u, args...)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(code + "\r")
	if window {
		s.Expect(t, "need no code until", expectTimeout)
	}
	if got := s.Wait(); got != 0 {
		t.Fatalf("interactive login: exit %d\n%s", got, s.Output())
	}
	if !window && strings.Contains(s.Output(), "need no code") {
		t.Fatalf("a window opened where none should:\n%s", s.Output())
	}
	return s.Output()
}

// tools runs scp (SFTP and legacy), sftp, rsync and git clone as u without
// a terminal, and returns each one's exit status and stderr.
type toolRun struct {
	name   string
	code   int
	stderr string
}

func runTools(t *testing.T, h *host, u *sshtest.User, tag string) []toolRun {
	t.Helper()
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	payload := strings.Repeat("logingate "+tag+" ", 5000)
	must(t, os.WriteFile(local, []byte(payload), 0o644))
	batch := filepath.Join(dir, "batch")
	must(t, os.WriteFile(batch, []byte("put "+local+" sftp-"+tag+"\n"), 0o644))

	var out []toolRun
	add := func(name string, cmd *exec.Cmd, check func() bool) {
		_, errOut, code := run(t, cmd)
		if code == 0 && check != nil && !check() {
			t.Errorf("%s: exit 0 but the transfer is missing or corrupt", name)
		}
		out = append(out, toolRun{name, code, errOut})
	}
	landed := func(name string) func() bool {
		return func() bool {
			got, err := os.ReadFile(filepath.Join(u.Home, name))
			return err == nil && string(got) == payload
		}
	}
	add("scp", h.SCP(u, local, h.Remote(u, "scp-"+tag)), landed("scp-"+tag))
	add("scp -O", h.SCP(u, "-O", local, h.Remote(u, "scpO-"+tag)), landed("scpO-"+tag))
	add("sftp -b", h.SFTP(u, batch), landed("sftp-"+tag))
	add("rsync", exec.Command("rsync", "-e", h.SSHCommand(u), local, h.Remote(u, "rsync-"+tag)), landed("rsync-"+tag))
	clone := filepath.Join(dir, "clone")
	git := exec.Command("git", "clone", "-q", u.Name+"@127.0.0.1:repo.git", clone)
	git.Env = append(os.Environ(), "GIT_SSH_COMMAND="+h.SSHCommand(u))
	add("git clone", git, func() bool {
		got, err := os.ReadFile(filepath.Join(clone, "README"))
		return err == nil && string(got) == "hello from logingate\n"
	})
	return out
}

// bareRepo makes ~/repo.git with one commit, owned by u.
func bareRepo(t *testing.T, u *sshtest.User) {
	t.Helper()
	bare := filepath.Join(u.Home, "repo.git")
	work := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "--bare", "--initial-branch=main", bare},
		{"init", "-q", "--initial-branch=main", work},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	must(t, os.WriteFile(filepath.Join(work, "README"), []byte("hello from logingate\n"), 0o644))
	for _, args := range [][]string{
		{"add", "README"},
		{"-c", "user.name=logingate", "-c", "user.email=test@logingate.invalid", "commit", "-q", "-m", "first"},
		{"push", "-q", bare, "main"},
	} {
		cmd := exec.Command("git", append([]string{"-C", work}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("chown", "-R", u.Name+":", bare).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
}

// sessionsOf lists u's trusted windows as root sees them.
func sessionsOf(t *testing.T, h *host, u *sshtest.User) []map[string]any {
	t.Helper()
	out, errOut, code := h.gate(t, "sessions", "--user", u.Name, "--json")
	if code != 0 {
		t.Fatalf("sessions --json: exit %d: %s %s", code, out, errOut)
	}
	var r struct {
		User     string           `json:"user"`
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.User != u.Name {
		t.Fatalf("sessions --json printed %q: %v", out, err)
	}
	return r.Sessions
}

const noTerminalMsg = "logingate: error: a second factor is required and this session has no terminal to ask for it"

// After one interactive login, every non-interactive tool works without a
// prompt, and its stream stays intact.
func TestHeadlessTrustedTools(t *testing.T) {
	need.Tool(t, "rsync")
	need.Tool(t, "git")
	h := newHost(t, hostOptions{yaml: trustedYAML})
	u := h.AddUser(t, "trust")
	e := h.enroll(t, u)
	bareRepo(t, u)

	// Before any interactive login: refused, with the hint that says how.
	_, errOut, code := run(t, h.SSH(u, "echo too-early"))
	if code == 0 || !strings.Contains(errOut, noTerminalMsg) ||
		!strings.Contains(errOut, "logingate: hint: log in once with a terminal (ssh -t) to open a trusted window (1h) for this key from this address") {
		t.Fatalf("before the window: exit %d, stderr %q", code, errOut)
	}

	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp", "trusted window", "opened for 1h")
	ws := sessionsOf(t, h, u)
	if len(ws) != 1 || ws[0]["from"] != "127.0.0.1" || !strings.HasPrefix(ws[0]["key_fingerprint"].(string), "SHA256:") {
		t.Fatalf("sessions after the login: %v", ws)
	}

	for _, r := range runTools(t, h, u, "trusted") {
		if r.code != 0 {
			t.Errorf("%s under headless: trusted: exit %d\n%s", r.name, r.code, r.stderr)
		}
	}
	out, errOut, code := run(t, h.SSH(u, "echo plain-$((6*7))"))
	if code != 0 || out != "plain-42\n" || errOut != "" {
		t.Fatalf("ssh host cmd: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=trusted", "trusted window "+ws[0]["id"].(string))
}

// Under headless: deny every tool is refused, also after an interactive
// login; the tools that show the remote stderr show why.
func TestHeadlessDenyTools(t *testing.T) {
	need.Tool(t, "rsync")
	need.Tool(t, "git")
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "deny")
	e := h.enroll(t, u)
	bareRepo(t, u)
	loginWithTerminal(t, h, u, e.Code(t, 0), false)

	for _, r := range runTools(t, h, u, "deny") {
		if r.code == 0 {
			t.Errorf("%s got through under headless: deny", r.name)
		}
		switch r.name {
		case "scp -O", "rsync", "git clone":
			if !strings.Contains(r.stderr, noTerminalMsg) || !strings.Contains(r.stderr, "logingate: hint:") {
				t.Errorf("%s: stderr does not say why: %q", r.name, r.stderr)
			}
		}
	}
	if st := sessionsOf(t, h, u); len(st) != 0 {
		t.Errorf("headless: deny opened windows: %v", st)
	}
}

// A window belongs to one key from one address, and ends when revoked: by
// root for anyone, by the user for their own.
func TestTrustedWindowIsBound(t *testing.T) {
	h := newHost(t, hostOptions{yaml: trustedYAML})
	u := h.AddUser(t, "bound")
	other := extraKey(t, h, u, "other")
	u.WriteAuthorizedKeys(t, u.PublicKey, other.PublicKey)
	e := h.enroll(t, u)
	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	if out, _, _ := h.gate(t, "status", "--user", u.Name); !regexp.MustCompile(`(?m)^trusted windows: +1 `).MatchString(out) {
		t.Errorf("status after a window opened:\n%s", out)
	}

	if out, errOut, code := run(t, h.SSH(u, "echo same-key")); code != 0 || out != "same-key\n" {
		t.Fatalf("the window's own key: exit %d %q %q", code, out, errOut)
	}
	out, errOut, code := run(t, h.SSH(other, "echo other-key"))
	if code == 0 || out != "" || !strings.Contains(errOut, "to open a trusted window (1h) for this key from this address") {
		t.Errorf("another key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "no trusted window for key")

	// sshd listens on 127.0.0.1; bound to 127.0.0.2, the client comes from
	// another address.
	out, errOut, code = run(t, h.SSH(u, "-b", "127.0.0.2", "echo other-address"))
	if code == 0 || out != "" || !strings.Contains(errOut, noTerminalMsg) {
		t.Errorf("another address: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "from=127.0.0.2", "no trusted window")

	// Root revokes it by id.
	ws := sessionsOf(t, h, u)
	if len(ws) != 1 {
		t.Fatalf("sessions: %v", ws)
	}
	id := ws[0]["id"].(string)
	if out, errOut, code := h.gate(t, "sessions", "--user", u.Name, "--revoke", id); code != 0 || !strings.Contains(out, "revoked trusted session "+id) {
		t.Fatalf("revoke: exit %d %q %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "action=sessions", "result=ok", "user="+u.Name, "by=root", "revoked trusted "+id)
	if _, errOut, code := run(t, h.SSH(u, "echo after-revoke")); code == 0 || !strings.Contains(errOut, noTerminalMsg) {
		t.Errorf("a revoked window still works: exit %d, stderr %q", code, errOut)
	}

	// A new window; the user ends it from a session the window let in.
	loginWithTerminal(t, h, u, e.Code(t, 1), true)
	out, errOut, code = run(t, h.SSH(u, gateBin+" -c "+h.config+" sessions --revoke all"))
	if code != 0 || !strings.Contains(out, "revoked trusted session") {
		t.Fatalf("the user's own revoke: exit %d %q %q", code, out, errOut)
	}
	if _, _, code := run(t, h.SSH(u, "echo after-own-revoke")); code == 0 {
		t.Errorf("the user's revoked window still works")
	}

	// New factors end the windows the old ones opened: a re-enrollment
	// (the phone was lost) and new backup codes (the sheet leaked).
	e = h.enroll(t, u, "--force")
	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	replaced := func(what string, cmd ...string) {
		t.Helper()
		if len(sessionsOf(t, h, u)) != 1 {
			t.Fatalf("no window before %s", what)
		}
		if out, errOut, code := h.gate(t, cmd...); code != 0 {
			t.Fatalf("%s: exit %d %q %q", what, code, out, errOut)
		}
		if ws := sessionsOf(t, h, u); len(ws) != 0 {
			t.Errorf("after %s the windows %v remain", what, ws)
		}
		if _, _, code := run(t, h.SSH(u, "echo after-"+cmd[0])); code == 0 {
			t.Errorf("a window outlived %s", what)
		}
	}
	replaced("enroll --force", "enroll", "--user", u.Name, "--force", "--no-verify", "--json")
	e = h.enroll(t, u, "--force")
	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	replaced("backup-codes --regenerate", "backup-codes", "--user", u.Name, "--regenerate")
}

// A window ends after grace_period.
func TestTrustedWindowExpires(t *testing.T) {
	h := newHost(t, hostOptions{yaml: "headless: trusted\ngrace_period: 3s\n"})
	u := h.AddUser(t, "expire")
	e := h.enroll(t, u)
	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	time.Sleep(3500 * time.Millisecond)
	out, errOut, code := run(t, h.SSH(u, "echo too-late"))
	if code == 0 || out != "" || !strings.Contains(errOut, "logingate: hint: the trusted window for this key from this address ended at") {
		t.Errorf("an expired window: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "ended)")
}

// A key whose authorized_keys line carries command="..." runs that command
// after the second factor, with SSH_ORIGINAL_COMMAND set, never the
// client's command, on a terminal and through a trusted window alike.
func TestRestrictedKeyRunsItsOwnCommand(t *testing.T) {
	h := newHost(t, hostOptions{yaml: trustedYAML})
	u := h.AddUser(t, "restr")
	backup := extraKey(t, h, u, "backup")
	u.WriteAuthorizedKeys(t, u.PublicKey, `command="echo restricted-$SSH_ORIGINAL_COMMAND" `+backup.PublicKey)
	e := h.enroll(t, u)

	marker := filepath.Join(u.Home, "client-ran")
	out := loginWithTerminal(t, h, backup, e.Code(t, 0), true, "touch "+marker)
	if !strings.Contains(out, "restricted-touch "+marker) {
		t.Errorf("interactive: the key's command did not run:\n%s", out)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "runs its own command=", "authorized_keys:2")

	stdout, errOut, code := run(t, h.SSH(backup, "touch "+marker))
	if code != 0 || stdout != "restricted-touch "+marker+"\n" {
		t.Errorf("through the window: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=trusted", "runs its own command=")
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the client's command ran under a restricted key")
	}

	// The unrestricted key still runs what the client asks, and a login
	// shell request with the restricted key gets the forced command too.
	out = loginWithTerminal(t, h, u, e.Codes[0], true, "echo free-$((1+1))")
	if !strings.Contains(out, "free-2") {
		t.Errorf("the unrestricted key:\n%s", out)
	}
	s := h.SSHPty(t, backup)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(e.Codes[1] + "\r")
	s.Expect(t, "restricted-", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Errorf("login shell request with the restricted key: exit %d\n%s", got, s.Output())
	}
}

// The same through a setgid (privileged) gate, which reads SSH_USER_AUTH
// and authorized_keys with the caller's rights.
func TestTrustedWindowPrivileged(t *testing.T) {
	h, bin, _ := privilegedHost(t)
	f, err := os.OpenFile(h.config, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(trustedYAML)
	must(t, err)
	must(t, f.Close())
	u := h.AddUser(t, "privtr")
	backup := extraKey(t, h, u, "backup")
	u.WriteAuthorizedKeys(t, u.PublicKey, `command="echo restricted" `+backup.PublicKey)
	out, _, code := run(t, exec.Command(bin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
	if code != 0 {
		t.Fatal("enroll failed")
	}
	e := parseEnrolled(t, out)
	loginWithTerminal(t, h, u, e.Code(t, 0), true)
	if out, errOut, code := run(t, h.SSH(u, "echo privileged-window")); code != 0 || out != "privileged-window\n" {
		t.Errorf("window through the setgid gate: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := sshWithCode(t, h, backup, e.Code(t, 1), "echo client"); code != 0 || out != "restricted\n" {
		t.Errorf("restricted key through the setgid gate: exit %d %q %q", code, out, errOut)
	}
}

// newCA makes an ed25519 certificate authority in dir and returns its
// private key's path and its public key line.
func newCA(t *testing.T, dir, label string) (path, pub string) {
	t.Helper()
	path = filepath.Join(dir, "ca_"+label)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ca-"+label, "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path + ".pub")
	must(t, err)
	return path, strings.TrimSpace(string(data))
}

// certKey returns u with a new key that ca certifies for u's name (with
// -O options), in KEY-cert.pub, where ssh -i KEY finds it.
func certKey(t *testing.T, h *host, u *sshtest.User, label, ca string, options ...string) *sshtest.User {
	t.Helper()
	k := extraKey(t, h, u, label)
	args := []string{"-q", "-s", ca, "-I", label + "@test", "-n", u.Name, "-z", "7"}
	for _, o := range options {
		args = append(args, "-O", o)
	}
	if out, err := exec.Command("ssh-keygen", append(args, k.KeyPath+".pub")...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -s: %v\n%s", err, out)
	}
	return k
}

// An OpenSSH certificate stays restricted too: its force-command (ssh-keygen
// -O force-command), and the command= of the cert-authority line that
// accepted it, which sshd's ForceCommand would silently drop. When both are
// set and differ, sshd refuses a certificate accepted by that line, and
// logingate refuses one that TrustedUserCAKeys accepted.
func TestCertificateRunsItsForceCommand(t *testing.T) {
	sshtest.Require(t)
	cas := sshtest.PublicTempDir(t)
	trusted, trustedPub := newCA(t, cas, "trusted")
	lineCA, lineCAPub := newCA(t, cas, "line")
	h := newHost(t, hostOptions{
		yaml: "accept_env_factor: true\n",
		sshd: []string{"AcceptEnv LOGINGATE_PASSCODE", "TrustedUserCAKeys " + trusted + ".pub"},
	})
	u := h.AddUser(t, "cert")
	caLine := `cert-authority,principals="` + u.Name + `",command="echo ca-line $SSH_ORIGINAL_COMMAND" ` + lineCAPub
	u.WriteAuthorizedKeys(t, u.PublicKey, caLine)
	e := h.enroll(t, u)

	// TrustedUserCAKeys: only the certificate's own force-command.
	byTrusted := certKey(t, h, u, "trusted", trusted, "force-command=echo forced-by-cert $SSH_ORIGINAL_COMMAND")
	out, errOut, code := sshWithCode(t, h, byTrusted, e.Codes[0], "echo client")
	if code != 0 || out != "forced-by-cert echo client\n" {
		t.Errorf("force-command: exit %d, stdout %q, stderr %q; want the certificate's command with SSH_ORIGINAL_COMMAND", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "runs its force-command", `ID \"trusted@test\", serial 7`)

	// A cert-authority line's command= restricts every certificate of
	// that CA.
	byLine := certKey(t, h, u, "line", lineCA)
	out, errOut, code = sshWithCode(t, h, byLine, e.Codes[1], "echo client")
	if code != 0 || out != "ca-line echo client\n" {
		t.Errorf("cert-authority command=: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, `ID \"line@test\"`, "runs command= (", "authorized_keys:2)")

	// Both, different, through the line: sshd itself refuses (OpenSSH's
	// sshauthopt_merge), logingate never runs.
	conflicting := certKey(t, h, u, "conflict", lineCA, "force-command=echo forced-by-cert")
	out, errOut, code = sshWithCode(t, h, conflicting, e.Codes[2], "echo client")
	if code != 255 || out != "" || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("sshd let a conflicting certificate in: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if log, _ := os.ReadFile(h.LogPath); !strings.Contains(string(log), "forced command options do not match") {
		t.Errorf("sshd's log does not give the reason:\n%s", log)
	}

	// Both, different, when TrustedUserCAKeys accepted the certificate
	// and the user's cert-authority line for that CA forces another
	// command: sshd ignores the line, logingate refuses before any code.
	u.WriteAuthorizedKeys(t, u.PublicKey, caLine, `cert-authority,command="echo user-line" `+trustedPub)
	out, errOut, code = sshWithCode(t, h, byTrusted, e.Codes[3], "echo client")
	if code != 1 || out != "" {
		t.Errorf("conflicting force-command and command=: exit %d, stdout %q, want 1 and nothing", code, out)
	}
	if !strings.Contains(errOut, "logingate: error: ") || !strings.Contains(errOut, "force-command and the command= option on "+u.AuthorizedKeysPath+":3 differ") {
		t.Errorf("stderr %q does not say why", errOut)
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "key lookup failed", "differ")
}
