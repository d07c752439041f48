package privilege

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The path-trust rule, the one home of it: which files logingate may trust
// (its binary, its config, the secret files and CA file the config names),
// checked on the objects that are opened, never on a string opened afterwards.
// A path is walked from / with O_PATH|O_NOFOLLOW descriptors, each step checked
// with fstat, and the file read is the very inode checked. The full rule:
// docs/SECURITY.md, "Path trust".
//
// Must not change: the check on each descriptor as it is opened, the read
// from the last one, no link or ".." for a caller's -c, nothing on /proc.
// Proven by the tests that section names (trust_test.go, cmd/logingate).

// Rule says whose files a trusted path may hold and whether it may follow
// links. The zero Rule is the strictest: root alone, no links, no "..".
type Rule struct {
	// Owner is a uid that qualifies besides root: an unprivileged
	// process's own (its personal config). Zero: root alone. A privileged
	// gate never sets it to its caller's uid.
	Owner int
	// Links follows symbolic links whose target passes the same checks,
	// and allows ".." and a relative path.
	Links bool
}

// For returns the rule for a file this process trusts. callerNamed says the
// caller, not root's config or the built-in default, named the path (-c).
//
//   - A privileged gate run by a non-root user trusts root's files alone,
//     and follows no link in a path the caller names.
//   - Otherwise (root, or an unprivileged run, which holds nothing the
//     caller lacks) the running user's own files qualify too, and links are
//     followed through the same checks.
func For(callerNamed bool) Rule {
	if Privileged() && os.Getuid() != 0 {
		return Rule{Links: !callerNamed}
	}
	return Rule{Owner: os.Geteuid(), Links: true}
}

// Unsafe is a part of a trusted path that someone other than root (or the
// rule's owner) could change or steer, with the command that fixes it when
// there is one.
type Unsafe struct {
	Path    string // the file or directory at fault, as walked (links resolved)
	Problem string // names Path
	Fix     string // a shell command, or ""
	File    bool   // Path is the file itself, not a directory on its way
}

func (u *Unsafe) Error() string {
	if u.Fix == "" {
		return u.Problem
	}
	return u.Problem + "; fix: " + u.Fix
}

// maxLinks bounds the symbolic links one walk follows, as Linux does.
const maxLinks = 40

// Open opens the regular file at path for reading after walking to it
// under rule r, and returns it with its status as checked. The caller reads
// from the returned file and nothing else. An error is an *Unsafe for a
// file or directory the rule does not trust, or an *fs.PathError with the
// system's reason (fs.ErrNotExist, fs.ErrPermission, ...).
func Open(path string, r Rule) (*os.File, *unix.Stat_t, error) {
	w := &walker{rule: r}
	return w.open(path)
}

// CheckSocketDir walks to the directory at path, where a server's unix
// socket is found (a DSN's host=/dir), under rule r. The directories on the
// way are checked as for a file, and its parent is as strict as a file's
// directory (no sticky exemption): nobody else may make it. The directory
// itself may belong to the server's own user (postgres), but others may add
// no name to it: not writable by others, sticky or not. In /tmp anyone can
// bind the socket's name while the server is down, and be sent the
// password.
func CheckSocketDir(path string, r Rule) error {
	w := &walker{rule: r, end: endSocketDir}
	for strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "//") {
		path = path[:len(path)-1] // the directory itself, not an ancestor
	}
	_, _, err := w.open(path)
	return err
}

// Check walks path under rule r as Open does, without reading the file,
// and reports every problem it finds rather than the first: for doctor and
// check-config, which tell an administrator everything to fix at once. An
// error means the walk could not finish (a missing file, a link refused).
func Check(path string, r Rule) ([]*Unsafe, error) {
	w := &walker{rule: r, collect: true}
	f, _, err := w.open(path)
	if f != nil {
		f.Close()
	}
	var u *Unsafe
	if errors.As(err, &u) {
		return append(w.found, u), nil
	}
	return w.found, err
}

// CheckDir is Check for a directory: every directory on the way to it is
// checked as Check checks them, and the directory itself gets no sticky
// exemption, since whoever may write it may create any name in it. For
// doctor, which asks who can put a file somewhere.
func CheckDir(path string, r Rule) ([]*Unsafe, error) {
	w := &walker{rule: r, collect: true, end: endDir}
	_, _, err := w.open(path)
	var u *Unsafe
	if errors.As(err, &u) {
		return append(w.found, u), nil
	}
	return w.found, err
}

