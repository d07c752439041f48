package pgstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/pgtest"
	"github.com/logingate/logingate/internal/testutil/storetest"
)

// shared is one server for the tests that do not stop or pause it; each
// test gets its own database on it.
var (
	sharedOnce sync.Once
	shared     *pgtest.Server
	sharedErr  error
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

func sharedServer(t testing.TB) *pgtest.Server {
	t.Helper()
	bin := pgtest.Require(t)
	sharedOnce.Do(func() { shared, sharedErr = pgtest.Launch(bin) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// key makes a 32-byte key whose bytes are all b.
func key(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func keyring(t testing.TB, lines ...string) *Keyring {
	t.Helper()
	k, err := ParseKeyring([]byte(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// open returns a store on dsn with keys, closed at Cleanup.
func open(t testing.TB, dsn string, keys *Keyring, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{DSN: dsn, Keys: keys, Host: "test-host"}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore returns a store on a fresh, migrated database and its DSN.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := sharedServer(t).NewDB(t)
	s := open(t, dsn, keyring(t, key("k1", 1)))
	if _, _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, dsn
}

// sql runs one query as the superuser and returns the first column of
// each row as text.
func sql(t testing.TB, dsn, q string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		v, err := r.Values()
		if err != nil || len(v) == 0 {
			return "", err
		}
		return fmt.Sprint(v[0]), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The fixtures every backend's tests share.
const testSecret = storetest.Secret

func sampleState() *store.UserState { return storetest.Sample() }

func put(t testing.TB, s store.Store, user string, st *store.UserState) {
	t.Helper()
	err := s.Update(context.Background(), user, func(cur *store.UserState) error {
		*cur = *st
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// encoded is a state as the file codec writes it, for comparisons.
func encoded(t testing.TB, st *store.UserState) string {
	t.Helper()
	b, err := filestore.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantErr: see storetest.WantErr.
var wantErr = storetest.WantErr
