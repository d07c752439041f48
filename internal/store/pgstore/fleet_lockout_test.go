package pgstore

import (
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/store"
)

// TestLockoutIsFleetWide: failures one host records, as the gate records
// them, count on every host that shares the database, and the lockout they
// earn holds on the other host too, from its first Load and inside its
// Update (where the gate decides).
func TestLockoutIsFleetWide(t *testing.T) {
	s, dsn := newStore(t)
	a := open(t, dsn, s.keys, func(o *Options) { o.Host = "host-a" })
	b := open(t, dsn, s.keys, func(o *Options) { o.Host = "host-b" })
	put(t, a, "alice", sampleState()) // its failures are old; they no longer count

	rl := config.Default("host-a").RateLimit
	now := time.Now().UTC().Truncate(time.Second)
	fails := make([]time.Time, rl.Failures)
	for i := range fails {
		fails[i] = now.Add(time.Duration(i-rl.Failures) * 10 * time.Second)
	}
	fail := func(s *Store, at time.Time) {
		t.Helper()
		err := s.Update(ctx, "alice", func(st *store.UserState) error {
			st.Failures = gate.PruneFailures(append(st.Failures, at), rl, at)
			return nil
		})
		if err != nil {
			t.Fatalf("recording a failure: %v", err)
		}
	}
	loadB := func() *store.UserState {
		t.Helper()
		st, err := b.Load(ctx, "alice")
		if err != nil {
			t.Fatalf("host-b Load: %v", err)
		}
		return st
	}

	// One failure short of the limit: host-b sees each of host-a's
	// failures, and no lockout yet.
	for _, at := range fails[:len(fails)-1] {
		fail(a, at)
	}
	st := loadB()
	if len(st.Failures) != len(fails)-1 {
		t.Fatalf("host-b sees failures %v, want host-a's %v", st.Failures, fails[:len(fails)-1])
	}
	for i, f := range st.Failures {
		if !f.Equal(fails[i]) {
			t.Errorf("host-b sees failure %d at %v, host-a recorded %v", i, f, fails[i])
		}
	}
	if until := gate.LockedUntil(st, rl, now); !until.IsZero() {
		t.Errorf("after %d of %d failures host-b reports a lockout until %v", len(fails)-1, rl.Failures, until)
	}

	// The last failure, on host-a, locks alice out on host-b.
	fail(a, fails[len(fails)-1])
	if by := sql(t, dsn, "SELECT updated_by_host FROM logingate_users WHERE name = 'alice'"); by[0] != "host-a" {
		t.Errorf("row updated by %s, want host-a", by[0])
	}
	want := fails[0].Add(rl.Per)
	if until := gate.LockedUntil(loadB(), rl, now); !until.Equal(want) {
		t.Errorf("host-b after %d failures on host-a: locked until %v, want %v", rl.Failures, until, want)
	}
	var inUpdate time.Time
	err := b.Update(ctx, "alice", func(st *store.UserState) error {
		inUpdate = gate.LockedUntil(st, rl, now)
		return store.ErrUnchanged
	})
	if err != nil {
		t.Fatalf("host-b Update: %v", err)
	}
	if !inUpdate.Equal(want) {
		t.Errorf("host-b inside Update: locked until %v, want %v", inUpdate, want)
	}
}
