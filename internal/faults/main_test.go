// Package faults proves, with the built binary run as real users, that
// nothing lets a user in by accident and nothing is lost when things go
// wrong underneath the gate: a full or read-only state file system, gates
// killed in the middle of a write, corrupt or hand-edited state, a gate
// stopped while it holds a user's lock, and a clock that went back.
//
// Every test needs root (mount, useradd, chown, signals to other uids) and
// oathtool; without them the tests skip, except under CI=true, where they
// fail. The orphaned-gate tests, which need a real sshd, live in
// internal/e2e (faults_test.go).
package faults

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/gatebin"
	"github.com/logingate/logingate/internal/testutil/need"
)

// gateBin is the logingate binary, built once for the package.
var gateBin string

func TestMain(m *testing.M) { gatebin.Main(m, &gateBin, true) }

// require checks for root and the tools every test here runs.
func require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "needs root (mount, useradd, signals to other users)")
	}
	for _, tool := range []string{"oathtool", "useradd", "userdel", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			need.Unavailable(t, "%s missing (scripts/deps.sh installs it)", tool)
		}
	}
	if gateBin == "" {
		t.Fatal("the logingate binary was not built")
	}
}

// env is one installation: a config, a state directory (mode 1733, root's,
// as the README installs it) and an audit socket, in a directory every user
// can traverse.
type env struct {
	dir, config, state string
	audit              *auditsink.Sink
}

type envOptions struct {
	tmpfs string // when set, the state directory is a tmpfs of this size
	yaml  string // extra config lines
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	require(t)
	dir, err := os.MkdirTemp("", "logingate-faults-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	e := &env{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	must(t, os.Mkdir(e.state, 0o700))
	if o.tmpfs != "" {
		mountTmpfs(t, e.state, o.tmpfs)
	}
	must(t, os.Chmod(e.state, 0o733|os.ModeSticky))
	e.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	cfg := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\naccept_env_factor: true\n%s", e.state, e.audit.Path, o.yaml)
	must(t, os.WriteFile(e.config, []byte(cfg), 0o644))
	return e
}

// mountTmpfs mounts a tmpfs of size on dir and unmounts it, by that path,
// when the test ends (lazily if it is still busy).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=1733", "tmpfs", dir).CombinedOutput(); err != nil {
		need.Unavailable(t, "cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; unmounting lazily", dir, err, out)
			if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v: %s", dir, err, out)
			}
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// account is a throwaway local user with bash as its shell.
type account struct {
	Name     string
	UID, GID int
	Home     string
}

// accountComment marks the accounts these tests create, so that any left
// behind by a killed run can be found: getent passwd | grep logingate-faults.
const accountComment = "logingate-faults temporary user"

// newAccount creates a user and removes it, its home and its processes when
// the test ends.
func newAccount(t *testing.T) *account {
	t.Helper()
	var name string
	for range 5 {
		var b [3]byte
		rand.Read(b[:])
		name = "lgf" + hex.EncodeToString(b[:])
		out, code := accountTool(t, "useradd", "-m", "-s", "/bin/bash", "-p", "*", "-c", accountComment, name)
		if code == 0 {
			break
		}
		if code != 9 { // 9: name taken
			t.Fatalf("useradd %s: exit %d: %s", name, code, out)
		}
		name = ""
	}
	if name == "" {
		t.Fatal("useradd: no free name")
	}
	pw, err := user.Lookup(name)
	must(t, err)
	a := &account{Name: name, Home: pw.HomeDir}
	a.UID, _ = strconv.Atoi(pw.Uid)
	a.GID, _ = strconv.Atoi(pw.Gid)
	t.Cleanup(func() {
		killUID(t, a.UID)
		if out, code := accountTool(t, "userdel", "-r", name); code != 0 {
			t.Errorf("userdel -r %s: exit %d: %s", name, code, out)
		}
	})
	return a
}

