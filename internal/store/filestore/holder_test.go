package filestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

// A wait that gives up names the process holding the lock, and says when
// it is stopped (a user's gate halted with SIGSTOP while it held it), so
// that root can end it.
func TestLockWaitNamesTheHolder(t *testing.T) {
	flock := need.Tool(t, "flock")
	s, dir := newStore(t)
	s.LockWait(100 * time.Millisecond)
	put(t, s, "alice", sampleState())

	holder := exec.Command(flock, "-x", filepath.Join(dir, "alice", "lock"), "sh", "-c", "echo locked; exec sleep 60")
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.Process.Signal(syscall.SIGCONT)
		holder.Process.Kill()
		holder.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("flock: %q, %v", line, err)
	}
	pid := holder.Process.Pid

	err = s.Update(context.Background(), "alice", func(*store.UserState) error { return nil })
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("Update: %v, want a store.ErrLocked", err)
	}
	var h interface{ Holder() int }
	if !errors.As(err, &h) || h.Holder() != pid {
		t.Errorf("Update: %v; want holder %d", err, pid)
	}
	wantErr(t, err, fmt.Sprintf("(process %d: flock)", pid))

	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasSuffix(describeProcess(pid), ", stopped") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	err = s.Delete(context.Background(), "alice")
	wantErr(t, err, fmt.Sprintf("(process %d: flock, stopped)", pid))
}
