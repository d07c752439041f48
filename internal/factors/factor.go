// Package factors holds the second factors a user can present: local TOTP and
// backup codes, and the factors of outside services (Duo Push, phone calls,
// SMS and Duo passcodes) behind Service. A factor never prints and never
// reads the terminal: the gate owns the conversation and hands a factor only
// the code the user typed. Anything a factor wants shown comes back in its
// Outcome.
package factors

import (
	"context"
	"errors"
	"time"

	"github.com/logingate/logingate/internal/store"
)

// Factor is one way for a user to prove presence.
type Factor interface {
	// Name is the stable identifier used in audit lines ("totp", "backup").
	Name() string
	// Label is the menu line, e.g. "Authenticator app code".
	Label() string
	// Accepts reports whether a typed answer has the shape of this factor's
	// codes, so that a code typed at the menu reaches the right factors.
	Accepts(code string) bool
	// Check verifies code and, on success, consumes it durably before
	// returning. A rejected code is not an error. An error means no decision
	// could be made; wrap ErrService only for an outside service that is
	// unreachable or misbehaving (failmode applies to those alone).
	Check(ctx context.Context, code string) (Outcome, error)
	// Traits says how the gate treats the factor beyond that; most
	// factors return the zero value.
	Traits() Traits
}

// Traits are a factor's optional behaviour, as data. The zero value is a
// plain local factor: listed in the menu, reached by a code of its shape,
// no outside service to fail.
type Traits struct {
	// Hidden: the factor takes typed codes but has no numbered menu line
	// of its own (Duo passcodes: the menu invites a passcode anyway).
	Hidden bool
	// Keywords are the words a user may type to choose the factor, as
	// login_duo users type "push", "push2", "phone" or "sms".
	Keywords []string
	// Fallback: the factor takes a typed code only when nothing else
	// does: no other held factor takes its shape, and it is no menu option
	// or keyword (RADIUS, whose servers take codes of any shape). Choosing
	// its menu option still sends the next answer to it alone.
	Fallback bool
	// FailmodeOnCheck: the factor's service is asked nothing before the
	// menu (RADIUS has no preauth). The gate applies at each Check what it
	// applies to Duo at preauth: an error wrapping ErrService follows
	// failmode, unless the user holds another factor; and a refused code
	// counts against the local rate limit, as a local factor's does.
	FailmodeOnCheck bool
}

// Outcome is a factor's verdict on one code.
type Outcome struct {
	OK     bool
	Reason string // why a code failed, for the audit log ("wrong code", "code already used")
	Notice string // shown to the user after success ("7 backup codes left")
	Warn   bool   // Notice is a warning
	// Again: nothing was decided and the attempt is not used up; the user
	// is asked for a code next (Duo has sent SMS passcodes).
	Again bool
	// Challenge: nothing is decided yet; the service asks for another
	// answer (a RADIUS Access-Challenge: a code sent by SMS, a new PIN).
	// It is the service's prompt, to be sanitised before it is shown;
	// the answer goes to the same factor's Check, which remembers what
	// the service needs to tie the two together. One attempt spans at
	// most MaxChallenges rounds.
	Challenge string
}

// MaxChallenges bounds the challenges one attempt may follow.
const MaxChallenges = 3

// ErrService marks an outside service that could not give an answer.
var ErrService = errors.New("service unavailable")

// Local is a factor that decides from the user's stored state alone (TOTP,
// backup codes). The gate runs every Local factor that accepts a code inside
// one store update, together with the failure counter and the last-success
// record, so that an attempt costs one lock and one durable write and a code
// is consumed exactly once however many logins race.
type Local interface {
	Factor
	// Verify checks code against st at now. On success it records the
	// consumption in st (the caller persists it); on failure st is unchanged.
	Verify(st *store.UserState, code string, now time.Time) (Outcome, error)
}

// Reasons a code fails, shared so that the gate can tell the user which.
const (
	ReasonWrong    = "wrong code"
	ReasonReplayed = "code already used"
)
