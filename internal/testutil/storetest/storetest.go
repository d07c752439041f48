// Package storetest holds the fixtures the store backends' tests share: a
// complete, valid UserState, the secret in it, and the check that an error
// says what it should without quoting that secret.
package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
)

// Secret is the TOTP secret of Sample.
const Secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// Sample returns a fresh UserState with every part set: a TOTP enrollment,
// two backup-code hashes of both kinds, two failures, a last success and two
// trusted windows (one IPv4, one IPv6), each list oldest first.
//
// The trusted windows lie far in the future: the stores drop ended windows
// on every write, by the real clock, and a round trip must keep them.
func Sample() *store.UserState {
	w := 1
	at := time.Date(2025, 11, 25, 18, 45, 0, 0, time.UTC)
	later := time.Date(2125, 1, 1, 9, 0, 0, 0, time.UTC)
	return &store.UserState{
		Version: store.FormatVersion,
		TOTP: &store.TOTP{Secret: Secret, Algorithm: "SHA1", Digits: 6, Period: 30,
			Window: &w, LastStep: 58_000_000, Created: at},
		Backup: &store.Backup{Scheme: "argon2id", Params: store.HashParams{Time: 1, MemKiB: 8 * 1024, Threads: 1},
			Codes: []store.BackupHash{
				{Kind: "base32", Salt: bytes.Repeat([]byte{1}, 16), Hash: bytes.Repeat([]byte{2}, 32)},
				{Kind: "numeric", Salt: bytes.Repeat([]byte{3}, 16), Hash: bytes.Repeat([]byte{4}, 32)},
			},
			Created: at},
		Failures:    []time.Time{at.Add(time.Minute), at.Add(time.Minute + 30*time.Second)},
		LastSuccess: &store.Event{Time: at.Add(2 * time.Minute), From: "203.0.113.9", Factor: "totp"},
		Trusted: []store.TrustedSession{
			{ID: "5a17e0c4", KeyFingerprint: "SHA256:JYOQjpi2Fifw5dGhhUm0kWnqlP1Ar2//9jVHLEL5b90",
				From: "203.0.113.9", Created: later, Until: later.Add(8 * time.Hour)},
			{ID: "c0ffee0012345678", KeyFingerprint: "SHA256:nWgIBsNIWuy/RssExNgZ4J5iW4lW9vf/X1MjFtzjI9M",
				From: "2001:db8::7", Created: later.Add(time.Hour), Until: later.Add(time.Hour + store.MaxGrace)},
		},
	}
}

// WantErr fails t unless err is non-nil and mentions every fragment, and
// fails it too if err quotes Secret.
func WantErr(t testing.TB, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
	if strings.Contains(err.Error(), Secret[:16]) {
		t.Errorf("error quotes the secret: %q", err)
	}
}
