package gate

import (
	"testing"
	"time"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/duo/duotest"
	"github.com/logingate/logingate/internal/factors"
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
