// Package install lays out a privileged logingate install for tests, the way
// `make install` does: the binary root:logingate mode 2755, the state
// directory root:logingate 0770, and secrets root:logingate 0640. Tests that
// run the setgid gate as real users (internal/e2e, internal/hostile) share
// it, so that every one of them proves the layout users actually get.
//
// Everything here needs root.
package install

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/privilege"
)

// Group returns the logingate group's id, creating the group when the
// machine has none. The group is left in place afterwards, as make install
// leaves it: go test runs packages in parallel, and a package that removed
// the group it made would pull it from under another package's setgid
// install (and two packages adding it at once would fail one of them).
func Group(t testing.TB) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		if g, err := user.LookupGroup(privilege.GroupName); err == nil {
			id, _ := strconv.Atoi(g.Gid)
			return id
		}
		// Exit 9: another package added it meanwhile. Exit 10: another
		// account tool holds /etc/group's lock. Look again either way.
		out, err := exec.Command("groupadd", "--system", privilege.GroupName).CombinedOutput()
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || (ee.ExitCode() != 9 && ee.ExitCode() != 10)) {
			t.Fatalf("install: groupadd %s: %v: %s", privilege.GroupName, err, out)
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Fatalf("install: no %s group after 100 tries", privilege.GroupName)
	return 0
}

// Binary copies the gate binary src to dst (creating dst's directory, mode
// 0755), root:logingate mode 2755, and returns the group's id.
func Binary(t testing.TB, src, dst string) (gid int) {
	t.Helper()
	gid = Group(t)
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	data, err := os.ReadFile(src)
	must(t, err)
	must(t, os.WriteFile(dst, data, 0o755))
	must(t, os.Chown(dst, 0, gid))
	must(t, os.Chmod(dst, 0o755|os.ModeSetgid))
	return gid
}

// ProtectedDir creates path as a protected state directory: root:logingate
// 0770.
func ProtectedDir(t testing.TB, path string, gid int) {
	t.Helper()
	must(t, os.Mkdir(path, 0o770))
	must(t, os.Chown(path, 0, gid))
	must(t, os.Chmod(path, 0o770))
}

// GroupFile writes a secret only root and the gate's group may read:
// root:logingate 0640.
func GroupFile(t testing.TB, path string, data []byte, gid int) {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o640))
	must(t, os.Chown(path, 0, gid))
	must(t, os.Chmod(path, 0o640))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("install: %v", err)
	}
}
