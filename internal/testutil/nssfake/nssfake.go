// Package nssfake makes users and groups that exist only through NSS, for
// tests that must prove logingate does not read /etc/passwd or /etc/group
// itself (an LDAP or SSSD user looks the same to the C library).
//
// Install writes the users and groups to libnss-extrausers' files
// (/var/lib/extrausers/passwd and group) and adds "extrausers" to the passwd
// and group lines of /etc/nsswitch.conf; t.Cleanup puts every file back byte
// for byte. It changes the whole machine's name service while a test runs, so:
//
//   - it needs root and Debian's libnss-extrausers; without them the test is
//     skipped, or fails when CI=true;
//   - test processes that call it take turns (an exclusive flock on
//     /var/lib/extrausers), and within one process Install is not nestable,
//     so tests that call it must not be t.Parallel;
//   - ids must be at least 1000 (extrausers ignores ids below 500), and names
//     and ids must not exist in /etc/passwd or /etc/group;
//   - originals are kept next to each file (*.nssfake-orig, or a
//     *.nssfake-absent marker) until Cleanup; if a test binary is killed
//     before Cleanup (a -timeout panic), the next Install restores them first.
//
// glibc 2.33 and later rereads /etc/nsswitch.conf when it changes, so a
// process that already looked up users sees the change; nscd, if running,
// would cache answers and is not handled.
package nssfake

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// FakeUser is a passwd entry.
type FakeUser struct {
	Name     string
	UID, GID int
	Home     string // default "/nonexistent"
	Shell    string // may be empty (NSS then reports an empty shell)
	Gecos    string
}

// FakeGroup is a group entry; Members are user names.
type FakeGroup struct {
	Name    string
	GID     int
	Members []string
}

// Paths, variables only so this package's own test can point them elsewhere.
var (
	extraDir = "/var/lib/extrausers"
	nsswitch = "/etc/nsswitch.conf"
	libGlobs = []string{
		"/lib/libnss_extrausers.so.2", "/usr/lib/libnss_extrausers.so.2",
		"/lib/*/libnss_extrausers.so.2", "/usr/lib/*/libnss_extrausers.so.2",
		"/lib64/libnss_extrausers.so.2", "/usr/lib64/libnss_extrausers.so.2",
	}
	systemPasswd = "/etc/passwd"
	systemGroup  = "/etc/group"
)

const (
	origSuffix   = ".nssfake-orig"
	absentSuffix = ".nssfake-absent"
	marker       = "# temporary entries written by logingate's internal/testutil/nssfake\n"
)

var active atomic.Bool

// Available reports why Install cannot run here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "nssfake needs root (it edits /etc/nsswitch.conf)"
	}
	for _, g := range libGlobs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return ""
		}
	}
	return "nssfake needs libnss-extrausers (Debian package libnss-extrausers)"
}

// Install makes users and groups resolvable through NSS only, until the test
// ends. See the package comment for the rules.
func Install(t testing.TB, users []FakeUser, groups []FakeGroup) {
	t.Helper()
	if why := Available(); why != "" {
		need.Unavailable(t, "%s", why)
	}
	passwdData, groupData, err := render(users, groups)
	if err != nil {
		t.Fatalf("nssfake: %v", err)
	}
	if err := checkUnused(users, groups); err != nil {
		t.Fatalf("nssfake: %v", err)
	}
	if !active.CompareAndSwap(false, true) {
		t.Fatal("nssfake: Install is already active in this process (not nestable, not for parallel tests)")
	}
	unlock, err := lock()
	if err != nil {
		active.Store(false)
		t.Fatalf("nssfake: %v", err)
	}
	nss, err := filepath.EvalSymlinks(nsswitch)
	if err != nil {
		unlock()
		active.Store(false)
		t.Fatalf("nssfake: %v", err)
	}
	files := []string{nss, filepath.Join(extraDir, "passwd"), filepath.Join(extraDir, "group")}
	restoreAll := func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, restore(f))
		}
		return errors.Join(errs...)
	}
	t.Cleanup(func() {
		defer active.Store(false)
		defer unlock()
		if err := restoreAll(); err != nil {
			t.Errorf("nssfake: restoring: %v", err)
		}
	})
	// A previous run killed before its Cleanup left its originals behind.
	if err := restoreAll(); err != nil {
		t.Fatalf("nssfake: recovering an interrupted run: %v", err)
	}
	for _, f := range files {
		if err := backup(f); err != nil {
			t.Fatalf("nssfake: %v", err)
		}
	}
	orig, err := os.ReadFile(nss)
	if err != nil {
		t.Fatalf("nssfake: %v", err)
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{files[1], passwdData},
		{files[2], groupData},
		{nss, withExtrausers(orig)},
	} {
		if err := writeAtomic(w.path, w.data); err != nil {
			t.Fatalf("nssfake: %v", err)
		}
	}
}

