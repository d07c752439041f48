// Package hostile is the boundary of a privileged logingate install, tried
// by the user it protects against. Every test here runs as a fresh local
// account against a setgid install laid out as `make install` lays it out
// (binary root:logingate 2755, state directory root:logingate 0770, real
// secrets in root:logingate 0640 files: a Duo skey_file, a RADIUS
// secret_file, a store dsn_file and key_file, and TOTP state for users),
// one test per attack a local user with a shell would try: config paths,
// the environment, oracles, concurrency, resource limits, signals, and what
// the session keeps after login. They assert what that user would check:
// denied or allowed, what a listener of the attacker's received, whether a
// protected file changed, the exit status.
//
// The install is a parameter. By default the suite builds the gate and
// installs it into a temp root of its own. When LOGINGATE_HOSTILE_BIN names
// an already-installed setgid binary (a Debian package's /usr/bin/logingate
// in a throwaway root), the suite runs that binary instead; config, state
// and secrets still live in the suite's temp root.
//
// Everything needs root (useradd, chown, acting as other users) and
// oathtool, strace and prlimit; without them the tests skip, except under
// CI=true, where they fail. docs/SECURITY.md names the test here that proves
// each threat it claims covered.
package hostile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/gatebin"
	"github.com/logingate/logingate/internal/testutil/install"
	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// BinEnv names an installed setgid gate to test instead of a fresh build.
const BinEnv = "LOGINGATE_HOSTILE_BIN"

// builtBin is the gate built for the package when BinEnv is unset.
var builtBin string

func TestMain(m *testing.M) {
	if helper := os.Getenv(helperEnv); helper != "" {
		runHelper(helper, os.Args[1:])
		return
	}
	if os.Getenv(BinEnv) != "" {
		os.Exit(m.Run())
	}
	gatebin.Main(m, &builtBin, true)
}

func require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "hostile: needs root to create users and act as them")
	}
	for _, tool := range []string{"oathtool", "useradd", "userdel", "strace", "prlimit", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			need.Unavailable(t, "hostile: %s missing (scripts/deps.sh installs it)", tool)
		}
	}
}

// Secret values planted in the group-only files. No output, listener or
// session of the attacker's may ever hold one of them.
var (
	skeySecret   = "skey-" + randHex(16)
	radiusSecret = "radius-" + randHex(12)
	dsnPassword  = "dsnpw-" + randHex(12)
	storeKey     = base64.StdEncoding.EncodeToString([]byte(randHex(16)))
)

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// host is one privileged install in a temp root: ROOT/usr/bin/logingate,
// ROOT/etc/logingate/{logingate.yaml,duo.skey,radius.secret,store.dsn,
// store.keys}, ROOT/var/lib/logingate, a sticky world-writable ROOT/tmp and
// an audit socket.
type host struct {
	root, bin, etc, config, state, tmp string
	skey, radiusSecret, dsn, keys      string
	gid                                int
	audit                              *auditsink.Sink
}

// newHost installs the gate with a root-owned config made of the base
// settings and extra.
func newHost(t *testing.T, extra string) *host {
	t.Helper()
	require(t)
	return newHostIn(t, sshtest.PublicTempDir(t), extra)
}

// newHostIn is newHost with the temp root at root, a directory every user
// can traverse.
func newHostIn(t *testing.T, root, extra string) *host {
	t.Helper()
	h := &host{
		root:  root,
		etc:   filepath.Join(root, "etc", "logingate"),
		state: filepath.Join(root, "var", "lib", "logingate"),
		tmp:   filepath.Join(root, "tmp"),
	}
	h.config = filepath.Join(h.etc, "logingate.yaml")
	if bin := os.Getenv(BinEnv); bin != "" {
		h.bin, h.gid = installed(t, bin)
	} else {
		h.bin = filepath.Join(root, "usr", "bin", "logingate")
		h.gid = install.Binary(t, builtBin, h.bin)
	}
	must(t, os.MkdirAll(h.etc, 0o755))
	must(t, os.MkdirAll(filepath.Dir(h.state), 0o755))
	install.ProtectedDir(t, h.state, h.gid)
	must(t, os.Mkdir(h.tmp, 0o777))
	must(t, os.Chmod(h.tmp, 0o777|os.ModeSticky))
	h.skey = filepath.Join(h.etc, "duo.skey")
	h.radiusSecret = filepath.Join(h.etc, "radius.secret")
	h.dsn = filepath.Join(h.etc, "store.dsn")
	h.keys = filepath.Join(h.etc, "store.keys")
	install.GroupFile(t, h.skey, []byte(skeySecret+"\n"), h.gid)
	install.GroupFile(t, h.radiusSecret, []byte(radiusSecret+"\n"), h.gid)
	install.GroupFile(t, h.dsn, []byte("user=logingate password="+dsnPassword+" dbname=logingate\n"), h.gid)
	install.GroupFile(t, h.keys, []byte("k1:"+storeKey+"\n"), h.gid)
	h.audit = auditsink.Listen(t, filepath.Join(root, "audit.sock"))
	h.writeConfig(t, h.config, extra)
	return h
}

// installed checks that bin is a setgid root:logingate gate and returns it
// with its group.
func installed(t *testing.T, bin string) (string, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(bin, &st); err != nil {
		t.Fatalf("%s=%s: %v", BinEnv, bin, err)
	}
	gid := install.Group(t)
	if st.Uid != 0 || int(st.Gid) != gid || st.Mode&0o7777 != 0o2755 {
		t.Fatalf("%s=%s is %d:%d mode %04o, want a setgid install root:logingate 2755", BinEnv, bin, st.Uid, st.Gid, st.Mode&0o7777)
	}
	return bin, gid
}

