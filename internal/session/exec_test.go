package session

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

func TestArgv(t *testing.T) {
	sftp := ""
	for _, p := range sftpServerPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o111 != 0 {
			sftp = p
			break
		}
	}
	bash := &User{Name: "alice", Shell: "/bin/bash"}
	tests := []struct {
		name     string
		user     *User
		cmd      string
		hasCmd   bool
		path     string
		argv     []string
		needSFTP bool
	}{
		{name: "login shell", user: bash, path: "/bin/bash", argv: []string{"-bash"}},
		{name: "empty shell is /bin/sh", user: &User{Name: "bob"}, path: "/bin/sh", argv: []string{"-sh"}},
		{name: "command", user: bash, cmd: "uptime", hasCmd: true, path: "/bin/bash", argv: []string{"bash", "-c", "uptime"}},
		{name: "quoting untouched", user: bash, cmd: `printf '%s\n' "a  b" $HOME; exit 3`, hasCmd: true,
			path: "/bin/bash", argv: []string{"bash", "-c", `printf '%s\n' "a  b" $HOME; exit 3`}},
		{name: "empty command still runs through the shell", user: bash, cmd: "", hasCmd: true, path: "/bin/bash", argv: []string{"bash", "-c", ""}},
		{name: "nologin shell kept", user: &User{Name: "svc", Shell: "/usr/sbin/nologin"}, cmd: "id", hasCmd: true,
			path: "/usr/sbin/nologin", argv: []string{"nologin", "-c", "id"}},
		{name: "internal-sftp", user: bash, cmd: "internal-sftp", hasCmd: true, needSFTP: true,
			path: "/bin/bash", argv: []string{"bash", "-c", sftp}},
		{name: "internal-sftp keeps arguments", user: bash, cmd: "internal-sftp -l INFO -f AUTH", hasCmd: true, needSFTP: true,
			path: "/bin/bash", argv: []string{"bash", "-c", sftp + " -l INFO -f AUTH"}},
		{name: "internal-sftp with leading blanks", user: bash, cmd: "  internal-sftp -R", hasCmd: true, needSFTP: true,
			path: "/bin/bash", argv: []string{"bash", "-c", sftp + " -R"}},
		{name: "other word is not mapped", user: bash, cmd: "internal-sftpx", hasCmd: true,
			path: "/bin/bash", argv: []string{"bash", "-c", "internal-sftpx"}},
		{name: "not first word is not mapped", user: bash, cmd: "echo internal-sftp", hasCmd: true,
			path: "/bin/bash", argv: []string{"bash", "-c", "echo internal-sftp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needSFTP {
				if sftp == "" {
					need.Unavailable(t, "no sftp-server binary installed (openssh-server)")
				}
			}
			s := &Session{User: tt.user, Command: tt.cmd, HasCommand: tt.hasCmd}
			path, argv, err := s.argv()
			if err != nil {
				t.Fatalf("argv: %v", err)
			}
			if path != tt.path || !slices.Equal(argv, tt.argv) {
				t.Errorf("argv = %q, %q, want %q, %q", path, argv, tt.path, tt.argv)
			}
		})
	}
}

