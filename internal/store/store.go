// Package store owns a user's second-factor state: the TOTP secret and its last
// accepted step, backup-code hashes, recent failures, the last success, and
// the trusted windows that interactive logins open for non-interactive ones.
// Backends (the file backend here, a network backend later) implement Store;
// every change goes through Update, which holds the user's lock across
// read-verify-write so that a one-time code is consumed exactly once.
package store

import (
	"context"
	"errors"
	"time"
)

// FormatVersion is written into every state record. A record with a newer
// version is refused rather than misread.
const FormatVersion = 1

// ErrNotFound means the user has no state at all (never enrolled).
var ErrNotFound = errors.New("no state for this user")

// ErrLocked means another process holds the user's lock and the backend
// gave up waiting for it: another login of the same user is running, or is
// stuck (stopped, or on a hung file system). Errors that wrap it say whose
// lock and where.
var ErrLocked = errors.New("state locked by another login")

// ErrUnavailable means a networked backend could not be reached or did not
// answer in time (down, refusing connections, too slow, failing over). It is
// the one store error to which the gate applies failmode; errors that wrap it
// say what happened.
var ErrUnavailable = errors.New("state store unavailable")

// ErrUnchanged, returned by an Update callback, ends the update without
// writing anything. Update then returns nil.
var ErrUnchanged = errors.New("state unchanged")

// Store is the one way the gate reads and changes state.
type Store interface {
	// Load returns a snapshot of the user's state, or ErrNotFound.
	// It takes no lock; decisions that consume something use Update.
	Load(ctx context.Context, user string) (*UserState, error)
	// Update runs fn on the user's current state (a zero UserState when the
	// user has none) while holding the user's lock, and persists the result
	// durably before returning nil. If fn returns ErrUnchanged nothing is
	// written and Update returns nil; any other error from fn is returned
	// unchanged and nothing is written. The lock wait is bounded by ctx and
	// by the backend's own bound; a wait given up is an ErrLocked.
	Update(ctx context.Context, user string, fn func(*UserState) error) error
	// Delete removes all of the user's state (admin reset).
	Delete(ctx context.Context, user string) error
}

// Secret is key material. It prints as REDACTED so that it never reaches a
// log, an error string or a %v by accident; JSON encoding keeps the value.
type Secret string

func (Secret) String() string   { return "REDACTED" }
func (Secret) GoString() string { return "REDACTED" }

// UserState is everything logingate keeps for one user.
type UserState struct {
	Version     int         `json:"version"`
	TOTP        *TOTP       `json:"totp,omitempty"`
	Backup      *Backup     `json:"backup,omitempty"`
	Failures    []time.Time `json:"failures,omitempty"`
	LastSuccess *Event      `json:"last_success,omitempty"`
	// Trusted are the windows opened by interactive logins (headless:
	// trusted), oldest first; see TrustedSession.
	Trusted []TrustedSession `json:"trusted,omitempty"`
}

// Enrolled reports whether the user has any usable factor.
func (s *UserState) Enrolled() bool {
	return s != nil && (s.TOTP != nil || (s.Backup != nil && len(s.Backup.Codes) > 0))
}

// SetFactors replaces the user's factors (enrollment, import) and ends what
// the old ones earned: recent failures and every trusted window, so that a
// window opened with a lost or leaked factor does not outlive it.
func (s *UserState) SetFactors(t *TOTP, b *Backup) {
	s.TOTP, s.Backup, s.Failures, s.Trusted = t, b, nil, nil
}

// TOTP is an authenticator-app enrollment.
type TOTP struct {
	Secret    Secret    `json:"secret"`           // base32, no padding
	Algorithm string    `json:"algorithm"`        // SHA1, SHA256 or SHA512
	Digits    int       `json:"digits"`           // 6 or 8
	Period    int       `json:"period"`           // seconds
	Window    *int      `json:"window,omitempty"` // steps either side; nil: the config's
	LastStep  int64     `json:"last_step"`        // highest step ever accepted; only later steps pass
	Created   time.Time `json:"created"`
}

// Backup holds single-use backup codes, hashed. A used code is removed.
type Backup struct {
	Scheme  string       `json:"scheme"` // e.g. "argon2id"
	Params  HashParams   `json:"params"`
	Codes   []BackupHash `json:"codes"`
	Created time.Time    `json:"created"`
}

// HashParams are the cost parameters of the backup-code hash.
type HashParams struct {
	Time    uint32 `json:"time"`
	MemKiB  uint32 `json:"mem_kib"`
	Threads uint8  `json:"threads"`
}

// BackupHash is one code's salted hash. Kind "numeric" marks 8-digit codes
// imported from google-authenticator scratch codes; "base32" marks our own
// made before selectors; "selector" marks our own whose first characters,
// Selector, are public and name the code's slot, so that a check hashes
// once instead of once per stored code.
type BackupHash struct {
	Kind     string `json:"kind"`
	Selector string `json:"selector,omitempty"`
	Salt     []byte `json:"salt"`
	Hash     []byte `json:"hash"`
}

// Event records a login.
type Event struct {
	Time   time.Time `json:"time"`
	From   string    `json:"from,omitempty"`
	Factor string    `json:"factor"`
}
