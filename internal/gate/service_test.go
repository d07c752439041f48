package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
)

// --- a scripted outside service ---------------------------------------------

type fakeService struct {
	plan  factors.Plan
	err   error
	calls int
}

func (s *fakeService) Name() string { return "duo" }
func (s *fakeService) Plan(context.Context) (factors.Plan, error) {
	s.calls++
	return s.plan, s.err
}

// fakeAction is a push, call or SMS request with scripted outcomes, one per
// run (the last repeats).
type fakeAction struct {
	name, label, keyword string
	outcomes             []factors.Outcome
	err                  error
	progress             []string
	block                bool // wait for ctx, as a push nobody answers

	mu   sync.Mutex
	runs int
}

func (a *fakeAction) Name() string           { return a.name }
func (a *fakeAction) Label() string          { return a.label }
func (a *fakeAction) Accepts(string) bool    { return false }
func (a *fakeAction) Traits() factors.Traits { return factors.Traits{Keywords: []string{a.keyword}} }
func (a *fakeAction) Check(context.Context, string) (factors.Outcome, error) {
	panic("actions are run")
}
func (a *fakeAction) Run(ctx context.Context, progress func(string)) (factors.Outcome, error) {
	a.mu.Lock()
	n := a.runs
	a.runs++
	a.mu.Unlock()
	for _, p := range a.progress {
		progress(p)
	}
	if a.block {
		<-ctx.Done()
		return factors.Outcome{}, ctx.Err()
	}
	if a.err != nil {
		return factors.Outcome{}, a.err
	}
	return a.outcomes[min(n, len(a.outcomes)-1)], nil
}

func (a *fakeAction) ran() int { a.mu.Lock(); defer a.mu.Unlock(); return a.runs }

// fakePasscode is a service's hidden code taker (a Duo passcode).
type fakePasscode struct {
	valid  map[string]bool
	err    error
	checks int
}

func (p *fakePasscode) Name() string           { return "duo-passcode" }
func (p *fakePasscode) Label() string          { return "Duo passcode" }
func (p *fakePasscode) Traits() factors.Traits { return factors.Traits{Hidden: true} }
func (p *fakePasscode) Accepts(code string) bool {
	return len(code) >= 6 && len(code) <= 12 && strings.Trim(code, "0123456789") == ""
}
func (p *fakePasscode) Check(_ context.Context, code string) (factors.Outcome, error) {
	p.checks++
	if p.err != nil {
		return factors.Outcome{}, p.err
	}
	if p.valid[code] {
		delete(p.valid, code)
		return factors.Outcome{OK: true}, nil
	}
	return factors.Outcome{Reason: factors.ReasonWrong}, nil
}

var (
	approved = factors.Outcome{OK: true, Notice: "Success. Logging you in..."}
	rejected = factors.Outcome{Reason: "duo: deny", Notice: "Login request denied."}
	smsSent  = factors.Outcome{Again: true, Notice: "New SMS passcodes sent"}
)

// duoUser is a user with two Duo devices: a phone that pushes, calls and
// takes SMS, and a tablet that pushes.
type duoUser struct {
	svc                    *fakeService
	push, call, sms, push2 *fakeAction
	auto                   *fakeAction
	passcode               *fakePasscode
}

func newDuoUser() *duoUser {
	u := &duoUser{
		push:     &fakeAction{name: "duo-push", label: "Duo Push to iOS (XXX-XXX-1234)", keyword: "push", outcomes: []factors.Outcome{approved}, progress: []string{"Pushed a login request to your device..."}},
		call:     &fakeAction{name: "duo-phone", label: "Phone call to XXX-XXX-1234", keyword: "phone", outcomes: []factors.Outcome{approved}},
		sms:      &fakeAction{name: "duo-sms", label: "SMS passcodes to XXX-XXX-1234", keyword: "sms", outcomes: []factors.Outcome{smsSent}},
		push2:    &fakeAction{name: "duo-push", label: "Duo Push to iPad", keyword: "push2", outcomes: []factors.Outcome{approved}},
		auto:     &fakeAction{name: "duo-auto", label: "default", outcomes: []factors.Outcome{approved}},
		passcode: &fakePasscode{valid: map[string]bool{"7654321": true, "1234567": true}},
	}
	u.svc = &fakeService{plan: factors.Plan{Verdict: factors.Offer,
		Factors: []factors.Factor{u.push, u.call, u.sms, u.push2, u.passcode}, Auto: u.auto}}
	return u
}

