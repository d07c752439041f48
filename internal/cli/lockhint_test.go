package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"golang.org/x/sys/unix"
)

// When root's reset, unlock or sessions --revoke gives up on a user's lock,
// the user is told which process holds it and how to end it.
func TestLockWaitHintNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	self := func(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil }
	st := filestore.New(dir, self).LockWait(50 * time.Millisecond)
	if err := st.Update(context.Background(), "alice", func(s *store.UserState) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "alice", "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	err = st.Delete(context.Background(), "alice")
	var out bytes.Buffer
	if code := report(&out, lockHint(err)); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	pid := os.Getpid()
	for _, want := range []string{
		fmt.Sprintf("logingate: error: another login for alice holds the lock %s (process %d: ", filepath.Join(dir, "alice", "lock"), pid),
		fmt.Sprintf("logingate: hint: if process %d is a stopped login, let it go on (kill -CONT %d) or end it (kill -KILL %d), then run this again\n", pid, pid, pid),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q\nwant %q", out.String(), want)
		}
	}
}
