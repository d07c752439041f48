package filestore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
)

const testFP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

func trustedState(now time.Time) *store.UserState {
	st := sampleState()
	st.Trusted = []store.TrustedSession{
		{ID: "0a1b2c3d", KeyFingerprint: testFP, From: "203.0.113.9", Created: now.Add(-time.Hour), Until: now.Add(7 * time.Hour)},
		{ID: "ffffffff", KeyFingerprint: testFP, From: "2001:db8::1", Created: now.Add(-9 * time.Hour), Until: now.Add(-time.Hour)},
	}
	return st
}

func TestTrustedRoundTrip(t *testing.T) {
	st := trustedState(time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC))
	b, err := Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Trusted) != 2 || got.Trusted[0] != st.Trusted[0] {
		t.Errorf("trusted after a round trip: %+v", got.Trusted)
	}
}

func TestTrustedRefused(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	ok := store.TrustedSession{ID: "0a1b2c3d", KeyFingerprint: testFP, From: "203.0.113.9", Created: now, Until: now.Add(time.Hour)}
	many := make([]store.TrustedSession, store.MaxTrusted+1)
	for i := range many {
		many[i] = ok
		many[i].ID = strings.Repeat("0", 7) + string("0123456789abcdef"[i%16]) + strings.Repeat("a", i/16)
	}
	for _, c := range []struct {
		name string
		edit func(*store.TrustedSession)
		list []store.TrustedSession
		want string
	}{
		{name: "upper-case id", edit: func(s *store.TrustedSession) { s.ID = "0A1B2C3D" }, want: "trusted[0].id"},
		{name: "short id", edit: func(s *store.TrustedSession) { s.ID = "0a1b" }, want: "trusted[0].id"},
		{name: "duplicate id", list: []store.TrustedSession{ok, ok}, want: "trusted[1].id is used twice"},
		{name: "md5 fingerprint", edit: func(s *store.TrustedSession) { s.KeyFingerprint = "MD5:00:11" }, want: "key_fingerprint"},
		{name: "fingerprint with padding", edit: func(s *store.TrustedSession) { s.KeyFingerprint = testFP + "=" }, want: "key_fingerprint"},
		{name: "host name", edit: func(s *store.TrustedSession) { s.From = "example.org" }, want: "trusted[0].from"},
		{name: "empty address", edit: func(s *store.TrustedSession) { s.From = "" }, want: "trusted[0].from"},
		{name: "mapped address", edit: func(s *store.TrustedSession) { s.From = "::ffff:203.0.113.9" }, want: "trusted[0].from"},
		{name: "upper-case v6", edit: func(s *store.TrustedSession) { s.From = "2001:DB8::1" }, want: "trusted[0].from"},
		{name: "no created", edit: func(s *store.TrustedSession) { s.Created = time.Time{} }, want: "needs created and until"},
		{name: "ends before it starts", edit: func(s *store.TrustedSession) { s.Until = s.Created }, want: "until must be after created"},
		{name: "over a week", edit: func(s *store.TrustedSession) { s.Until = s.Created.Add(store.MaxGrace + time.Second) }, want: "by at most"},
		{name: "too many", list: many, want: "more than 32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := sampleState()
			if c.list != nil {
				st.Trusted = c.list
			} else {
				w := ok
				c.edit(&w)
				st.Trusted = []store.TrustedSession{w}
			}
			_, err := Encode(st)
			wantErr(t, err, "refusing to write invalid state", c.want)
		})
	}
}

// Every write drops the windows that have ended, whoever writes.
func TestUpdatePrunesEndedWindows(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now()
	put(t, s, "alice", trustedState(now))
	st, err := s.Load(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Trusted) != 1 || st.Trusted[0].ID != "0a1b2c3d" {
		t.Fatalf("after a write: %+v, want only the live window", st.Trusted)
	}
}
