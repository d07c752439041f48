package privilege

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Unsafe is a part of a privileged install that the users it protects could
// change, with the command that fixes it.
type Unsafe struct {
	Path    string
	Problem string
	Fix     string
}

func (u *Unsafe) Error() string { return u.Problem + "; fix: " + u.Fix }

// CheckBinary checks the running executable of a privileged gate: root's,
// setgid to the privileged group, writable by nobody else, in a directory
// chain only root can change. A binary the caller could replace would hand
// them the group.
func CheckBinary() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the running binary: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		return fmt.Errorf("cannot check %s: %w", exe, err)
	}
	fix := fmt.Sprintf("chown root:%s %s && chmod 2755 %s", GroupName, exe, exe)
	perm := uint32(st.Mode) & 0o7777
	switch {
	case st.Uid != 0:
		return &Unsafe{exe, fmt.Sprintf("%s is owned by uid %d, want root", exe, st.Uid), fix}
	case perm&0o022 != 0:
		return &Unsafe{exe, fmt.Sprintf("%s is writable by group or others (mode %04o)", exe, perm), fix}
	case perm&0o4000 != 0:
		return &Unsafe{exe, fmt.Sprintf("%s is setuid (mode %04o); logingate needs only its group", exe, perm), fix}
	}
	return CheckRootPath(filepath.Dir(exe))
}

// CheckRootPath checks that every directory from / down to dir is root's
// and not writable by group or others, except sticky directories such as
// /tmp (where nobody can rename what root put there). It is the rule for
// files a privileged gate trusts: its binary's directory and a config a
// non-root caller names with -c.
func CheckRootPath(dir string) error {
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: not an absolute path", dir)
	}
	p := "/"
	for _, part := range append([]string{""}, strings.Split(strings.TrimPrefix(dir, "/"), "/")...) {
		p = filepath.Join(p, part)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("cannot check %s: %w", p, err)
		}
		perm := uint32(st.Mode) & 0o7777
		if st.Uid != 0 {
			return &Unsafe{p, fmt.Sprintf("%s is owned by uid %d, not root", p, st.Uid), "chown root " + p}
		}
		if perm&0o022 != 0 && perm&unix.S_ISVTX == 0 {
			return &Unsafe{p, fmt.Sprintf("%s is writable by group or others (mode %04o)", p, perm), "chmod go-w " + p}
		}
	}
	return nil
}

// CheckRootFile checks a file a privileged gate reads on a non-root
// caller's say-so (-c): root's, not writable by group or others, along a
// path only root can change.
func CheckRootFile(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return fmt.Errorf("cannot check %s: %w", abs, err)
	}
	perm := uint32(st.Mode) & 0o7777
	if st.Uid != 0 {
		return &Unsafe{abs, fmt.Sprintf("%s is owned by uid %d; only a root-owned config may be named by a user", abs, st.Uid), "chown root " + abs}
	}
	if perm&0o022 != 0 {
		return &Unsafe{abs, fmt.Sprintf("%s is writable by group or others (mode %04o)", abs, perm), "chmod go-w " + abs}
	}
	return CheckRootPath(filepath.Dir(abs))
}
