package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/logingate/logingate/internal/privilege"
)

// MaxSize bounds the config file; a real one is a few kilobytes.
const MaxSize = 1 << 20

// maxLinks bounds symbolic links followed on the way to the file (as Linux).
const maxLinks = 40

// readChecked reads the config at path after checking that nobody but root
// and the running user can change it: the file itself, and every directory
// on the way to it, symbolic links included, as sshd's StrictModes does.
//
//   - The file is a regular file owned by root or the running uid and not
//     writable by group or others.
//   - Its directory is owned by root or the running uid and not writable by
//     group or others.
//   - Every other directory on the way is owned likewise and not writable by
//     group or others unless it has the sticky bit (as /tmp), where others
//     can add entries but not replace ours.
//
// The file is opened without following a final symbolic link (the walk has
// already resolved it) and checked through the open descriptor, so what is
// read is what was checked.
//
// secret says the file is known to hold a secret (a login_duo file, an
// skey_file): an owner other than root is then told to hand the file to
// root and the logingate group in one command. The caller checks who may
// read it (checkSecretMode), once it knows what the file holds.
func readChecked(path string, secret bool) ([]byte, *fileMeta, error) {
	uid := os.Geteuid()
	file, dir, lfi, err := walkPath(path, uid)
	if err != nil {
		return nil, nil, err
	}
	// Never open a FIFO or a device: that could block or have effects.
	switch {
	case lfi.IsDir():
		return nil, nil, &Error{Path: path, Msg: "is a directory; name the config file"}
	case !lfi.Mode().IsRegular():
		return nil, nil, &Error{Path: path, Msg: "not a regular file"}
	}
	dfi, err := os.Lstat(dir)
	if err != nil {
		return nil, nil, &Error{Path: path, Msg: "cannot check directory " + dir + ": " + errnoText(err)}
	}
	if err := checkDir(path, dir, dfi, uid, false); err != nil {
		return nil, nil, err
	}

	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		msg := "cannot open: " + errnoText(err)
		if errors.Is(err, fs.ErrPermission) {
			// The usual case: login_duo's file, mode 600 for its
			// privilege-separation user. The gate reads it as the
			// logging-in user with the logingate group.
			msg += "; logingate reads it with the " + privilege.GroupName + " group's rights; fix: " + handOver(file, owner(lfi) != 0)
		}
		return nil, nil, &Error{Path: path, Msg: msg}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, &Error{Path: path, Msg: "cannot stat: " + errnoText(err)}
	}
	if !os.SameFile(fi, lfi) || !fi.Mode().IsRegular() {
		return nil, nil, &Error{Path: path, Msg: "changed while it was being checked; try again"}
	}
	if err := checkOwner(path, file, "", fi, uid); err != nil {
		var e *Error
		if secret && errors.As(err, &e) {
			e.Msg = fmt.Sprintf("owned by uid %d, not root; fix: %s", owner(fi), handOver(file, true))
		}
		return nil, nil, err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, nil, &Error{Path: path, Msg: fmt.Sprintf("writable by group or others (mode %04o); fix: chmod go-w %s",
			fi.Mode().Perm(), shellQuote(file))}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, &Error{Path: path, Msg: "cannot read: " + errnoText(err)}
	}
	if len(data) > MaxSize {
		return nil, nil, &Error{Path: path, Msg: fmt.Sprintf("larger than %d KiB; a config file is a few kilobytes", MaxSize>>10)}
	}
	return data, &fileMeta{file: file, fi: fi}, nil
}

// fileMeta is what readChecked saw of the file it read.
type fileMeta struct {
	file string      // the real path, links resolved
	fi   fs.FileInfo // from the open descriptor
}

// handOver is the command that gives file to root and the logingate group,
// readable by neither others nor other groups: login_duo's file is mode 600
// for its own privilege-separation user.
func handOver(file string, chown bool) string {
	q := shellQuote(file)
	if chown {
		return "chown root:" + privilege.GroupName + " " + q + " && chmod 640 " + q
	}
	return "chgrp " + privilege.GroupName + " " + q + " && chmod 640 " + q
}

