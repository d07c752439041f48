package gate

import (
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

// DUO_PASSCODE=push (push2, phone, sms, an option number) with
// accept_env_factor: login_duo sends the factor it names, and scripts
// depend on it. The test asserts what reached Duo, not only the outcome.
func TestDuoEnvFactorWords(t *testing.T) {
	tablet := duotest.Device{Device: "DPTABLET", Type: "phone", Name: "iPad", Capabilities: []string{"push"}}
	cases := []struct {
		env, factor, device string
		allow               bool
	}{
		{env: "push", factor: "push", device: "DPPHONE", allow: true},
		{env: "PUSH", factor: "push", device: "DPPHONE", allow: true},
		{env: "push2", factor: "push", device: "DPTABLET", allow: true},
		{env: "phone", factor: "phone", device: "DPPHONE", allow: true},
		{env: "2", factor: "phone", device: "DPPHONE", allow: true},
		{env: "4", factor: "push", device: "DPTABLET", allow: true},
		{env: "sms", factor: "sms", device: "DPPHONE"},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			s := duotest.New(t)
			s.SetUser(testUser, duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234"), tablet}})
			c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			h := newHarness(t, nil, nil) // no terminal: one attempt, as a script's
			h.cfg.LocalFactors = false
			h.g.Services = []factors.Service{factors.NewDuo(c, factors.DuoLogin{User: testUser, Hostname: "bastion"})}
			h.g.EnvCode = tc.env
			d := h.run()
			if d.Allow != tc.allow {
				t.Errorf("DUO_PASSCODE=%s: decision %+v, want allow=%t", tc.env, d, tc.allow)
			}
			auths := s.RequestsTo("/auth/v2/auth")
			if len(auths) != 1 {
				t.Fatalf("DUO_PASSCODE=%s: %d auth requests, want 1", tc.env, len(auths))
			}
			p := auths[0].Params
			if p.Get("factor") != tc.factor || p.Get("device") != tc.device || p.Get("passcode") != "" {
				t.Errorf("DUO_PASSCODE=%s sent factor=%q device=%q passcode=%q, want factor=%s device=%s and no passcode",
					tc.env, p.Get("factor"), p.Get("device"), p.Get("passcode"), tc.factor, tc.device)
			}
		})
	}
}

// Verified Push in a session without a terminal: no push is sent that
// nobody could complete (the number would be shown nowhere); one line on
// stderr says why. With a terminal the number is shown there.
func TestVerifiedPushNeedsTerminal(t *testing.T) {
	for _, env := range []string{"", "push"} {
		s := duotest.New(t)
		s.SetUser(testUser, duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}, VerifiedPush: "417"})
		c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		h := newHarness(t, nil, nil)
		h.cfg.LocalFactors, h.cfg.Headless = false, "push"
		h.cfg.Duo = &config.Duo{VerifiedPush: true}
		h.g.Services = []factors.Service{factors.NewDuo(c, factors.DuoLogin{User: testUser, VerifiedPush: true})}
		h.g.EnvCode = env
		if d := h.run(); d.Allow || d.Reason != "verified push without a terminal" {
			t.Errorf("DUO_PASSCODE=%q, no terminal: %+v, want denied", env, d)
		}
		if n := len(s.RequestsTo("/auth/v2/auth")); n != 0 {
			t.Errorf("DUO_PASSCODE=%q, no terminal: %d pushes sent", env, n)
		}
		if got := h.stderr.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "logingate: error: verified push needs a terminal") {
			t.Errorf("stderr %q, want one line", got)
		}
	}

	s := duotest.New(t)
	s.SetUser(testUser, duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}, VerifiedPush: "417"})
	c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ui := newUI(say("1"))
	ui.onPrintln = func(line string) {
		if strings.Contains(line, "Verification code: 417") {
			s.Type(testUser, "417")
		}
	}
	h := newHarness(t, nil, ui)
	h.cfg.LocalFactors = false
	h.cfg.Duo = &config.Duo{VerifiedPush: true}
	h.g.Services = []factors.Service{factors.NewDuo(c, factors.DuoLogin{User: testUser, VerifiedPush: true})}
	if d := h.run(); !d.Allow || d.Factor != "duo-push" {
		t.Errorf("verified push at a terminal: %+v, want in by the push", d)
	}
	h.wantLines("Verification code: 417")
	if auth := s.RequestsTo("/auth/v2/auth"); len(auth) != 1 || auth[0].Params.Get("txid") == "" {
		t.Errorf("%d pushes, want one carrying preauth's verified push txid", len(auth))
	}
}

// The two edge answers where logingate deliberately differs from
// login_duo (man page, LOGIN_DUO DROP-IN): Duo answered both times, so
// failmode does not apply. A preauth stat FAIL without a code denies under
// failmode safe; a preauth allow without status_msg lets the user in under
// failmode secure.
func TestDuoEdgeAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		failmode   config.Failmode
		allow      bool
	}{
		{name: "FAIL without code, failmode safe", failmode: "safe", body: `{"stat":"FAIL","message":"Something"}`},
		{name: "allow without status_msg, failmode secure", failmode: "secure", body: `{"stat":"OK","response":{"result":"allow"}}`, allow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := duotest.New(t)
			s.SetUser(testUser, duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}})
			s.Fail("/auth/v2/preauth", duotest.Failure{Body: tc.body})
			c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			h := newHarness(t, nil, nil)
			h.cfg.LocalFactors, h.cfg.Failmode = false, tc.failmode
			h.g.Services = []factors.Service{factors.NewDuo(c, factors.DuoLogin{User: testUser})}
			d := h.run()
			if d.Allow != tc.allow || d.Failsafe {
				t.Errorf("%+v, want allow=%t and no failsafe", d, tc.allow)
			}
		})
	}
}