func TestArgvErrors(t *testing.T) {
	if _, _, err := (&Session{}).argv(); err == nil {
		t.Error("argv without a user: no error")
	}
	s := &Session{User: &User{Name: "alice", Shell: "bin/bash"}}
	if _, _, err := s.argv(); err == nil {
		t.Error("argv with a relative shell: no error")
	}

	saved := sftpServerPaths
	t.Cleanup(func() { sftpServerPaths = saved })
	sftpServerPaths = []string{filepath.Join(t.TempDir(), "sftp-server")}
	s = &Session{User: &User{Name: "alice", Shell: "/bin/sh"}, Command: "internal-sftp", HasCommand: true}
	if _, _, err := s.argv(); !errors.Is(err, errNoSFTPServer) {
		t.Errorf("argv with no sftp-server: err = %v, want errNoSFTPServer", err)
	}
	// A non-executable file is not an sftp-server.
	if err := os.WriteFile(sftpServerPaths[0], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.argv(); !errors.Is(err, errNoSFTPServer) {
		t.Errorf("argv with a non-executable sftp-server: err = %v, want errNoSFTPServer", err)
	}
}

func TestScrubEnv(t *testing.T) {
	in := []string{
		"HOME=/home/alice",
		"LOGINGATE_PASSCODE=123456",
		"PATH=/usr/bin",
		"DUO_PASSCODE=654321",
		"LOGINGATE_PASSCODE=again",
		"DUO_PASSCODE",        // malformed: no "="
		"LOGINGATE_PASSCODE=", // empty
		"DUO_PASSCODE_HINT=keep",
		"XLOGINGATE_PASSCODE=keep",
		"=LOGINGATE_PASSCODE",
	}
	orig := slices.Clone(in)
	want := []string{"HOME=/home/alice", "PATH=/usr/bin", "DUO_PASSCODE_HINT=keep", "XLOGINGATE_PASSCODE=keep", "=LOGINGATE_PASSCODE"}
	if got := scrubEnv(in); !slices.Equal(got, want) {
		t.Errorf("scrubEnv = %q, want %q", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Errorf("scrubEnv modified its input")
	}
}

// The exec test runs this test binary as a stand-in gate: TestMain sees
// helperEnv and calls execHelper, which sets up what logingate holds at the
// moment of exec (signal handlers, an open file, sockets) and then calls
// Session.Exec. The command is a shell snippet that reports what the session
// inherited.
const helperEnv = "LOGINGATE_SESSION_TEST_HELPER"

// Helper modes. The "leak-" modes break a rule on purpose, to show the test
// notices.
const (
	modeGate        = "gate"
	modeLeakIgnore  = "leak-ignore" // signal.Ignore(SIGHUP): survives exec
	modeLeakFD      = "leak-fd"     // an fd opened without O_CLOEXEC
	secretLogingate = "lg-secret-4711"
	secretDuo       = "duo-secret-0815"
)

// handled are the signals the gate catches at the prompt.
var handled = []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGHUP, syscall.SIGTERM}

func execHelper(mode string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 99
	}
	sigs := make(chan os.Signal, 1)
	for _, s := range handled {
		signal.Notify(sigs, s)
	}
	if mode == modeLeakIgnore {
		signal.Ignore(syscall.SIGHUP)
	}
	// What a gate holds open: its config or state file, a TCP connection
	// (a service), a datagram socket (syslog).
	f, err := os.Open(os.Args[0])
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer udp.Close()
	if mode == modeLeakFD {
		if _, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0); err != nil {
			return fail(err)
		}
	}
	// A terminal library may leave stdout non-blocking; Exec must undo it.
	if err := syscall.SetNonblock(1, true); err != nil {
		return fail(err)
	}

	u, err := LookupUID(os.Getuid())
	if err != nil {
		return fail(err)
	}
	u.Shell = "/bin/sh" // the same shell as the reference run, whatever root's is
	s := FromEnv(os.Environ(), nil, "", u)
	// Duplicates and a malformed entry, which os/exec would not pass through.
	s.Env = append(s.Env, "LOGINGATE_PASSCODE="+secretLogingate, "DUO_PASSCODE")
	fmt.Fprintf(os.Stderr, "helper-pid=%d\n", os.Getpid())
	caught := make([]os.Signal, len(handled))
	for i, sig := range handled {
		caught[i] = sig
	}
	return fail(s.Exec(caught...))
}

// reportSnippet prints what a session inherited. `ls` lists the shell's fds
// (not its own) and runs outside a command substitution, whose pipe would show.
const reportSnippet = `echo "pid=$$"
while read -r k v; do case $k in SigBlk:|SigIgn:|SigCgt:) echo "$k	$v";; esac; done < /proc/$$/status
grep -E '^Sig(Blk|Ign):' /proc/self/status | sed 's/^/child/'
grep '^flags:' /proc/$$/fdinfo/1 | sed 's/^/stdout/'
echo fds-begin
ls -l /proc/$$/fd
echo fds-end
printf 'argv='; tr '\0' '|' < /proc/$$/cmdline | head -c 6; echo
echo env-begin
env
echo env-end
`

// The shell's own mask is read with builtins, and its fds by a child with
// no pipe: a child may catch the shell in the moment around a fork when
// dash blocks every signal, or holds the ends of the pipe it is setting up.

// report is the parsed output of reportSnippet.
type report struct {
	pid     int
	status  map[string]uint64 // SigBlk, SigIgn, SigCgt, childSigBlk, childSigIgn, stdoutflags
	fds     []string
	argv    string
	env     []string
	rawText string
}

