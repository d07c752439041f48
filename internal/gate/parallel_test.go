package gate

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/radius"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
)

// Parallel logins of one user against the real file store: each gate
// passes the snapshot check before the menu while the user is not locked,
// and only then do they all answer. Issue 10, reproduction 3: 9 gates at
// the prompt, 8 wrong codes, then the right TOTP from the 9th, which must
// be refused; and across all of them no more codes checked than
// rate_limit.failures.

// heldStore lets a gate's snapshot read (Load) through, then holds the
// gate there until its turn: the gate is "at the prompt".
type heldStore struct {
	store.Store
	turn   chan struct{}
	loaded *sync.WaitGroup
}

func (s *heldStore) Load(ctx context.Context, user string) (*store.UserState, error) {
	st, err := s.Store.Load(ctx, user)
	s.loaded.Done()
	<-s.turn
	return st, err
}

// countedLocal counts the codes a local factor verifies.
type countedLocal struct {
	factors.Local
	n *atomic.Int32
}

func (c countedLocal) Verify(st *store.UserState, code string, now time.Time) (factors.Outcome, error) {
	c.n.Add(1)
	return c.Local.Verify(st, code, now)
}

// countedRADIUS accepts "otp-good" and counts every code it is sent.
type countedRADIUS struct{ n *atomic.Int32 }

func (c countedRADIUS) Authenticate(_ context.Context, r radius.Request) (radius.Result, error) {
	c.n.Add(1)
	if r.Password == "otp-good" {
		return radius.Result{Code: radius.Accept}, nil
	}
	return radius.Result{Code: radius.Reject}, nil
}

// countedPasscode is a Duo passcode taker that counts the codes sent to it.
type countedPasscode struct {
	*fakePasscode
	n *atomic.Int32
}

func (p countedPasscode) Check(ctx context.Context, code string) (factors.Outcome, error) {
	p.n.Add(1)
	return p.fakePasscode.Check(ctx, code)
}

// parallelRig is one user's state in a real file store and a way to make
// gates for it.
type parallelRig struct {
	t       *testing.T
	cfg     config.Config
	policy  *groups.Policy
	fs      *filestore.Store
	checked atomic.Int32 // codes verified locally or sent to RADIUS
}

