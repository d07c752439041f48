package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store/filestore"
	"golang.org/x/sys/unix"
)

// gateProcs lists the live logingate processes (this package's binary) of
// uid, found through /proc.
func gateProcs(uid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil || strings.Contains(string(status), "\nState:\tZ") {
			continue
		}
		ours := false
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "Uid:" {
				ours = f[1] == strconv.Itoa(uid) || f[2] == strconv.Itoa(uid)
			}
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); ours && err == nil && exe == gateBin {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGateGone waits up to within for uid's logingate processes to end and
// returns the ones still there.
func waitGateGone(uid int, within time.Duration) []int {
	deadline := time.Now().Add(within)
	for {
		left := gateProcs(uid)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGateOpens waits for a logingate process of uid to hold path open:
// for a lock file, to be waiting for the lock or holding it.
func waitGateOpens(t *testing.T, uid int, path string) {
	t.Helper()
	deadline := time.Now().Add(expectTimeout)
	for {
		for _, pid := range gateProcs(uid) {
			fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
			for _, fd := range fds {
				if l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name()); err == nil && l == path {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no logingate process of uid %d opened %s", uid, path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A gate at its menu whose client is killed (kill -9 on ssh: no goodbye,
// just a closed connection) ends within seconds, denying: sshd hangs up the
// terminal and the gate's read fails. Nothing of the user's logingate is
// left running.
func TestOrphanedInteractiveGateEnds(t *testing.T) {
	h := newHost(t, hostOptions{})
	u := h.AddUser(t, "orphan")
	h.enroll(t, u)

	s := h.SSHPty(t, u, "echo should-not-run")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	if len(gateProcs(u.UID)) == 0 {
		t.Fatal("no logingate process of the user at the prompt: the scan cannot see it")
	}
	if err := s.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if left := waitGateGone(u.UID, 5*time.Second); len(left) > 0 {
		t.Fatalf("logingate processes %v of %s still running 5s after their client died", left, u.Name)
	}
	h.audit.WaitFor(t, "action=login", "result=deny", "user="+u.Name)
	if strings.Contains(s.Output(), "should-not-run") {
		t.Fatalf("the command ran:\n%s", s.Output())
	}
}

// A non-interactive gate never reads stdin, so it cannot notice that its
// client is gone. When it is stuck waiting for the user's lock (held here
// by the test, as a stopped login would), it still ends, denying, once the
// lock wait gives up, not at the end of the 3-minute login deadline.
func TestOrphanedNonInteractiveGateEnds(t *testing.T) {
	h := newHost(t, hostOptions{
		yaml: "accept_env_factor: true\n",
		sshd: []string{"AcceptEnv LOGINGATE_PASSCODE"},
	})
	u := h.AddUser(t, "orphnb")
	e := h.enroll(t, u)
	lock := filepath.Join(h.state, u.Name, "lock")
	f, err := os.Open(lock)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))

	cmd := h.SSH(u, "-o", "SendEnv=LOGINGATE_PASSCODE", "echo should-not-run")
	cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+e.Code(t, 0))
	must(t, cmd.Start())
	start := time.Now()
	waitGateOpens(t, u.UID, lock)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	bound := filestore.DefaultLockWait + 15*time.Second
	if left := waitGateGone(u.UID, bound); len(left) > 0 {
		t.Fatalf("logingate processes %v of %s still running %v after their client died", left, u.Name, time.Since(start).Round(time.Second))
	}
	h.audit.WaitFor(t, "action=login", "result=deny", "user="+u.Name, "gave up waiting after "+filestore.DefaultLockWait.String())
}
