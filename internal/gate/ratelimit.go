package gate

import (
	"slices"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
)

// maxFailures bounds the failure history kept per user.
const maxFailures = 1000

// LockedUntil returns when a rate-limited user may try again, or the zero
// time when they may try now. A user is limited once rl.Failures failures
// fall within rl.Per. Failures dated in the future (the clock went back)
// still count, but never lock for longer than rl.Per from now.
func LockedUntil(st *store.UserState, rl config.RateLimit, now time.Time) time.Time {
	if st == nil {
		return time.Time{}
	}
	recent := PruneFailures(st.Failures, rl, now)
	if len(recent) < rl.Failures {
		return time.Time{}
	}
	until := recent[len(recent)-rl.Failures].Add(rl.Per)
	if limit := now.Add(rl.Per); until.After(limit) {
		until = limit
	}
	if !until.After(now) {
		return time.Time{}
	}
	return until
}

// lockedOut is admit's refusal: the user reached the rate limit. It ends
// the store update it is returned from, so nothing is checked or written.
type lockedOut struct{ until time.Time }

func (e *lockedOut) Error() string { return "rate limited until " + e.until.Format(time.RFC3339) }

// admit is the rate limit's one gate before a code is checked. It runs
// inside the store update that verifies a local code or puts a code for a
// service on record, under the user's lock, on the state as it is then, so
// that logins of the same user racing at their prompts see each other's
// failures: across all of them no more codes are checked per rl.Per than
// rl.Failures, and once the user is locked the right code is refused too.
// The snapshot checks before the menu (decide, confirm) only spare a
// locked user the prompt; this is the check that holds.
func admit(st *store.UserState, rl config.RateLimit, now time.Time) error {
	if until := LockedUntil(st, rl, now); !until.IsZero() {
		return &lockedOut{until: until}
	}
	return nil
}

// PruneFailures keeps the failures that still count at now, oldest first,
// at most maxFailures of them.
func PruneFailures(fails []time.Time, rl config.RateLimit, now time.Time) []time.Time {
	cut := now.Add(-rl.Per)
	var out []time.Time
	for _, t := range fails {
		if t.After(cut) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	if len(out) > maxFailures {
		out = out[len(out)-maxFailures:]
	}
	return out
}