func (h *harness) withDuo(u *duoUser) *harness {
	h.g.Services = []factors.Service{u.svc}
	return h
}

// --- tests -------------------------------------------------------------------

// Duo's factors join the menu after the local ones; each answer form a
// login_duo user knows works.
func TestDuoMenu(t *testing.T) {
	right := twoFactors.code(t, t0)
	for _, tc := range []struct {
		name      string
		en        *enrollment
		answers   []answer
		setup     func(*duoUser)
		prompts   int
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantLines []string
		wantFails int
	}{
		{name: "option for a push", answers: says("1"), wantAllow: true, wantFac: "duo-push", wantWhy: "approved",
			wantLines: []string{" 1. Duo Push to iOS (XXX-XXX-1234)", " 4. Duo Push to iPad", "Pushed a login request to your device... (0s)", "Success. Logging you in..."}},
		{name: "keyword push2", answers: says("push2"), wantAllow: true, wantFac: "duo-push", wantWhy: "approved"},
		{name: "keyword in capitals", answers: says("PHONE"), wantAllow: true, wantFac: "duo-phone", wantWhy: "approved"},
		{name: "a Duo passcode", answers: says("7654321"), wantAllow: true, wantFac: "duo-passcode", wantWhy: "code accepted"},
		{name: "push denied, then a passcode", answers: says("push", "1234567"),
			setup:     func(u *duoUser) { u.push.outcomes = []factors.Outcome{rejected} },
			wantAllow: true, wantFac: "duo-passcode", wantWhy: "code accepted",
			wantLines: []string{"Login request denied.", "2 attempts left"}},
		{name: "SMS costs no attempt", answers: says("sms", "7654321"), prompts: 1,
			wantAllow: true, wantFac: "duo-passcode", wantWhy: "code accepted",
			wantLines: []string{"New SMS passcodes sent; enter one"}},
		{name: "every push denied", answers: says("1", "1", "1"),
			setup:   func(u *duoUser) { u.push.outcomes = []factors.Outcome{rejected} },
			wantFac: "duo-push", wantWhy: "duo: deny", wantLines: []string{"too many failed attempts"}},
		{name: "TOTP code goes local, Duo never asked", en: &twoFactors, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "local numbering first", en: &twoFactors, answers: says("3"),
			wantAllow: true, wantFac: "duo-push", wantWhy: "approved",
			wantLines: []string{" 1. Authenticator app code", " 2. Backup code", " 3. Duo Push to iOS (XXX-XXX-1234)"}},
		{name: "wrong for TOTP, right for Duo: no failure on record", en: &twoFactors, answers: says("7654321"),
			wantAllow: true, wantFac: "duo-passcode", wantWhy: "code accepted"},
		{name: "wrong for both: one attempt, one failure", en: &totpOnly, answers: says("999999", "999998", "999997"),
			wantFac: "totp", wantWhy: "wrong code", wantFails: 3},
		{name: "a passcode Duo cannot check costs the attempt, records nothing", en: &totpOnly, answers: says("99999999", right),
			setup:     func(u *duoUser) { u.passcode.err = fmt.Errorf("connect: %w", factors.ErrService) },
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted",
			wantLines: []string{"logingate: error: Duo could not complete the request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newDuoUser()
			if tc.setup != nil {
				tc.setup(u)
			}
			ui := newUI(tc.answers...)
			h := newHarness(t, tc.en, ui).withDuo(u)
			if tc.prompts > 0 {
				h.cfg.Prompts = tc.prompts
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || !strings.HasPrefix(d.Reason, tc.wantWhy) {
				t.Errorf("decision %+v, want allow=%v factor=%q reason %q...", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			h.wantLines(tc.wantLines...)
			if tc.en != nil {
				if got := len(h.stored().Failures); got != tc.wantFails {
					t.Errorf("%d failures stored, want %d", got, tc.wantFails)
				}
			}
			if u.svc.calls != 1 {
				t.Errorf("preauth ran %d times, want once per login", u.svc.calls)
			}
		})
	}
}

// What Duo's preauth verdicts and outages do, for a user with and without
// local factors, under both failmodes.
func TestDuoVerdicts(t *testing.T) {
	right := twoFactors.code(t, t0)
	outage := fmt.Errorf("preauth: connect: %w", factors.ErrService)
	for _, tc := range []struct {
		name      string
		plan      factors.Plan
		err       error
		failmode  config.Failmode
		en        *enrollment
		answers   []answer
		wantAllow bool
		wantSafe  bool
		wantFac   string
		wantWhy   string
		wantLines []string
		wantReads int
	}{
		{name: "allow, no local factor: skipped", plan: factors.Plan{Verdict: factors.Skip},
			wantAllow: true, wantFac: "none", wantWhy: "duo preauth allow"},
		{name: "allow, with TOTP: TOTP still asked", plan: factors.Plan{Verdict: factors.Skip}, en: &totpOnly,
			answers: says(right), wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "deny wins over TOTP", plan: factors.Plan{Verdict: factors.Refuse, Message: "Your account is disabled\x1b[2J"}, en: &totpOnly,
			answers: says(right), wantFac: "duo", wantWhy: "duo preauth deny: Your account is disabled?[2J",
			wantLines: []string{"logingate: error: Your account is disabled?[2J"}},
		{name: "enroll, no local factor: the link, denied", plan: factors.Plan{Verdict: factors.NotEnrolled, EnrollURL: "https://api-x.duosecurity.com/portal?code=abc"},
			wantFac: "duo", wantWhy: "duo preauth enroll", wantLines: []string{"enroll at https://api-x.duosecurity.com/portal?code=abc"}},
		{name: "enroll, with TOTP: the link, then TOTP", plan: factors.Plan{Verdict: factors.NotEnrolled, EnrollURL: "https://e"}, en: &totpOnly,
			answers: says(right), wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1, wantLines: []string{"enroll at https://e"}},
		{name: "outage, failmode safe, nothing else: in with a warning", err: outage, failmode: "safe",
			wantAllow: true, wantSafe: true, wantFac: "none", wantWhy: "duo unreachable: preauth: connect: service unavailable; failmode safe",
			wantLines: []string{"letting you in (failmode safe)"}},
		{name: "outage, failmode secure, nothing else: denied", err: outage, failmode: "secure",
			wantFac: "duo", wantWhy: "duo unreachable", wantLines: []string{"cannot be reached; access denied"}},
		{name: "outage, failmode safe, with TOTP: TOTP, not an open door", err: outage, failmode: "safe", en: &totpOnly,
			answers: says("123", "123", "123"), wantFac: "", wantWhy: "malformed answer", wantReads: 3,
			wantLines: []string{"logingate: warning: duo cannot be reached; use another factor"}},
		{name: "outage, failmode secure, with TOTP: TOTP", err: outage, failmode: "secure", en: &totpOnly,
			answers: says(right), wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "a request Duo refuses (400) denies under safe", err: errors.New("preauth: HTTP 400: invalid request"), failmode: "safe",
			wantFac: "duo", wantWhy: "duo error", wantLines: []string{"duo refused the request; access denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ui *fakeUI
			if tc.answers != nil {
				ui = newUI(tc.answers...)
			}
			h := newHarness(t, tc.en, ui)
			h.g.Services = []factors.Service{&fakeService{plan: tc.plan, err: tc.err}}
			if tc.failmode != "" {
				h.cfg.Failmode = tc.failmode
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Failsafe != tc.wantSafe || d.Factor != tc.wantFac || !strings.HasPrefix(d.Reason, tc.wantWhy) {
				t.Errorf("decision %+v, want allow=%v failsafe=%v factor=%q reason %q...", d, tc.wantAllow, tc.wantSafe, tc.wantFac, tc.wantWhy)
			}
			if ui != nil && ui.reads() != tc.wantReads {
				t.Errorf("%d prompts, want %d", ui.reads(), tc.wantReads)
			}
			h.wantLines(tc.wantLines...)
		})
	}
}

// headless: push sends the default push to a session without a terminal,
// silently as login_duo does: nothing on stdout, and on stderr nothing but
// a refusal. autopush pushes before the menu and falls back to it.
func TestDuoAutoPush(t *testing.T) {
	t.Run("headless push", func(t *testing.T) {
		u := newDuoUser()
		u.auto.progress = []string{"Pushed a login request to your device..."}
		u.auto.outcomes = []factors.Outcome{{OK: true, Notice: "Success. Logging you in..."}}
		h := newHarness(t, nil, nil).withDuo(u)
		h.cfg.Headless = "push"
		var d Decision
		if out := captureStdout(t, func() { d = h.run() }); out != "" {
			t.Errorf("stdout got %q; it belongs to the session", out)
		}
		if !d.Allow || d.Factor != "duo-auto" || u.auto.ran() != 1 {
			t.Errorf("decision %+v after %d pushes, want one approved push", d, u.auto.ran())
		}
		if h.stderr.Len() != 0 {
			t.Errorf("stderr got %q; a headless push is silent", h.stderr.String())
		}
	})
	t.Run("headless push denied", func(t *testing.T) {
		u := newDuoUser()
		u.auto.progress = []string{"Pushed a login request to your device..."}
		u.auto.outcomes = []factors.Outcome{rejected}
		h := newHarness(t, nil, nil).withDuo(u)
		h.cfg.Headless = "push"
		if d := h.run(); d.Allow {
			t.Errorf("decision %+v, want denied", d)
		}
		if got := h.stderr.String(); got != "logingate: Login request denied.\n" {
			t.Errorf("stderr got %q; want the refusal alone", got)
		}
	})
	t.Run("headless deny sends no push", func(t *testing.T) {
		u := newDuoUser()
		h := newHarness(t, nil, nil).withDuo(u)
		if d := h.run(); d.Allow || u.auto.ran() != 0 {
			t.Errorf("decision %+v after %d pushes, want denied without a push", d, u.auto.ran())
		}
	})
	t.Run("autopush approved", func(t *testing.T) {
		u := newDuoUser()
		ui := newUI()
		h := newHarness(t, nil, ui).withDuo(u)
		h.g.Autopush = true
		if d := h.run(); !d.Allow || d.Factor != "duo-auto" || ui.reads() != 0 {
			t.Errorf("decision %+v after %d prompts, want in by the push alone", d, ui.reads())
		}
	})
	t.Run("autopush denied falls back to the menu, one attempt fewer", func(t *testing.T) {
		u := newDuoUser()
		u.auto.outcomes = []factors.Outcome{rejected}
		u.push.outcomes = []factors.Outcome{rejected}
		ui := newUI(says("push", "push", "push")...)
		h := newHarness(t, nil, ui).withDuo(u)
		h.g.Autopush = true
		d := h.run()
		if d.Allow || ui.reads() != 2 {
			t.Errorf("decision %+v after %d prompts, want denied after 2", d, ui.reads())
		}
	})
	t.Run("a push nobody answers ends at the login deadline", func(t *testing.T) {
		u := newDuoUser()
		u.push.block = true
		ui := newUI(says("push")...)
		h := newHarness(t, nil, ui).withDuo(u)
		h.cfg.LoginTimeout = 50 * 1e6 // 50ms
		d := h.run()
		if d.Allow || d.Reason != "timed out" {
			t.Errorf("decision %+v, want denied as timed out", d)
		}
	})
}

// DUO_PASSCODE (accept_env_factor) reaches Duo when no local factor takes
// the code, with nothing asked.
func TestDuoPasscodeFromEnv(t *testing.T) {
	u := newDuoUser()
	h := newHarness(t, &totpOnly, nil).withDuo(u)
	h.g.EnvCode = "7654321"
	if d := h.run(); !d.Allow || d.Factor != "duo-passcode" || u.passcode.checks != 1 {
		t.Errorf("decision %+v after %d Duo checks, want in by the Duo passcode", d, u.passcode.checks)
	}
	if got := len(h.stored().Failures); got != 0 {
		t.Errorf("%d failures recorded for a code Duo accepted", got)
	}
}
