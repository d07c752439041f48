package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
	"golang.org/x/sys/unix"
)

func TestRoundTrip(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	if _, err := s.Load(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load before any state: got %v, want ErrNotFound", err)
	}
	want := sampleState()
	put(t, s, "alice", want)
	got, err := s.Load(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load after Update:\n got %+v\nwant %+v", got, want)
	}
	uid, gid := os.Getuid(), os.Getgid()
	for path, mode := range map[string]uint32{
		filepath.Join(dir, "alice"):               0o700,
		filepath.Join(dir, "alice", "state.json"): 0o600,
		filepath.Join(dir, "alice", "lock"):       0o600,
	} {
		if u, g, m := ownerOf(t, path); u != uid || g != gid || m != mode {
			t.Errorf("%s: owner %d:%d mode %04o, want %d:%d %04o", path, u, g, m, uid, gid, mode)
		}
	}
	if names := tempFiles(t, filepath.Join(dir, "alice")); len(names) != 0 {
		t.Errorf("temp files left behind: %v", names)
	}
}

func TestUpdateStartsFromEmptyState(t *testing.T) {
	s, dir := newStore(t)
	var seen *store.UserState
	err := s.Update(context.Background(), "user@example.com", func(st *store.UserState) error {
		seen = &store.UserState{}
		*seen = *st
		st.TOTP = sampleState().TOTP
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, &store.UserState{Version: store.FormatVersion}) {
		t.Errorf("fn got %+v, want an empty state of version %d", seen, store.FormatVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "user@example.com", "state.json")); err != nil {
		t.Errorf("state of an LDAP-style user name: %v", err)
	}
}

func TestUnchangedWritesNothing(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	path := filepath.Join(dir, "alice", "state.json")
	before := idOf(t, path)
	err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		st.TOTP.LastStep++ // changed in memory, then abandoned
		return store.ErrUnchanged
	})
	if err != nil {
		t.Fatalf("Update returning ErrUnchanged: got %v, want nil", err)
	}
	if after := idOf(t, path); after != before {
		t.Errorf("state file rewritten by an unchanged update: inode %d -> %d", before.ino, after.ino)
	}

	// Nor is a state file created for a user without one.
	err = s.Update(context.Background(), "bob", func(*store.UserState) error { return store.ErrUnchanged })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bob", "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file for bob after an unchanged update: %v", err)
	}
}

func TestCallbackErrorWritesNothing(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	path := filepath.Join(dir, "alice", "state.json")
	before := idOf(t, path)
	err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		st.TOTP.LastStep++
		return errTest
	})
	if err != errTest {
		t.Fatalf("Update: got %v, want the callback's error unchanged", err)
	}
	if after := idOf(t, path); after != before {
		t.Errorf("state file rewritten after a callback error")
	}
}

func TestInvalidResultIsNotWritten(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	path := filepath.Join(dir, "alice", "state.json")
	before := idOf(t, path)
	err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		st.TOTP.Digits = 7
		return nil
	})
	wantErr(t, err, "state for alice not written", "totp.digits")
	if after := idOf(t, path); after != before {
		t.Errorf("invalid state was written")
	}
}

func TestVersionAlwaysWritten(t *testing.T) {
	s, _ := newStore(t)
	err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		*st = store.UserState{TOTP: sampleState().TOTP} // Version 0
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != store.FormatVersion {
		t.Errorf("version %d, want %d", got.Version, store.FormatVersion)
	}
}

