package term

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// hang is how long a test waits for something that must happen. It only
// fails a test that really hangs, even on a loaded machine.
const hang = 10 * time.Second

// session is a helper process whose controlling terminal is a fresh pty; the
// test plays the user at the master side.
type session struct {
	t       *testing.T
	cmd     *exec.Cmd
	master  *os.File // what the user sees and types
	slave   *os.File // kept open to read the terminal mode
	results string   // file the helper reports to
	stdio   syncBuffer
	screen  syncBuffer
	exited  chan struct{}
	waitErr error
}

// startHelper runs the helper with prompts codes to read, each at most max
// bytes within timeout (0: the helper's generous default).
func startHelper(t *testing.T, prompts, max int, timeout time.Duration) *session {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	master = pollable(t, master)
	s := &session{t: t, master: master, slave: slave, exited: make(chan struct{})}
	s.results = resultsFile(t)
	if s.mode().Lflag&unix.ECHO == 0 {
		t.Fatal("a fresh pty should start with echo on")
	}

	env := []string{helperEnv + "=read", resultsEnv + "=" + s.results,
		promptsEnv + "=" + strconv.Itoa(prompts), maxEnv + "=" + strconv.Itoa(max)}
	if timeout > 0 {
		env = append(env, timeoutEnv+"="+timeout.String())
	}
	s.cmd = helperCommand(t, env)
	s.cmd.Stdin = slave
	// stdout and stderr are not the terminal: anything written there (a
	// prompt in the wrong place, a goroutine dump) shows up in s.stdio.
	s.cmd.Stdout = &s.stdio
	s.cmd.Stderr = &s.stdio
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			s.screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
		master.Close()
		slave.Close()
	})
	return s
}

// pollable returns f as a file the runtime poller manages. pty.Open leaves
// the master in blocking mode (it calls Fd), and closing a blocking file does
// not end a read blocked on it, so the hangup test could not close it.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(old uintptr) {
		fd, dupErr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || dupErr != nil {
		t.Fatalf("dup pty master: %v %v", err, dupErr)
	}
	f.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx")
}

