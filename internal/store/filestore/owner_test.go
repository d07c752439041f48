package filestore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

// Issue 10, reproduction 5. Under a mode 1733 state directory, mallory
// makes bob's directory before bob is enrolled, with her own state in it.
// Root's enroll for bob must refuse it without ever suggesting a chown; and
// if root hands it over anyway, bob's logins must not take mallory's state
// (her authenticator) for his.
func TestSquattedUserDirIsNeverHandedOver(t *testing.T) {
	need.Root(t)
	const mallory, bob = 4242, 4343
	dir := filepath.Join(t.TempDir(), "state")
	mkdir(t, dir)
	if err := os.Chmod(dir, 0o733|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	uids := map[string]int{"mallory": mallory, "bob": bob}
	s := New(dir, func(user string) (int, int, error) {
		uid, ok := uids[user]
		if !ok {
			return 0, 0, fmt.Errorf("no user %s", user)
		}
		return uid, uid, nil
	})
	ctx := context.Background()

	// mallory enrolls herself, then plants her state as bob's: what she
	// can do with mkdir and cp in a sticky, world-writable directory.
	mine := sampleState()
	put(t, s, "mallory", mine)
	planted := filepath.Join(dir, "bob")
	if out, err := exec.Command("cp", "-a", filepath.Join(dir, "mallory"), planted).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}

	// Root enrolls bob.
	err := s.Update(ctx, "bob", func(st *store.UserState) error {
		st.SetFactors(&store.TOTP{Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", Algorithm: "SHA1", Digits: 6, Period: 30}, nil)
		return nil
	})
	wantErr(t, err, planted, "owned by uid 4242", "another user made it", "mv "+planted)
	if strings.Contains(strings.ReplaceAll(err.Error(), "do not chown", ""), "chown") {
		t.Errorf("the fix hands mallory's directory to bob: %v", err)
	}
	if _, err := s.Load(ctx, "bob"); err == nil {
		t.Error("bob's logins read a directory mallory made")
	}

	// Root hands it over anyway, as the old fix said.
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", bob, bob), planted).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	st, err := s.Load(ctx, "bob")
	if err == nil && st.TOTP != nil && st.TOTP.Secret == mine.TOTP.Secret {
		t.Fatal("bob's logins take mallory's authenticator for his")
	}
	wantErr(t, err, filepath.Join(planted, "state.json"), "the state of mallory (uid 4242), not of bob (uid 4343)")
	if err := s.Update(ctx, "bob", func(*store.UserState) error { return nil }); err == nil {
		t.Error("Update wrote over mallory's state as bob's")
	}

	// The fix the error gives: move it away, enroll again.
	if err := os.Rename(planted, planted+".bad"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "bob", sampleState())
	if _, err := s.Load(ctx, "bob"); err != nil {
		t.Fatalf("bob after the fix: %v", err)
	}
}

// A record written before records said whose they are is read, and says
// so from its next write on.
func TestRecordWithoutOwnerGetsOne(t *testing.T) {
	s, dir := newStore(t)
	put(t, s, "alice", sampleState())
	path := filepath.Join(dir, "alice", stateName)
	old, err := Encode(sampleState()) // no owner, as before
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(old), 0o600)
	if _, err := s.Load(context.Background(), "alice"); err != nil {
		t.Fatalf("a record without an owner: %v", err)
	}
	if err := s.Update(context.Background(), "alice", func(st *store.UserState) error {
		st.TOTP.LastStep++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, o, err := decodeOwned(b)
	if err != nil || o.User != "alice" || o.UID == nil || *o.UID != os.Getuid() {
		t.Errorf("after a write the record says %+v (%v), want alice, uid %d", o, err, os.Getuid())
	}
}
