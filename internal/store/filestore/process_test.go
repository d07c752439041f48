package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

// helperCmd runs this test binary as a helper process (see TestMain).
func helperCmd(t *testing.T, bin, mode, dir, user string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir, helperUserEnv+"="+user)
	cmd.Stderr = os.Stderr
	return cmd
}

// runHelper runs one helper and returns its output line; cred, if set, is
// the uid and gid to run it as.
func runHelper(t *testing.T, mode, dir, user string, bin *string, cred *syscall.Credential) string {
	t.Helper()
	path := os.Args[0]
	if bin != nil {
		path = *bin
	}
	cmd := helperCmd(t, path, mode, dir, user)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v", mode, err)
	}
	return strings.TrimSpace(string(out))
}

// TestProcessesConsumeOnce: 16 processes race to use the same backup code;
// exactly one gets it, every round.
func TestProcessesConsumeOnce(t *testing.T) {
	s, dir := newStore(t)
	const procs, rounds = 16, 5
	for round := range rounds {
		user := fmt.Sprintf("race%d", round)
		st := sampleState()
		st.Backup.Codes = st.Backup.Codes[:1]
		put(t, s, user, st)

		cmds := make([]*exec.Cmd, procs)
		outs := make([]strings.Builder, procs)
		starts := make([]io.WriteCloser, procs)
		for i := range cmds {
			cmds[i] = helperCmd(t, os.Args[0], "consume", dir, user)
			cmds[i].Stdout = &outs[i]
			var err error
			if starts[i], err = cmds[i].StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range starts { // all processes are up: let them race
			w.Close()
		}
		consumed := 0
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("round %d: helper %d: %v", round, i, err)
			}
			switch out := strings.TrimSpace(outs[i].String()); out {
			case "consumed":
				consumed++
			case "none left":
			default:
				t.Fatalf("round %d: helper %d printed %q", round, i, out)
			}
		}
		if consumed != 1 {
			t.Errorf("round %d: the code was consumed %d times, want exactly once", round, consumed)
		}
		got, err := s.Load(context.Background(), user)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.Backup.Codes); n != 0 {
			t.Errorf("round %d: %d codes left, want 0", round, n)
		}
	}
}

// TestUserCreatesOwnDirInStickyStateDir: with state_dir mode 1733
// root:root, an ordinary user's first enrollment creates their own
// directory, and they can neither read another user's state nor list the
// state directory.
func TestUserCreatesOwnDirInStickyStateDir(t *testing.T) {
	need.Root(t)
	// The helper runs as uid 4242: it needs a path it may traverse to the
	// test binary and the state directory (t.TempDir's parent is 0700).
	base, err := os.MkdirTemp("", "filestore-sticky-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin := filepath.Join(base, "filestore.test")
	copyFile(t, os.Args[0], bin, 0o755)
	dir := filepath.Join(base, "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o733|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	root := New(dir, func(string) (int, int, error) { return 0, 0, nil })
	put(t, root, "alice", sampleState())

	out := runHelper(t, "own-dir", dir, "u4242", &bin, &syscall.Credential{Uid: 4242, Gid: 4242})
	if want := "created; load alice: true; list: true"; out != want {
		t.Errorf("helper as uid 4242: %q, want %q", out, want)
	}
	user := filepath.Join(dir, "u4242")
	if u, g, m := ownerOf(t, user); u != 4242 || g != 4242 || m != 0o700 {
		t.Errorf("%s: owner %d:%d mode %04o, want 4242:4242 0700", user, u, g, m)
	}
	if u, _, m := ownerOf(t, filepath.Join(user, "state.json")); u != 4242 || m != 0o600 {
		t.Errorf("state file: owner %d mode %04o, want 4242 0600", u, m)
	}
	if _, err := root.Load(context.Background(), "alice"); err != nil {
		t.Errorf("alice's state after the other user's run: %v", err)
	}

	// A file or directory of the user's that is not theirs any more cannot
	// even be opened by them: the refusal still says whose it is.
	cred := &syscall.Credential{Uid: 4242, Gid: 4242}
	state := filepath.Join(user, "state.json")
	for _, p := range []string{state, user} {
		if err := os.Chown(p, 0, 0); err != nil {
			t.Fatal(err)
		}
		out = runHelper(t, "load", dir, "u4242", &bin, cred)
		wantErr(t, errors.New(out), "error: ", p+" is owned by uid 0, want uid 4242", "fix: chown ")
		if err := os.Chown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	if out := runHelper(t, "load", dir, "u4242", &bin, cred); out != "loaded" {
		t.Errorf("helper as uid 4242 after the owners were put back: %q", out)
	}

	// Without the sticky, shared mode, users cannot create their own, and
	// are told what to do.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out = runHelper(t, "own-dir", dir, "u4243", &bin, &syscall.Credential{Uid: 4243, Gid: 4243})
	wantErr(t, errors.New(out), "error: cannot create user directory "+filepath.Join(dir, "u4243"),
		"logingate enroll --user u4243", "chmod 1733 "+dir)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestLockHeldByAnotherProcess: a login stuck inside its update (stopped,
// or slow) makes only its own user's logins wait, and only as long as ctx.
func TestLockHeldByAnotherProcess(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	holder := helperCmd(t, os.Args[0], "hold", dir, "alice")
	release, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("locked\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = s.Update(ctx, "alice", func(*store.UserState) error { return nil })
	wantErr(t, err, "another login for alice holds the lock")
	put(t, s, "bob", sampleState())

	release.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	got, err := s.Load(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.TOTP.LastStep != sampleState().TOTP.LastStep+1 {
		t.Errorf("the holder's update did not land")
	}
}