func helperCommand(t *testing.T, env []string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func resultsFile(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/results"
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor waits until the screen shows text.
func (s *session) waitFor(text string) {
	s.t.Helper()
	deadline := time.Now().Add(hang)
	for !strings.Contains(s.screen.String(), text) {
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; screen so far: %q", text, s.screen.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typ types text at the terminal (use "\r" for Enter, as a keyboard does).
func (s *session) typ(text string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(text)); err != nil {
		s.t.Fatalf("type %q: %v", text, err)
	}
}

// wait waits for the helper to exit and returns its exit status and its
// result lines. The screen may still lag behind: wait for the last text
// expected on it before looking at all of it.
func (s *session) wait() (status int, results []string) {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(hang):
		s.t.Fatalf("helper still running; screen: %q", s.screen.String())
	}
	if s.cmd.ProcessState.ExitCode() < 0 {
		s.t.Fatalf("helper died: %v; screen: %q; stdout/stderr: %q", s.waitErr, s.screen.String(), s.stdio.String())
	}
	data, err := os.ReadFile(s.results)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.cmd.ProcessState.ExitCode(), strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// mode is the terminal's current mode, read from the slave side.
func (s *session) mode() *unix.Termios {
	s.t.Helper()
	mode, err := unix.IoctlGetTermios(int(s.slave.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatalf("read terminal mode: %v", err)
	}
	return mode
}

func (s *session) checkEcho(want bool) {
	s.t.Helper()
	if got := s.mode().Lflag&unix.ECHO != 0; got != want {
		s.t.Errorf("terminal echo on = %v, want %v", got, want)
	}
}

// checkClean checks what a user would: no goroutine dump anywhere and not a
// byte on stdout or stderr.
func (s *session) checkClean() {
	s.t.Helper()
	if strings.Contains(s.screen.String(), "goroutine ") {
		s.t.Errorf("goroutine dump on the terminal: %q", s.screen.String())
	}
	if s.stdio.Len() != 0 {
		s.t.Errorf("helper wrote to stdout/stderr: %q", s.stdio.String())
	}
}

// checkResults compares the helper's result lines; each line of a read also
// says that ReadSecret left echo on.
func checkResults(t *testing.T, got []string, want ...string) {
	t.Helper()
	for i := range want {
		want[i] += " echo-on"
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadSecretNotEchoed(t *testing.T) {
	s := startHelper(t, 1, 16, 0)
	s.waitFor(greetingSanitised + "Code 1: ")
	s.checkEcho(false)
	s.typ("123456\r")
	status, results := s.wait()
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	checkResults(t, results, "1 ok 123456")
	s.waitFor(doneMessage)
	screen := s.screen.String()
	if strings.Contains(screen, "123456") {
		t.Errorf("code echoed: screen %q", screen)
	}
	if !strings.HasSuffix(screen, "Code 1: \r\n"+doneMessage+"\r\n") {
		t.Errorf("screen %q: want the prompt, a newline, then the next message", screen)
	}
	if strings.Contains(screen, "\x1b") {
		t.Errorf("escape reached the terminal: %q", screen)
	}
	s.checkEcho(true)
	s.checkClean()
}

func TestReadSecretTooLong(t *testing.T) {
	s := startHelper(t, 6, 8, 0)
	s.waitFor("Code 1: ")
	s.typ("12345678\r") // exactly the limit
	s.waitFor("Code 2: ")
	s.typ("123456789\r")
	s.waitFor("Code 3: ")
	s.typ(strings.Repeat("9", 1000) + "\r") // longer than one read
	s.waitFor("Code 4: ")
	s.typ("42\r")
	s.waitFor("Code 5: ")
	s.typ("123456789\r7\r") // typed ahead: the second line is the next answer
	status, results := s.wait()
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	checkResults(t, results, "1 ok 12345678", "2 too-long", "3 too-long", "4 ok 42", "5 too-long", "6 ok 7")
	s.waitFor(doneMessage)
	s.checkEcho(true)
	s.checkClean()
}

func TestReadSecretEOF(t *testing.T) {
	s := startHelper(t, 3, 16, 0)
	s.waitFor("Code 1: ")
	s.typ("\x04") // Ctrl-D on an empty line
	s.waitFor("Code 2: ")
	s.typ("12\x04\x04") // a partial code, then Ctrl-D twice
	s.waitFor("Code 3: ")
	s.typ("12\x0434\r") // Ctrl-D inside a line does not end the answer
	status, results := s.wait()
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	checkResults(t, results, "1 eof", "2 eof", "3 ok 1234")
	s.waitFor(doneMessage)
	s.checkEcho(true)
	s.checkClean()
}

func TestReadSecretDeadline(t *testing.T) {
	s := startHelper(t, 1, 16, 300*time.Millisecond)
	status, results := s.wait()
	if status != 0 {
		t.Errorf("exit status %d, want 0", status)
	}
	checkResults(t, results, "1 deadline")
	s.waitFor(doneMessage)
	if screen := s.screen.String(); !strings.HasSuffix(screen, "Code 1: \r\n"+doneMessage+"\r\n") {
		t.Errorf("screen %q: want the prompt, a newline, then the next message", screen)
	}
	s.checkEcho(true)
	s.checkClean()
}

func TestReadSecretSignals(t *testing.T) {
	tests := []struct {
		name   string
		signal string
		send   func(s *session)
	}{
		{"ctrl-c", "SIGINT", func(s *session) { s.typ("\x03") }},
		{"ctrl-backslash", "SIGQUIT", func(s *session) { s.typ("\x1c") }},
		{"ctrl-z", "SIGTSTP", func(s *session) { s.typ("\x1a") }},
		{"hangup", "SIGHUP", func(s *session) { s.cmd.Process.Signal(syscall.SIGHUP) }},
		{"terminate", "SIGTERM", func(s *session) { s.cmd.Process.Signal(syscall.SIGTERM) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startHelper(t, 2, 16, 0)
			s.waitFor("Code 1: ")
			s.typ("12") // half a code
			tt.send(s)
			status, results := s.wait()
			if status != interruptedStatus {
				t.Errorf("exit status %d, want %d", status, interruptedStatus)
			}
			checkResults(t, results, "1 interrupted "+tt.signal+" caught=true canceled=true")
			s.waitFor(deniedMessage + "\r\n")
			screen := s.screen.String()
			if strings.Contains(screen, "12") {
				t.Errorf("half-typed code echoed after the abort: screen %q", screen)
			}
			if !strings.HasSuffix(screen, "Code 1: \r\n"+deniedMessage+"\r\n") {
				t.Errorf("screen %q: want the prompt, a newline, then the message", screen)
			}
			s.checkEcho(true)
			s.checkClean()
		})
	}
}

// TestHangupEndsRead closes the terminal under a waiting read, as a vanished
// SSH client does: the read ends (EOF or SIGHUP) instead of hanging.
func TestHangupEndsRead(t *testing.T) {
	s := startHelper(t, 1, 16, 0)
	s.waitFor("Code 1: ")
	s.master.Close()
	status, results := s.wait()
	t.Logf("exit status %d, results %q", status, results)
	switch {
	// The terminal is gone, so its mode cannot be read any more: ignore the
	// echo note.
	case status == 0 && len(results) == 1 && strings.HasPrefix(results[0], "1 eof "):
	case status == interruptedStatus && len(results) == 1 && strings.HasPrefix(results[0], "1 interrupted SIGHUP "):
	default:
		t.Errorf("exit status %d, results %q; want EOF or SIGHUP", status, results)
	}
	if strings.Contains(s.stdio.String(), "goroutine ") {
		t.Errorf("goroutine dump: %q", s.stdio.String())
	}
}

func TestOpenNoTerminal(t *testing.T) {
	results := resultsFile(t)
	cmd := helperCommand(t, []string{helperEnv + "=notty", resultsEnv + "=" + results})
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // a new session has no controlling terminal
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("helper: %v, output %q", err, out)
	}
	data, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != "no-terminal" {
		t.Errorf("Open without a controlling terminal: %q, want errNoTerminal", got)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
