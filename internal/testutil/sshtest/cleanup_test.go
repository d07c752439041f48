package sshtest

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// TestCleanupLeavesNothing runs a server, a user and a process the user left
// running in a subtest, then checks that all are gone once it ends.
func TestCleanupLeavesNothing(t *testing.T) {
	t.Parallel()
	Require(t)
	var name, dir string
	var uid, sshdPid int
	t.Run("session", func(t *testing.T) {
		srv := Start(t, Options{})
		u := srv.AddUser(t, "leaver")
		name, dir, uid, sshdPid = u.Name, srv.Dir, u.UID, srv.cmd.Process.Pid
		out, err := srv.SSH(u, "nohup sleep 300 >/dev/null 2>&1 </dev/null & echo started").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "started") {
			t.Fatalf("ssh: %v\n%s", err, out)
		}
	})
	if t.Failed() {
		return
	}
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s still exists", name)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("server dir %s still there (err %v)", dir, err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(sshdPid)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sshd pid %d still exists", sshdPid)
	}
	left := signalMatching(0, func(_, ruid, euid int) bool { return ruid == uid || euid == uid })
	if left != 0 {
		t.Errorf("%d processes of uid %d survived", left, uid)
	}
}
