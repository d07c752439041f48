package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/radius"
	"github.com/logingate/logingate/internal/store"
)

// fakeRADIUS is a scripted RADIUS client behind the real RADIUS factor:
// good codes are accepted, "0000" is challenged (State "s1"), and the
// challenge's answer "654321" with that State is accepted.
type fakeRADIUS struct {
	good      map[string]bool
	down      bool // no server answers
	challenge bool // every answer is challenged
	reqs      []radius.Request
}

func (c *fakeRADIUS) Authenticate(_ context.Context, r radius.Request) (radius.Result, error) {
	c.reqs = append(c.reqs, r)
	res := radius.Result{Server: "192.0.2.1:1812", Warnings: []string{"server without Message-Authenticator"}}
	switch {
	case c.down:
		return res, fmt.Errorf("%w (192.0.2.1:1812: no answer within 3s)", radius.ErrService)
	case c.challenge || r.Password == "0000" && r.State == nil:
		res.Code, res.ReplyMessage, res.State = radius.Challenge, "Enter the code sent by SMS", radius.State("s1")
	case r.State != nil && string(r.State) == "s1" && r.Password == "654321", r.State == nil && c.good[r.Password]:
		res.Code = radius.Accept
	default:
		res.Code, res.ReplyMessage = radius.Reject, "Access denied"
	}
	return res, nil
}

func (h *harness) withRADIUS(c *fakeRADIUS, warned *[]string) *harness {
	l := factors.RADIUSLogin{User: testUser, Remote: testRemote, Label: "Corp",
		Warn: func(s string) { *warned = append(*warned, s) }}
	h.g.Services = append(h.g.Services, factors.NewRADIUS(c, l))
	return h
}