func TestStaleTempFileRemoved(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	stale := filepath.Join(dir, "alice", tempBase+"0123456789abcdef")
	if err := os.WriteFile(stale, []byte(`{"version":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), "alice"); err != nil {
		t.Fatalf("Load with a stale temp file: %v", err)
	}
	err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		st.TOTP.LastStep++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if names := tempFiles(t, filepath.Join(dir, "alice")); len(names) != 0 {
		t.Errorf("stale temp files still there: %v", names)
	}
}

func TestDelete(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	put(t, s, "alice", sampleState())
	if err := os.WriteFile(filepath.Join(dir, "alice", tempBase+"1"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "alice")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("user directory after Delete: %v", err)
	}
	if _, err := s.Load(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: got %v, want ErrNotFound", err)
	}

	// A directory with a lock but no state: no state to delete, and the
	// directory is cleaned up all the same.
	if err := s.Update(ctx, "bob", func(*store.UserState) error { return store.ErrUnchanged }); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete without state: got %v, want ErrNotFound", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bob")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bob's directory after Delete: %v", err)
	}

	// Files logingate did not write are kept, and said so.
	put(t, s, "carol", sampleState())
	other := filepath.Join(dir, "carol", "notes.txt")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Delete(ctx, "carol"), filepath.Join(dir, "carol"), "did not write")
	if _, err := os.Stat(other); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
	if _, err := s.Load(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete that kept the directory: got %v, want ErrNotFound", err)
	}
}

// TestConcurrentUpdates: every increment made under the lock survives.
func TestConcurrentUpdates(t *testing.T) {
	s, _ := newStore(t)
	st := sampleState()
	st.TOTP.LastStep = 0
	put(t, s, "alice", st)
	const n = 32
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- s.Update(ctx, "alice", func(st *store.UserState) error {
				st.TOTP.LastStep++
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := s.Load(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.TOTP.LastStep != n {
		t.Errorf("last_step %d after %d concurrent increments", got.TOTP.LastStep, n)
	}
}

// TestConcurrentUpdateAndDelete: updates racing an admin reset stay
// serialised: each lands either on the old state, which the reset then
// removes, or on the new one, and none is lost or fails.
func TestConcurrentUpdateAndDelete(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reborn := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // marks state made after the reset
	for round := range 20 {
		put(t, s, "alice", sampleState())
		var wg sync.WaitGroup
		var mu sync.Mutex
		after := 0 // updates that landed on the state made after the reset
		for range 8 {
			wg.Go(func() {
				fresh := false
				err := s.Update(ctx, "alice", func(st *store.UserState) error {
					if st.TOTP == nil {
						st.TOTP = sampleState().TOTP
						st.TOTP.LastStep, st.TOTP.Created = 0, reborn
					}
					fresh = st.TOTP.Created.Equal(reborn)
					st.TOTP.LastStep++
					return nil
				})
				if err != nil {
					t.Error(err)
				}
				if fresh {
					mu.Lock()
					after++
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			if err := s.Delete(ctx, "alice"); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		st, err := s.Load(ctx, "alice")
		switch {
		case after == 0 && !errors.Is(err, store.ErrNotFound):
			t.Errorf("round %d: no update after the reset, but Load: %v", round, err)
		case after > 0 && err != nil:
			t.Errorf("round %d: %d updates after the reset, but Load: %v", round, after, err)
		case after > 0 && st.TOTP.LastStep != int64(after):
			t.Errorf("round %d: last_step %d after %d updates since the reset", round, st.TOTP.LastStep, after)
		}
		s.Delete(ctx, "alice")
	}
}

// TestResetWhileWaiting: a login waiting for the lock while another process
// resets the user starts over instead of working in the removed directory or
// under a lock file nobody else can see any more.
func TestResetWhileWaiting(t *testing.T) {
	s, dir := newStore(t)
	user := filepath.Join(dir, "alice")
	lock := filepath.Join(user, "lock")
	for _, newLogin := range []bool{false, true} {
		put(t, s, "alice", sampleState())
		f, err := os.Open(lock)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		var seen store.UserState
		go func() {
			done <- s.Update(ctx, "alice", func(st *store.UserState) error {
				seen = *st
				st.TOTP = sampleState().TOTP
				return nil
			})
		}()
		waitOpen(t, lock, 2) // ours and the waiting Update's

		// Reset as another process would, holding the lock. With newLogin,
		// a login arrives meanwhile: the directory stays, with a new lock
		// file that this login holds.
		remove := []string{filepath.Join(user, "state.json"), lock, user}
		if newLogin {
			remove = remove[:2]
		}
		for _, p := range remove {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		var g *os.File
		if newLogin {
			if g, err = os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := unix.Flock(int(g.Fd()), unix.LOCK_EX); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		if newLogin {
			// The waiting Update must now wait for the new login's lock.
			select {
			case err := <-done:
				t.Fatalf("Update ran while the new login held the lock: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			g.Close()
		}
		if err := <-done; err != nil {
			t.Fatalf("Update waiting across a reset (new login: %v): %v", newLogin, err)
		}
		cancel()
		if seen.TOTP != nil || seen.Backup != nil {
			t.Errorf("the waiting Update saw the removed state (new login: %v)", newLogin)
		}
		if _, err := s.Load(context.Background(), "alice"); err != nil {
			t.Errorf("Load after the update that followed the reset: %v", err)
		}
	}
}

// waitOpen waits until n descriptors of this process refer to path.
func waitOpen(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("needs /proc/self/fd")
		}
		count := 0
		for _, fd := range fds {
			if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target == path {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never opened %d times", path, n)
}

func TestLockWaitBoundedByContext(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	f, err := os.Open(filepath.Join(dir, "alice", "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	called := false
	err = s.Update(ctx, "alice", func(*store.UserState) error { called = true; return nil })
	wantErr(t, err, "another login for alice holds the lock", filepath.Join(dir, "alice", "lock"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("error %v is not a store.ErrLocked", err)
	}
	if called {
		t.Error("fn ran without the lock")
	}

	// Only alice waits: Load takes no lock, and bob has his own.
	if _, err := s.Load(context.Background(), "alice"); err != nil {
		t.Errorf("Load while alice is locked: %v", err)
	}
	put(t, s, "bob", sampleState())

	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if err := s.Update(context.Background(), "alice", func(*store.UserState) error { return nil }); err != nil {
		t.Errorf("Update after the lock was released: %v", err)
	}
}

// TestLockWaitBoundedByStore: without any deadline from the caller, a lock
// that is never released ends the wait after LockWait, as ErrLocked, for
// Update and Delete alike; a later Update, once it is free, works.
func TestLockWaitBoundedByStore(t *testing.T) {
	s, dir := newStore(t)
	s.LockWait(50 * time.Millisecond)
	put(t, s, "alice", sampleState())
	f, err := os.Open(filepath.Join(dir, "alice", "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), "alice", func(*store.UserState) error {
		t.Error("fn ran without the lock")
		return nil
	})
	wantErr(t, err, "another login for alice holds the lock "+filepath.Join(dir, "alice", "lock"), "gave up waiting after 50ms")
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("Update: %v is not a store.ErrLocked", err)
	}
	if err := s.Delete(context.Background(), "alice"); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Delete: %v, want a store.ErrLocked", err)
	}
	if _, err := s.Load(context.Background(), "alice"); err != nil {
		t.Errorf("the state is gone or broken after the waits gave up: %v", err)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if err := s.Update(context.Background(), "alice", func(*store.UserState) error { return nil }); err != nil {
		t.Errorf("Update after the lock was released: %v", err)
	}
}

// TestLockWaitGoesOnWhileLoginsFinish: the bound counts time in which no
// login of the user finished. A lock that is held for longer than the bound
// while the state keeps being rewritten (a queue of live logins) is waited
// for.
func TestLockWaitGoesOnWhileLoginsFinish(t *testing.T) {
	s, dir := newStore(t)
	s.LockWait(time.Second)
	put(t, s, "alice", sampleState())
	f, err := os.Open(filepath.Join(dir, "alice", "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "alice", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), "alice", func(*store.UserState) error { return nil })
	}()
	// Other logins finish one after another for 1.5 times the bound: each
	// replaces the state file, as a write does.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		tmp := filepath.Join(dir, "alice", "state.json.tmp-test")
		if err := os.WriteFile(tmp, good, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "alice", "state.json")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("Update ended while the lock was held and logins kept finishing: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if err := <-done; err != nil {
		t.Errorf("Update after waiting its turn: %v", err)
	}
}

func TestDefaultLockWait(t *testing.T) {
	if s := New(t.TempDir(), selfOwner); s.lockWait != DefaultLockWait || DefaultLockWait <= 0 {
		t.Errorf("New: lock wait %v, want DefaultLockWait (%v)", s.lockWait, DefaultLockWait)
	}
}

func TestCanceledContext(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, "alice", func(*store.UserState) error {
		t.Error("fn ran under a canceled context")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update: got %v, want context.Canceled", err)
	}
	if _, err := s.Load(ctx, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load: got %v, want context.Canceled", err)
	}
}

// TestRootProvisionsUser: root writing a user's state hands the directory
// and every file to that user.
func TestRootProvisionsUser(t *testing.T) {
	need.Root(t)
	dir := t.TempDir()
	s := New(dir, func(string) (int, int, error) { return 4242, 4243, nil })
	put(t, s, "alice", sampleState())
	for i := range 2 { // creating, then replacing an existing state
		for path, mode := range map[string]uint32{
			filepath.Join(dir, "alice"):               0o700,
			filepath.Join(dir, "alice", "state.json"): 0o600,
			filepath.Join(dir, "alice", "lock"):       0o600,
		} {
			if u, g, m := ownerOf(t, path); u != 4242 || g != 4243 || m != mode {
				t.Errorf("pass %d: %s: owner %d:%d mode %04o, want 4242:4243 %04o", i, path, u, g, m, mode)
			}
		}
		err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
			st.TOTP.LastStep++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The directory and the lock file were made under temp names and moved
	// into place already handed over: no temp name is left.
	for d, want := range map[string]string{dir: "alice", filepath.Join(dir, "alice"): "lock state.json"} {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s holds %q, want %q", d, got, want)
		}
	}
}

// TestStaleLockTempRemoved: a lock file root was preparing when it was
// killed is cleaned by the next update, like a state temp file.
func TestStaleLockTempRemoved(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	stale := filepath.Join(dir, "alice", lockTempBase+"0123456789abcdef")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, s, "alice", sampleState())
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale lock temp file still there: %v", err)
	}
	if err := s.Delete(context.Background(), "alice"); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// TestRootRefusesPlantedLinks: in a user's directory, root follows no
// symlink and chowns no file it did not create.
func TestRootRefusesPlantedLinks(t *testing.T) {
	need.Root(t)
	dir := t.TempDir()
	s := New(dir, func(string) (int, int, error) { return 4242, 4242, nil })
	put(t, s, "alice", sampleState())
	user := filepath.Join(dir, "alice")
	victim := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plant := func(name string, link func(string, string) error) {
		t.Helper()
		os.Remove(filepath.Join(user, name))
		if err := link(victim, filepath.Join(user, name)); err != nil {
			t.Fatal(err)
		}
	}
	update := func() error {
		return s.Update(context.Background(), "alice", func(st *store.UserState) error {
			st.Failures = nil
			return nil
		})
	}

	plant("lock", os.Symlink)
	wantErr(t, update(), filepath.Join(user, "lock"), "symlink")
	plant("lock", os.Link)
	wantErr(t, update(), filepath.Join(user, "lock"), "owned by uid 0, want uid 4242")
	os.Remove(filepath.Join(user, "lock"))

	plant("state.json", os.Symlink)
	_, err := s.Load(context.Background(), "alice")
	wantErr(t, err, filepath.Join(user, "state.json"), "symlink")
	wantErr(t, update(), filepath.Join(user, "state.json"), "symlink")
	plant("state.json", os.Link)
	_, err = s.Load(context.Background(), "alice")
	wantErr(t, err, filepath.Join(user, "state.json"), "owned by uid 0")
	wantErr(t, update(), filepath.Join(user, "state.json"), "owned by uid 0")

	if u, _, m := ownerOf(t, victim); u != 0 || m != 0o600 {
		t.Errorf("victim file now owner %d mode %04o", u, m)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:secret\n" {
		t.Errorf("victim file changed: %q", b)
	}
}

// TestFailedWriteIsReported: a write that cannot land (here the file size
// limit, as a full disk would) is an error, and the old state stays.
func TestFailedWriteIsReported(t *testing.T) {
	s, dir := newStore(t)
	st := sampleState()
	st.Backup = nil
	put(t, s, "alice", st)
	path := filepath.Join(dir, "alice", "state.json")
	before := idOf(t, path)
	out := runHelper(t, "fsize", dir, "alice", nil, nil)
	wantErr(t, errors.New(out), "error: state for alice not written", "file too large")
	if after := idOf(t, path); after != before {
		t.Errorf("state file changed by a failed write")
	}
	if names := tempFiles(t, filepath.Join(dir, "alice")); len(names) != 0 {
		t.Errorf("temp files left by a failed write: %v", names)
	}
}