// endKind is what a walk's path names, and so how its last step is judged.
type endKind int

const (
	endFile      endKind = iota // a regular file, opened (Open) or judged (Check)
	endDir                      // a directory, judged as one that holds the file (CheckDir)
	endSocketDir                // a server's socket directory (CheckSocketDir)
)

type walker struct {
	rule    Rule
	collect bool      // report owner and mode problems and go on
	found   []*Unsafe // with collect
	links   int
	end     endKind // what the path names
}

// dir is a directory on the walk, open with O_PATH.
type dir struct {
	fd   int
	path string
	st   unix.Stat_t
}

// problem records u; it returns u when the walk must stop.
func (w *walker) problem(u *Unsafe) error {
	if w.collect {
		w.found = append(w.found, u)
		return nil
	}
	return u
}

func (w *walker) open(path string) (*os.File, *unix.Stat_t, error) {
	if path == "" {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: unix.ENOENT}
	}
	if !w.rule.Links && slices.Contains(strings.Split(path, "/"), "..") {
		return nil, nil, &Unsafe{Path: path, Problem: path + ` has a ".." component; name the file by its real path`, File: true}
	}
	if !strings.HasPrefix(path, "/") {
		if !w.rule.Links {
			return nil, nil, &Unsafe{Path: path, Problem: path + " is not an absolute path", File: true}
		}
		wd, err := os.Getwd()
		if err != nil {
			return nil, nil, fmt.Errorf("cannot resolve a relative path: %w", err)
		}
		path = wd + "/" + path
	}
	root, err := w.enterRoot()
	if err != nil {
		return nil, nil, err
	}
	stack := []dir{root}
	defer func() {
		for _, d := range stack {
			unix.Close(d.fd)
		}
	}()
	pending := split(path)
	for {
		cur := &stack[len(stack)-1]
		if len(pending) == 0 {
			// The path names a directory.
			if w.end == endDir {
				return nil, nil, w.heldDir(cur)
			}
			if w.end == endSocketDir {
				parent := cur
				if len(stack) > 1 {
					parent = &stack[len(stack)-2]
				}
				return nil, nil, w.checkSocketDir(parent, cur)
			}
			return nil, nil, &Unsafe{Path: cur.path, Problem: cur.path + " is a directory", File: true}
		}
		name := pending[0]
		pending = pending[1:]
		switch name {
		case ".":
			continue
		case "..":
			// Only with Rule.Links (refused above otherwise): the real
			// parent, which the walk entered and checked.
			if len(stack) > 1 {
				unix.Close(cur.fd)
				stack = stack[:len(stack)-1]
			}
			continue
		}
		full := join(cur.path, name)
		fd, err := unix.Openat(cur.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if w.end == endSocketDir && len(pending) == 0 && err == unix.ENOENT {
				// Not there yet: who could make it?
				if perm := cur.st.Mode & 0o7777; perm&0o022 != 0 {
					return nil, nil, &Unsafe{Path: cur.path,
						Problem: fmt.Sprintf("directory %s is writable by group or others (mode %04o), who could make the socket directory %s", cur.path, perm, full),
						Fix:     "chmod go-w " + ShellQuote(cur.path)}
				}
			}
			return nil, nil, &fs.PathError{Op: "open", Path: full, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, nil, &fs.PathError{Op: "stat", Path: full, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, err := w.follow(fd, full, &st)
			unix.Close(fd)
			if err != nil {
				return nil, nil, err
			}
			if strings.HasPrefix(target, "/") {
				for _, d := range stack[1:] {
					unix.Close(d.fd)
				}
				stack = stack[:1]
			}
			pending = append(split(target), pending...)
			continue
		case unix.S_IFDIR:
			// The O_PATH descriptor is the directory from here on.
			d := dir{fd: fd, path: full, st: st}
			if w.end == endSocketDir && len(pending) == 0 {
				// The socket's own directory: checkSocketDir's rule,
				// not an ancestor's.
				err := w.notProc(fd, full)
				if err == nil {
					err = w.checkSocketDir(cur, &d)
				}
				unix.Close(fd)
				return nil, nil, err
			}
			if err := w.admit(&d); err != nil {
				unix.Close(fd)
				return nil, nil, err
			}
			stack = append(stack, d)
			continue
		}
		unix.Close(fd)
		if len(pending) > 0 {
			return nil, nil, &fs.PathError{Op: "open", Path: full, Err: unix.ENOTDIR}
		}
		return w.file(cur, name, full, &st)
	}
}

// heldDir checks the directory a CheckDir walk ends on: admit let a sticky
// one pass as an ancestor, but others may create names in it.
func (w *walker) heldDir(d *dir) error {
	if perm := d.st.Mode & 0o7777; perm&0o022 != 0 && perm&unix.S_ISVTX != 0 {
		return w.problem(&Unsafe{Path: d.path,
			Problem: fmt.Sprintf("directory %s is writable by group or others (mode %04o), who may create any name in it", d.path, perm),
			Fix:     "chmod go-w " + ShellQuote(d.path)})
	}
	return nil
}

// enterRoot opens / for the walk and checks it.
func (w *walker) enterRoot() (dir, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return dir{}, &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	d := dir{fd: fd, path: "/"}
	if err := unix.Fstat(fd, &d.st); err != nil {
		unix.Close(fd)
		return dir{}, &fs.PathError{Op: "stat", Path: "/", Err: err}
	}
	if err := w.admit(&d); err != nil {
		unix.Close(fd)
		return dir{}, err
	}
	return d, nil
}

// admit checks a directory the walk enters, as an ancestor; the directory
// that turns out to hold the file is checked again, without the sticky
// exemption, by file.
func (w *walker) admit(d *dir) error {
	if err := w.notProc(d.fd, d.path); err != nil {
		return err
	}
	return w.checkDir(d, true)
}

// follow returns the target of the link open at fd, with status st, when
// the rule lets the walk follow it: a link root (or the rule's owner) made.
// Another user's link can be in a root-owned directory only if it is sticky
// (as /tmp), where they planted it by a name root's config uses, to choose
// the file read.
func (w *walker) follow(fd int, full string, st *unix.Stat_t) (string, error) {
	if !w.rule.Links {
		return "", &Unsafe{Path: full, Problem: full + " is a symbolic link; name the file by its real path, with no link on the way"}
	}
	if uid := int(st.Uid); uid != 0 && uid != w.rule.Owner {
		return "", &Unsafe{Path: full,
			Problem: fmt.Sprintf("symbolic link %s is owned by uid %d, who chose where it leads", full, uid),
			Fix:     "chown -h root:root " + ShellQuote(full)}
	}
	if w.links++; w.links > maxLinks {
		return "", &fs.PathError{Op: "open", Path: full, Err: unix.ELOOP}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: full, Err: err}
	}
	if n == len(buf) {
		return "", &fs.PathError{Op: "readlink", Path: full, Err: unix.ENAMETOOLONG}
	}
	return string(buf[:n]), nil
}

