package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/pgtest"
)

// outageStore is a store with a short timeout on a server of its own, which
// the test may stop or pause; alice is enrolled, and the store holds a
// connection.
//
// The set-up goes through a store with the default timeout, and the short
// one's first connection may take a few tries: on a busy machine a
// connection's password exchange alone can outlast 300ms, and that is not
// the outage under test.
func outageStore(t *testing.T) (*Store, *pgtest.Server, string) {
	t.Helper()
	srv := pgtest.Start(t)
	dsn := srv.NewDB(t)
	keys := keyring(t, key("k1", 1))
	setup := open(t, dsn, keys)
	if _, _, err := setup.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	put(t, setup, "alice", sampleState())
	setup.Close()
	s := open(t, dsn, keys, func(o *Options) { o.Timeout = 300 * time.Millisecond; o.LockWait = time.Second })
	var err error
	for range 20 {
		if _, err = s.Load(ctx, "alice"); err == nil {
			return s, srv, dsn
		}
	}
	t.Fatalf("the short-timeout store never loaded alice before the outage: %v", err)
	return nil, nil, ""
}

// wantUnavailable checks that both operations fail as an outage, without
// the password, and did not wait for ever.
func wantUnavailable(t *testing.T, s *Store, srv *pgtest.Server, what string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute) // a hang fails the test, it does not time it
	defer cancel()
	_, lerr := s.Load(c, "alice")
	uerr := s.Update(c, "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil })
	for op, err := range map[string]error{"Load": lerr, "Update": uerr} {
		switch {
		case !errors.Is(err, store.ErrUnavailable):
			t.Errorf("%s, %s: %v, want an error wrapping store.ErrUnavailable", what, op, err)
		case c.Err() != nil:
			t.Errorf("%s, %s: returned only when the test's own minute was up", what, op)
		case strings.Contains(err.Error(), srv.Password):
			t.Errorf("%s, %s: error quotes the password: %v", what, op, err)
		}
	}
}

// wantIntact checks that alice's state is what sampleState wrote, through
// a store with the default timeout (the machine may be busy; the outage is
// over).
func wantIntact(t *testing.T, s *Store) {
	t.Helper()
	fresh, err := Open(Options{DSN: s.dsn, Keys: s.keys})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	st, err := fresh.Load(ctx, "alice")
	if err != nil {
		t.Fatalf("Load after the outage: %v", err)
	}
	if encoded(t, st) != encoded(t, sampleState()) {
		t.Errorf("state changed by a failed update:\n%s", encoded(t, st))
	}
}

func TestOutageStopped(t *testing.T) {
	s, srv, _ := outageStore(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, s, srv, "server stopped")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	wantIntact(t, s)
}

func TestOutagePaused(t *testing.T) {
	s, srv, _ := outageStore(t)
	s.Close() // no idle connection: the next call connects to the paused server
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	wantUnavailable(t, s, srv, "server paused")
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	wantIntact(t, s)
}

// TestOutageMidUpdate: the server goes away while the user's row is locked
// and fn has changed the state: nothing of it lands.
func TestOutageMidUpdate(t *testing.T) {
	for _, how := range []string{"stop", "pause"} {
		t.Run(how, func(t *testing.T) {
			s, srv, _ := outageStore(t)
			err := s.Update(ctx, "alice", func(st *store.UserState) error {
				st.TOTP.LastStep += 10
				st.Backup.Codes = st.Backup.Codes[1:]
				if how == "stop" {
					return srv.Stop()
				}
				return srv.Pause()
			})
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Update: %v, want ErrUnavailable", err)
			}
			if how == "stop" {
				if err := srv.Restart(); err != nil {
					t.Fatal(err)
				}
			} else if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
			wantIntact(t, s)
		})
	}
}

// TestOutageReadOnly: a database that only reads (a standby after a
// failover, before the DSN's read-write target is back) is an outage for
// writes, and loads still work.
func TestOutageReadOnly(t *testing.T) {
	s, srv, dsn := outageStore(t)
	db := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	sql(t, srv.DSN("postgres"), "ALTER DATABASE "+db+" SET default_transaction_read_only = on")
	s.Close() // the setting applies to new sessions
	// The default timeout: a slow connection must not pass for the
	// read-only answer this test is about.
	ro := open(t, dsn, s.keys)
	err := ro.Update(ctx, "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil })
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "25006") {
		t.Errorf("Update on a read-only database: %v, want ErrUnavailable for SQLSTATE 25006 (read_only_sql_transaction)", err)
	}
	wantIntact(t, s)
}
