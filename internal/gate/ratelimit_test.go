package gate

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/store"
)

// ago returns times relative to t0.
func ago(ds ...time.Duration) []time.Time {
	out := make([]time.Time, len(ds))
	for i, d := range ds {
		out[i] = t0.Add(-d)
	}
	return out
}

func TestLockedUntil(t *testing.T) {
	const m = time.Minute
	rl := config.RateLimit{Failures: 3, Per: 5 * m}
	for _, tc := range []struct {
		name  string
		fails []time.Time
		rl    *config.RateLimit
		want  time.Duration // from t0; 0: not locked
	}{
		{name: "none"},
		{name: "one below the limit", fails: ago(1*m, 2*m)},
		{name: "exactly at the limit", fails: ago(1*m, 2*m, 3*m), want: 2 * m},
		{name: "over the limit: the third newest decides", fails: ago(4*m, 3*m, 2*m, 1*m), want: 2 * m},
		{name: "unsorted", fails: ago(1*m, 4*m, 2*m), want: 1 * m},
		{name: "all now", fails: ago(0, 0, 0), want: 5 * m},
		{name: "one exactly a window old no longer counts", fails: ago(5*m, 1*m, 1*m)},
		{name: "one just inside the window", fails: ago(5*m-time.Second, 1*m, 1*m), want: time.Second},
		{name: "window expired", fails: ago(6*m, 7*m, 8*m, 9*m)},
		{name: "old failures do not add up", fails: ago(10*m, 9*m, 8*m, 2*m, 1*m)},
		{name: "future-dated failures lock at most a window", fails: ago(-time.Hour, -time.Hour, -2*time.Hour), want: 5 * m},
		{name: "future-dated and past", fails: ago(4*m, -time.Hour, -time.Hour), want: 1 * m},
		{name: "future-dated within the window", fails: ago(1*m, -1*m, -2*m), want: 4 * m},
		{name: "limit of one", fails: ago(2 * m), rl: &config.RateLimit{Failures: 1, Per: 5 * m}, want: 3 * m},
		{name: "limit of one, none", rl: &config.RateLimit{Failures: 1, Per: 5 * m}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rl
			if tc.rl != nil {
				r = *tc.rl
			}
			st := &store.UserState{Failures: slices.Clone(tc.fails)}
			got := LockedUntil(st, r, t0)
			var want time.Time
			if tc.want != 0 {
				want = t0.Add(tc.want)
			}
			if !got.Equal(want) {
				t.Errorf("LockedUntil = %v, want %v", got, want)
			}
			if !slices.Equal(st.Failures, tc.fails) {
				t.Errorf("LockedUntil changed the state's failures: %v", st.Failures)
			}
		})
	}
	if got := LockedUntil(nil, rl, t0); !got.IsZero() {
		t.Errorf("LockedUntil(nil) = %v, want zero", got)
	}
}

func TestPruneFailures(t *testing.T) {
	const m = time.Minute
	rl := config.RateLimit{Failures: 3, Per: 5 * m}
	for _, tc := range []struct {
		name  string
		fails []time.Time
		want  []time.Time
	}{
		{name: "none"},
		{name: "sorted, oldest first", fails: ago(1*m, 3*m, 2*m), want: ago(3*m, 2*m, 1*m)},
		{name: "drops what left the window", fails: ago(5*m, 6*m, 1*m, 5*m-time.Second), want: ago(5*m-time.Second, 1*m)},
		{name: "keeps future-dated", fails: ago(-time.Hour, 1*m), want: ago(1*m, -time.Hour)},
		{name: "keeps duplicates", fails: ago(1*m, 1*m), want: ago(1*m, 1*m)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.fails)
			got := PruneFailures(in, rl, t0)
			if !slices.EqualFunc(got, tc.want, time.Time.Equal) {
				t.Errorf("PruneFailures = %v, want %v", got, tc.want)
			}
			if !slices.Equal(in, tc.fails) {
				t.Errorf("PruneFailures changed its input: %v", in)
			}
		})
	}

	t.Run("bounded", func(t *testing.T) {
		var fails []time.Time
		for i := range 1500 {
			fails = append(fails, t0.Add(-time.Duration(i)*time.Millisecond))
		}
		got := PruneFailures(fails, rl, t0)
		if len(got) != maxFailures {
			t.Fatalf("%d failures kept, want %d", len(got), maxFailures)
		}
		if oldest, newest := got[0], got[len(got)-1]; !oldest.Equal(t0.Add(-999*time.Millisecond)) || !newest.Equal(t0) {
			t.Errorf("kept %v .. %v, want the newest %d", oldest, newest, maxFailures)
		}
	})
}