func parseReport(t *testing.T, out []byte) report {
	t.Helper()
	r := report{status: map[string]uint64{}, rawText: string(out)}
	inEnv, inFDs := false, false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "fds-begin" || line == "fds-end":
			inFDs = line == "fds-begin"
		case line == "env-begin":
			inEnv = true
		case line == "env-end":
			inEnv = false
		case inEnv:
			r.env = append(r.env, line)
		case strings.HasPrefix(line, "pid="):
			r.pid, _ = strconv.Atoi(strings.TrimPrefix(line, "pid="))
		case strings.HasPrefix(line, "argv="):
			r.argv = strings.TrimPrefix(line, "argv=")
		case inFDs:
			// "lrwx------ 1 root root 64 Jan 1 00:00 3 -> socket:[1]"
			if f := strings.Fields(line); len(f) > 3 && f[len(f)-2] == "->" {
				r.fds = append(r.fds, f[len(f)-3])
			}
		case strings.Contains(line, ":\t"):
			k, v, _ := strings.Cut(line, ":\t")
			base := 16
			if k == "stdoutflags" {
				base = 8
			}
			n, err := strconv.ParseUint(strings.TrimSpace(v), base, 64)
			if err != nil {
				t.Fatalf("bad line %q in report:\n%s", line, out)
			}
			r.status[k] = n
		}
	}
	if r.pid == 0 || len(r.status) != 6 {
		t.Fatalf("incomplete report:\n%s", out)
	}
	return r
}

func sigmask(sigs ...syscall.Signal) uint64 {
	var m uint64
	for _, s := range sigs {
		m |= 1 << (uint(s) - 1)
	}
	return m
}

// runGate runs the test binary as a gate in mode and returns its report, the
// pid it printed before exec, the process's pid and its exit code.
// With ignoreHUP the gate starts with SIGHUP ignored, as under nohup.
func runGate(t *testing.T, mode string, env []string, stdin string, ignoreHUP bool) (r report, helperPid, pid, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	if ignoreHUP {
		cmd = exec.Command("/bin/sh", "-c", `trap "" HUP; exec "$0"`, os.Args[0])
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, helperEnv+"="+mode)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running helper: %v", err)
	}
	if _, err := fmt.Sscanf(stderr.String(), "helper-pid=%d", &helperPid); err != nil {
		t.Fatalf("helper did not reach Exec; stderr:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "helper:") {
		t.Fatalf("helper failed; stderr:\n%s", stderr.String())
	}
	return parseReport(t, stdout.Bytes()), helperPid, cmd.Process.Pid, cmd.ProcessState.ExitCode()
}

