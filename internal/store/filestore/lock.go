package filestore

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Backoff between attempts to take a held lock.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 20 * time.Millisecond
)

// lock takes the user's lock (flock on USER/lock), waiting until ctx is done;
// only logins of the same user wait for each other. Closing the descriptor,
// which unlock does, releases it. current is false when, by the time the lock
// was ours, a Delete had removed the lock file or the directory: the caller
// must release and start over.
func (u *userDir) lock(ctx context.Context) (unlock func(), current bool, err error) {
	fd, err := u.openLock()
	if err == unix.ENOENT { // removed between our look and our open
		return func() {}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := waitFlock(ctx, fd); err != nil {
		unix.Close(fd)
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("another login for %s holds the lock %s; gave up waiting: %w", u.user, u.join(lockName), err)
		}
		return nil, false, &os.PathError{Op: "lock", Path: u.join(lockName), Err: err}
	}
	unlock = func() { unix.Close(fd) }
	current, err = u.current(fd)
	if err != nil {
		unlock()
		return nil, false, err
	}
	return unlock, current, nil
}

// openLock opens the lock file, creating it (owned by the user) if missing.
func (u *userDir) openLock() (int, error) {
	const flags = unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(u.fd, lockName, flags, 0o600)
	if err == unix.EEXIST {
		// Never chown or trust a file that was already there: it was
		// checked by openIn, which refuses what is not the user's own.
		fd, _, err = u.openIn("lock file", lockName, unix.O_RDONLY)
		return fd, err
	}
	if err == unix.ENOENT { // the directory itself was removed
		return -1, err
	}
	if err != nil {
		return -1, &os.PathError{Op: "create", Path: u.join(lockName), Err: err}
	}
	if err := u.handOver(fd, u.join(lockName)); err != nil {
		unix.Close(fd)
		return -1, err
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

// waitFlock polls a non-blocking exclusive flock with a backoff from
// lockPollMin to lockPollMax until it succeeds or ctx is done. Polling,
// rather than a blocking flock, keeps the wait bounded by ctx.
func waitFlock(ctx context.Context, fd int) error {
	delay := lockPollMin
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
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
