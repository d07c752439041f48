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
