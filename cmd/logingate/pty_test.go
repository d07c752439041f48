package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// The gate on a real terminal: the built binary runs on a pty as a user's
// session would, and the test types at it. Every login runs the command
// "echo session-started && touch RAN", so a denied login is one where neither
// the marker nor the file appears.

// expectWait bounds each wait for the screen; generous for a loaded machine.
const expectWait = 30 * time.Second

// ptyGate is a state directory with root enrolled, a config and an audit
// socket, for one test.
type ptyGate struct {
	bin, dir, cfg, ran string
	uri                string
	codes              []string
	audit              *auditSink
}

// newPtyGate sets up a gate for root; extra is appended to the config.
func newPtyGate(t *testing.T, extra string) *ptyGate {
	t.Helper()
	requireRoot(t)
	bin := gateBinary(t)
	// Not t.TempDir: its long name would not fit a unix socket path.
	dir, err := os.MkdirTemp("", "lgpty-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, os.ModeSticky|0o733); err != nil {
		t.Fatal(err)
	}
	g := &ptyGate{bin: bin, dir: dir, cfg: filepath.Join(dir, "logingate.yaml"), ran: filepath.Join(dir, "ran")}
	g.audit, err = listenAudit(filepath.Join(dir, "log.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.audit.close)
	yaml := fmt.Sprintf("state_dir: %s\nsyslog:\n  socket: %s\n%s", state, g.audit.path, extra)
	if err := os.WriteFile(g.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(bin, "-c", g.cfg, "enroll", "--user", "root", "--no-verify", "--json").Output()
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	enrolled := enrolltest.Parse(t, out)
	g.uri, g.codes = enrolled.URI, enrolled.Codes
	g.audit.drain()
	return g
}

// start runs the gate on a new terminal, as sshd runs a session with a pty.
func (g *ptyGate) start(t *testing.T) *sshtest.PtySession {
	t.Helper()
	cmd := exec.Command(g.bin, "-c", g.cfg, "echo", "session-started", "&&", "touch", g.ran)
	cmd.Dir = g.dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb"}
	p := sshtest.StartPty(t, cmd)
	p.WaitTimeout = 2 * expectWait
	return p
}

// expectMenu waits for the menu a user with an app and backup codes sees.
func expectMenu(t *testing.T, p *sshtest.PtySession) {
	t.Helper()
	p.Expect(t, "logingate: second factor for root", expectWait)
	p.Expect(t, " 1. Authenticator app code", expectWait)
	p.Expect(t, " 2. Backup code", expectWait)
	p.Expect(t, "Passcode or option (1-2): ", expectWait)
}

// checkClean fails on what no user should ever see on the terminal.
func checkClean(t *testing.T, screen string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic", "DATA RACE", "\x1b"} {
		if strings.Contains(screen, bad) {
			t.Errorf("terminal shows %q: %q", bad, screen)
		}
	}
}

// checkDenied waits for the gate and checks that it denied: exit status 1,
// the denial on the screen, and the session's command never ran.
func (g *ptyGate) checkDenied(t *testing.T, p *sshtest.PtySession, message, reason string) {
	t.Helper()
	if code := p.Wait(); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	screen := p.Output()
	if !strings.Contains(screen, message) {
		t.Errorf("terminal does not show %q: %q", message, screen)
	}
	checkClean(t, screen)
	if strings.Contains(screen, "session-started") {
		t.Errorf("the command ran: %q", screen)
	}
	if _, err := os.Stat(g.ran); err == nil {
		t.Errorf("the command ran: %s exists", g.ran)
	}
	g.checkAudit(t, "action=login result=deny user=root", reason)
}

// checkAllowed waits for the session's command and its exit status 0.
func (g *ptyGate) checkAllowed(t *testing.T, p *sshtest.PtySession, factor string) string {
	t.Helper()
	p.Expect(t, "session-started", expectWait)
	if code := p.Wait(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if _, err := os.Stat(g.ran); err != nil {
		t.Errorf("the command did not run: %v", err)
	}
	screen := p.Output()
	checkClean(t, screen)
	g.checkAudit(t, "action=login result=allow user=root factor="+factor, `reason="code accepted"`)
	return screen
}

func (g *ptyGate) checkAudit(t *testing.T, want ...string) {
	t.Helper()
	lines, err := g.audit.drain()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if containsAll(l, want) {
			return
		}
	}
	t.Errorf("no audit line with %q in %q", want, lines)
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// totpNow computes the current code of an otpauth URI with oathtool.
func totpNow(t *testing.T, uri string) string {
	t.Helper()
	requireTool(t, "oathtool")
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	cmd := exec.Command("oathtool", "--totp="+q.Get("algorithm"), "-b", "-d", q.Get("digits"), "-s", q.Get("period")+"s", "-")
	cmd.Stdin = strings.NewReader(q.Get("secret"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestPtyCodeNotEchoed(t *testing.T) {
	g := newPtyGate(t, "")
	code := totpNow(t, g.uri) // before the gate starts: the prompt has a deadline
	p := g.start(t)
	expectMenu(t, p)
	p.Send(code + "\r")
	screen := g.checkAllowed(t, p, "totp")
	if strings.Contains(screen, code) {
		t.Errorf("the code %s was echoed: %q", code, screen)
	}
}

func TestPtyBackupCodeByOption(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	p.Send("2\r")
	p.Expect(t, "Backup code: ", expectWait)
	p.Send(g.codes[0] + "\r")
	p.Expect(t, "logingate: 9 backup codes left", expectWait)
	screen := g.checkAllowed(t, p, "backup")
	if strings.Contains(screen, g.codes[0]) || strings.Contains(screen, strings.ReplaceAll(g.codes[0], "-", "")) {
		t.Errorf("the backup code was echoed: %q", screen)
	}
}

// A wrong answer costs one attempt; the next prompt still works. A backup
// code is accepted in any case, with or without its dash.
func TestPtyWrongThenRight(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	p.Send("000000\r")
	p.Expect(t, "logingate: wrong code", expectWait)
	p.Expect(t, "logingate: 2 attempts left", expectWait)
	p.Expect(t, "Passcode or option (1-2): ", expectWait)
	typed := strings.ToUpper(strings.ReplaceAll(g.codes[1], "-", ""))
	p.Send(typed + "\r")
	screen := g.checkAllowed(t, p, "backup")
	if strings.Contains(screen, typed) {
		t.Errorf("the backup code was echoed: %q", screen)
	}
}

func TestPtyAttemptsRunOut(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	for i := 0; i < 3; i++ {
		p.Send("000000\r")
		p.Expect(t, "logingate: wrong code", expectWait)
		if i < 2 {
			p.Expect(t, "Passcode or option (1-2): ", expectWait)
		}
	}
	g.checkDenied(t, p, "logingate: error: too many failed attempts; access denied", "wrong code")
}

func TestPtyEOFDenies(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	p.Send("\x04") // Ctrl-D on an empty line
	g.checkDenied(t, p, "logingate: error: access denied", `reason="aborted (end of input)"`)
}

// Keys and signals that end a login deny at once: prompt_timeout is long,
// so a gate that ignored them would outlast the wait and fail the test.
func TestPtyInterruptsDeny(t *testing.T) {
	requireRoot(t)
	const longWait = "prompt_timeout: 10m\nlogin_timeout: 20m\n"
	keys := []struct{ name, key string }{
		{"ctrl-c", "\x03"},
		{"ctrl-backslash", "\x1c"},
		{"ctrl-z", "\x1a"},
	}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			g := newPtyGate(t, longWait)
			p := g.start(t)
			expectMenu(t, p)
			p.Send(k.key)
			g.checkDenied(t, p, "logingate: error: access denied", "reason=interrupted")
		})
	}
	signals := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGHUP", syscall.SIGHUP},
		{"SIGTERM", syscall.SIGTERM},
	}
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			g := newPtyGate(t, longWait)
			p := g.start(t)
			expectMenu(t, p)
			if err := p.Cmd.Process.Signal(s.sig); err != nil {
				t.Fatal(err)
			}
			g.checkDenied(t, p, "logingate: error: access denied", "reason=interrupted")
		})
	}
}

