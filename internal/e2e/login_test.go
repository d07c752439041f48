package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const expectTimeout = 20 * time.Second

// An interactive login: the menu, a code from oathtool (not echoed), then
// the login shell, started as a login shell.
func TestInteractiveLoginWithTOTP(t *testing.T) {
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "totp")
	e := h.enroll(t, u)

	s := h.SSHPty(t, u)
	s.Expect(t, "second factor for "+u.Name+" (from 127.0.0.1)", expectTimeout)
	s.Expect(t, "1. Authenticator app code", expectTimeout)
	s.Expect(t, "2. Backup code", expectTimeout)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	code := e.Code(t, 0)
	s.Send(code + "\r")
	s.Send("echo shell=$0 sum=$((6*7))\r")
	s.Expect(t, "shell=-bash sum=42", expectTimeout)
	s.Send("exit 0\r")
	if got := s.Wait(); got != 0 {
		t.Fatalf("exit status %d, want 0", got)
	}
	if strings.Contains(s.Output(), code) {
		t.Fatalf("the code was echoed:\n%s", s.Output())
	}
	h.audit.WaitFor(t, "action=login", "result=allow", "user="+u.Name, "from=127.0.0.1", "factor=totp")
	if strings.Contains(h.audit.All(), code) {
		t.Fatalf("the code reached the audit log")
	}
}

// Choosing an option first, a wrong code, then the right one; then the same
// code again on a new login is refused as replayed.
func TestWrongCodeThenReplayRefused(t *testing.T) {
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "replay")
	e := h.enroll(t, u)
	code := e.Code(t, 0)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}

	s := h.SSHPty(t, u, "echo in-$((40+2))")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send("1\r")
	s.Expect(t, "Authenticator app code: ", expectTimeout)
	s.Send(wrong + "\r")
	s.Expect(t, "wrong code", expectTimeout)
	s.Expect(t, "2 attempts left", expectTimeout)
	s.Send(code + "\r")
	s.Expect(t, "in-42", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Fatalf("exit status %d, want 0", got)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp")

	s = h.SSHPty(t, u, "echo should-not-run")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(code + "\r")
	s.Expect(t, "already used", expectTimeout)
	s.Send("\x04") // Ctrl-D: give up
	if got := s.Wait(); got == 0 {
		t.Fatalf("a replayed code logged in")
	}
	if strings.Contains(s.Output(), "should-not-run") {
		t.Fatalf("the command ran after a replayed code:\n%s", s.Output())
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "code already used")
}

// A backup code works once, with or without its dash, and never twice.
func TestBackupCodeOnceOnly(t *testing.T) {
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "backup")
	e := h.enroll(t, u)
	bc := e.Codes[0]

	s := h.SSHPty(t, u, "echo backup-ok")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(strings.ToUpper(strings.ReplaceAll(bc, "-", "")) + "\r")
	s.Expect(t, "9 backup codes left", expectTimeout)
	s.Expect(t, "backup-ok", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Fatalf("exit status %d, want 0", got)
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=backup")

	s = h.SSHPty(t, u, "echo must-not-run")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send("2\r")
	s.Expect(t, "Backup code: ", expectTimeout)
	s.Send(bc + "\r")
	s.Expect(t, "wrong code", expectTimeout)
	s.Send("\x04")
	if got := s.Wait(); got == 0 || strings.Contains(s.Output(), "must-not-run") {
		t.Fatalf("a used backup code logged in (exit %d):\n%s", got, s.Output())
	}
}

// A command keeps its quoting and its exit status, with and without a
// terminal; the passcode variable never reaches it.
func TestCommandQuotingAndExitStatus(t *testing.T) {
	h := newHost(t, hostOptions{
		yaml: "accept_env_factor: true\n",
		sshd: []string{"AcceptEnv LOGINGATE_PASSCODE"},
	})
	u := h.AddUser(t, "cmd")
	e := h.enroll(t, u)

	cmd := h.SSH(u, "-o", "SendEnv=LOGINGATE_PASSCODE", `printf '<%s>' "a  b" 'c"d' "$LOGINGATE_PASSCODE"; exit 7`)
	cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+e.Code(t, 0))
	out, errOut, code := run(t, cmd)
	if code != 7 {
		t.Fatalf("exit status %d, want 7; stderr: %s", code, errOut)
	}
	if out != `<a  b><c"d><>` {
		t.Fatalf("stdout %q, want the arguments intact and no passcode", out)
	}

	s := h.SSHPty(t, u, `printf '[%s]' "x  y"; exit 3`)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(e.Code(t, 1) + "\r")
	s.Expect(t, "[x  y]", expectTimeout)
	if got := s.Wait(); got != 3 {
		t.Fatalf("exit status %d, want 3", got)
	}
}