func TestRateLimitedUserIsNotPrompted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fails    []time.Time
		terminal bool
		env      bool
		confirm  bool
		wantLine string
	}{
		{name: "terminal", fails: ago(time.Minute, time.Minute, time.Minute, time.Minute, time.Minute), terminal: true,
			wantLine: "logingate: error: too many failed attempts for alice; try again in 4m0s (at 12:04:10 UTC)"},
		{name: "less than a second left", fails: ago(5*time.Minute-200*time.Millisecond, 0, 0, 0, 0), terminal: true,
			wantLine: "logingate: error: too many failed attempts for alice; try again in 1s (at 12:00:10 UTC)"},
		{name: "right env code", fails: ago(0, 0, 0, 0, 0), env: true,
			wantLine: "logingate: error: too many failed attempts for alice; try again in 5m0s (at 12:05:10 UTC)"},
		{name: "confirm", fails: ago(0, 0, 0, 0, 0), terminal: true, confirm: true,
			wantLine: "try again in 5m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			en := twoFactors
			en.failures = tc.fails
			var ui *fakeUI
			if tc.terminal {
				ui = newUI(say(en.code(t, t0)))
			}
			h := newHarness(t, &en, ui)
			if tc.env {
				h.g.EnvCode = en.code(t, t0)
			}
			var d Decision
			if tc.confirm {
				d = h.confirm("enroll")
			} else {
				d = h.run()
			}
			if d.Allow || d.Reason != "rate limited" {
				t.Errorf("decision %+v, want deny: rate limited", d)
			}
			if ui != nil && ui.reads() != 0 {
				t.Errorf("a rate-limited user was prompted %d times", ui.reads())
			}
			if _, updates, _ := h.store.counts(); updates != 0 {
				t.Errorf("%d state updates: a rate-limited user's code was tried", updates)
			}
			h.wantLines(tc.wantLine, "logingate: hint: an administrator can lift this with: logingate unlock --user alice")
		})
	}
}

func TestRateLimitReachedMidMenu(t *testing.T) {
	en := twoFactors
	right, wrong := en.code(t, t0), en.wrongCode(t)
	for _, tc := range []struct {
		name      string
		earlier   int // failures a minute before
		env       string
		answers   []string
		wantReads int
	}{
		{name: "second wrong code", earlier: 3, answers: []string{wrong, wrong, right}, wantReads: 2},
		{name: "first wrong code", earlier: 4, answers: []string{wrong, right}, wantReads: 1},
		{name: "env code", earlier: 4, env: wrong, answers: []string{right}, wantReads: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			en := en
			for range tc.earlier {
				en.failures = append(en.failures, t0.Add(-time.Minute))
			}
			ui := newUI(says(tc.answers...)...)
			h := newHarness(t, &en, ui)
			h.g.EnvCode = tc.env
			d := h.run()
			if d.Allow || d.Reason != "wrong code; rate limit reached" || d.Factor != "totp" {
				t.Errorf("decision %+v, want deny: wrong code; rate limit reached", d)
			}
			if ui.reads() != tc.wantReads {
				t.Errorf("%d prompts, want %d: reaching the limit must stop the menu", ui.reads(), tc.wantReads)
			}
			if got := len(h.stored().Failures); got != 5 {
				t.Errorf("%d failures stored, want 5", got)
			}
			h.wantLines("logingate: wrong code",
				"logingate: error: too many failed attempts for alice; try again in 4m0s (at 12:04:10 UTC)",
				"logingate unlock --user alice")
			h.noLines("too many failed attempts; access denied")

			// The next login is not even asked.
			next := newHarness(t, nil, newUI(say(right)))
			next.store, next.g.Store = h.store, h.store
			next.g.Factors = localFactors(next.cfg, h.store)
			next.typed = h.typed
			if d := next.run(); d.Reason != "rate limited" || next.ui.reads() != 0 {
				t.Errorf("next login: %+v after %d prompts, want rate limited without a prompt", d, next.ui.reads())
			}
		})
	}
}

// After the clock goes back, failures dated in the future are rewritten to
// now on the locked path, so the lockout ends rate_limit.per after the jump
// rather than when the clock catches up with the old dates.
func TestClockJumpBackLockoutEnds(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rl := config.RateLimit{Failures: 2, Per: 5 * time.Minute}
	st := &store.UserState{Version: store.FormatVersion, Failures: []time.Time{now.Add(24 * time.Hour), now.Add(24*time.Hour + time.Second)}}
	ms := newStore()
	ms.put(t, "alice", st)
	cfg := config.Default("testhost")
	cfg.RateLimit = rl
	policy, err := groups.Parse(cfg.Groups)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Config: &cfg, Policy: policy, Store: ms, User: "alice", Now: func() time.Time { return now }, Stderr: io.Discard,
		Factors: func(string, *store.UserState) []factors.Factor { return nil }}
	if d := g.Run(context.Background()); d.Allow || d.Reason != "rate limited" {
		t.Fatalf("first try: %+v, want rate limited", d)
	}
	after, err := ms.Load(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range after.Failures {
		if f.After(now) {
			t.Fatalf("failure still dated in the future: %v", f)
		}
	}
	later := now.Add(rl.Per + time.Second)
	if until := LockedUntil(after, rl, later); !until.IsZero() {
		t.Fatalf("still locked %v after the window, until %v", rl.Per, until)
	}
}
