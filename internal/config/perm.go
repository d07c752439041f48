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
	"github.com/logingate/logingate/internal/voice"
	"golang.org/x/sys/unix"
)

// maxSize bounds the config file; a real one is a few kilobytes.
const maxSize = 1 << 20

// readChecked reads the file at path after walking to it under the one
// path-trust rule, privilege.Open: the file and every directory on the way
// to it are safe from everyone but root (and, in an unprivileged run, the
// running user), and what is read is what was checked. r is the rule for
// this path (privilege.For).
//
// secret says the file is known to hold a secret (a login_duo file, an
// skey_file): an owner other than root is then told to hand the file to
// root and the logingate group in one command. The caller checks who may
// read it (checkSecretMode), once it knows what the file holds.
func readChecked(path string, secret bool, r privilege.Rule) ([]byte, *fileMeta, error) {
	f, st, err := privilege.Open(path, r)
	if err != nil {
		return nil, nil, &Error{Path: path, Msg: trustText(path, err, secret)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, nil, &Error{Path: path, Msg: "cannot read: " + voice.ErrnoText(err)}
	}
	if len(data) > maxSize {
		return nil, nil, &Error{Path: path, Msg: fmt.Sprintf("larger than %d KiB; a config file is a few kilobytes", maxSize>>10)}
	}
	return data, &fileMeta{file: f.Name(), st: st}, nil
}

// trustText is privilege.Open's refusal of path in config's words.
func trustText(path string, err error, secret bool) string {
	// The message starts with the path as given: name what is at fault
	// again only when it is something else (a directory, a link's target).
	abs := path
	if !filepath.IsAbs(path) {
		if wd, err := os.Getwd(); err == nil {
			abs = wd + "/" + path
		}
	}
	var u *privilege.Unsafe
	if errors.As(err, &u) {
		if u.File && secret && strings.Contains(u.Problem, " is owned by uid ") {
			u.Fix = handOver(u.Path, true)
		}
		if u.Path == abs || u.Path == path {
			return strings.TrimPrefix(u.Error(), u.Path+" ")
		}
		return u.Error()
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	at := ""
	if pe.Path != abs && pe.Path != path {
		at = " " + pe.Path
	}
	msg := "cannot open" + at + ": " + pe.Err.Error()
	if errors.Is(err, fs.ErrPermission) && pe.Op == "open" {
		// The usual case: login_duo's file, mode 600 for its
		// privilege-separation user. The gate reads it as the
		// logging-in user with the logingate group.
		// The owner only words the fix; nothing is trusted on it.
		chown := true
		if fi, err := os.Lstat(pe.Path); err == nil {
			chown = fi.Sys().(*syscall.Stat_t).Uid != 0
		}
		msg += "; logingate reads it with the " + privilege.GroupName + " group's rights; fix: " + handOver(pe.Path, chown)
	}
	return msg
}

// fileMeta is what readChecked saw of the file it read.
type fileMeta struct {
	file string       // the real path, links resolved
	st   *unix.Stat_t // from the open descriptor
}

// handOver is the command that gives file to root and the logingate group,
// readable by neither others nor other groups: login_duo's file is mode 600
// for its own privilege-separation user.
func handOver(file string, chown bool) string {
	q := privilege.ShellQuote(file)
	if chown {
		return "chown root:" + privilege.GroupName + " " + q + " && chmod 640 " + q
	}
	return "chgrp " + privilege.GroupName + " " + q + " && chmod 640 " + q
}

// checkSecretMode refuses a file holding secrets (what names them, e.g.
// "duo.skey") that others can read, or a group other than root's,
// logingate's or the running process's own.
func checkSecretMode(m *fileMeta, what string) string {
	perm := m.st.Mode & 0o777
	chown := m.st.Uid != 0
	switch {
	case perm&0o004 != 0:
		return fmt.Sprintf("readable by others (mode %04o) and holds %s; fix: %s", perm, what, handOver(m.file, chown))
	case perm&0o040 != 0 && !groupMayRead(int(m.st.Gid)):
		return fmt.Sprintf("readable by group %d (mode %04o) and holds %s; only root's or the %s group may read it; fix: %s",
			m.st.Gid, perm, what, privilege.GroupName, handOver(m.file, chown))
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
