package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/logingate/logingate/internal/store"
	"golang.org/x/sys/unix"
)

// Backoff between attempts to take a held lock.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 20 * time.Millisecond
	// While waiting in the queue, a login looks at the state this often,
	// and after queueSkip without a change it tries the flock as well.
	queuePoll = 100 * time.Millisecond
	queueSkip = 500 * time.Millisecond
)

// lock takes the user's lock (flock on USER/lock), waiting until ctx is done
// or, when stall > 0, until stall has passed without any login of the user
// finishing a write; only logins of the same user wait for each other.
// Closing the descriptor, which unlock does, releases it. current is false
// when, by the time the lock was ours, a Delete had removed the lock file or
// the directory: the caller must release and start over.
func (u *userDir) lock(ctx context.Context, stall time.Duration) (unlock func(), current bool, err error) {
	fd, err := u.openLock()
	if err == unix.ENOENT { // removed between our look and our open
		return func() {}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	// A free lock is taken at once: only a login that finds it held pays
	// for a place in the queue (queue.go).
	t := noTicket
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		t = u.takeTicket()
		err = waitFlock(ctx, fd, t.turn(), stall, u.progress)
	}
	if err != nil {
		t.leave()
		var holder int
		var what string
		if err == errStalled || ctx.Err() != nil {
			holder, what = lockHolder(fd)
		}
		unix.Close(fd)
		switch {
		case err == errStalled:
			return nil, false, &lockedError{user: u.user, path: u.join(lockName), stall: stall, holder: holder, what: what}
		case ctx.Err() != nil:
			return nil, false, &lockedError{user: u.user, path: u.join(lockName), cause: err, holder: holder, what: what}
		}
		return nil, false, &os.PathError{Op: "lock", Path: u.join(lockName), Err: err}
	}
	unlock = func() {
		// The flock first, so that the next in the queue finds it free.
		unix.Close(fd)
		t.leave()
	}
	current, err = u.current(fd)
	if err != nil {
		unlock()
		return nil, false, err
	}
	return unlock, current, nil
}

// errStalled ends a lock wait in which no other login made progress.
var errStalled = errors.New("no login finished while waiting")

// lockedError is a lock wait given up: it is a store.ErrLocked, and unwraps
// to the context's error when the caller's deadline or cancellation ended it.
type lockedError struct {
	user, path string
	stall      time.Duration // set when the store's own bound ended the wait
	cause      error
	holder     int    // the process holding the lock, 0 if unknown
	what       string // its command name, and whether it is stopped
}

func (e *lockedError) Error() string {
	held := e.path
	switch {
	case e.holder > 0 && e.what != "":
		held = fmt.Sprintf("%s (process %d: %s)", e.path, e.holder, e.what)
	case e.holder > 0:
		held = fmt.Sprintf("%s (process %d)", e.path, e.holder)
	}
	if e.stall > 0 {
		return fmt.Sprintf("another login for %s holds the lock %s; gave up waiting after %s in which no login for %s finished",
			e.user, held, e.stall, e.user)
	}
	return fmt.Sprintf("another login for %s holds the lock %s; gave up waiting: %v", e.user, held, e.cause)
}

// Holder is the process that held the lock when the wait gave up; 0 if it
// could not be found.
func (e *lockedError) Holder() int { return e.holder }

func (e *lockedError) Is(target error) bool { return target == store.ErrLocked }
func (e *lockedError) Unwrap() error        { return e.cause }

// stateMark identifies one version of the state file: every write replaces
// it (a new inode, new times), so a changed mark means a login finished.
type stateMark struct {
	ino          uint64
	mtime, ctime int64
	size         int64
}

// progress returns the state file's current mark (zero when it is missing).
func (u *userDir) progress() stateMark {
	var st unix.Stat_t
	if unix.Fstatat(u.fd, stateName, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return stateMark{}
	}
	return stateMark{ino: st.Ino, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), size: st.Size}
}

// openLock opens the lock file, creating it (owned by the user) if missing.
func (u *userDir) openLock() (int, error) {
	fd, err := u.createLock()
	if err == unix.EEXIST {
		// Never chown or trust a file that was already there: it was
		// checked by openIn, which refuses what is not the user's own.
		fd, _, err = u.openIn("lock file", lockName, unix.O_RDONLY)
		return fd, err
	}
	return fd, err
}

