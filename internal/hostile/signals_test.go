package hostile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// alive reports whether pid runs and has not exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// promptGate starts the gate for u on a terminal of its own and waits for
// its prompt.
func (h *host) promptGate(t *testing.T, u *sshtest.User, env ...string) *sshtest.PtySession {
	t.Helper()
	cmd := asUser(u, userEnv(u, append(env, "TERM=dumb")...), h.bin, "-c", h.config, "--", "echo", marker)
	cmd.SysProcAttr.Setsid = false // the pty makes the session
	g := sshtest.StartPty(t, cmd)
	g.Expect(t, "Passcode", 20*time.Second)
	return g
}

// Signals a user can send to her own gate at the prompt (SIGSTOP and
// SIGCONT, SIGTSTP, SIGHUP, SIGPIPE, SIGINT, SIGTERM, SIGQUIT with
// GOTRACEBACK=crash) change nothing about what counts: afterwards a right
// backup code either lets her in and is used up, or the gate has ended
// without a session and the code is still there; no failure is recorded
// for it, and no stack dump reaches her terminal.
func TestSignalsAtPrompt(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "sig")
	en := h.enroll(t, u)
	signals := []struct {
		name string
		sig  []syscall.Signal
	}{
		{"STOP then CONT", []syscall.Signal{syscall.SIGSTOP, syscall.SIGCONT}},
		{"TSTP", []syscall.Signal{syscall.SIGTSTP, syscall.SIGCONT}},
		{"HUP", []syscall.Signal{syscall.SIGHUP}},
		{"PIPE", []syscall.Signal{syscall.SIGPIPE}},
		{"INT", []syscall.Signal{syscall.SIGINT}},
		{"TERM", []syscall.Signal{syscall.SIGTERM}},
		{"QUIT", []syscall.Signal{syscall.SIGQUIT}},
	}
	for i, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			before := h.stateOf(t, u)
			g := h.promptGate(t, u, "GOTRACEBACK=crash")
			pid := g.Cmd.Process.Pid
			for _, sig := range s.sig {
				// As the user: she may signal her own gate.
				if !alive(pid) {
					break // the gate ended at the previous signal
				}
				if r := runFor(t, asUser(u, userEnv(u), "kill", "-"+strconv.Itoa(int(sig)), strconv.Itoa(pid)), 5*time.Second); r.code != 0 {
					t.Fatalf("kill -%d as the user: %v", sig, r)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if alive(pid) {
				g.Send(en.Codes[i] + "\r")
			}
			code := g.Wait()
			out := g.Output()
			after := h.stateOf(t, u)
			let := code == 0 && strings.Contains(out, marker)
			used := len(after.Backup.Codes) < len(before.Backup.Codes)
			t.Logf("after SIG%s: exit %d, let in %v, code used up %v", s.name, code, let, used)
			if let != used {
				t.Errorf("let in %v but backup code used up %v:\n%s", let, used, out)
			}
			if len(after.Failures) > len(before.Failures) {
				t.Errorf("a failure was recorded, and no wrong code was typed:\n%s", out)
			}
			if strings.Contains(out, "goroutine ") {
				t.Errorf("a stack dump reached the user's terminal:\n%s", clip(out))
			}
		})
	}
}

// strace runs the gate for u under a root-run strace (-u honours the
// setgid bit) that SIGKILLs it at the syscall step inject names.
func (h *host) strace(t *testing.T, u *sshtest.User, inject, passcode string) result {
	t.Helper()
	args := []string{"-f", "-qq", "-o", "/dev/null", "-u", u.Name}
	if inject != "" {
		args = append(args, "-e", "inject="+inject)
	}
	args = append(args, h.bin, "-c", h.config, "--", "echo", marker)
	cmd := exec.Command("strace", args...)
	cmd.Dir = u.Home
	cmd.Env = userEnv(u, "LOGINGATE_PASSCODE="+passcode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return runFor(t, cmd, 30*time.Second)
}

// A SIGKILL at each step of the write that records a code, and between the
// accept and the session's exec, hit exactly with a root-run tracer: no
// session opens without its code recorded, the state still decodes and
// the next login works, and what the gate said before dying does not
// depend on whether the code was right (so killing it cannot harvest
// verdicts whose failures were never written).
func TestKillAtEachStep(t *testing.T) {
	h := newHost(t, "rate_limit: {failures: 1000, per: 1h}\n")
	u := h.user(t, "kill")
	en := h.enroll(t, u)
	if r := h.strace(t, u, "", en.Codes[0]); !r.allowed() {
		t.Fatalf("the gate does not work under strace -u (is the setgid bit honoured?):\n%v", r)
	}
	backup := 1
	steps := []string{
		"openat:signal=KILL:when=12+", "write:signal=KILL:when=2+",
		"fsync:signal=KILL:when=1", "fsync:signal=KILL:when=2",
		"rename,renameat,renameat2:signal=KILL:when=1",
		"execve:signal=KILL:when=2",
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			before := h.stateOf(t, u)
			right := h.strace(t, u, step, en.Codes[backup])
			mid := h.stateOf(t, u)
			used := len(mid.Backup.Codes) < len(before.Backup.Codes)
			wrong := h.strace(t, u, step, en.WrongCode(t))
			after := h.stateOf(t, u)
			counted := len(after.Failures) > len(mid.Failures)
			t.Logf("right code: exit %d, let in %v, used up %v; wrong code: exit %d, counted %v", right.code, right.allowed(), used, wrong.code, counted)
			if right.allowed() && !used {
				t.Errorf("a session opened without its code recorded:\n%v", right)
			}
			if used {
				backup++
			}
			if !right.allowed() && !counted && right.stderr != wrong.stderr {
				t.Errorf("killed before the wrong code was recorded, the gate had already told right from wrong:\nright: %q\nwrong: %q", right.stderr, wrong.stderr)
			}
			mustDeny(t, "wrong code", wrong)
			if r := h.login(t, u, en.Codes[backup]); !r.allowed() {
				t.Errorf("the next login failed after the kill:\n%v", r)
			}
			backup++
		})
	}
}

