package pgstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/store"
)

func TestParseKeyring(t *testing.T) {
	good := key("2025-01", 1) + "\n# old\n" + key("old", 2) + "\n\n"
	k, err := ParseKeyring([]byte(good))
	if err != nil || k.primary() != "2025-01" || len(k.allIDs()) != 2 {
		t.Fatalf("ParseKeyring: %v, %v", k, err)
	}
	secretB64 := strings.TrimPrefix(key("x", 7), "x:")
	for name, in := range map[string]string{
		"empty":      "\n# nothing\n",
		"no id":      ":" + secretB64,
		"bad id":     "a b:" + secretB64,
		"short key":  "k:" + secretB64[:20],
		"not base64": "k:" + strings.Repeat("!", 44),
		"twice":      key("k", 1) + "\n" + key("k", 2),
		"no colon":   secretB64,
	} {
		_, err := ParseKeyring([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), secretB64[:12]) {
			t.Errorf("%s: error quotes the key: %v", name, err)
		}
	}
	if s := k.String(); strings.Contains(s, secretB64[:8]) || !strings.Contains(s, "2025-01") {
		t.Errorf("String() = %q", s)
	}
}

// TestKeyRotation is the documented procedure: a new key first in the key
// file with the old one kept, rekey, then the old key dropped.
func TestKeyRotation(t *testing.T) {
	s, dsn := newStore(t) // key k1
	put(t, s, "alice", sampleState())
	put(t, s, "bob", sampleState())
	noTOTP := sampleState()
	noTOTP.TOTP = nil
	put(t, s, "carol", noTOTP)

	both := open(t, dsn, keyring(t, key("k2", 2), key("k1", 1)))
	if _, err := both.Load(ctx, "alice"); err != nil {
		t.Fatalf("new key file with the old key kept cannot read an old row: %v", err)
	}
	// Before rekey, a key file without the old key cannot read old rows.
	newOnly := open(t, dsn, keyring(t, key("k2", 2)))
	if _, err := newOnly.Load(ctx, "alice"); !errors.Is(err, errNoKey) {
		t.Errorf("Load with the old key missing: %v, want errNoKey", err)
	}
	n, err := both.Rekey(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Rekey: %d, %v; want 2 rows", n, err)
	}
	if use, err := both.KeyUse(ctx); err != nil || use["k2"] != 2 || len(use) != 1 {
		t.Errorf("keys in use after rekey: %v, %v", use, err)
	}
	if n, err := both.Rekey(ctx); err != nil || n != 0 {
		t.Errorf("second Rekey: %d, %v; want nothing to do", n, err)
	}
	for _, u := range []string{"alice", "bob"} {
		st, err := newOnly.Load(ctx, u)
		if err != nil {
			t.Fatalf("%s after rekey, old key dropped: %v", u, err)
		}
		if encoded(t, st) != encoded(t, sampleState()) {
			t.Errorf("%s changed by rekey", u)
		}
	}
	if checked, err := newOnly.CheckKeys(ctx); err != nil || checked != 1 {
		t.Errorf("CheckKeys: %d, %v", checked, err)
	}
	if _, err := s.CheckKeys(ctx); !errors.Is(err, errNoKey) {
		t.Errorf("CheckKeys with only the dropped key: %v, want errNoKey", err)
	}
}

// TestImport: into an empty database, then again (nothing changes), then
// after the fleet changed the user (a conflict, kept unless forced).
func TestImport(t *testing.T) {
	s, dsn := newStore(t)
	st := sampleState()
	if r, err := s.Import(ctx, "alice", st, false); err != nil || r != Imported {
		t.Fatalf("first import: %v, %v", r, err)
	}
	stamp := sql(t, dsn, "SELECT updated_at::text FROM logingate_users WHERE name = 'alice'")
	if r, err := s.Import(ctx, "alice", st, false); err != nil || r != Same {
		t.Fatalf("second import: %v, %v", r, err)
	}
	if again := sql(t, dsn, "SELECT updated_at::text FROM logingate_users WHERE name = 'alice'"); again[0] != stamp[0] {
		t.Error("second import rewrote the row")
	}
	if err := s.Update(ctx, "alice", func(st *store.UserState) error { st.TOTP.LastStep++; return nil }); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Import(ctx, "alice", st, false); err != nil || r != Conflict {
		t.Fatalf("import over changed state: %v, %v", r, err)
	}
	if cur, _ := s.Load(ctx, "alice"); cur.TOTP.LastStep != st.TOTP.LastStep+1 {
		t.Error("a conflict overwrote the database's state")
	}
	if r, err := s.Import(ctx, "alice", st, true); err != nil || r != Replaced {
		t.Fatalf("forced import: %v, %v", r, err)
	}
	if cur, _ := s.Load(ctx, "alice"); encoded(t, cur) != encoded(t, st) {
		t.Error("forced import did not write the file's state")
	}
	if n := sql(t, dsn, "SELECT count(*) FROM logingate_users"); n[0] != "1" {
		t.Errorf("%s rows, want 1", n[0])
	}
}
