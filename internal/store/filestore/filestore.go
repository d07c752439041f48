// Package filestore is the embedded file backend of store.Store: each user's
// state is one JSON file, state_dir/USER/state.json, in a directory that user
// owns (mode 0700), beside a lock file, state_dir/USER/lock.
//
// It owns the safety of that layout: owners and modes checked on every access,
// no symlinks, changes under the user's lock (first come, first served,
// queue.go) landing by temp file, fsync and rename, and every lock wait
// bounded. Layout, checks and locking: docs/DESIGN.md, "The file store".
package filestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/logingate/logingate/internal/store"
	"golang.org/x/sys/unix"
)

// Names inside a user's directory.
const (
	stateName = "state.json"
	lockName  = "lock"
	tempBase  = "state.json.tmp-" // followed by a random suffix
	// lockTempBase names a lock file root prepares for a user before it
	// links it into place.
	lockTempBase = "lock.tmp-"
	// dirTempBase names a user directory root prepares in the state
	// directory before it renames it into place. No user name starts with
	// a dot, so it cannot clash with one.
	dirTempBase = ".logingate-new-"
)

// MaxStateSize bounds a state file; anything larger is refused.
const MaxStateSize = 1 << 20

// DefaultLockWait bounds how long Update and Delete wait for a user's lock
// while no other login of that user finishes. A live login holds the lock
// for a fraction of a second (a read, a hash check, a durable write), so a
// queue of them keeps finishing and a waiter waits its turn, bounded only by
// its context (the login deadline). A login that is stopped (SIGSTOP, a
// debugger) or stuck on a hung file system while it holds the lock finishes
// nothing: the user's other logins, and only theirs, give up after this long.
const DefaultLockWait = 10 * time.Second

// Store keeps state under one directory. It is safe for concurrent use by
// goroutines and by processes.
type Store struct {
	dir   string
	owner func(user string) (uid, gid int, err error)
	// group, when set (Protected), is the privileged group that alone may
	// enter dir: the protected layout.
	group *int
	// lockWait bounds each wait for a user's lock; see DefaultLockWait.
	lockWait time.Duration
}

var _ store.Store = (*Store)(nil)

// New returns a Store rooted at dir. owner resolves the uid and gid that must
// own a user's directory and files (the gate passes an NSS lookup).
func New(dir string, owner func(user string) (uid, gid int, err error)) *Store {
	return &Store{dir: dir, owner: owner, lockWait: DefaultLockWait}
}

// LockWait sets how long Update and Delete wait for a user's lock while no
// login of that user finishes, before they give up with an error that wraps
// store.ErrLocked; d <= 0 leaves only the caller's context as the bound. The
// default is DefaultLockWait.
func (s *Store) LockWait(d time.Duration) *Store {
	s.lockWait = d
	return s
}

// Protected switches s to the protected layout of a privileged gate: the
// state directory must be root's, belong to group gid, and give others no
// access at all (mode 0770 or 0730). Users' own directories inside it are
// still theirs (a setgid process creates files as its caller), but nobody
// outside the group can reach them: the state directory is the barrier.
func (s *Store) Protected(gid int) *Store {
	s.group = &gid
	return s
}

// Load returns the user's state without taking the lock, or store.ErrNotFound
// when the user has no directory or no state file. A lock file that every
// Update would refuse is refused here too, so that a login stops before
// asking for a code it could not record, and `logingate status` shows why.
func (s *Store) Load(ctx context.Context, user string) (*store.UserState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := s.open(user, false)
	if err != nil {
		return nil, err
	}
	defer u.close()
	if err := u.checkLock(); err != nil {
		return nil, err
	}
	return u.read()
}

// Update runs fn on the user's state under the user's lock and writes the
// result durably; see store.Store. A user without state starts from an empty
// UserState of the current format version. The lock wait is bounded by ctx
// and by LockWait; giving up wraps store.ErrLocked.
func (s *Store) Update(ctx context.Context, user string, fn func(*store.UserState) error) error {
	return s.locked(ctx, user, true, func(u *userDir) error {
		read, err := u.read()
		st, err := store.Modify(read, err, fn)
		if err != nil || st == nil {
			return err
		}
		b, err := encodeOwned(st, u.owner())
		if err != nil {
			return fmt.Errorf("state for %s not written: %w", user, err)
		}
		return u.write(b)
	})
}

// locked runs fn on the user's directory under the user's lock, after
// removing what a killed writer left.
func (s *Store) locked(ctx context.Context, user string, create bool, fn func(*userDir) error) error {
	u, unlock, err := s.lock(ctx, user, create)
	if err != nil {
		return err
	}
	defer u.close()
	defer unlock()
	if err := u.removeTemps(); err != nil {
		return err
	}
	return fn(u)
}

// Delete removes the user's state file, lock file and directory under the
// user's lock. It returns store.ErrNotFound, after cleaning up, when there
// was no state file.
func (s *Store) Delete(ctx context.Context, user string) error {
	return s.locked(ctx, user, false, func(u *userDir) error { return s.remove(u) })
}

// remove is Delete under the lock.
func (s *Store) remove(u *userDir) error {
	missing := false
	if err := unix.Unlinkat(u.fd, stateName, 0); err == unix.ENOENT {
		missing = true
	} else if err != nil {
		return &os.PathError{Op: "remove", Path: u.join(stateName), Err: err}
	}
	// Unlink the lock while holding it: a waiter that gets it afterwards sees
	// that its lock file is gone and starts over.
	if err := unix.Unlinkat(u.fd, lockName, 0); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "remove", Path: u.join(lockName), Err: err}
	}
	if err := unix.Rmdir(u.path); err == unix.ENOTEMPTY || err == unix.EEXIST {
		// A login that arrived since the unlink has a new lock file here:
		// the directory is its now. Anything else is not ours to remove.
		if foreign, err := u.foreignFiles(); err != nil {
			return err
		} else if foreign {
			return &CheckError{Path: u.path,
				Problem: fmt.Sprintf("user directory %s holds files logingate did not write; state removed, directory kept", u.path),
				Fix:     "look at them, then rm -r " + u.path}
		}
	} else if err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "remove", Path: u.path, Err: err}
	}
	if err := syncDir(s.dir, u.fd); err != nil {
		return err
	}
	if missing {
		return store.ErrNotFound
	}
	return nil
}

// lock opens the user's directory (creating it when create is set) and takes
// the user's lock, waiting until ctx is done or s.lockWait has passed with no
// login of the user finishing. If a Delete removed the lock or the directory
// while this call waited, it starts over.
func (s *Store) lock(ctx context.Context, user string, create bool) (*userDir, func(), error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		u, err := s.open(user, create)
		if err != nil {
			return nil, nil, err
		}
		unlock, current, err := u.lock(ctx, s.lockWait)
		if err != nil {
			u.close()
			return nil, nil, err
		}
		if current {
			return u, unlock, nil
		}
		unlock()
		u.close()
	}
}

// join names a file in the user's directory, for messages.
func (u *userDir) join(name string) string { return filepath.Join(u.path, name) }
