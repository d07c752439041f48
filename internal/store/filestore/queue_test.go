package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"golang.org/x/sys/unix"
)

// holdLock runs an Update whose fn keeps the user's lock until release is
// called.
func holdLock(t *testing.T, s *Store, user string) (release func()) {
	t.Helper()
	locked, free, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), user, func(*store.UserState) error {
			close(locked)
			<-free
			return store.ErrUnchanged
		})
	}()
	<-locked
	return func() {
		close(free)
		if err := <-done; err != nil {
			t.Errorf("holder: %v", err)
		}
	}
}

// waitQueued waits until n logins have joined the queue in the user's lock
// file (each appends one byte), or fails.
func waitQueued(t *testing.T, dir, user string, n int64) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if fi, err := os.Stat(filepath.Join(dir, user, lockName)); err == nil && fi.Size() >= n {
			return
		}
	}
	t.Fatalf("%d logins of %s did not join the queue in the lock file", n, user)
}

// TestLoginsTakeTheLockInTurn: logins that wait for a user's lock get it
// in the order they asked for it.
func TestLoginsTakeTheLockInTurn(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	release := holdLock(t, s, "alice") // found the lock free: no ticket

	const waiters = 12
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(context.Background(), "alice", func(*store.UserState) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return store.ErrUnchanged
			})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
			}
		}()
		waitQueued(t, dir, "alice", int64(i+1))
	}
	release()
	wg.Wait()
	want := make([]int, waiters)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order, want) {
		t.Errorf("logins took the lock in the order %v, want the order they asked, %v", order, want)
	}
	if fi, err := os.Stat(filepath.Join(dir, "alice", lockName)); err != nil || fi.Size() != 0 {
		t.Errorf("lock file after the queue emptied: %v, %v; want it empty again", fi.Size(), err)
	}
}

// TestDeadOrStoppedWaiterHoldsUpNobody: a login killed while it waits in
// the queue gives its place up at once; one stopped there (SIGSTOP) is
// passed by. Either way the logins behind it get the lock well within the
// store's bound, which would end their wait with ErrLocked.
func TestDeadOrStoppedWaiterHoldsUpNobody(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) {
			s, dir := newStore(t)
			s.LockWait(3 * time.Second)
			put(t, s, "alice", sampleState())
			release := holdLock(t, s, "alice")

			helper := helperCmd(t, os.Args[0], "queue", dir, "alice")
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				helper.Process.Kill()
				helper.Wait()
			}()
			waitQueued(t, dir, "alice", 1)
			behind := make(chan error, 1)
			go func() {
				behind <- s.Update(context.Background(), "alice", func(*store.UserState) error { return store.ErrUnchanged })
			}()
			waitQueued(t, dir, "alice", 2)
			if err := helper.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if sig == syscall.SIGSTOP {
				waitStopped(t, helper.Process.Pid)
			}
			release()
			if err := <-behind; err != nil {
				t.Errorf("the login behind a waiter that got %v: %v", sig, err)
			}
		})
	}
}

// waitStopped waits until every thread of pid has stopped: a stop signal
// reaches a process's threads one by one, after kill returns.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := 0
		for _, task := range tasks {
			if b, err := os.ReadFile(task); err == nil {
				if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == 'T' {
					stopped++
				}
			}
		}
		if len(tasks) > 0 && stopped == len(tasks) {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}

// TestFreeLockTakesNoTicket: a login that finds the lock free writes
// nothing to the lock file.
func TestFreeLockTakesNoTicket(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	lock := filepath.Join(dir, "alice", lockName)
	before, err := os.Stat(lock)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a write would move the mtime
	if err := s.Update(context.Background(), "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil }); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(lock)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != 0 || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("lock file went from %d bytes at %v to %d at %v: an uncontended login wrote to it",
			before.Size(), before.ModTime(), after.Size(), after.ModTime())
	}
}

// TestUserLockedQueueChangesNothing: the lock file is the user's own, and
// the user may hold byte locks on all of it. A login then waits for the
// flock alone, and still within its deadline.
func TestUserLockedQueueChangesNothing(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	f, err := os.OpenFile(filepath.Join(dir, "alice", lockName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	whole := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &whole); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Update(ctx, "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil }); err != nil {
		t.Fatalf("Update while the user holds the queue's bytes: %v", err)
	}
	// And a real wait for the flock is still bounded by the context.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Update(ctx, "alice", func(*store.UserState) error { return nil }); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Update while the flock is held: %v, want ErrLocked", err)
	}
}

// The queue runs only where flock and byte-range locks are apart: on a
// network file system flock may be a byte-range lock over the whole file,
// and a waiter's byte would block the holder. There, logins wait for the
// flock alone, and still one at a time.
func TestQueueOnlyWhereLocksAreApart(t *testing.T) {
	for _, c := range []struct {
		name  string
		magic int64
		want  bool
	}{
		{"ext4", unix.EXT4_SUPER_MAGIC, true},
		{"xfs", unix.XFS_SUPER_MAGIC, true},
		{"tmpfs", unix.TMPFS_MAGIC, true},
		{"nfs", unix.NFS_SUPER_MAGIC, false},
		{"smb2", unix.SMB2_SUPER_MAGIC, false},
		{"cifs", unix.CIFS_SUPER_MAGIC, false},
		{"fuse", unix.FUSE_SUPER_MAGIC, false},
		{"ceph", unix.CEPH_SUPER_MAGIC, false},
		{"9p", unix.V9FS_MAGIC, false},
	} {
		if got := independentLocks(c.magic); got != c.want {
			t.Errorf("%s: independentLocks = %v, want %v", c.name, got, c.want)
		}
	}

	queueSafe = func(int64) bool { return false }
	t.Cleanup(func() { queueSafe = independentLocks })
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	release := holdLock(t, s, "alice")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Update(context.Background(), "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil }); err != nil {
				t.Errorf("Update without the queue: %v", err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if fi, err := os.Stat(filepath.Join(dir, "alice", lockName)); err != nil || fi.Size() != 0 {
		t.Errorf("lock file without the queue: %v, %v; want nothing appended", fi.Size(), err)
	}
	release()
	wg.Wait()
	st, err := s.Load(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleState().TOTP.LastStep + 8; st.TOTP.LastStep != want {
		t.Errorf("last step %d after 8 updates, want %d: an update was lost", st.TOTP.LastStep, want)
	}
}