// notProc refuses anything on procfs, whose links are not links to a
// name but to whatever object a process holds. Without Rule.Links (a
// caller's -c) it also refuses a file system mounted nosuid: every one a
// user may mount is (removable media through udisks or an fstab "user"
// entry, FUSE), and its owners and modes are whatever its maker wrote.
func (w *walker) notProc(fd int, full string) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return &fs.PathError{Op: "statfs", Path: full, Err: err}
	}
	if sfs.Type == unix.PROC_SUPER_MAGIC {
		return &Unsafe{Path: full, Problem: full + " is on /proc, which logingate never trusts (no /proc/self/..., no /dev/fd/N)"}
	}
	if !w.rule.Links && sfs.Flags&unix.ST_NOSUID != 0 {
		return &Unsafe{Path: full, Problem: full + " is on a file system mounted nosuid, as any a user may mount is; name a file on one only root mounts"}
	}
	return nil
}

// checkDir checks a directory: owned by root or the rule's owner, and not
// writable by group or others, unless ancestor and sticky.
func (w *walker) checkDir(d *dir, ancestor bool) error {
	if err := w.checkOwner(d.path, &d.st, false); err != nil {
		return err
	}
	perm := d.st.Mode & 0o7777
	if perm&0o022 == 0 || (ancestor && perm&unix.S_ISVTX != 0) {
		return nil
	}
	return w.problem(&Unsafe{Path: d.path,
		Problem: fmt.Sprintf("directory %s is writable by group or others (mode %04o), who could replace what it holds", d.path, perm),
		Fix:     "chmod go-w " + ShellQuote(d.path)})
}