// accountTool runs useradd or userdel, waiting while another process (go
// test runs packages in parallel) holds the lock on /etc/passwd.
func accountTool(t testing.TB, tool string, args ...string) (string, int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(tool, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if code == 0 || !strings.Contains(string(out), "cannot lock") || time.Now().After(deadline) {
			return string(out), code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killUID SIGKILLs every process whose real or effective uid is uid
// (stopped ones too) until none is left.
func killUID(t testing.TB, uid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := procsOf(uid, "")
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of uid %d survive SIGKILL: %v", uid, pids)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procsOf lists live processes (not zombies) whose real or effective uid is
// uid and, when exe is set, whose executable is exe.
func procsOf(uid int, exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil || bytes.Contains(status, []byte("\nState:\tZ")) {
			continue
		}
		match := false
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "Uid:" {
				match = f[1] == strconv.Itoa(uid) || f[2] == strconv.Itoa(uid)
			}
		}
		if match && exe != "" {
			got, err := os.Readlink("/proc/" + e.Name() + "/exe")
			match = err == nil && got == exe
		}
		if match {
			pids = append(pids, pid)
		}
	}
	return pids
}

// enrollment is what root's provisioning hands out.
type enrollment = enrolltest.Enrollment

// enroll provisions a (or replaces its enrollment) as root does.
func (e *env) enroll(t testing.TB, a *account) *enrollment {
	t.Helper()
	out, errOut, code := run(t, e.enrollCmd(a))
	if code != 0 {
		t.Fatalf("enroll --user %s: exit %d: %s %s", a.Name, code, out, errOut)
	}
	return enrolltest.Parse(t, []byte(out))
}

func (e *env) enrollCmd(a *account) *exec.Cmd {
	return exec.Command(gateBin, "-c", e.config, "enroll", "--user", a.Name, "--no-verify", "--force", "--json")
}

// admin runs a logingate subcommand as root with this env's config.
func (e *env) admin(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, exec.Command(gateBin, append([]string{"-c", e.config}, args...)...))
}

// marker is what the session command prints: seeing it means the gate let
// the login through.
const marker = "session-ran-42"

// gateCmd is the gate as sshd starts it for a non-interactive session of a
// (no terminal: a new session without a controlling one), with passcode in
// LOGINGATE_PASSCODE when it is not empty.
func (e *env) gateCmd(a *account, passcode string) *exec.Cmd {
	cmd := exec.Command(gateBin, "-c", e.config)
	cmd.Dir = a.Home
	cmd.Env = []string{
		"HOME=" + a.Home, "USER=" + a.Name, "LOGNAME=" + a.Name, "SHELL=/bin/bash",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSH_CONNECTION=203.0.113.9 50000 127.0.0.1 22",
		"SSH_ORIGINAL_COMMAND=echo " + marker,
	}
	if passcode != "" {
		cmd.Env = append(cmd.Env, "LOGINGATE_PASSCODE="+passcode)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID), Groups: []uint32{}},
	}
	return cmd
}

// login is one finished gate run.
type login struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

func (l login) allowed() bool { return l.code == 0 && strings.Contains(l.stdout, marker) }

func (l login) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %q\nstderr: %q", l.code, l.took.Round(time.Millisecond), l.stdout, l.stderr)
}

// login runs the gate for a with passcode and waits for it.
func (e *env) login(t testing.TB, a *account, passcode string) login {
	t.Helper()
	start := time.Now()
	o, er, code := run(t, e.gateCmd(a, passcode))
	return login{o, er, code, time.Since(start)}
}

// mustAllow and mustDeny check a login's outcome; mustDeny also wants every
// fragment in what the user was told.
func mustAllow(t testing.TB, what string, l login) {
	t.Helper()
	if !l.allowed() {
		t.Fatalf("%s: denied, want allowed:\n%v", what, l)
	}
}

func mustDeny(t testing.TB, what string, l login, fragments ...string) {
	t.Helper()
	if l.code == 0 || strings.Contains(l.stdout, marker) {
		t.Fatalf("%s: LET IN, want denied:\n%v", what, l)
	}
	if l.stdout != "" {
		t.Errorf("%s: the gate wrote to stdout, which belongs to the session: %q", what, l.stdout)
	}
	for _, f := range fragments {
		if !strings.Contains(l.stderr, f) {
			t.Errorf("%s: the user was not told %q:\n%v", what, f, l)
		}
	}
}

// run runs cmd and returns its output and exit status.
func run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// stateOf reads a's state file as root the way the gate would, strictly.
func (e *env) stateOf(t testing.TB, a *account) *store.UserState {
	t.Helper()
	b, err := os.ReadFile(e.statePath(a))
	must(t, err)
	st, err := filestore.Decode(b)
	if err != nil {
		t.Fatalf("the state file of %s does not decode: %v", a.Name, err)
	}
	return st
}

func (e *env) userDir(a *account) string   { return filepath.Join(e.state, a.Name) }
func (e *env) statePath(a *account) string { return filepath.Join(e.userDir(a), "state.json") }

// tempFiles lists the temp files in a's state directory.
func (e *env) tempFiles(t testing.TB, a *account) []string {
	t.Helper()
	ents, err := os.ReadDir(e.userDir(a))
	must(t, err)
	var out []string
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), "state.json.tmp-") {
			out = append(out, d.Name())
		}
	}
	return out
}
