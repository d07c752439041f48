package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// fakePostgres listens where a PostgreSQL server keeps its socket in dir,
// asks every client for a clear-text password, and records what it was
// sent.
type fakePostgres struct {
	mu    sync.Mutex
	conns int
	got   bytes.Buffer
}

func startFakePostgres(t *testing.T, dir string) *fakePostgres {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	must(t, err)
	must(t, os.Chmod(filepath.Join(dir, ".s.PGSQL.5432"), 0o777))
	t.Cleanup(func() { l.Close() })
	f := &fakePostgres{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakePostgres) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var buf [8192]byte
	// The startup packet, then AuthenticationCleartextPassword, then the
	// password message.
	n, _ := c.Read(buf[:])
	f.record(buf[:n])
	auth := []byte{'R', 0, 0, 0, 8}
	auth = binary.BigEndian.AppendUint32(auth, 3)
	c.Write(auth)
	for {
		n, err := c.Read(buf[:])
		f.record(buf[:n])
		if err != nil {
			return
		}
	}
}

func (f *fakePostgres) record(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got.Write(b)
}

func (f *fakePostgres) seen() (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, f.got.String()
}

// Issue 10, reproduction 2: with root's config naming a PostgreSQL store
// whose DSN names no host, a user running the setgid gate by hand with
// PGHOST pointing at a server of theirs gets nothing from it: no
// connection, no password. The gate uses the DSN's own defaults.
func TestCallerEnvironmentSteersNoDatabase(t *testing.T) {
	sshtest.Require(t) // root, for the setgid install and the user nobody
	dir := sshtest.PublicTempDir(t)
	bin, gid := installSetgid(t, dir)
	state := filepath.Join(dir, "state")
	protectedDir(t, state, gid)

	const password = "fleet-password-SECRET"
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	dsnFile, keyFile := filepath.Join(dir, "store.dsn"), filepath.Join(dir, "store.keys")
	for p, s := range map[string]string{
		dsnFile: "user=lg password=" + password + " dbname=lg connect_timeout=2\n",
		keyFile: "k1:" + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		must(t, os.WriteFile(p, []byte(s), 0o640))
		must(t, os.Chown(p, 0, gid))
	}
	audit := auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	cfg := filepath.Join(dir, "logingate.yaml")
	must(t, os.WriteFile(cfg, fmt.Appendf(nil, "state_dir: %s\nsyslog: {socket: %s}\nfailmode: secure\n"+
		"store: {backend: postgres, dsn_file: %s, key_file: %s, timeout: 3s}\n", state, audit.Path, dsnFile, keyFile), 0o644))

	// The caller's own directory, with the fake server's socket in it.
	mine := filepath.Join(dir, "mine")
	must(t, os.Mkdir(mine, 0o777))
	must(t, os.Chmod(mine, 0o777))
	fake := startFakePostgres(t, mine)

	gate := func(t *testing.T, env ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-c", cfg, "--", "true")
		cmd.Dir = mine
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "PGHOST=" + mine, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=2"}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}},
			Setsid:     true,
		}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("the gate did not end: %s", stderr.String())
		}
		if strings.Contains(stderr.String(), password) {
			t.Errorf("stderr shows the password: %s", stderr.String())
		}
		return stderr.String(), err
	}
	const denied = "logingate: error: the second-factor state store cannot be reached; access denied\n"
	for _, tt := range []struct {
		name string
		env  []string
		want string // a line on stderr
	}{
		{"PGHOST", nil, denied},
		// The variables the Go runtime reads before main change how the
		// caller's own process runs, not what it trusts, reads or sends.
		{"runtime variables", []string{"GOGC=off", "GOMEMLIMIT=1", "GOMAXPROCS=1", "GOTRACEBACK=crash",
			"GODEBUG=tlsrsakex=1,x509negativeserial=1,http2client=0,netdns=cgo,panicnil=1,inittrace=1"}, denied},
		{"GODEBUG fips140", []string{"GODEBUG=fips140=only"}, "logingate: error: GODEBUG sets fips140, which Go applies before logingate starts and cannot undo; " +
			"logingate will not run with it while it holds the logingate group\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stderr, err := gate(t, tt.env...)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("gate: %v, want exit status 1; stderr: %s", err, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want the line %q", stderr, tt.want)
			}
			conns, got := fake.seen()
			if conns != 0 {
				t.Errorf("the gate connected to the caller's server %d times", conns)
			}
			if strings.Contains(got, password) {
				t.Errorf("the caller's server got the fleet password")
			}
		})
	}
}
