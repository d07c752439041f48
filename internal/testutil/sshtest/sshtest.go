// Package sshtest runs a real OpenSSH server on loopback for tests. It starts
// /usr/sbin/sshd with a generated config, creates throwaway local users that
// may log in to it with a generated key, and builds ssh, scp and sftp client
// commands (plain, or under a pseudo-terminal) for those users.
//
// The server runs as root so that it can log in as the test users. Without
// root or without OpenSSH the tests that use it are skipped, except under
// CI=true, where they fail.
package sshtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
)

// Paths of the Debian openssh-server programs the harness runs.
const (
	SSHDPath       = "/usr/sbin/sshd"
	SFTPServerPath = "/usr/lib/openssh/sftp-server"
)

// startTimeout bounds how long sshd may take to listen, and stopTimeout how
// long it may take to exit after SIGTERM before it gets SIGKILL.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Options shape the sshd_config of a Server.
type Options struct {
	// ForceCommand, when not empty, is the server's ForceCommand, for
	// example a gate binary with its flags. One line, passed verbatim.
	ForceCommand string
	// ExtraConfig holds sshd_config lines. They come before the harness's
	// defaults and so override them (sshd keeps the first value it reads);
	// from the first Match line on they go at the end of the file.
	// ListenAddress, Port and PidFile belong to the harness.
	ExtraConfig []string
}

// Server is a running sshd on 127.0.0.1. Start creates it; the test's
// Cleanup stops it.
type Server struct {
	Dir        string // temp dir every user can traverse (0755): config, keys, log
	Port       int
	Addr       string // "127.0.0.1:PORT"
	ConfigPath string
	LogPath    string // sshd's stderr (LogLevel VERBOSE), shown when the test fails

	pidPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once sshd has exited and been reaped
}

// Require skips t when the harness cannot run on this machine, or fails it
// when CI=true. Start calls it; call it yourself to bail out before
// expensive set-up.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "sshtest: needs root to run sshd for other users")
	}
	for _, p := range []string{SSHDPath, SFTPServerPath} {
		if _, err := os.Stat(p); err != nil {
			need.Unavailable(t, "sshtest: %s missing (Debian package openssh-server)", p)
		}
	}
	for _, tool := range []string{"ssh", "scp", "sftp", "ssh-keygen", "useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			need.Unavailable(t, "sshtest: %s not found (Debian packages openssh-client, passwd)", tool)
		}
	}
}

// PublicTempDir returns a new directory that every user can traverse and
// read (mode 0755), removed when the test ends. t.TempDir will not do for
// files a test user must reach: its parents are mode 0700.
func PublicTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sshtest-")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("sshtest: removing %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return dir
}

// Start starts sshd on a free loopback port and stops it when the test
// ends. It fails the test when sshd rejects the config or does not come up.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	if strings.ContainsAny(opts.ForceCommand, "\r\n") {
		t.Fatalf("sshtest: ForceCommand must be one line")
	}
	for _, l := range opts.ExtraConfig {
		switch k := keyword(l); k {
		case "listenaddress", "port", "pidfile":
			t.Fatalf("sshtest: ExtraConfig may not set %s: the harness owns it", k)
		}
	}
	// sshd's privilege-separation directory; Debian creates it only when
	// the service starts, which it never does here.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	dir := PublicTempDir(t)
	s := &Server{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "sshd_config"),
		LogPath:    filepath.Join(dir, "sshd.log"),
		pidPath:    filepath.Join(dir, "sshd.pid"),
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	keygen(t, hostKey, "sshtest host key")

	// The port is free when we pick it but another process may take it
	// before sshd binds: try again with a new one.
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		config := buildConfig(opts, port, hostKey, s.pidPath)
		if err := os.WriteFile(s.ConfigPath, []byte(config), 0o644); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
		if out, err := exec.Command(SSHDPath, "-t", "-f", s.ConfigPath).CombinedOutput(); err != nil {
			t.Fatalf("sshtest: sshd -t rejects the config: %v\n%s\nconfig:\n%s", err, out, config)
		}
		err := s.start(port)
		if err == nil {
			break
		}
		if errors.Is(err, errPortTaken) && attempt < 5 {
			continue
		}
		t.Fatalf("sshtest: %v\nsshd log:\n%s", err, s.Log())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshtest: sshd log (%s):\n%s", s.LogPath, s.Log())
		}
		if err := s.stop(); err != nil {
			t.Errorf("sshtest: %v", err)
		}
	})
	return s
}

// Log returns what sshd has logged so far.
func (s *Server) Log() string {
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(data)
}

var errPortTaken = errors.New("port taken")

// start runs sshd in the foreground (-D) with its log on stderr (-e) and
// waits until it listens on port.
func (s *Server) start(port int) error {
	logFile, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// sshd must be started by absolute path: it re-executes itself.
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", s.ConfigPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without running Cleanup (a timeout panic,
	// SIGKILL), the kernel ends sshd too. Pdeathsig follows the forking
	// thread, which the Go runtime keeps unless a goroutine exits while
	// locked to it (runtime.LockOSThread without unlock).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	ready := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", port)
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(s.Log(), ready) {
		select {
		case <-exited:
			if strings.Contains(s.Log(), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("sshd exited at start: %v", cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return fmt.Errorf("sshd did not listen on port %d within %v", port, startTimeout)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conn, err := net.DialTimeout("tcp", addr, startTimeout)
	if err != nil {
		_ = s.stop()
		return fmt.Errorf("sshd listens but %s refuses connections: %v", addr, err)
	}
	conn.Close()
	s.Port, s.Addr = port, addr
	return nil
}

// stop ends the per-connection sshd processes, then the listener, by the
// pid in its PidFile (checked against the process we started, and signalled
// through that process's handle so a reused pid is never hit).
func (s *Server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	if data, err := os.ReadFile(s.pidPath); err == nil {
		if filePid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && filePid != pid {
			return fmt.Errorf("sshd PidFile says %d, but we started %d: not signalling", filePid, pid)
		}
	}
	signalMatching(syscall.SIGTERM, func(ppid, _, _ int) bool { return ppid == pid })
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("sshd ignored SIGTERM for %v; killed", stopTimeout)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// keygen writes a new passphrase-less ed25519 key pair to path and path.pub.
func keygen(t testing.TB, path, comment string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sshtest: ssh-keygen: %v\n%s", err, out)
	}
}
