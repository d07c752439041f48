// Package radiustest runs a real FreeRADIUS server (Debian's freeradius,
// 3.2.x) on loopback for tests (Start) and the benchmark driver (Launch),
// with its own configuration directory, a private port and a users file
// that knows three kinds of user:
//
//   - alice (or the name given to StartNamed or Launch): accepted with code 123456, rejected otherwise;
//   - bob (likewise): any first code gets an Access-Challenge with the Reply-Message
//     "Enter the code sent by SMS" and a State; 654321 sent back with that
//     State is accepted, anything else rejected;
//   - anyone else: rejected.
//
// Every answer carries a Message-Authenticator (3.2.1 adds one only when the
// reply sets "Message-Authenticator := 0x00"), and the server requires one
// on every request, so a client that forgets it is refused.
package radiustest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// Known values of the users file.
const (
	Secret        = "logingate-test-secret"
	AliceCode     = "123456"
	BobCode       = "654321"
	BobChallenge  = "Enter the code sent by SMS"
	Binary        = "freeradius"
	startDeadline = 20 * time.Second
)

// Server is a running FreeRADIUS.
type Server struct {
	Addr       string // 127.0.0.1:port
	Dir        string // its raddb directory
	Alice, Bob string // the user names of the users file's two users

	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{}
	stopOnce sync.Once
}

// Path finds the freeradius binary: on $PATH, or in /usr/sbin.
func Path() (string, error) {
	if p, err := exec.LookPath(Binary); err == nil {
		return p, nil
	}
	const p = "/usr/sbin/" + Binary
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found (apt-get install freeradius)", Binary)
	}
	return p, nil
}

// Require skips the test when freeradius is missing, except with CI=true,
// where it fails: CI must run these tests.
func Require(t testing.TB) string {
	t.Helper()
	p, err := Path()
	if err != nil {
		need.Unavailable(t, "%v", err)
	}
	return p
}

// Start runs FreeRADIUS for the test and stops it (by its pid) when the test
// ends. It returns once the server answers a request.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartNamed(t, "alice", "bob")
}

// StartNamed is Start with other names for alice and bob (test accounts).
func StartNamed(t testing.TB, alice, bob string) *Server {
	t.Helper()
	bin := Require(t)
	var last error
	for range 6 { // the free port may be taken between probe and bind
		s, err := launch(bin, t.TempDir(), alice, bob)
		if err == nil {
			t.Cleanup(func() {
				s.Close()
				if t.Failed() {
					t.Logf("freeradius output:\n%s", s.out.String())
				}
			})
			return s
		}
		last = err
	}
	t.Fatalf("freeradius did not start: %v", last)
	return nil
}

// Launch runs FreeRADIUS outside a test (the benchmark driver), with its
// configuration in a new directory under dir and the users file's two users
// named alice and bob. It returns once the server answers a request, or an
// error when freeradius is missing or does not start. The caller stops it
// with Close and removes dir.
func Launch(dir, alice, bob string) (*Server, error) {
	bin, err := Path()
	if err != nil {
		return nil, err
	}
	var last error
	for range 6 { // the free port may be taken between probe and bind
		d, err := os.MkdirTemp(dir, "raddb-")
		if err != nil {
			return nil, err
		}
		s, err := launch(bin, d, alice, bob)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, fmt.Errorf("freeradius did not start: %w", last)
}

// launch starts freeradius with its configuration in dir, an empty
// directory, and waits until it answers.
func launch(bin, dir, alice, bob string) (*Server, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	if err := writeConfig(dir, port, alice, bob); err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, Alice: alice, Bob: bob, out: &syncBuffer{}}
	s.cmd = exec.Command(bin, "-f", "-l", "stdout", "-d", dir)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(startDeadline)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("freeradius exited:\n%s", s.out.String())
		default:
		}
		if s.answers() {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("no answer on %s within %s:\n%s", s.Addr, startDeadline, s.out.String())
		}
	}
}

// Close stops the server by its pid (SIGTERM, then SIGKILL after five
// seconds) and waits for it to exit. It may be called more than once.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// answers sends one Access-Request (with a Message-Authenticator, which
// the client entry requires) and reports whether any answer came.
func (s *Server) answers() bool {
	p := radius.New(radius.CodeAccessRequest, []byte(Secret))
	_ = rfc2865.UserName_SetString(p, "probe")
	_ = rfc2865.UserPassword_SetString(p, "probe")
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		return false
	}
	mac := hmacMD5([]byte(Secret), b)
	_ = rfc2869.MessageAuthenticator_Set(p, mac)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = radius.Exchange(ctx, p, s.Addr)
	return err == nil
}

// Output is what the server has logged so far.
func (s *Server) Output() string { return s.out.String() }

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func writeConfig(dir string, port int, alice, bob string) error {
	files := map[string]string{
		"radiusd.conf": fmt.Sprintf(radiusdConf, dir, port),
		"clients.conf": fmt.Sprintf(clientsConf, Secret),
		"users":        fmt.Sprintf(usersFile, AliceCode, BobCode, BobChallenge, alice, bob),
		"dictionary":   "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return os.Mkdir(filepath.Join(dir, "run"), 0o700)
}

const radiusdConf = `
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = %[1]s
confdir = %[1]s
logdir = %[1]s
run_dir = %[1]s/run
libdir = /usr/lib/freeradius
pidfile = %[1]s/run/radiusd.pid
name = freeradius
max_request_time = 5
cleanup_delay = 0
max_requests = 1024
hostname_lookups = no

log {
	destination = stdout
	auth = yes
}

security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}

thread pool {
	start_servers = 2
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 4
	max_requests_per_server = 0
}

$INCLUDE clients.conf

modules {
	files {
		filename = %[1]s/users
	}
	always handled {
		rcode = handled
	}
}

server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[2]d
	}
	authorize {
		files
		if (&control:Response-Packet-Type == Access-Challenge) {
			handled
		}
	}
	authenticate {
	}
}
`

const clientsConf = `
client localhost {
	ipaddr = 127.0.0.1
	secret = %s
	require_message_authenticator = yes
}
`

// usersFile: bob's State is "sms-1" (0x736d732d31).
const usersFile = `
%[4]s	User-Password == "%[1]s", Auth-Type := Accept
	Message-Authenticator := 0x00

%[5]s	State == 0x736d732d31, User-Password == "%[2]s", Auth-Type := Accept
	Message-Authenticator := 0x00

%[5]s	State == 0x736d732d31, Auth-Type := Reject
	Message-Authenticator := 0x00

%[5]s	Response-Packet-Type := Access-Challenge
	Reply-Message := "%[3]s",
	State := 0x736d732d31,
	Message-Authenticator := 0x00

DEFAULT	Auth-Type := Reject
	Message-Authenticator := 0x00
`

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func hmacMD5(key, msg []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
