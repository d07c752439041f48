package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
)

var ctx = context.Background()

// TestRoundTrip: what Update writes, Load returns, field for field.
func TestRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, "alice", sampleState())
	got, err := s.Load(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if encoded(t, got) != encoded(t, sampleState()) {
		t.Errorf("loaded\n%s\nwant\n%s", encoded(t, got), encoded(t, sampleState()))
	}
	if _, err := s.Load(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load of a user never written: %v, want ErrNotFound", err)
	}
}

// TestSecretEncryptedAtRest: a dump of the table holds neither the secret
// nor anything that decrypts without the key; the row says who wrote it.
func TestSecretEncryptedAtRest(t *testing.T) {
	s, dsn := newStore(t)
	put(t, s, "alice", sampleState())
	dump := strings.Join(sql(t, dsn, "SELECT concat_ws('|', name, state::text, encode(totp_secret, 'escape'), key_id, updated_by_host) FROM logingate_users"), "\n")
	if strings.Contains(dump, testSecret) || strings.Contains(strings.ToLower(dump), strings.ToLower(testSecret[:8])) {
		t.Fatalf("the secret is in the table:\n%s", dump)
	}
	if !strings.Contains(dump, "|k1|test-host") {
		t.Errorf("row does not name key k1 and host test-host:\n%s", dump)
	}
	// The ciphertext is bound to the user: moved to another row, it does
	// not open, and that is a plain error (deny), not an outage.
	sql(t, dsn, "INSERT INTO logingate_users (name, state, totp_secret, key_id) SELECT 'mallory', state, totp_secret, key_id FROM logingate_users WHERE name = 'alice'")
	_, err := s.Load(ctx, "mallory")
	wantErr(t, err, "mallory", "does not decrypt")
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a row that does not decrypt is reported as an outage: %v", err)
	}
	// Another key file cannot read it.
	other := open(t, dsn, keyring(t, key("k1", 9)))
	_, err = other.Load(ctx, "alice")
	wantErr(t, err, "does not decrypt")
}

