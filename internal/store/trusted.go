package store

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"
)

// TrustedSession is a window opened by a successful interactive login: until
// Until, the same user with the same key (KeyFingerprint, as sshd names it in
// SSH_USER_AUTH) from the same address (From) may open non-interactive
// sessions (scp, sftp, rsync, git) without a prompt. It never stands in for
// a second factor when factors change.
type TrustedSession struct {
	ID             string    `json:"id"`              // short random hex, for listing and revoking
	KeyFingerprint string    `json:"key_fingerprint"` // "SHA256:" and the unpadded base64 of the key's hash
	From           string    `json:"from"`            // client IP address, canonical form
	Created        time.Time `json:"created"`
	Until          time.Time `json:"until"`
}

// Bounds on trusted windows.
const (
	// MaxTrusted is how many windows a user's state keeps; opening one more
	// drops the oldest.
	MaxTrusted = 32
	// MaxGrace is the longest window (config grace_period).
	MaxGrace = 7 * 24 * time.Hour
)

// live reports whether the window is still open at now.
func (t TrustedSession) live(now time.Time) bool { return now.Before(t.Until) }

// PruneTrusted returns the windows still open at now, oldest first, at most
// MaxTrusted of them (the newest). The input is not modified; nil when none
// is left, so that an empty list is not written.
func PruneTrusted(list []TrustedSession, now time.Time) []TrustedSession {
	var out []TrustedSession
	for _, t := range list {
		if t.live(now) {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b TrustedSession) int { return a.Created.Compare(b.Created) })
	if len(out) > MaxTrusted {
		out = out[len(out)-MaxTrusted:]
	}
	return out
}

// OpenTrusted adds a window for key from addr lasting grace from now to
// list, pruned as PruneTrusted does, and returns the new list and the
// window. Its ID is unique within the list.
func OpenTrusted(list []TrustedSession, key, addr string, now time.Time, grace time.Duration) ([]TrustedSession, TrustedSession) {
	t := TrustedSession{ID: newTrustedID(list), KeyFingerprint: key, From: addr, Created: now, Until: now.Add(grace)}
	// Prune first, so that a full list drops its oldest and keeps the new one.
	list = PruneTrusted(list, now)
	if len(list) >= MaxTrusted {
		list = list[len(list)-MaxTrusted+1:]
	}
	return append(list, t), t
}

// RevokeTrusted removes the window with id, or every window for id "all",
// and returns the list left and the ids removed.
func RevokeTrusted(list []TrustedSession, id string) (left []TrustedSession, removed []string) {
	for _, t := range list {
		if id == "all" || t.ID == id {
			removed = append(removed, t.ID)
			continue
		}
		left = append(left, t)
	}
	return left, removed
}

// newTrustedID returns 8 random hex digits not used in list.
func newTrustedID(list []TrustedSession) string {
	for {
		var b [4]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		id := hex.EncodeToString(b[:])
		if !slices.ContainsFunc(list, func(t TrustedSession) bool { return t.ID == id }) {
			return id
		}
	}
}