func TestPtyPromptTimeout(t *testing.T) {
	g := newPtyGate(t, "prompt_timeout: 2s\nlogin_timeout: 1m\n")
	p := g.start(t)
	expectMenu(t, p)
	// No answer.
	p.Expect(t, "logingate: error: timed out waiting for an answer; access denied", expectWait)
	g.checkDenied(t, p, "timed out", `reason="timed out"`)
}

// An answer longer than the gate reads (64 bytes) is consumed and refused
// without a crash; it costs one attempt, the next prompt works, and nothing
// of it reaches the screen.
func TestPtyOverlongAnswer(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	p.Send(strings.Repeat("7", 200) + "\r")
	p.Expect(t, "logingate: that answer is longer than any code (64 characters at most), 2 attempts left", expectWait)
	p.Expect(t, "Passcode or option (1-2): ", expectWait)
	p.Send(g.codes[2] + "\r")
	g.checkAllowed(t, p, "backup")
	if strings.Contains(p.Output(), "7777") {
		t.Errorf("the answer was echoed: %q", p.Output())
	}
}

// Over-long answers use up the attempts like wrong codes.
func TestPtyOverlongAnswersDeny(t *testing.T) {
	g := newPtyGate(t, "")
	p := g.start(t)
	expectMenu(t, p)
	for i := 0; i < 3; i++ {
		p.Send(strings.Repeat("x", 200) + "\r")
		p.Expect(t, "logingate: that answer is longer than any code", expectWait)
	}
	g.checkDenied(t, p, "logingate: error: too many failed attempts; access denied", `reason="over-long answer"`)
}