// checkSecretMode refuses a file holding secrets (what names them, e.g.
// "duo.skey") that others can read, or a group other than root's,
// logingate's or the running process's own.
func checkSecretMode(m *fileMeta, what string) string {
	perm := m.fi.Mode().Perm()
	switch {
	case perm&0o004 != 0:
		return fmt.Sprintf("readable by others (mode %04o) and holds %s; fix: %s", perm, what, handOver(m.file, owner(m.fi) != 0))
	case perm&0o040 != 0 && !groupMayRead(group(m.fi)):
		return fmt.Sprintf("readable by group %d (mode %04o) and holds %s; only root's or the %s group may read it; fix: %s",
			group(m.fi), perm, what, privilege.GroupName, handOver(m.file, owner(m.fi) != 0))
	}
	return ""
}

// groupMayRead reports whether members of gid may read secrets: root's
// group, the process's own effective group (logingate's when privileged)
// or the group named logingate.
func groupMayRead(gid int) bool {
	if gid == 0 || gid == os.Getegid() {
		return true
	}
	g, err := user.LookupGroup(privilege.GroupName)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(g.Gid)
	return err == nil && n == gid
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func group(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Gid)
	}
	return -1
}

// walkPath resolves path one component at a time from the root, checking
// each directory it passes through, and returns the file's real path, the
// directory that holds it and its Lstat.
func walkPath(path string, uid int) (file, dir string, fi fs.FileInfo, err error) {
	// Not filepath.Abs: it would clean "link/.." lexically, where the
	// kernel follows the link first.
	abs := path
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", nil, &Error{Path: path, Msg: "cannot resolve a relative path: " + errnoText(err)}
		}
		abs = wd + "/" + path
	}
	rfi, err := os.Lstat("/")
	if err != nil {
		return "", "", nil, &Error{Path: path, Msg: "cannot check directory /: " + errnoText(err)}
	}
	if err := checkDir(path, "/", rfi, uid, true); err != nil {
		return "", "", nil, err
	}
	cur := "/"
	pending := splitPath(abs)
	links := 0
	for len(pending) > 0 {
		name := pending[0]
		pending = pending[1:]
		switch name {
		case ".":
			continue
		case "..":
			// cur was entered from its parent, which was checked.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", "", nil, &Error{Path: path, Msg: "cannot open: " + errnoText(err)}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			// The link sits in cur, already checked, so only a trusted
			// user can have put it there; follow it.
			if links++; links > maxLinks {
				return "", "", nil, &Error{Path: path, Msg: "too many levels of symbolic links"}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", "", nil, &Error{Path: path, Msg: "cannot read link " + next + ": " + errnoText(err)}
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			pending = append(splitPath(target), pending...)
			continue
		}
		if len(pending) == 0 {
			return next, cur, fi, nil
		}
		if !fi.IsDir() {
			return "", "", nil, &Error{Path: path, Msg: next + ": not a directory"}
		}
		if err := checkDir(path, next, fi, uid, true); err != nil {
			return "", "", nil, err
		}
		cur = next
	}
	return "", "", nil, &Error{Path: path, Msg: "is a directory; name the config file"}
}

// checkDir checks one directory: owned by root or uid, not writable by group
// or others unless it is an ancestor with the sticky bit.
func checkDir(path, dir string, fi fs.FileInfo, uid int, ancestor bool) error {
	if !fi.IsDir() {
		return &Error{Path: path, Msg: dir + ": not a directory"}
	}
	if err := checkOwner(path, dir, "directory "+dir, fi, uid); err != nil {
		return err
	}
	mode := fi.Mode()
	if mode.Perm()&0o022 == 0 || (ancestor && mode&fs.ModeSticky != 0) {
		return nil
	}
	bits := uint32(mode.Perm())
	if mode&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return &Error{Path: path, Msg: fmt.Sprintf("directory %s is writable by group or others (mode %04o), who could swap the config; fix: chmod go-w %s",
		dir, bits, shellQuote(dir))}
}

// checkOwner requires root or uid to own fi, the file or directory at name;
// what says which it is ("" for the config file itself).
func checkOwner(path, name, what string, fi fs.FileInfo, uid int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &Error{Path: path, Msg: "cannot read the owner"}
	}
	owner := int(st.Uid)
	if owner == 0 || owner == uid {
		return nil
	}
	allowed := "root"
	if uid != 0 {
		allowed = fmt.Sprintf("root or uid %d (the running user)", uid)
	}
	if what != "" {
		what += " is "
	}
	return &Error{Path: path, Msg: fmt.Sprintf("%sowned by uid %d, not %s; fix: chown root %s", what, owner, allowed, shellQuote(name))}
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// errnoText is the system's reason without the path, which the caller names.
func errnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// shellQuote quotes s for a copy-and-paste fix command when it needs it.
func shellQuote(s string) string {
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