// Without a terminal and without a passcode, logingate writes nothing to
// stdout (it belongs to the protocol), explains itself on stderr, and the
// command does not run.
func TestNonInteractiveDeniedWithCleanStdout(t *testing.T) {
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "noni")
	h.enroll(t, u)

	out, errOut, code := run(t, h.SSH(u, "echo ran > ~/ran"))
	if code == 0 {
		t.Fatalf("a session without a second factor succeeded")
	}
	if out != "" {
		t.Fatalf("stdout must stay empty, got %q", out)
	}
	if !strings.Contains(errOut, "logingate: error: a second factor is required and this session has no terminal") ||
		!strings.Contains(errOut, "logingate: hint:") {
		t.Fatalf("stderr should say why, with a hint; got %q", errOut)
	}
	if _, err := os.Stat(filepath.Join(u.Home, "ran")); err == nil {
		t.Fatalf("the command ran")
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "no terminal")

	// scp (SFTP protocol) and sftp fail cleanly rather than hang.
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte("data"), 0o644)
	if _, _, code := run(t, h.SCP(u, local, h.Remote(u, "f"))); code == 0 {
		t.Fatalf("scp got through without a second factor")
	}
}

// With accept_env_factor, non-interactive tools work: scp (both protocols)
// and sftp carry the code in LOGINGATE_PASSCODE, and their streams stay
// intact because logingate writes nothing to stdout.
func TestNonInteractiveToolsWithEnvPasscode(t *testing.T) {
	h := newHost(t, hostOptions{
		yaml: "accept_env_factor: true\n",
		sshd: []string{"AcceptEnv LOGINGATE_PASSCODE", "Subsystem sftp internal-sftp"},
	})
	u := h.AddUser(t, "tools")
	e := h.enroll(t, u)
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	payload := strings.Repeat("logingate ", 10000)
	if err := os.WriteFile(local, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	// Two TOTP steps (now and the next, both inside the window), then a
	// backup code: each code works once.
	withCode := func(c *exec.Cmd, offset int) *exec.Cmd {
		code := e.Codes[0]
		if offset >= 0 {
			code = e.Code(t, offset)
		}
		c.Args = append(c.Args[:1], append([]string{"-o", "SendEnv=LOGINGATE_PASSCODE"}, c.Args[1:]...)...)
		c.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+code)
		return c
	}

	// scp, SFTP protocol (internal-sftp mapped to the sftp-server binary).
	if _, errOut, code := run(t, withCode(h.SCP(u, local, h.Remote(u, "a")), 0)); code != 0 {
		t.Fatalf("scp: exit %d: %s", code, errOut)
	}
	// scp, legacy protocol: `scp -t` as the remote command.
	if _, errOut, code := run(t, withCode(h.SCP(u, "-O", local, h.Remote(u, "b")), 1)); code != 0 {
		t.Fatalf("scp -O: exit %d: %s", code, errOut)
	}
	// sftp batch: get one back.
	batch := filepath.Join(dir, "batch")
	back := filepath.Join(dir, "back")
	os.WriteFile(batch, []byte("get a "+back+"\n"), 0o644)
	if _, errOut, code := run(t, withCode(h.SFTP(u, batch), -1)); code != 0 {
		t.Fatalf("sftp: exit %d: %s", code, errOut)
	}
	for _, p := range []string{filepath.Join(u.Home, "a"), filepath.Join(u.Home, "b"), back} {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != payload {
			t.Fatalf("%s: transfer corrupted or missing (%v)", p, err)
		}
	}
}
