// Package pgtest runs a real PostgreSQL server on loopback for tests: initdb
// in a temp dir, a private port on 127.0.0.1, the unix socket in the same
// temp dir, fsync on, password (SCRAM) authentication over TCP. The server
// runs as an unprivileged account (the postgres system user when the test
// runs as root, since postgres refuses root; the caller otherwise) and is
// stopped by pid with SIGINT when the test ends.
//
// Without the server binaries the tests that use it are skipped, except
// under CI=true, where they fail.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/logingate/logingate/internal/testutil/need"
)

// Bounds on start and stop; a server that misses them fails the test.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Superuser is the role initdb creates; its password is random per server.
const Superuser = "postgres"

// Server is a running PostgreSQL. Start creates it; the test's Cleanup
// stops it.
type Server struct {
	Dir      string // temp dir owned by the server's account: data/, the socket, log
	Port     int
	Password string // the superuser's

	bin     string
	cred    *syscall.Credential
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// BinDir returns the directory of initdb and postgres, or "".
func BinDir() string {
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Require skips t when no PostgreSQL server is installed, or fails it when
// CI=true.
func Require(t testing.TB) string {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		need.Unavailable(t, "pgtest: PostgreSQL server not installed (Debian package postgresql)")
	}
	return bin
}

// Start runs a new server for the test and stops it at Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	s, err := Launch(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(s.logPath); err == nil {
				t.Logf("postgres log:\n%s", tail(b, 4000))
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Launch runs a new server with the binaries in bin (BinDir). Close stops
// it and removes its directory. For a TestMain shared by a package's tests,
// or the benchmark driver (scripts/bench); tests use Start.
func Launch(bin string) (*Server, error) {
	s := &Server{bin: bin}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s.Dir = dir
	s.logPath = filepath.Join(dir, "postgres.log")
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root needs the postgres system user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fail(err)
	}
	s.Password = randomHex(16)
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if s.cred != nil {
		_ = os.Chown(pwfile, int(s.cred.Uid), int(s.cred.Gid))
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", Superuser,
		"--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	os.Remove(pwfile)
	var lastErr error
	for range 3 { // a port picked free may be taken before postgres binds it
		if s.Port, lastErr = freePort(); lastErr != nil {
			break
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return fail(lastErr)
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	os.RemoveAll(s.Dir)
	return err
}

// Log returns the end of the server's log, for a failing test.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(tail(b, 4000))
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// start runs postgres and returns once it accepts connections, as its log
// says, or with an error when it exits first or takes too long.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "synchronous_commit=on",
		"-c", "max_connections=300",
		"-c", "log_line_prefix=%m [%p] ", "-c", "logging_collector=off")
	// Own process group, so that a Ctrl-C of the test does not reach the
	// server before Cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if strings.Contains(line, "ready to accept connections") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		return fmt.Errorf("postgres exited during start-up (port %d); see %s", s.Port, s.logPath)
	case <-time.After(startTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return fmt.Errorf("postgres did not accept connections within %s", startTimeout)
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop shuts the server down (SIGINT: fast shutdown, aborting sessions) and
// waits for it to exit. A stopped server stays stopped until Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	for _, c := range append(children(pid), pid) {
		_ = syscall.Kill(c, syscall.SIGCONT) // a paused server cannot shut down
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.exited
		s.cmd = nil
		return fmt.Errorf("postgres did not stop within %s after SIGINT; killed", stopTimeout)
	}
	s.cmd = nil
	return nil
}

// Restart starts a stopped server again on the same port and data.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Pause stops every process of the server with SIGSTOP, the postmaster
// first (so that it forks no new backend) and then its children (each
// backend runs in a session of its own): connections are still accepted by
// the kernel, and nothing answers.
func (s *Server) Pause() error { return s.signalAll(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() error { return s.signalAll(syscall.SIGCONT) }

func (s *Server) signalAll(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("pgtest: server not running")
	}
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	for _, c := range children(pid) {
		_ = syscall.Kill(c, sig) // one may have exited meanwhile
	}
	return nil
}

// children lists the pids whose parent is pid, from /proc.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 {
			if pp, _ := strconv.Atoi(f[1]); pp == pid {
				out = append(out, n)
			}
		}
	}
	return out
}

// DSN returns a postgres:// URL for the superuser and database db over TCP.
func (s *Server) DSN(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(Superuser, s.Password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// NewDB creates a fresh database for the test and returns its DSN.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := s.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// CreateDB creates a fresh database and returns its DSN; NewDB outside a
// test (the benchmark driver).
func (s *Server) CreateDB(ctx context.Context) (string, error) {
	name := "t_" + randomHex(6)
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.DSN(name), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
