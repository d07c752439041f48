package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/logingate/logingate/internal/store"
	"golang.org/x/sys/unix"
)

// CheckError is a state file or directory that logingate refuses to use.
// Its text, Problem then Fix, goes to the audit line of a denied login, to
// `logingate status`, and (CheckStateDir) to doctor's findings; the user
// at the gate is told only that their state cannot be read, and who can
// check it.
type CheckError struct {
	Path    string // the file or directory at fault
	Problem string // what is wrong, naming Path
	Fix     string // what to run or do about it; may be empty
	Err     error  // the underlying error, if any
}

func (e *CheckError) Error() string {
	if e.Fix == "" {
		return e.Problem
	}
	return e.Problem + "; fix: " + e.Fix
}

func (e *CheckError) Unwrap() error { return e.Err }

// ValidateUser refuses names that cannot safely become a directory name:
// empty, longer than 255 bytes, starting with a dot (so "." and ".." too),
// or holding a slash or a control character. Names such as user@domain from
// LDAP or SSSD pass.
func ValidateUser(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid user name: empty")
	case len(name) > 255:
		return fmt.Errorf("invalid user name: longer than 255 bytes")
	case name[0] == '.':
		return fmt.Errorf("invalid user name %q: starts with a dot", name)
	}
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == '/':
			return fmt.Errorf("invalid user name %q: contains a slash", name)
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			return fmt.Errorf("invalid user name %q: contains a control character", name)
		}
		i += n
	}
	return nil
}

// userDir is an open, checked user directory. All work inside it goes
// through fd, relative to the directory, so that a rename or symlink planted
// by the user cannot send a root process elsewhere.
type userDir struct {
	user     string
	uid, gid int
	path     string // state_dir/USER, for messages and the identity check
	fd       int
	chown    bool // root working for another uid: hand created files over
}

func (u *userDir) close() { unix.Close(u.fd) }

// open checks the state directory and opens the user's directory. Without
// create, a missing user directory is store.ErrNotFound.
func (s *Store) open(user string, create bool) (*userDir, error) {
	if err := ValidateUser(user); err != nil {
		return nil, err
	}
	uid, gid, err := s.owner(user)
	if err != nil {
		return nil, fmt.Errorf("look up the owner of %s's state: %w", user, err)
	}
	if err := s.checkStateDir(os.Geteuid()); err != nil {
		return nil, err
	}
	euid := os.Geteuid()
	u := &userDir{user: user, uid: uid, gid: gid, path: filepath.Join(s.dir, user), chown: euid == 0 && uid != 0}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	created := false
	fd, err := unix.Open(u.path, flags, 0)
	if err == unix.ENOENT && create {
		if euid != 0 && euid != uid {
			return nil, fmt.Errorf("cannot create state for %s (uid %d) as uid %d: run as %s or as root", user, uid, euid, user)
		}
		// The state directory is root's (or ours) and sticky when shared,
		// so nobody can swap the new directory between mkdir and open.
		switch err = s.mkdir(u); err {
		case nil:
			created = true
		case unix.EEXIST: // another process made it first
		case unix.EACCES:
			return nil, &CheckError{Path: u.path, Err: err,
				Problem: fmt.Sprintf("cannot create user directory %s: state directory %s is not writable by uid %d", u.path, s.dir, euid),
				Fix:     "have root create it (logingate enroll --user " + user + "), or chmod 1733 " + s.dir + " so that users may create their own"}
		default:
			return nil, &os.PathError{Op: "create directory", Path: u.path, Err: err}
		}
		fd, err = unix.Open(u.path, flags, 0)
	}
	switch err {
	case nil:
	case unix.ENOENT:
		return nil, store.ErrNotFound
	case unix.ELOOP, unix.ENOTDIR, unix.EMLINK:
		return nil, notDirError("user directory", u.path, "remove the link (rm "+u.path+"); move the user's real directory there if it exists")
	case unix.EACCES:
		// Not ours to open: say whose it is rather than "permission denied".
		var st unix.Stat_t
		if unix.Lstat(u.path, &st) == nil {
			if err := u.checkOwned("user directory", u.path, &st, "0700", "-R "); err != nil {
				return nil, err
			}
		}
		return nil, &os.PathError{Op: "open", Path: u.path, Err: err}
	default:
		return nil, &os.PathError{Op: "open", Path: u.path, Err: err}
	}
	u.fd = fd
	if created {
		if err := u.initDir(s.dir); err != nil {
			u.close()
			return nil, err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		u.close()
		return nil, &os.PathError{Op: "stat", Path: u.path, Err: err}
	}
	if err := u.checkOwned("user directory", u.path, &st, "0700", "-R "); err != nil {
		u.close()
		return nil, err
	}
	return u, nil
}

// mkdir creates the user's directory. Root working for another uid makes
// it under a temp name, hands it over, and renames it into place only then
// (refusing to replace anything), so that a process killed half-way never
// leaves a directory of root's that the user's logins would refuse. A
// killed one leaves at most a dirTempBase directory, which no user name can
// match. Without RENAME_NOREPLACE (some network file systems) it falls back
// to mkdir and chown.
func (s *Store) mkdir(u *userDir) error {
	if !u.chown {
		return unix.Mkdir(u.path, 0o700)
	}
	tmp := filepath.Join(s.dir, tempName(dirTempBase))
	if err := unix.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Fchown(fd, u.uid, u.gid)
		unix.Close(fd)
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, u.path, unix.RENAME_NOREPLACE)
	}
	if err != nil {
		unix.Rmdir(tmp)
	}
	if err == unix.EINVAL || err == unix.ENOSYS {
		return unix.Mkdir(u.path, 0o700)
	}
	return err
}