// render builds the extrausers passwd and group files.
func render(users []FakeUser, groups []FakeGroup) (passwd, group []byte, err error) {
	var p, g bytes.Buffer
	p.WriteString(marker)
	g.WriteString(marker)
	for _, u := range users {
		if err := checkField("user name", u.Name, false); err != nil {
			return nil, nil, err
		}
		if u.UID < 1000 || u.GID < 1000 || u.UID >= 1<<31 || u.GID >= 1<<31 {
			return nil, nil, fmt.Errorf("user %q: ids must be in 1000..2^31-1", u.Name)
		}
		home := u.Home
		if home == "" {
			home = "/nonexistent"
		}
		for _, f := range []string{u.Gecos, home, u.Shell} {
			if err := checkField("field of "+u.Name, f, true); err != nil {
				return nil, nil, err
			}
		}
		fmt.Fprintf(&p, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Gecos, home, u.Shell)
	}
	for _, gr := range groups {
		if err := checkField("group name", gr.Name, false); err != nil {
			return nil, nil, err
		}
		if gr.GID < 1000 || gr.GID >= 1<<31 {
			return nil, nil, fmt.Errorf("group %q: gid must be in 1000..2^31-1", gr.Name)
		}
		for _, m := range gr.Members {
			if err := checkField("member of "+gr.Name, m, false); err != nil {
				return nil, nil, err
			}
		}
		fmt.Fprintf(&g, "%s:x:%d:%s\n", gr.Name, gr.GID, strings.Join(gr.Members, ","))
	}
	return p.Bytes(), g.Bytes(), nil
}

func checkField(what, s string, emptyOK bool) error {
	if s == "" && !emptyOK {
		return fmt.Errorf("%s is empty", what)
	}
	if strings.ContainsAny(s, ":,\n\x00") || strings.HasPrefix(s, "#") {
		return fmt.Errorf("%s %q cannot be written to a passwd/group file", what, s)
	}
	return nil
}

// checkUnused refuses names and ids that /etc/passwd or /etc/group already
// have: the point is entries that only NSS knows.
func checkUnused(users []FakeUser, groups []FakeGroup) error {
	taken := map[string]bool{}
	for _, f := range []struct{ path, kind string }{{systemPasswd, "user"}, {systemGroup, "group"}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Split(line, ":")
			if len(fields) >= 3 {
				taken[f.kind+" "+fields[0]] = true
				taken[f.kind+" id "+fields[2]] = true
			}
		}
	}
	for _, u := range users {
		if taken["user "+u.Name] || taken[fmt.Sprintf("user id %d", u.UID)] {
			return fmt.Errorf("user %q or uid %d exists in %s", u.Name, u.UID, systemPasswd)
		}
	}
	for _, g := range groups {
		if taken["group "+g.Name] || taken[fmt.Sprintf("group id %d", g.GID)] {
			return fmt.Errorf("group %q or gid %d exists in %s", g.Name, g.GID, systemGroup)
		}
	}
	return nil
}

// withExtrausers adds "extrausers" to the passwd and group lines, or adds
// such lines when the file has none.
func withExtrausers(conf []byte) []byte {
	lines := strings.SplitAfter(string(conf), "\n")
	seen := map[string]bool{}
	for i, line := range lines {
		body, nl := strings.CutSuffix(line, "\n")
		db, srcs, ok := strings.Cut(body, ":")
		db = strings.TrimSpace(db)
		if !ok || (db != "passwd" && db != "group") {
			continue
		}
		seen[db] = true
		srcs, comment, _ := strings.Cut(srcs, "#")
		if !strings.Contains(" "+strings.Join(strings.Fields(srcs), " ")+" ", " extrausers ") {
			body = db + ":" + strings.TrimRight(srcs, " \t") + " extrausers"
			if comment != "" {
				body += " #" + comment
			}
		}
		if nl {
			body += "\n"
		}
		lines[i] = body
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	for _, db := range []string{"passwd", "group"} {
		if !seen[db] {
			out += db + ": files extrausers\n"
		}
	}
	return []byte(out)
}

// backup keeps f's original (or notes that it had none) next to it.
func backup(f string) error {
	data, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return writeAtomic(f+absentSuffix, nil)
	}
	if err != nil {
		return err
	}
	if err := writeAtomic(f+origSuffix, data); err != nil {
		return err
	}
	// writeAtomic keeps an existing file's mode and owner; the backup is new.
	fi, err := os.Stat(f)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Chmod(f+origSuffix, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Chown(f+origSuffix, int(st.Uid), int(st.Gid))
}

// restore puts back what backup kept, if anything: the original is renamed
// over f (same bytes, mode and owner), or f is removed if it had none.
func restore(f string) error {
	if _, err := os.Stat(f + origSuffix); err == nil {
		if err := os.Rename(f+origSuffix, f); err != nil {
			return err
		}
		return syncDir(filepath.Dir(f))
	}
	if _, err := os.Stat(f + absentSuffix); err == nil {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Remove(f + absentSuffix); err != nil {
			return err
		}
		return syncDir(filepath.Dir(f))
	}
	return nil
}

// writeAtomic replaces path with data: temp file, fsync, rename, directory
// fsync. An existing file's mode and owner are kept; a new file is 0644.
func writeAtomic(path string, data []byte) error {
	mode, uid, gid := os.FileMode(0o644), -1, -1
	if fi, err := os.Stat(path); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		mode, uid, gid = fi.Mode().Perm(), int(st.Uid), int(st.Gid)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && uid >= 0 {
		err = tmp.Chown(uid, gid)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock takes the machine-wide turn: an exclusive flock on the extrausers
// directory, held until the returned function runs.
func lock() (unlock func(), err error) {
	if err := os.MkdirAll(extraDir, 0o755); err != nil {
		return nil, err
	}
	d, err := os.Open(extraDir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("locking %s: %w", extraDir, err)
	}
	return func() { d.Close() }, nil
}