// checkLock applies openLock's checks to the lock file without opening it:
// missing is fine, anything openIn would refuse is refused.
func (u *userDir) checkLock() error {
	var st unix.Stat_t
	path := u.join(lockName)
	switch err := unix.Fstatat(u.fd, lockName, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == unix.ENOENT:
		return nil
	case err != nil:
		return &os.PathError{Op: "stat", Path: path, Err: err}
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return &CheckError{Path: path,
			Problem: fmt.Sprintf("lock file %s is a symlink; logingate does not follow symlinks here", path),
			Fix:     "rm " + path}
	}
	return u.checkFile("lock file", path, &st)
}

// createLock creates the lock file, or returns unix.EEXIST when there is
// one, or unix.ENOENT when the directory itself was removed. Root working
// for another uid prepares the file under a temp name, hands it over and
// only then links it into place, so that a process killed half-way never
// leaves a lock file of root's that the user's logins would refuse.
func (u *userDir) createLock() (int, error) {
	const flags = unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	name := lockName
	if u.chown {
		name = tempName(lockTempBase)
	}
	fd, err := unix.Openat(u.fd, name, flags, 0o600)
	if err == unix.EEXIST || err == unix.ENOENT {
		return -1, err
	}
	if err != nil {
		return -1, &os.PathError{Op: "create", Path: u.join(lockName), Err: err}
	}
	if err := u.handOver(fd, u.join(name)); err != nil {
		unix.Close(fd)
		if name != lockName {
			unix.Unlinkat(u.fd, name, 0)
		}
		return -1, err
	}
	if name == lockName {
		return fd, nil
	}
	err = unix.Linkat(u.fd, name, u.fd, lockName, 0)
	unix.Unlinkat(u.fd, name, 0)
	if err != nil {
		unix.Close(fd)
		if err == unix.EEXIST || err == unix.ENOENT {
			return -1, err
		}
		return -1, &os.PathError{Op: "link", Path: u.join(lockName), Err: err}
	}
	return fd, nil
}

// handOver gives a file this process just created to the user, mode 0600
// whatever the umask.
func (u *userDir) handOver(fd int, path string) error {
	if u.chown {
		if err := unix.Fchown(fd, u.uid, u.gid); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// waitFlock takes an exclusive flock on fd once turn is closed (the logins
// queued before this one are done), polling it with a backoff from
// lockPollMin to lockPollMax, until ctx is done or (stall > 0) progress
// has returned the same mark for stall: then it returns errStalled. A queue
// of live logins keeps changing the mark, so it waits its turn; a holder
// that is stopped or stuck changes nothing, so its waiters give up. A
// queue that makes no progress for queueSkip while the flock is free (a
// login stopped while it waited) is passed by.
func waitFlock(ctx context.Context, fd int, turn <-chan struct{}, stall time.Duration, progress func() stateMark) error {
	delay := lockPollMin
	mark, since := progress(), time.Now()
	for {
		queued := turn != nil
		if !queued || time.Since(since) >= queueSkip {
			err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				return nil
			}
			if err != unix.EWOULDBLOCK && err != unix.EINTR {
				return err
			}
		}
		if m := progress(); m != mark {
			mark, since = m, time.Now()
		} else if stall > 0 && time.Since(since) >= stall {
			return errStalled
		}
		wait := delay
		if queued {
			wait = queuePoll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-turn:
			t.Stop()
			turn, delay = nil, lockPollMin
			continue
		case <-t.C:
		}
		if !queued {
			delay = min(2*delay, lockPollMax)
		}
	}
}

// current reports whether the locked file is still USER/lock and the open
// directory is still state_dir/USER.
func (u *userDir) current(lockFD int) (bool, error) {
	var held, named, dir, path unix.Stat_t
	if err := unix.Fstat(lockFD, &held); err != nil {
		return false, &os.PathError{Op: "stat", Path: u.join(lockName), Err: err}
	}
	if err := unix.Fstatat(u.fd, lockName, &named, unix.AT_SYMLINK_NOFOLLOW); err == unix.ENOENT {
		return false, nil
	} else if err != nil {
		return false, &os.PathError{Op: "stat", Path: u.join(lockName), Err: err}
	}
	if err := unix.Fstat(u.fd, &dir); err != nil {
		return false, &os.PathError{Op: "stat", Path: u.path, Err: err}
	}
	if err := unix.Lstat(u.path, &path); err == unix.ENOENT {
		return false, nil
	} else if err != nil {
		return false, &os.PathError{Op: "stat", Path: u.path, Err: err}
	}
	return held.Dev == named.Dev && held.Ino == named.Ino && dir.Dev == path.Dev && dir.Ino == path.Ino, nil
}