// baseConfig is what every config of the suite holds: this host's state
// and audit socket, codes from LOGINGATE_PASSCODE.
func (h *host) baseConfig() string {
	return fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\naccept_env_factor: true\n", h.state, h.audit.Path)
}

// writeConfig writes a root-owned config (0644) at path.
func (h *host) writeConfig(t *testing.T, path, extra string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(h.baseConfig()+extra), 0o644))
}

// duoConfig and radiusConfig name the group-only secrets the way an
// operator's config does; the servers are root's choice.
func (h *host) duoConfig(hostport string) string {
	return fmt.Sprintf("duo:\n  host: %q\n  ikey: DIHOSTILEHOSTILEHOST\n  skey_file: %s\n  https_timeout: 2s\n", hostport, h.skey)
}

func (h *host) radiusConfig(addr string) string {
	return fmt.Sprintf("radius:\n  servers:\n    - address: %q\n      secret_file: %s\n      timeout: 300ms\n      retries: 0\n", addr, h.radiusSecret)
}

// user is a fresh account, removed with its processes after the test.
func (h *host) user(t *testing.T, label string) *sshtest.User {
	t.Helper()
	return sshtest.NewUser(t, h.root, label)
}

// enrollment is what root's provisioning hands out.
type enrollment = enrolltest.Enrollment

// enroll provisions u as root does (enroll --user --no-verify).
func (h *host) enroll(t *testing.T, u *sshtest.User) *enrollment {
	t.Helper()
	out, errOut, code := run(t, exec.Command(h.bin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--force", "--json"))
	if code != 0 {
		t.Fatalf("enroll --user %s: exit %d: %s %s", u.Name, code, out, errOut)
	}
	return enrolltest.Parse(t, []byte(out))
}

// marker is what a session command prints: seeing it means the gate let
// the login through.
const marker = "hostile-session-ran"

// userEnv is the environment sshd gives a non-interactive session of u.
func userEnv(u *sshtest.User, extra ...string) []string {
	return append([]string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "SHELL=/bin/bash",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSH_CONNECTION=203.0.113.9 50000 127.0.0.1 22",
	}, extra...)
}

// asUser returns name args as a command run by u, in u's home, with
// userEnv, in a new session without a controlling terminal.
func asUser(u *sshtest.User, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = u.Home
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}},
	}
	return cmd
}

// shell runs a script as u with sh -c, the way a user at a shell would.
func shell(u *sshtest.User, env []string, script string) *exec.Cmd {
	return asUser(u, env, "/bin/sh", "-c", script)
}

// gate is the gate as sshd starts it for u's command `echo marker`, with
// passcode in LOGINGATE_PASSCODE when it is not empty.
func (h *host) gate(u *sshtest.User, passcode string, flags ...string) *exec.Cmd {
	var env []string
	if passcode != "" {
		env = append(env, "LOGINGATE_PASSCODE="+passcode)
	}
	args := append(append([]string{"-c", h.config}, flags...), "--", "echo", marker)
	return asUser(u, userEnv(u, env...), h.bin, args...)
}

// result is one finished command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) allowed() bool { return r.code == 0 && strings.Contains(r.stdout, marker) }

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, clip(r.stdout), clip(r.stderr))
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// runFor runs cmd, killing its process group after timeout (a code of -1
// then), and returns what it did.
func runFor(t testing.TB, cmd *exec.Cmd, timeout time.Duration) result {
	t.Helper()
	var o, e bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &o
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &e
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-done
		return result{o.String(), e.String(), -1}
	}
	r := result{o.String(), e.String(), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	r := runFor(t, cmd, 60*time.Second)
	return r.stdout, r.stderr, r.code
}

// login runs the gate for u with passcode.
func (h *host) login(t testing.TB, u *sshtest.User, passcode string, flags ...string) result {
	t.Helper()
	return runFor(t, h.gate(u, passcode, flags...), 30*time.Second)
}

func mustDeny(t testing.TB, what string, r result) {
	t.Helper()
	if r.code == 0 || strings.Contains(r.stdout, marker) {
		t.Errorf("%s: LET IN, want denied:\n%v", what, r)
	}
}

func mustAllow(t testing.TB, what string, r result) {
	t.Helper()
	if !r.allowed() {
		t.Fatalf("%s: denied, want allowed:\n%v", what, r)
	}
}

// statePath is u's state file; stateOf decodes it as root.
func (h *host) statePath(u *sshtest.User) string {
	return filepath.Join(h.state, u.Name, "state.json")
}

func (h *host) stateOf(t testing.TB, u *sshtest.User) *store.UserState {
	t.Helper()
	b, err := os.ReadFile(h.statePath(u))
	must(t, err)
	st, err := filestore.Decode(b)
	if err != nil {
		t.Fatalf("the state file of %s does not decode: %v", u.Name, err)
	}
	return st
}

// digest is a file's SHA-256, or "absent".
func digest(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "absent"
	}
	must(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// leaks returns the planted secrets found in s.
func leaks(s string, more ...string) []string {
	var found []string
	for _, secret := range append([]string{skeySecret, radiusSecret, dsnPassword, storeKey}, more...) {
		if secret != "" && strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// copyTestBinary puts a copy of this test binary where u can run it, for
// the helpers an attacker runs (runHelper).
func (h *host) copyTestBinary(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(h.root, "helper")
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	data, err := os.ReadFile(os.Args[0])
	must(t, err)
	must(t, os.WriteFile(dst, data, 0o755))
	return dst
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
