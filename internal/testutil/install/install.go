// Package install lays out a privileged logingate install for tests, the way
// `make install` does: the binary root:logingate mode 2755, the state
// directory root:logingate 0770, and secrets root:logingate 0640. Tests that
// run the setgid gate as real users (internal/e2e, internal/hostile) share
// it, so that every one of them proves the layout users actually get.
//
// Everything here needs root.
package install

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/logingate/logingate/internal/privilege"
)

// Group returns the logingate group's id, creating the group (and removing
// it after the test) when the machine has none.
func Group(t testing.TB) int {
	t.Helper()
	if g, err := user.LookupGroup(privilege.GroupName); err == nil {
		id, _ := strconv.Atoi(g.Gid)
		return id
	}
	if out, err := exec.Command("groupadd", "--system", privilege.GroupName).CombinedOutput(); err != nil {
		t.Fatalf("install: groupadd %s: %v: %s", privilege.GroupName, err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", privilege.GroupName).Run() })
	g, err := user.LookupGroup(privilege.GroupName)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	id, _ := strconv.Atoi(g.Gid)
	return id
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