// TestUpdateStartsFromEmptyState: a new user's fn sees the current format
// version and nothing else.
func TestUpdateStartsFromEmptyState(t *testing.T) {
	s, _ := newStore(t)
	err := s.Update(ctx, "carol", func(st *store.UserState) error {
		if st.Version != store.FormatVersion || st.Enrolled() || st.Failures != nil {
			return fmt.Errorf("fn saw %+v", st)
		}
		st.Failures = []time.Time{time.Now()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "carol")
	if err != nil || len(got.Failures) != 1 {
		t.Fatalf("Load: %+v, %v", got, err)
	}
}

// TestNothingWrittenUnlessCommitted: ErrUnchanged, an error from fn and a
// state the codec refuses all leave the row as it was (and create none).
func TestNothingWrittenUnlessCommitted(t *testing.T) {
	s, dsn := newStore(t)
	put(t, s, "alice", sampleState())
	before := sql(t, dsn, "SELECT concat(state::text, updated_at) FROM logingate_users WHERE name = 'alice'")
	errTest := errors.New("test callback failed")
	for _, tc := range []struct {
		name string
		fn   func(*store.UserState) error
		want error
	}{
		{"unchanged", func(st *store.UserState) error {
			st.Failures = append(st.Failures, time.Now())
			return store.ErrUnchanged
		}, nil},
		{"callback error", func(st *store.UserState) error { st.Failures = append(st.Failures, time.Now()); return errTest }, errTest},
		{"invalid state", func(st *store.UserState) error { st.Backup = &store.Backup{Scheme: "md5"}; return nil }, nil},
	} {
		for _, user := range []string{"alice", "nobody"} {
			err := s.Update(ctx, user, tc.fn)
			switch {
			case tc.name == "invalid state":
				wantErr(t, err, "backup.scheme")
			case tc.want == nil && err != nil:
				t.Errorf("%s, %s: %v", tc.name, user, err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("%s, %s: %v, want %v", tc.name, user, err, tc.want)
			}
		}
		if after := sql(t, dsn, "SELECT concat(state::text, updated_at) FROM logingate_users WHERE name = 'alice'"); after[0] != before[0] {
			t.Errorf("%s: row changed", tc.name)
		}
		if n := sql(t, dsn, "SELECT count(*) FROM logingate_users WHERE name = 'nobody'"); n[0] != "0" {
			t.Errorf("%s: a row was left for a user with nothing written", tc.name)
		}
	}
}

// TestDelete: state gone, ErrNotFound the second time.
func TestDelete(t *testing.T) {
	s, _ := newStore(t)
	put(t, s, "alice", sampleState())
	if err := s.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load after Delete: %v", err)
	}
	if err := s.Delete(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}

// TestConcurrentUpdates: stores standing for different hosts, each with its
// own connections, increment one counter; no increment is lost.
func TestConcurrentUpdates(t *testing.T) {
	s, dsn := newStore(t)
	put(t, s, "alice", sampleState())
	const hosts, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, hosts*each)
	for h := range hosts {
		hs := open(t, dsn, s.keys, func(o *Options) { o.Host = fmt.Sprintf("host%d", h) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- hs.Update(ctx, "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil })
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Load(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleState().TOTP.LastStep + hosts*each; st.TOTP.LastStep != want {
		t.Errorf("last step %d, want %d: updates were lost", st.TOTP.LastStep, want)
	}
}

// TestConcurrentUpdateAndDelete: updates racing resets of the same user
// never fail and never leave a half state.
func TestConcurrentUpdateAndDelete(t *testing.T) {
	s, dsn := newStore(t)
	other := open(t, dsn, s.keys)
	var wg sync.WaitGroup
	wg.Add(2)
	var uerr, derr error
	go func() {
		defer wg.Done()
		for range 50 {
			if err := s.Update(ctx, "alice", func(st *store.UserState) error {
				if st.TOTP == nil {
					*st = *sampleState()
				}
				st.TOTP.LastStep++
				return nil
			}); err != nil {
				uerr = err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 50 {
			if err := other.Delete(ctx, "alice"); err != nil && !errors.Is(err, store.ErrNotFound) {
				derr = err
				return
			}
		}
	}()
	wg.Wait()
	if uerr != nil || derr != nil {
		t.Fatalf("update: %v; delete: %v", uerr, derr)
	}
	if _, err := s.Load(ctx, "alice"); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}

// TestLockWaitBoundedByStore: a login that holds the user's row (stopped
// half-way) makes another host's Update give up with ErrLocked, and the
// holder's change still lands afterwards.
func TestLockWaitBoundedByStore(t *testing.T) {
	s, dsn := newStore(t)
	put(t, s, "alice", sampleState())
	waiter := open(t, dsn, s.keys, func(o *Options) { o.LockWait = 300 * time.Millisecond })
	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Update(ctx, "alice", func(st *store.UserState) error {
			close(locked)
			<-release
			st.TOTP.LastStep++
			return nil
		})
	}()
	<-locked
	err := waiter.Update(ctx, "alice", func(st *store.UserState) error { return nil })
	if !errors.Is(err, store.ErrLocked) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Update while another holds the row: %v, want ErrLocked", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Load(ctx, "alice"); st == nil || st.TOTP.LastStep != sampleState().TOTP.LastStep+1 {
		t.Errorf("the holder's change did not land: %+v", st)
	}
}

// TestCanceledContext: a caller's context that is over is returned as
// such, not as an outage.
func TestCanceledContext(t *testing.T) {
	s, _ := newStore(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Load(c, "alice")
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Load: %v", err)
	}
	err = s.Update(c, "alice", func(*store.UserState) error { return nil })
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Update: %v", err)
	}
}

// TestMigrate: a fresh database gets the current schema; a second run
// changes nothing; a newer schema is refused; a database never migrated
// is an error that says what to run, and not an outage.
func TestMigrate(t *testing.T) {
	dsn := sharedServer(t).NewDB(t)
	s := open(t, dsn, keyring(t, key("k1", 1)))
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version of an empty database: %d, %v", v, err)
	}
	_, err := s.Load(ctx, "alice")
	wantErr(t, err, "logingate store migrate")
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("missing schema reported as an outage: %v", err)
	}
	for i, want := range [][2]int{{0, SchemaVersion}, {SchemaVersion, SchemaVersion}} {
		from, to, err := s.Migrate(ctx)
		if err != nil || from != want[0] || to != want[1] {
			t.Errorf("Migrate #%d: %d -> %d, %v; want %d -> %d", i+1, from, to, err, want[0], want[1])
		}
	}
	sql(t, dsn, "INSERT INTO logingate_schema_version (version) VALUES ($1)", SchemaVersion+1)
	if _, _, err := s.Migrate(ctx); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Migrate of a newer schema: %v", err)
	}
}

// TestWrongPasswordDenies: a refused login is configuration, not an
// outage, and the password is not in the error.
func TestWrongPasswordDenies(t *testing.T) {
	srv := sharedServer(t)
	dsn := strings.Replace(srv.NewDB(t), srv.Password, "wrong-password-1234", 1)
	s := open(t, dsn, keyring(t, key("k1", 1)))
	_, err := s.Load(ctx, "alice")
	wantErr(t, err, "password authentication failed")
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a refused password is reported as an outage: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password-1234") {
		t.Errorf("error quotes the password: %v", err)
	}
}

// Process test: gate-like processes of different hosts consume the same
// backup code at once; exactly one does, every round.

const (
	helperEnv = "LOGINGATE_PGSTORE_HELPER"
	dsnEnv    = "LOGINGATE_PGSTORE_DSN"
	hostEnv   = "LOGINGATE_PGSTORE_HOST"
)

func helperMain(mode string) int {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys, err := ParseKeyring([]byte(key("k1", 1)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := Open(Options{DSN: os.Getenv(dsnEnv), Keys: keys, Host: os.Getenv(hostEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	if mode != "consume" {
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 1
	}
	// Connect first, then wait for the parent to close stdin so that all
	// helpers race on the row, not on connecting.
	if _, err := s.Load(c, "alice"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Stdin.Read(make([]byte, 1))
	out := "none left"
	err = s.Update(c, "alice", func(st *store.UserState) error {
		out = "none left"
		if st.Backup == nil || len(st.Backup.Codes) < 2 {
			return store.ErrUnchanged
		}
		st.Backup.Codes = st.Backup.Codes[1:]
		out = "consumed"
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(out)
	return 0
}

func TestProcessesOfManyHostsConsumeOnce(t *testing.T) {
	s, dsn := newStore(t)
	const procs, rounds = 12, 5
	for round := range rounds {
		put(t, s, "alice", sampleState()) // two codes: one may be consumed
		cmds := make([]*exec.Cmd, procs)
		outs := make([]strings.Builder, procs)
		closers := make([]func() error, procs)
		for i := range cmds {
			c := exec.Command(os.Args[0], "-test.run=^$")
			c.Env = append(os.Environ(), helperEnv+"=consume", dsnEnv+"="+dsn, fmt.Sprintf("%s=host%02d", hostEnv, i))
			w, err := c.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			closers[i] = w.Close
			c.Stdout, c.Stderr = &outs[i], &outs[i]
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = c
		}
		for _, cl := range closers {
			cl()
		}
		won := ""
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d: helper %d: %v: %s", round, i, err, outs[i].String())
			}
			switch strings.TrimSpace(outs[i].String()) {
			case "consumed":
				if won != "" {
					t.Errorf("round %d: host%02d and %s both consumed the code", round, i, won)
				}
				won = fmt.Sprintf("host%02d", i)
			case "none left":
			default:
				t.Errorf("round %d: helper %d said %q", round, i, outs[i].String())
			}
		}
		if won == "" {
			t.Fatalf("round %d: nobody consumed the code", round)
		}
		if by := sql(t, dsn, "SELECT updated_by_host FROM logingate_users WHERE name = 'alice'"); by[0] != won {
			t.Errorf("round %d: row says updated by %s, the winner was %s", round, by[0], won)
		}
	}
}
