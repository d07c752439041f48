package filestore

import (
	"io"

	"golang.org/x/sys/unix"
)

// A user's logins take the lock in the order they asked for it. flock wakes
// its waiters in no order, so in a burst one login could lose again and
// again; this queue, kept in the lock file itself, hands the lock over
// first come, first served. A waiter appends a byte to the file (the offset
// is its ticket, unique because the kernel serialises appends), holds an
// OFD write lock on that byte until it is done, and waits for the lock on
// the byte before its own. The kernel drops the byte of a login that dies,
// so a killed login never holds up the queue. The queue only orders: flock
// alone decides who holds the lock, so a glitch in the queue (a file that
// cannot grow, a user's own writes to their lock file) costs order, never
// exclusion.

// ticket is a login's place in the queue; fd < 0 means it has none and
// waits for the flock alone.
type ticket struct {
	fd  int
	pos int64
}

var noTicket = ticket{fd: -1}

// takeTicket joins the user's queue. It fails quietly (a full disk, a file
// size limit, a lock file the user made huge, a file system the queue is
// not safe on): the login then just waits.
func (u *userDir) takeTicket() ticket {
	fd, _, err := u.openIn("lock file", lockName, unix.O_RDWR|unix.O_APPEND)
	if err != nil {
		return noTicket
	}
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil || !queueSafe(fs.Type) {
		unix.Close(fd)
		return noTicket
	}
	end := int64(-1)
	if _, err := unix.Write(fd, []byte{0}); err == nil {
		end, _ = unix.Seek(fd, 0, io.SeekCurrent)
	}
	// Never a blocking call here: the user owns the file and could hold
	// any byte of it, and a login must stay within its deadline.
	if end < 1 || byteLock(fd, unix.F_OFD_SETLK, unix.F_WRLCK, end-1) != nil {
		unix.Close(fd)
		return noTicket
	}
	return ticket{fd: fd, pos: end - 1}
}

// turn is closed when every login that queued before t has left the queue.
// The wait runs on its own descriptor, so a caller that gives up can leave
// at once: the waiting goroutine keeps t's place until the login before it
// is done, and only then lets the next one in.
func (t ticket) turn() <-chan struct{} {
	done := make(chan struct{})
	if t.fd < 0 || t.pos == 0 {
		close(done)
		return done
	}
	fd, err := unix.Dup(t.fd)
	if err != nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		defer unix.Close(fd)
		for byteLock(fd, unix.F_OFD_SETLKW, unix.F_RDLCK, t.pos-1) == unix.EINTR {
		}
		// Let go at once: the lock belongs to t's open file, and a login
		// that queued behind its byte must not wait for this one.
		byteLock(fd, unix.F_OFD_SETLK, unix.F_UNLCK, t.pos-1)
	}()
	return done
}

// leave gives the next login its turn. The last login in the queue empties
// the file so that it does not grow; one that joins at that moment loses
// only its place, as the queue never admits anyone.
func (t ticket) leave() {
	if t.fd < 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(t.fd, &st) == nil && st.Size == t.pos+1 {
		unix.Ftruncate(t.fd, 0)
	}
	unix.Close(t.fd)
}

// queueSafe is independentLocks; a test replaces it.
var queueSafe = independentLocks

// independentLocks reports whether flock and byte-range locks are apart on
// a file system of this type, as the kernel's own locking keeps them. NFS,
// SMB and other network or FUSE file systems may carry flock as a byte-range
// lock over the whole file, where a waiter's byte would block the holder's
// flock: there logins wait for the flock alone.
func independentLocks(fsType int64) bool {
	switch uint32(fsType) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC,
		unix.TMPFS_MAGIC, unix.F2FS_SUPER_MAGIC, unix.OVERLAYFS_SUPER_MAGIC,
		zfsSuperMagic, bcachefsSuperMagic:
		return true
	}
	return false
}

// Magic numbers x/sys/unix does not name.
const (
	zfsSuperMagic      = 0x2fc12fc1
	bcachefsSuperMagic = 0xca451a4e
)

// byteLock applies an OFD lock of type typ to the one byte at pos.
func byteLock(fd, cmd int, typ int16, pos int64) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: pos, Len: 1}
	return unix.FcntlFlock(uintptr(fd), cmd, &lk)
}
