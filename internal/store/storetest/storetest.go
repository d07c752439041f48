// Package storetest holds the fixtures the store backends' tests share: a
// complete, valid UserState and the secret in it.
package storetest

import (
	"bytes"
	"time"

	"github.com/logingate/logingate/internal/store"
)

// Secret is the TOTP secret of Sample.
const Secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// Sample returns a fresh UserState with every part set: a TOTP enrollment,
// two backup-code hashes of both kinds, a failure and a last success.
func Sample() *store.UserState {
	w := 1
	at := time.Date(2025, 11, 25, 18, 45, 0, 0, time.UTC)
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
		Failures:    []time.Time{at.Add(time.Minute)},
		LastSuccess: &store.Event{Time: at.Add(2 * time.Minute), From: "203.0.113.9", Factor: "totp"},
	}
}
