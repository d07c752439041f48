package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/logingate/logingate/internal/store"
	"golang.org/x/sys/unix"
)

// read loads and decodes the state file, or returns store.ErrNotFound.
func (u *userDir) read() (*store.UserState, error) {
	path := u.join(stateName)
	fd, st, err := u.openIn("state file", stateName, unix.O_RDONLY)
	if err == unix.ENOENT {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	tooBig := &CheckError{Path: path,
		Problem: fmt.Sprintf("state file %s is larger than %d MiB; it is not logingate state", path, MaxStateSize>>20),
		Fix:     "move it away (mv " + path + " " + path + ".bad) and enroll " + u.user + " again"}
	if st.Size > MaxStateSize {
		return nil, tooBig
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxStateSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxStateSize {
		return nil, tooBig
	}
	s, o, err := decodeOwned(b)
	if err != nil {
		fix := "restore it from a backup, or reset the user (logingate reset --user " + u.user + ") and enroll again"
		if errors.Is(err, errNewerFormat) {
			fix = "upgrade logingate"
		}
		return nil, &CheckError{Path: path, Err: err,
			Problem: fmt.Sprintf("state file %s is not valid logingate state: %v", path, err), Fix: fix}
	}
	if (o.User != "" && o.User != u.user) || (o.UID != nil && *o.UID != u.uid) {
		whose := o.User
		if o.UID != nil {
			whose = fmt.Sprintf("%s (uid %d)", o.User, *o.UID)
		}
		return nil, &CheckError{Path: path,
			Problem: fmt.Sprintf("state file %s is the state of %s, not of %s (uid %d): it was moved, copied or planted here", path, whose, u.user, u.uid),
			Fix:     "move it away (mv " + path + " " + path + ".bad) and enroll " + u.user + " again"}
	}
	return s, nil
}

// owner is what u's records say about whose they are.
func (u *userDir) owner() owner {
	uid := u.uid
	return owner{User: u.user, UID: &uid}
}

// write replaces the state file with b: a new temp file (never an existing
// one), written, fsynced, renamed over the state file, then the directory
// fsynced. Any failure is returned and leaves the old state and no temp file.
func (u *userDir) write(b []byte) (err error) {
	name := tempName(tempBase)
	path := u.join(name)
	defer func() {
		if err != nil {
			err = fmt.Errorf("state for %s not written: %w", u.user, err)
		}
	}()
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(u.fd, name, flags, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			unix.Unlinkat(u.fd, name, 0)
		}
	}()
	if err := u.handOver(fd, path); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := unix.Renameat(u.fd, name, u.fd, stateName); err != nil {
		return &os.PathError{Op: "rename", Path: path, Err: err}
	}
	renamed = true
	if err := unix.Fsync(u.fd); err != nil {
		return &os.PathError{Op: "sync", Path: u.path, Err: err}
	}
	return nil
}

// names lists the entries of the user's directory.
func (u *userDir) names() ([]string, error) {
	fd, err := unix.Openat(u.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: u.path, Err: err}
	}
	d := os.NewFile(uintptr(fd), u.path)
	defer d.Close()
	return d.Readdirnames(-1)
}

// foreignFiles reports whether the user's directory holds files other than
// the state, the lock and temp files.
func (u *userDir) foreignFiles() (bool, error) {
	names, err := u.names()
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n != stateName && n != lockName && !isTemp(n) {
			return true, nil
		}
	}
	return false, nil
}

// tempName returns base followed by a random suffix.
func tempName(base string) string {
	var rnd [8]byte
	rand.Read(rnd[:])
	return base + hex.EncodeToString(rnd[:])
}

// isTemp reports whether name is a temp file of a state write or of a lock
// file being created.
func isTemp(name string) bool {
	return strings.HasPrefix(name, tempBase) || strings.HasPrefix(name, lockTempBase)
}

// removeTemps deletes temp files that a killed process left behind. Run it
// under the lock only: a state temp file then belongs to no live writer,
// and a lock temp file can only belong to a process that will find the
// lock file in place and use that.
func (u *userDir) removeTemps() error {
	names, err := u.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		if !isTemp(n) {
			continue
		}
		if err := unix.Unlinkat(u.fd, n, 0); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "remove stale temp file", Path: u.join(n), Err: err}
		}
	}
	return nil
}

// syncDir makes changes to the entries of dir durable. A user cannot open a
// mode 1733 state directory to fsync it, so then the file system holding
// fallback (a descriptor on the same file system) is flushed instead.
func syncDir(dir string, fallback int) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.EACCES {
		if err := syncFS(fallback); err != nil {
			return &os.PathError{Op: "sync file system of", Path: dir, Err: err}
		}
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	return nil
}
