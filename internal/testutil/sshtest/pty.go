package sshtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// DefaultWaitTimeout bounds PtySession.Wait unless WaitTimeout is changed.
const DefaultWaitTimeout = 30 * time.Second

// PtySession is a command running on a pseudo-terminal, driven like a user
// at a keyboard: Expect what the screen shows, Send keys, Wait for the exit.
// Its methods must be called from the test's goroutine.
type PtySession struct {
	Cmd *exec.Cmd
	// WaitTimeout bounds Wait; past it the command is killed and the test
	// fails.
	WaitTimeout time.Duration

	t      testing.TB
	master *os.File

	mu       sync.Mutex
	buf      []byte // everything read from the terminal
	consumed int    // buf[:consumed] has been matched by Expect

	more     chan struct{} // a token after each read
	readDone chan struct{} // the terminal has no more output
	exited   chan struct{} // Cmd has exited and been reaped
}

// SSHPty starts `ssh -tt` as u, followed by args, on a new 80x24 terminal
// with TERM=dumb (bash then prints a plain "NAME@HOST:~$ " prompt). With no
// args it is an interactive login.
func (s *Server) SSHPty(t testing.TB, u *User, args ...string) *PtySession {
	t.Helper()
	cmd := s.SSH(u, append([]string{"-tt"}, args...)...)
	cmd.Env = append(withoutEnv(os.Environ(), "TERM"), "TERM=dumb")
	return StartPty(t, cmd)
}

// StartPty starts cmd with a new 80x24 pseudo-terminal as its controlling
// terminal and stdin, stdout and stderr. The command is killed, if still
// running, when the test ends.
func StartPty(t testing.TB, cmd *exec.Cmd) *PtySession {
	t.Helper()
	master, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatalf("sshtest: starting %s on a pty: %v", cmd.Path, err)
	}
	p := &PtySession{
		Cmd:         cmd,
		WaitTimeout: DefaultWaitTimeout,
		t:           t,
		master:      master,
		more:        make(chan struct{}, 1),
		readDone:    make(chan struct{}),
		exited:      make(chan struct{}),
	}
	go p.read()
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		// Once the command is gone the terminal reports EOF (EIO), unless
		// a grandchild still holds it: closing the master ends the read.
		select {
		case <-p.readDone:
		case <-time.After(time.Second):
		}
		master.Close()
		<-p.readDone
		if t.Failed() {
			t.Logf("sshtest: terminal output of %s: %q", cmd.Path, p.Output())
		}
	})
	return p
}

// read copies the terminal's output into buf until it reports an error
// (EIO once no process holds the terminal).
func (p *PtySession) read() {
	defer close(p.readDone)
	chunk := make([]byte, 4096)
	for {
		n, err := p.master.Read(chunk)
		if n > 0 {
			p.mu.Lock()
			p.buf = append(p.buf, chunk[:n]...)
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// Expect waits until want appears in the output after the previous match
// and returns the output up to and including it. The test fails, showing
// what was read, when timeout passes or the terminal closes first.
func (p *PtySession) Expect(t testing.TB, want string, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ended := isClosed(p.readDone) // before looking, so no output is missed
		p.mu.Lock()
		rest := p.buf[p.consumed:]
		if i := bytes.Index(rest, []byte(want)); i >= 0 {
			got := string(rest[:i+len(want)])
			p.consumed += i + len(want)
			p.mu.Unlock()
			return got
		}
		unmatched := string(rest)
		p.mu.Unlock()
		if ended {
			t.Fatalf("sshtest: terminal closed before %q appeared; unmatched output: %q", want, unmatched)
		}
		select {
		case <-p.more:
		case <-p.readDone:
		case <-timer.C:
			p.mu.Lock()
			rest := string(p.buf[p.consumed:])
			p.mu.Unlock()
			t.Fatalf("sshtest: %q did not appear within %v; unmatched output: %q", want, timeout, rest)
		}
	}
}

// Send types s on the terminal; end lines with "\r", as the Enter key does.
// Control keys are bytes: "\x03" is Ctrl-C, "\x04" Ctrl-D.
func (p *PtySession) Send(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("sshtest: writing %q to the terminal: %v", s, err)
	}
}

// Wait waits for the command to exit and for its output to be read, and
// returns its exit code (-1 when a signal ended it).
func (p *PtySession) Wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(p.WaitTimeout):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		p.t.Fatalf("sshtest: %s still running after %v; killed", p.Cmd.Path, p.WaitTimeout)
	}
	select {
	case <-p.readDone:
	case <-time.After(time.Second): // a grandchild holds the terminal
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Output returns everything read from the terminal so far.
func (p *PtySession) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.buf)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// withoutEnv drops the variable name from env.
func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