// initDir hands a directory this process just made to its user, sets its
// mode whatever the umask, and makes its entry durable.
func (u *userDir) initDir(stateDir string) error {
	if u.chown {
		if err := unix.Fchown(u.fd, u.uid, u.gid); err != nil {
			return &os.PathError{Op: "chown", Path: u.path, Err: err}
		}
	}
	if err := unix.Fchmod(u.fd, 0o700); err != nil {
		return &os.PathError{Op: "chmod", Path: u.path, Err: err}
	}
	return syncDir(stateDir, u.fd)
}

// CheckStateDir tells whether a store would use dir as its state
// directory, in the protected layout when group is set (see Protected), in
// the per-user layout otherwise. It answers for every user's store: the
// per-user layout's only exception, a directory its owner's own store may
// use (a personal gate's), is not made. dir refused is a *CheckError: what
// is wrong, naming dir, and the fix; a dir that cannot be examined is a
// *os.PathError. Doctor asks it rather than keep a copy of the rules.
func CheckStateDir(dir string, group *int) error {
	return (&Store{dir: dir, group: group}).checkStateDir(0)
}

// checkStateDir applies the state directory rules from the package comment
// for a store running as euid.
func (s *Store) checkStateDir(euid int) error {
	var st unix.Stat_t
	if err := unix.Lstat(s.dir, &st); err != nil {
		if err == unix.ENOENT {
			fix := "install -d -m 1733 -o root -g root " + s.dir
			if s.group != nil {
				fix = fmt.Sprintf("install -d -m 0770 -o root -g %d %s", *s.group, s.dir)
			}
			return &CheckError{Path: s.dir, Err: os.ErrNotExist,
				Problem: fmt.Sprintf("state directory %s does not exist", s.dir), Fix: fix}
		}
		return &os.PathError{Op: "stat", Path: s.dir, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return notDirError("state directory", s.dir, "set state_dir to the directory the link points to")
	}
	if s.group != nil {
		return s.checkProtectedDir(&st)
	}
	if st.Uid != 0 && int(st.Uid) != euid {
		want := "root"
		if euid != 0 {
			want = fmt.Sprintf("root or uid %d (this process)", euid)
		}
		return &CheckError{Path: s.dir,
			Problem: fmt.Sprintf("state directory %s is owned by uid %d, want %s", s.dir, st.Uid, want),
			Fix:     "chown root:root " + s.dir}
	}
	perm := uint32(st.Mode) & 0o7777
	if perm&0o022 != 0 && perm&unix.S_ISVTX == 0 {
		return &CheckError{Path: s.dir,
			Problem: fmt.Sprintf("state directory %s is writable by group or others without the sticky bit (mode %04o)", s.dir, perm),
			Fix:     "chmod 1733 " + s.dir + " (users may create their own directory) or chmod 0755 " + s.dir}
	}
	return nil
}

// checkProtectedDir applies the protected layout's rules: root:GROUP, no
// access for others, group may create and enter.
func (s *Store) checkProtectedDir(st *unix.Stat_t) error {
	fix := fmt.Sprintf("chown root:%d %s && chmod 0770 %s (or: logingate migrate)", *s.group, s.dir, s.dir)
	perm := uint32(st.Mode) & 0o7777
	switch {
	case st.Uid != 0:
		return &CheckError{Path: s.dir, Fix: fix,
			Problem: fmt.Sprintf("state directory %s is owned by uid %d, want root", s.dir, st.Uid)}
	case int(st.Gid) != *s.group:
		return &CheckError{Path: s.dir, Fix: fix,
			Problem: fmt.Sprintf("state directory %s belongs to group %d, want logingate's group %d", s.dir, st.Gid, *s.group)}
	case perm&0o007 != 0:
		return &CheckError{Path: s.dir, Fix: fix,
			Problem: fmt.Sprintf("state directory %s gives others access (mode %04o): users could reach their own secrets", s.dir, perm)}
	case perm&0o030 != 0o030:
		return &CheckError{Path: s.dir, Fix: fix,
			Problem: fmt.Sprintf("state directory %s does not let logingate's group create and enter (mode %04o)", s.dir, perm)}
	}
	return nil
}

// checkOwned refuses a file or directory of the user's that belongs to
// someone else or grants group or other access. recursive is "-R " when the
// chown fix should recurse. Only what root owns may be handed over: what
// another user made (a directory made under a mode 1733 state directory
// before the user enrolled, with state inside) must never become the
// user's, so the fix is to move it away.
func (u *userDir) checkOwned(what, path string, st *unix.Stat_t, mode, recursive string) error {
	if int(st.Uid) != u.uid && st.Uid != 0 {
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s is owned by uid %d, want uid %d (%s): another user made it, so nothing in it can be trusted as %s's",
				what, path, st.Uid, u.uid, u.user, u.user),
			Fix: fmt.Sprintf("as root, move it away (mv %s %s.bad), then enroll %s again; do not chown it", path, path, u.user)}
	}
	if int(st.Uid) != u.uid {
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s is owned by uid %d, want uid %d (%s)", what, path, st.Uid, u.uid, u.user),
			Fix:     fmt.Sprintf("chown %s%d:%d %s", recursive, u.uid, u.gid, path)}
	}
	if perm := uint32(st.Mode) & 0o7777; perm&0o077 != 0 {
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s has mode %04o, want no group or other access", what, path, perm),
			Fix:     "chmod " + mode + " " + path}
	}
	return nil
}