// randomKills is how many gates TestRandomKills kills at a random moment,
// half with a wrong code, half with one right TOTP code.
const randomKills = 200

// Killed at random moments (uniformly within the time an unkilled gate
// takes), gates given a wrong code never leave a verdict on the user's
// terminal without the failure on disk, and gates given one right TOTP
// code open at most one session, whose step is then recorded.
func TestRandomKills(t *testing.T) {
	h := newHost(t, "rate_limit: {failures: 1000, per: 1h}\n")
	u := h.user(t, "rkill")
	en := h.enroll(t, u)
	span := func(passcode string) time.Duration {
		start := time.Now()
		h.login(t, u, passcode)
		return time.Since(start) * 6 / 5
	}
	kill := func(passcode string, within time.Duration) result {
		cmd := h.gate(u, passcode)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		must(t, cmd.Start())
		time.Sleep(rand.N(within))
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		return result{o.String(), e.String(), cmd.ProcessState.ExitCode()}
	}
	wrong := en.WrongCode(t)
	within := span(wrong)
	base := len(h.stateOf(t, u).Failures)
	told := 0
	for range randomKills / 2 {
		if r := kill(wrong, within); r.stderr != "" {
			told++
		}
	}
	failures := len(h.stateOf(t, u).Failures) - base
	t.Logf("%d gates with a wrong code killed within %v: %d said something first, %d failures recorded", randomKills/2, within, told, failures)
	if failures < told {
		t.Errorf("%d gates spoke before dying but only %d failures are recorded", told, failures)
	}
	code, sessions := en.Code(t, 0), 0
	within = span(en.Codes[0])
	for range randomKills / 2 {
		if r := kill(code, within); strings.Contains(r.stdout, marker) {
			sessions++
		}
	}
	st := h.stateOf(t, u)
	t.Logf("%d gates with one right TOTP code killed within %v: %d sessions; last step %d", randomKills/2, within, sessions, st.TOTP.LastStep)
	if sessions > 1 {
		t.Errorf("one TOTP code opened %d sessions", sessions)
	}
	if sessions == 1 && st.TOTP.LastStep == 0 {
		t.Errorf("a session opened and its step was not recorded")
	}
	if r := h.login(t, u, en.Codes[1]); !r.allowed() {
		t.Errorf("the next login failed after the kills:\n%v", r)
	}
}

// A user can signal her setgid gate but cannot trace it, nor read its
// memory, environment or descriptors through /proc.
func TestUserCannotTraceGate(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "trace")
	h.enroll(t, u)
	g := h.promptGate(t, u)
	pid := strconv.Itoa(g.Cmd.Process.Pid)
	for _, probe := range []string{
		"strace -qq -p " + pid + " -e trace=read -o /dev/null & sleep 1; kill -0 $! 2>/dev/null && kill $! && exit 0; wait $!",
		"cat /proc/" + pid + "/environ",
		"head -c 1 /proc/" + pid + "/mem",
		"ls /proc/" + pid + "/fd",
		"cat /proc/" + pid + "/maps",
	} {
		if r := runFor(t, shell(u, userEnv(u), probe), 10*time.Second); r.code == 0 {
			t.Errorf("as the user, %q worked on her setgid gate:\n%v", probe, r)
		}
	}
	g.Send("\x03")
	g.Wait()
}