// TestExecHandsOver proves the rules written on Session.Exec: exec not spawn,
// exit status passed through, env scrubbed, signal handling and fds clean.
func TestExecHandsOver(t *testing.T) {
	// The reference: the same snippet run by the same shell straight from
	// this process, with no gate in between.
	ref := exec.Command("/bin/sh", "-c", reportSnippet)
	ref.Stdin = strings.NewReader("")
	out, err := ref.Output()
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	want := parseReport(t, out)
	if !slices.Contains(want.fds, "0") || !slices.Contains(want.fds, "2") {
		t.Fatalf("reference run lists fds %v; the check is broken", want.fds)
	}

	home := t.TempDir() // the login shell reads $HOME/.profile
	secrets := []string{"LOGINGATE_PASSCODE=" + secretLogingate, "DUO_PASSCODE=" + secretDuo, "HOME=" + home}

	t.Run("command", func(t *testing.T) {
		env := append([]string{"SSH_ORIGINAL_COMMAND=" + reportSnippet + "exit 7\n"}, secrets...)
		r, helperPid, pid, code := runGate(t, modeGate, env, "", false)
		checkHandover(t, r, want, helperPid, pid)
		// Caught signals are reset at exec; what remains caught is the
		// shell's own (dash catches SIGINT and SIGCHLD in -c mode).
		if r.status["SigCgt"] != want.status["SigCgt"] {
			t.Errorf("SigCgt = %016x, want %016x as without the gate", r.status["SigCgt"], want.status["SigCgt"])
		}
		if code != 7 {
			t.Errorf("exit status %d, want 7 (the command's)", code)
		}
		if r.argv != "sh|-c|" {
			t.Errorf("argv starts %q, want sh -c", r.argv)
		}
	})

	t.Run("login shell", func(t *testing.T) {
		r, helperPid, pid, code := runGate(t, modeGate, secrets, reportSnippet+"exit 5\n", false)
		checkHandover(t, r, want, helperPid, pid)
		if code != 5 {
			t.Errorf("exit status %d, want 5 (the shell's)", code)
		}
		if !strings.HasPrefix(r.argv, "-sh|") {
			t.Errorf("argv starts %q, want -sh (a login shell)", r.argv)
		}
	})

	// The gate catches SIGHUP with signal.Notify; a SIGHUP that was ignored
	// when it started must still be ignored in the session (signal.Reset
	// restores it; the exec alone would leave it at default).
	t.Run("inherited ignore kept", func(t *testing.T) {
		env := append([]string{"SSH_ORIGINAL_COMMAND=" + reportSnippet}, secrets...)
		r, _, _, _ := runGate(t, modeGate, env, "", true)
		for _, k := range []string{"SigIgn", "childSigIgn"} {
			if r.status[k]&sigmask(syscall.SIGHUP) == 0 {
				t.Errorf("%s = %016x: SIGHUP, ignored when the gate started, is no longer ignored", k, r.status[k])
			}
		}
	})

	// The checks catch the mistakes they are there for.
	t.Run("signal.Ignore is caught", func(t *testing.T) {
		if want.status["SigIgn"]&sigmask(syscall.SIGHUP) != 0 {
			t.Skip("SIGHUP is already ignored by whoever started the test")
		}
		env := append([]string{"SSH_ORIGINAL_COMMAND=" + reportSnippet}, secrets...)
		r, _, _, _ := runGate(t, modeLeakIgnore, env, "", false)
		if r.status["SigIgn"]&sigmask(syscall.SIGHUP) == 0 {
			t.Errorf("signal.Ignore(SIGHUP) before exec did not show in SigIgn; the check is blind")
		}
	})
	t.Run("fd without O_CLOEXEC is caught", func(t *testing.T) {
		env := append([]string{"SSH_ORIGINAL_COMMAND=" + reportSnippet}, secrets...)
		r, _, _, _ := runGate(t, modeLeakFD, env, "", false)
		if slices.Equal(r.fds, want.fds) {
			t.Errorf("an fd opened without O_CLOEXEC did not show; the check is blind")
		}
	})
}

func checkHandover(t *testing.T, r, want report, helperPid, pid int) {
	t.Helper()
	if r.pid != helperPid || r.pid != pid {
		t.Errorf("session pid %d, gate pid %d, started pid %d: the gate spawned instead of exec", r.pid, helperPid, pid)
	}
	for _, k := range []string{"SigBlk", "SigIgn", "childSigBlk", "childSigIgn"} {
		if r.status[k] != want.status[k] {
			t.Errorf("%s = %016x, want %016x as without the gate", k, r.status[k], want.status[k])
		}
	}
	if ign := r.status["childSigIgn"] & sigmask(handled...); ign != 0 && want.status["childSigIgn"]&sigmask(handled...) == 0 {
		t.Errorf("signals the gate handled are ignored in the session: %016x", ign)
	}
	if r.status["stdoutflags"]&syscall.O_NONBLOCK != 0 {
		t.Errorf("stdout is non-blocking in the session (flags %o)", r.status["stdoutflags"])
	}
	// Whoever started the test may pass down fds of its own; the session
	// must see exactly those and no more.
	if !slices.Equal(r.fds, want.fds) {
		t.Errorf("session fds %v, want %v as without the gate:\n%s", r.fds, want.fds, r.rawText)
	}
	for _, kv := range r.env {
		if strings.HasPrefix(kv, "LOGINGATE_PASSCODE") || strings.HasPrefix(kv, "DUO_PASSCODE") {
			t.Errorf("session env has %q", kv)
		}
	}
	for _, secret := range []string{secretLogingate, secretDuo} {
		if strings.Contains(r.rawText, secret) {
			t.Errorf("a passcode reached the session")
		}
	}
	if !slices.Contains(r.env, helperEnv+"="+modeGate) {
		t.Errorf("session env lost the gate's other variables")
	}
}