// Where a typed answer goes when RADIUS is one of the user's factors: to
// RADIUS only when nothing else takes it; its menu option sends the next
// answer to RADIUS alone. A challenge's text is the next prompt.
func TestRADIUSMenu(t *testing.T) {
	right := twoFactors.code(t, t0)
	for _, tc := range []struct {
		name      string
		en        *enrollment
		duo       bool
		answers   []answer
		setup     func(*fakeRADIUS)
		failmode  config.Failmode
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantReqs  int // RADIUS requests
		wantLines []string
		wantFails int
		failsafe  bool
	}{
		{name: "RADIUS alone: its prompt takes any code", answers: says("87654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 1},
		{name: "a TOTP-shaped code goes to TOTP, not RADIUS", en: &twoFactors, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReqs: 0},
		{name: "a wrong TOTP-shaped code never reaches RADIUS", en: &totpOnly, answers: says("123456", right),
			wantAllow: true, wantFac: "totp", wantReqs: 0, wantWhy: "code accepted", wantLines: []string{"wrong code"}},
		{name: "a code no local factor takes goes to RADIUS", en: &twoFactors, answers: says("87654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 1,
			wantLines: []string{" 1. Authenticator app code", " 2. Backup code", " 3. OTP from Corp"}},
		{name: "its option sends a TOTP-shaped code to RADIUS", en: &twoFactors, answers: says("3", "123456"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 1},
		{name: "an option number is an option", en: &twoFactors, answers: says("2", twoFactors.codes[0]),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantReqs: 0},
		{name: "a keyword is a keyword", duo: true, answers: says("push"),
			wantAllow: true, wantFac: "duo-push", wantWhy: "approved", wantReqs: 0},
		{name: "a Duo-shaped code goes to Duo", duo: true, answers: says("7654321"),
			wantAllow: true, wantFac: "duo-passcode", wantWhy: "code accepted", wantReqs: 0},
		{name: "too short for an OTP: not sent", answers: says("12", "87654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 1, wantLines: []string{"not a valid code"}},
		{name: "a challenge, answered", answers: says("0000", "654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 2},
		{name: "a challenge, answered wrong: one attempt; the success after it clears its failure", en: &totpOnly, answers: says("0000", "111111", "0000", "654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 4, wantFails: 0,
			wantLines: []string{"wrong code", "2 attempts left"}},
		{name: "blank answers to a challenge are asked again", answers: says("0000", "", "654321"),
			wantAllow: true, wantFac: "radius", wantWhy: "code accepted", wantReqs: 2},
		{name: "endless challenges end the attempt", en: &totpOnly, answers: says("abcd", "a1", "a2", "a3"),
			setup:   func(c *fakeRADIUS) { c.challenge = true },
			wantFac: "radius", wantWhy: "aborted (end of input) after: radius: more than 3 challenges", wantReqs: 4, wantFails: 1,
			wantLines: []string{"wrong code", "2 attempts left"}},
		{name: "rejects count against the rate limit", en: &totpOnly, answers: says("bad-1", "bad-2", "bad-3"),
			wantFac: "radius", wantWhy: "wrong code", wantReqs: 3, wantFails: 3},
		{name: "no answer, another factor held: warned, attempt used, TOTP works", en: &totpOnly, answers: says("87654321", right),
			setup:     func(c *fakeRADIUS) { c.down = true },
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReqs: 1,
			wantLines: []string{"logingate: warning: radius cannot be reached; use another factor", "2 attempts left"}},
		{name: "no answer: the failure put on record before sending is taken back", en: &totpOnly, answers: says("87654321", "87654321"),
			setup:   func(c *fakeRADIUS) { c.down = true },
			wantFac: "radius", wantWhy: "aborted (end of input)", wantReqs: 2, wantFails: 0,
			wantLines: []string{"logingate: warning: radius cannot be reached; use another factor"}},
		{name: "no answer, nothing else, failmode secure: denied", answers: says("87654321"), failmode: "secure",
			setup:   func(c *fakeRADIUS) { c.down = true },
			wantFac: "radius", wantWhy: "radius unreachable: radius: radius: no server answered", wantReqs: 1,
			wantLines: []string{"logingate: error: radius cannot be reached; access denied"}},
		{name: "no answer, nothing else, failmode safe: let in", answers: says("87654321"), failmode: "safe",
			setup:     func(c *fakeRADIUS) { c.down = true },
			wantAllow: true, failsafe: true, wantFac: "none", wantWhy: "radius unreachable", wantReqs: 1,
			wantLines: []string{"logingate: warning: radius cannot be reached; letting you in (failmode safe)"}},
		{name: "the terminal closes during a challenge", answers: says("0000"),
			wantFac: "", wantWhy: "aborted (end of input)", wantReqs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeRADIUS{good: map[string]bool{"87654321": true, "123456": true}}
			if tc.setup != nil {
				tc.setup(c)
			}
			ui := newUI(tc.answers...)
			h := newHarness(t, tc.en, ui)
			if tc.duo {
				h.withDuo(newDuoUser())
			}
			if tc.failmode != "" {
				h.cfg.Failmode = tc.failmode
			}
			var warned []string
			h.withRADIUS(c, &warned)
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || !strings.HasPrefix(d.Reason, tc.wantWhy) || d.Failsafe != tc.failsafe {
				t.Errorf("decision %+v, want allow=%v factor=%q reason %q... failsafe %v", d, tc.wantAllow, tc.wantFac, tc.wantWhy, tc.failsafe)
			}
			if len(c.reqs) != tc.wantReqs {
				t.Errorf("%d RADIUS requests, want %d", len(c.reqs), tc.wantReqs)
			}
			if len(warned) != len(c.reqs) {
				t.Errorf("%d warnings logged for %d requests", len(warned), len(c.reqs))
			}
			h.wantLines(tc.wantLines...)
			if tc.en != nil {
				if got := len(h.stored().Failures); got != tc.wantFails {
					t.Errorf("%d failures stored, want %d", got, tc.wantFails)
				}
			}
			for _, r := range c.reqs {
				if r.User != testUser || r.Calling != testRemote {
					t.Errorf("request for %q from %q", r.User, r.Calling)
				}
			}
		})
	}
}

// A challenge shows the server's text as the prompt and sends the answer
// back with the State; the first request carries none.
func TestRADIUSChallengePrompt(t *testing.T) {
	c := &fakeRADIUS{}
	ui := newUI(says("0000", "654321")...)
	var warned []string
	h := newHarness(t, nil, ui).withRADIUS(c, &warned)
	if d := h.run(); !d.Allow {
		t.Fatalf("decision %+v", d)
	}
	if want := []string{"OTP from Corp: ", "Enter the code sent by SMS: "}; !slices.Equal(ui.prompts, want) {
		t.Errorf("prompts %q, want %q", ui.prompts, want)
	}
	if c.reqs[0].State != nil || string(c.reqs[1].State) != "s1" || c.reqs[1].Server != "192.0.2.1:1812" {
		t.Errorf("requests %+v", c.reqs)
	}
}

// A passcode from the environment that no other factor takes goes to
// RADIUS; a challenge cannot be answered without a terminal.
func TestRADIUSEnvCode(t *testing.T) {
	for _, tc := range []struct {
		code, why string
		allow     bool
	}{
		{"87654321", "code accepted", true},
		{"0000", "passcode from the environment: radius: challenge without a terminal", false},
	} {
		c := &fakeRADIUS{good: map[string]bool{"87654321": true}}
		var warned []string
		h := newHarness(t, nil, nil).withRADIUS(c, &warned)
		h.cfg.AcceptEnvFactor = true
		h.g.EnvCode = tc.code
		d := h.run()
		if d.Allow != tc.allow || !strings.HasPrefix(d.Reason, tc.why) {
			t.Errorf("%s: decision %+v, want %q", tc.code, d, tc.why)
		}
	}
}

// A RADIUS success starts the failure count over, as a local factor's does:
// otherwise rejects before it would add up to a lockout after it.
func TestRADIUSSuccessClearsFailures(t *testing.T) {
	en := totpOnly
	en.failures = []time.Time{t0.Add(-time.Minute), t0.Add(-30 * time.Second)}
	var warned []string
	ui := newUI(says("2", "otp-good")...)
	h := newHarness(t, &en, ui).withRADIUS(&fakeRADIUS{good: map[string]bool{"otp-good": true}}, &warned)
	if d := h.run(); !d.Allow || d.Factor != "radius" {
		t.Fatalf("decision %+v, want in by RADIUS", d)
	}
	st := h.stored()
	if len(st.Failures) != 0 || st.LastSuccess == nil || st.LastSuccess.Factor != "radius" {
		t.Errorf("after a RADIUS success: failures %v, last success %+v; want none and radius", st.Failures, st.LastSuccess)
	}
}

// A RADIUS reject that cannot be recorded ends the login, as a local
// factor's unrecorded failure does, even under failmode safe with a store
// that cannot be reached: the rate limit must see every attempt, and a
// refused code is no reason to let in.
func TestRADIUSRejectNotRecordedDenies(t *testing.T) {
	for _, storeErr := range []error{errors.New("disk full"), fmt.Errorf("db down: %w", store.ErrUnavailable)} {
		var warned []string
		ui := newUI(says("2", "otp-bad", "otp-bad", "otp-bad")...)
		h := newHarness(t, &totpOnly, ui).withRADIUS(&fakeRADIUS{good: map[string]bool{"otp-good": true}}, &warned)
		h.cfg.Failmode = "safe"
		h.store.updateErr = storeErr
		d := h.run()
		if d.Allow || !strings.HasPrefix(d.Reason, "state update failed") || ui.reads() != 2 {
			t.Errorf("store error %v: decision %+v after %d answers, want denied at the first unrecorded reject", storeErr, d, ui.reads())
		}
	}
}