// checkFile refuses what is not a regular file of the user's with mode 0600
// or stricter.
func (u *userDir) checkFile(what, path string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s is not a regular file", what, path),
			Fix:     "move it away: mv " + path + " " + path + ".bad"}
	}
	return u.checkOwned(what, path, st, "0600", "")
}

// notDirError describes a path that should be a real directory but is a
// symlink or something else.
func notDirError(what, path, linkFix string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s is a symlink; logingate does not follow symlinks here", what, path),
			Fix:     linkFix}
	}
	return &CheckError{Path: path,
		Problem: fmt.Sprintf("%s %s is not a directory", what, path),
		Fix:     "move it away: mv " + path + " " + path + ".bad"}
}

// openIn opens name inside the user's directory without following a
// symlink, checks it, and returns the descriptor. A missing file is
// unix.ENOENT, returned bare.
func (u *userDir) openIn(what, name string, flags int) (int, *unix.Stat_t, error) {
	path := u.join(name)
	fd, err := unix.Openat(u.fd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return -1, nil, err
	}
	if err == unix.ELOOP || err == unix.EMLINK {
		return -1, nil, &CheckError{Path: path,
			Problem: fmt.Sprintf("%s %s is a symlink; logingate does not follow symlinks here", what, path),
			Fix:     "rm " + path}
	}
	if err == unix.EACCES {
		// Not ours to open: say whose it is rather than "permission denied".
		var st unix.Stat_t
		if unix.Fstatat(u.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if cerr := u.checkFile(what, path, &st); cerr != nil {
				return -1, nil, cerr
			}
		}
	}
	if err != nil {
		return -1, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	st := new(unix.Stat_t)
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := u.checkFile(what, path, st); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, st, nil
}
