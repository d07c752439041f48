package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/storetest"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a helper process, as in os/exec's tests: with
// helperEnv set, TestMain runs one store operation instead of the tests.
const (
	helperEnv     = "LOGINGATE_FILESTORE_HELPER"
	helperDirEnv  = "LOGINGATE_FILESTORE_DIR"
	helperUserEnv = "LOGINGATE_FILESTORE_USER"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode, os.Getenv(helperDirEnv), os.Getenv(helperUserEnv)))
	}
	os.Exit(m.Run())
}

// helperMain prints one line saying what happened and exits 0, or prints the
// error on stderr and exits 1.
func helperMain(mode, dir, user string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(dir, selfOwner)
	var out string
	var err error
	switch mode {
	case "consume":
		// Wait for the parent to close stdin so that all helpers race.
		os.Stdin.Read(make([]byte, 1))
		out = "none left"
		err = s.Update(ctx, user, func(st *store.UserState) error {
			if st.Backup == nil || len(st.Backup.Codes) == 0 {
				return store.ErrUnchanged
			}
			st.Backup.Codes = st.Backup.Codes[1:]
			out = "consumed"
			return nil
		})
	case "hold":
		// Take the lock, say so, and keep it until stdin closes.
		err = s.Update(ctx, user, func(st *store.UserState) error {
			fmt.Println("locked")
			os.Stdin.Read(make([]byte, 1))
			st.TOTP.LastStep++
			return nil
		})
		out = "released"
	case "fsize":
		// A write that cannot land must be an error, not a silent loss.
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1024, Max: 1024}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		err = s.Update(ctx, user, func(st *store.UserState) error {
			st.Backup = sampleState().Backup
			for len(st.Backup.Codes) < maxCodes {
				st.Backup.Codes = append(st.Backup.Codes, st.Backup.Codes[0])
			}
			return nil
		})
		out = "written"
	case "own-dir":
		// Run as an ordinary user in a mode 1733 state directory.
		err = s.Update(ctx, user, func(st *store.UserState) error {
			st.TOTP = sampleState().TOTP
			return nil
		})
		if err == nil {
			_, lerr := New(dir, func(string) (int, int, error) { return 0, 0, nil }).Load(ctx, "alice")
			_, rerr := os.ReadDir(dir)
			out = fmt.Sprintf("created; load alice: %v; list: %v", lerr != nil, rerr != nil)
		}
	case "queue":
		// Join the user's queue and take the lock in turn, changing nothing.
		err = s.Update(ctx, user, func(*store.UserState) error { return store.ErrUnchanged })
		out = "had its turn"
	case "load":
		_, err = s.Load(ctx, user)
		out = "loaded"
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil && (mode == "fsize" || mode == "own-dir" || mode == "load") {
		fmt.Println("error:", err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(out)
	return 0
}

// selfOwner makes every user's state belong to this process's user.
func selfOwner(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil }

// newStore returns a store in a fresh state directory.
func newStore(t testing.TB) (*Store, string) {
	dir := t.TempDir()
	return New(dir, selfOwner), dir
}

// The fixtures every backend's tests share.
const testSecret = storetest.Secret

func sampleState() *store.UserState { return storetest.Sample() }

// put stores st for user through the store itself.
func put(t testing.TB, s *Store, user string, st *store.UserState) {
	t.Helper()
	err := s.Update(context.Background(), user, func(cur *store.UserState) error {
		*cur = *st
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// fileID is what changes when a file is replaced or rewritten.
type fileID struct {
	ino   uint64
	mtime time.Time
	data  string
}

func idOf(t testing.TB, path string) fileID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileID{ino: st.Ino, mtime: time.Unix(st.Mtim.Unix()), data: string(b)}
}

// ownerOf returns a path's uid, gid and permission bits, not following links.
func ownerOf(t testing.TB, path string) (uid, gid int, perm uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return int(st.Uid), int(st.Gid), uint32(st.Mode) & 0o7777
}

// tempFiles lists the temp files in a user's directory.
func tempFiles(t testing.TB, userDir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(userDir, tempBase+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// wantErr: see storetest.WantErr.
var wantErr = storetest.WantErr

var errTest = errors.New("test callback failed")