func newParallelRig(t *testing.T, en *enrollment) *parallelRig {
	t.Helper()
	cfg := config.Default("testhost")
	cfg.RateLimit = config.RateLimit{Failures: 5, Per: 5 * time.Minute}
	policy, err := groups.Parse(cfg.Groups)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	fs := filestore.New(t.TempDir(), func(string) (int, int, error) { return uid, gid, nil })
	r := &parallelRig{t: t, cfg: cfg, policy: policy, fs: fs}
	if en != nil {
		if err := fs.Update(context.Background(), testUser, func(st *store.UserState) error {
			*st = *en.state(t)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// gate makes a gate whose store is held, typing answers; the user also
// holds RADIUS or Duo when service says so.
func (r *parallelRig) gate(held *heldStore, answers []answer, envCode string, service string) *Gate {
	g := &Gate{
		Config: &r.cfg, Policy: r.policy, Store: held, User: testUser, Remote: testRemote,
		Stderr: io.Discard, EnvCode: envCode, Now: func() time.Time { return t0 },
		Factors: func(user string, st *store.UserState) []factors.Factor {
			var out []factors.Factor
			for _, f := range localFactors(&r.cfg, held)(user, st) {
				out = append(out, countedLocal{Local: f.(factors.Local), n: &r.checked})
			}
			return out
		},
	}
	if answers != nil {
		g.UI = newUI(answers...)
	}
	switch service {
	case "radius":
		g.Services = []factors.Service{factors.NewRADIUS(countedRADIUS{n: &r.checked}, factors.RADIUSLogin{User: testUser, Label: "Corp"})}
	case "duo":
		// Codes checked here are those Duo is sent: a TOTP-shaped code
		// goes to both, and counts once.
		passcode := countedPasscode{&fakePasscode{valid: map[string]bool{"7654321": true}}, &r.checked}
		g.Services = []factors.Service{&fakeService{plan: factors.Plan{Verdict: factors.Offer, Factors: []factors.Factor{passcode}}}}
		g.Factors = func(user string, st *store.UserState) []factors.Factor { return localFactors(&r.cfg, held)(user, st) }
	}
	return g
}

// race runs the gates: all read their snapshot, then the first wrong
// ones answer at once, and the last one answers once they are done.
func (r *parallelRig) race(mk func(held *heldStore, i int) *Gate, n int, decide func(*Gate) Decision) []Decision {
	r.t.Helper()
	var loaded sync.WaitGroup
	loaded.Add(n)
	gates := make([]*Gate, n)
	turns := make([]chan struct{}, n)
	for i := range gates {
		turns[i] = make(chan struct{})
		gates[i] = mk(&heldStore{Store: r.fs, turn: turns[i], loaded: &loaded}, i)
	}
	out := make([]Decision, n)
	var wrong, last sync.WaitGroup
	wrong.Add(n - 1)
	last.Add(1)
	for i, g := range gates {
		go func() {
			if i < n-1 {
				defer wrong.Done()
			} else {
				defer last.Done()
			}
			out[i] = decide(g)
		}()
	}
	loaded.Wait() // every gate is past its snapshot check: at the prompt
	for _, c := range turns[:n-1] {
		close(c)
	}
	wrong.Wait()
	close(turns[n-1])
	last.Wait()
	return out
}

func TestParallelGatesHoldTheRateLimit(t *testing.T) {
	const n = 9
	run := func(g *Gate) Decision { return g.Run(context.Background()) }
	confirm := func(g *Gate) Decision { return g.Confirm(context.Background(), "enroll") }
	for _, tc := range []struct {
		name    string
		service string
		// answers: what gate i types (or passes in the environment),
		// given the right code and a wrong one.
		answers func(i int, right, wrong string) (typed []answer, env string)
		decide  func(*Gate) Decision
	}{
		{name: "codes at the prompt", decide: run, answers: func(i int, right, wrong string) ([]answer, string) {
			if i == n-1 {
				return says(right), ""
			}
			return says(wrong), ""
		}},
		{name: "passcodes from the environment", decide: run, answers: func(i int, right, wrong string) ([]answer, string) {
			if i == n-1 {
				return nil, right
			}
			return nil, wrong
		}},
		{name: "step-up confirmations", decide: confirm, answers: func(i int, right, wrong string) ([]answer, string) {
			if i == n-1 {
				return says(right), ""
			}
			return says(wrong), ""
		}},
		{name: "Duo passcodes", service: "duo", decide: run, answers: func(i int, _, wrong string) ([]answer, string) {
			if i == n-1 {
				return says("7654321"), ""
			}
			return says(wrong), ""
		}},
		{name: "RADIUS codes", service: "radius", decide: run, answers: func(i int, _, _ string) ([]answer, string) {
			if i == n-1 {
				return says("otp-good"), ""
			}
			return says(fmt.Sprintf("otp-bad-%d", i)), ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			en := totpOnly
			rig := newParallelRig(t, &en)
			right, wrong := en.code(t, t0), en.wrongCode(t)
			if tc.name == "passcodes from the environment" {
				rig.cfg.AcceptEnvFactor = true
			}
			ds := rig.race(func(held *heldStore, i int) *Gate {
				typed, env := tc.answers(i, right, wrong)
				return rig.gate(held, typed, env, tc.service)
			}, n, tc.decide)

			if got, max := rig.checked.Load(), int32(rig.cfg.RateLimit.Failures); got > max {
				t.Errorf("%d codes checked across %d parallel gates, want at most rate_limit.failures = %d", got, n, max)
			}
			if d := ds[n-1]; d.Allow || d.Reason != "rate limited" {
				t.Errorf("the right code after %d wrong ones: %+v, want refused: rate limited", n-1, d)
			}
			for i, d := range ds[:n-1] {
				if d.Allow {
					t.Errorf("gate %d let in with a wrong code: %+v", i, d)
				}
			}
			st, err := rig.fs.Load(context.Background(), testUser)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failures) != rig.cfg.RateLimit.Failures {
				t.Errorf("%d failures on record, want %d", len(st.Failures), rig.cfg.RateLimit.Failures)
			}
			if st.LastSuccess != nil || st.TOTP.LastStep != 0 {
				t.Errorf("the right code was used: last success %+v, last step %d", st.LastSuccess, st.TOTP.LastStep)
			}
		})
	}
}

// A store that cannot be reached mid-login: a code only Duo checks (Duo
// counts its passcodes itself) still goes to Duo, as before the rate
// limit was checked under the lock; a RADIUS code, whose refusal the gate
// must count, is not sent uncounted, even under failmode safe.
func TestStoreOutageAtTheAttempt(t *testing.T) {
	unavailable := fmt.Errorf("db down: %w", store.ErrUnavailable)

	h := newHarness(t, nil, newUI(say("7654321"))).withDuo(newDuoUser())
	h.store.lockErr = unavailable
	if d := h.run(); !d.Allow || d.Factor != "duo-passcode" {
		t.Errorf("Duo passcode with the store down: %+v, want let in by Duo", d)
	}

	var warned []string
	c := &fakeRADIUS{good: map[string]bool{"87654321": true}}
	h = newHarness(t, nil, newUI(say("87654321"))).withRADIUS(c, &warned)
	h.cfg.Failmode = "safe"
	h.store.lockErr = unavailable
	if d := h.run(); d.Allow || !strings.HasPrefix(d.Reason, "state update failed") {
		t.Errorf("RADIUS code with the store down: %+v, want denied: state update failed", d)
	}
	if len(c.reqs) != 0 {
		t.Errorf("%d RADIUS requests: a code was sent that could not be counted", len(c.reqs))
	}
}
