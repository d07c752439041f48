package debpkg

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
)

// requireTools checks for root and the programs the package test runs.
func requireTools(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "debpkg: needs root for mount namespaces, chroot and dpkg")
	}
	for _, tool := range []string{"unshare", "nsenter", "chroot", "dpkg-deb", "lintian", "apt-get", "ssh", "ssh-keygen", "oathtool", "make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			need.Unavailable(t, "debpkg: %s not found (scripts/deps.sh installs it)", tool)
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		need.Unavailable(t, "debpkg: /usr/sbin/sshd missing (Debian package openssh-server)")
	}
}

// A root is a throwaway copy of this host: an overlay of / whose changes go
// to a tmpfs, mounted in a private mount namespace, with its own /proc,
// /run and /tmp and the host's /dev. Commands run in it through nsenter
// and chroot, with a private copy of /etc. dpkg, apt, useradd and groupadd
// write only to the overlay and that copy, so
// the host's package database and its logingate group are never touched,
// and tests that create that group on the host cannot race this one. The
// namespace is held by one process (sleep, started by unshare); killing it
// when the test ends drops the mounts and every change with them. Network
// and PIDs are the host's: an sshd in the root listens on host loopback.
type root struct {
	dir    string // on the host: the namespace's mount point
	holder *exec.Cmd
}

// setupScript runs in the new namespace: $1 is the directory to mount on.
const setupScript = `set -e
d=$1
mount -t tmpfs -o mode=0755 lg-deb "$d"
mkdir "$d/up" "$d/work" "$d/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/up,workdir=$d/work" "$d/root"
r=$d/root
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
mkdir -p "$r/run/sshd" "$r/run/lock"
# /etc is a private copy, not the overlay's live view of the host's: other
# tests add and remove accounts on the host meanwhile, and their
# /etc/passwd.lock would otherwise show through and stop useradd here.
mkdir "$d/etc"
cp -a /etc/. "$d/etc/"
rm -f "$d"/etc/*.lock "$d"/etc/*+ "$d"/etc/*-new
mount --bind "$d/etc" "$r/etc"
# Accounts made in the root get ids no test account on the host has: PIDs
# are shared, and tests on either side kill every process of a test user's
# uid when they clean up, which would end a session of the other's.
sed -i -e 's/^UID_MIN.*/UID_MIN 42000/' -e 's/^UID_MAX.*/UID_MAX 42999/' \
	-e 's/^GID_MIN.*/GID_MIN 42000/' -e 's/^GID_MAX.*/GID_MAX 42999/' "$d/etc/login.defs"
grep -q '^UID_MIN 42000' "$d/etc/login.defs"
echo ready
exec sleep infinity
`

func newRoot(t *testing.T) *root {
	t.Helper()
	dir, err := os.MkdirTemp("", "lg-debroot-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setupScript, "sh", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	r := &root{dir: dir, holder: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("setting up the throwaway root failed: %q %v", line, err)
	}
	return r
}

// path is where a path inside the root is seen from the host.
func (r *root) path(p string) string {
	return filepath.Join("/proc", strconv.Itoa(r.holder.Process.Pid), "root", r.dir, "root", p)
}

// rootEnv is the environment commands in the root start with.
var rootEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
}

// command returns argv to run as root inside the root, with rootEnv plus env.
func (r *root) command(env []string, argv ...string) *exec.Cmd {
	args := append([]string{"--target", strconv.Itoa(r.holder.Process.Pid), "--mount", "--", "chroot", r.dir + "/root"}, argv...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = append(append([]string{}, rootEnv...), env...)
	return cmd
}

// try runs argv in the root and returns its combined output and exit code.
func (r *root) try(t testing.TB, env []string, argv ...string) (string, int) {
	t.Helper()
	var b bytes.Buffer
	cmd := r.command(env, argv...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running %q: %v", argv, err)
		}
	}
	return b.String(), cmd.ProcessState.ExitCode()
}

// run runs argv in the root, fails the test unless it exits 0, and
// returns its standard output (standard error goes to the test log).
func (r *root) run(t testing.TB, argv ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := r.command(nil, argv...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%q: %v\n%s%s", argv, err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("%q stderr: %s", argv, stderr.String())
	}
	return stdout.String()
}

// sh runs a shell script in the root and fails the test unless it exits 0.
func (r *root) sh(t testing.TB, script string) string {
	t.Helper()
	return r.run(t, "sh", "-ec", script)
}

// writeFile writes a file inside the root.
func (r *root) writeFile(t testing.TB, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(r.path(p), data, mode); err != nil {
		t.Fatal(err)
	}
}

func (r *root) readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(r.path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyIn copies a host file into the root at p, mode 0644.
func (r *root) copyIn(t testing.TB, src, p string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r.writeFile(t, p, b, 0o644)
}

// sshd is an sshd running in the root on a loopback port.
type sshd struct {
	port int
	cmd  *exec.Cmd
	log  bytes.Buffer
}

// startSSHD starts the root's own sshd, with the root's /etc/ssh config
// (its drop-ins included) and only the port, address and pid file set on
// the command line. It is stopped by pid when the test ends, or by stop.
func (r *root) startSSHD(t *testing.T) *sshd {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &sshd{port: port}
	// nsenter and chroot exec, so the pid is sshd's own (-D: no fork).
	s.cmd = r.command(nil, "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config",
		"-o", "Port="+strconv.Itoa(port), "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=/run/lg-test-sshd.pid")
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd in the root did not listen on %d: %v\n%s", port, err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops sshd by its pid: SIGTERM, then SIGKILL.
func (s *sshd) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}