// checkSocketDir checks the directory holding a server's socket: anyone's,
// as long as others cannot write it, in a parent where nobody but root can
// make or rename it (see CheckSocketDir).
func (w *walker) checkSocketDir(parent, d *dir) error {
	if perm := parent.st.Mode & 0o7777; parent != d && perm&0o022 != 0 {
		return &Unsafe{Path: parent.path,
			Problem: fmt.Sprintf("directory %s holds the socket directory and is writable by group or others (mode %04o), who could make their own by that name", parent.path, perm),
			Fix:     "chmod go-w " + ShellQuote(parent.path)}
	}
	if perm := d.st.Mode & 0o7777; perm&0o002 != 0 {
		return &Unsafe{Path: d.path, File: true,
			Problem: fmt.Sprintf("socket directory %s is writable by others (mode %04o), who could put their own server's socket there", d.path, perm)}
	}
	return nil
}

func (w *walker) checkOwner(path string, st *unix.Stat_t, file bool) error {
	uid := int(st.Uid)
	if uid == 0 || uid == w.rule.Owner {
		return nil
	}
	want := "root"
	if w.rule.Owner != 0 {
		want = fmt.Sprintf("root or uid %d (the running user)", w.rule.Owner)
	}
	what := "directory "
	if file {
		what = ""
	}
	return w.problem(&Unsafe{Path: path, File: file,
		Problem: fmt.Sprintf("%s%s is owned by uid %d, not %s", what, path, uid, want),
		Fix:     "chown root:root " + ShellQuote(path)})
}

// file checks and opens the last component: the directory holding it gets
// no sticky exemption, the file must be a regular file (never opened
// otherwise: a fifo would block, a device could act), and the descriptor
// read from must be the inode checked.
func (w *walker) file(holder *dir, name, full string, lst *unix.Stat_t) (*os.File, *unix.Stat_t, error) {
	if perm := holder.st.Mode & 0o7777; perm&0o022 != 0 && perm&unix.S_ISVTX != 0 {
		// enter let it pass as an ancestor (and reported any other
		// problem): others may add names here, and so choose the file.
		if err := w.problem(&Unsafe{Path: holder.path,
			Problem: fmt.Sprintf("directory %s holds the file and is writable by group or others (mode %04o), who could put another file by that name", holder.path, perm),
			Fix:     "chmod go-w " + ShellQuote(holder.path)}); err != nil {
			return nil, nil, err
		}
	}
	if lst.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil, &Unsafe{Path: full, Problem: full + " is not a regular file", File: true}
	}
	if w.collect {
		// Check reads nothing (doctor may run without the right to):
		// it judges the status the walk saw.
		return nil, nil, w.checkFile(full, lst)
	}
	fd, err := unix.Openat(holder.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), full)
	st := new(unix.Stat_t)
	if err := unix.Fstat(fd, st); err != nil {
		f.Close()
		return nil, nil, &fs.PathError{Op: "stat", Path: full, Err: err}
	}
	if st.Dev != lst.Dev || st.Ino != lst.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, nil, &Unsafe{Path: full, Problem: full + " changed while it was being checked; try again", File: true}
	}
	if err := w.notProc(fd, full); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := w.checkFile(full, st); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// checkFile checks the file's own status: owned by root or the rule's
// owner, not writable by group or others.
func (w *walker) checkFile(full string, st *unix.Stat_t) error {
	if err := w.checkOwner(full, st, true); err != nil {
		return err
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 {
		return w.problem(&Unsafe{Path: full, File: true,
			Problem: fmt.Sprintf("%s is writable by group or others (mode %04o)", full, perm),
			Fix:     "chmod go-w " + ShellQuote(full)})
	}
	return nil
}

func split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// ShellQuote quotes s for a copy-and-paste fix command when it needs it.
func ShellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%=", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
