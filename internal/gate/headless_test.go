package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
)

const (
	keyA   = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	keyB   = "SHA256:7M4czvxODDXAiJMo9a2mT0/uvN1Mva+uOcaH6DnpOaw"
	otherR = "198.51.100.7"
)

// win is a window for keyA from testRemote, opened at t0+start, lasting d.
func win(id string, start, d time.Duration) store.TrustedSession {
	return store.TrustedSession{ID: id, KeyFingerprint: keyA, From: testRemote, Created: t0.Add(start), Until: t0.Add(start + d)}
}

// trustedHarness is a harness under headless: trusted (grace 8h) whose
// session used keyA, with windows added to the user's state.
func trustedHarness(t *testing.T, en enrollment, ui *fakeUI, windows ...store.TrustedSession) *harness {
	t.Helper()
	h := newHarness(t, &en, ui)
	h.cfg.Headless = "trusted"
	h.cfg.GracePeriod = 8 * time.Hour
	h.g.Key = keyA
	st := en.state(t)
	st.Trusted = windows
	h.store.put(t, testUser, st)
	return h
}

func TestHeadlessWindow(t *testing.T) {
	en := twoFactors
	live := win("0a0a0a0a", -time.Hour, 8*time.Hour)
	for _, tc := range []struct {
		name      string
		windows   []store.TrustedSession
		setup     func(h *harness)
		wantAllow bool
		wantWhy   string   // exact, or a prefix ending in "..."
		wantLines []string // fragments of stderr
	}{
		{name: "live window", windows: []store.TrustedSession{live},
			wantAllow: true, wantWhy: "trusted window 0a0a0a0a (key " + keyA + ", until 2025-06-02T19:00:10Z)"},
		{name: "the latest of two", windows: []store.TrustedSession{live, win("0b0b0b0b", -time.Minute, 8*time.Hour)},
			wantAllow: true, wantWhy: "trusted window 0b0b0b0b ..."},
		{name: "headless deny ignores windows", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.cfg.Headless = "deny" },
			wantWhy: "no terminal", wantLines: []string{"non-interactive sessions need accept_env_factor"}},
		{name: "grace_period 0 turns windows off", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.cfg.GracePeriod = 0 },
			wantWhy: "no terminal"},
		{name: "another key", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.g.Key = keyB },
			wantWhy: "no terminal, no trusted window for key " + keyB,
			wantLines: []string{"logingate: error: a second factor is required and this session has no terminal to ask for it",
				"logingate: hint: log in once with a terminal (ssh -t) to open a trusted window (8h) for this key from this address"}},
		{name: "another address", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.g.Remote = otherR },
			wantWhy: "no terminal, no trusted window for key " + keyA, wantLines: []string{"to open a trusted window (8h)"}},
		{name: "no window", wantWhy: "no terminal, no trusted window for key " + keyA},
		{name: "ended", windows: []store.TrustedSession{win("0c0c0c0c", -9*time.Hour, 8*time.Hour)},
			wantWhy:   "no terminal, no trusted window for key " + keyA + " (window 0c0c0c0c ended)",
			wantLines: []string{"logingate: hint: the trusted window for this key from this address ended at", "to open a new one (8h)"}},
		{name: "ends exactly now", windows: []store.TrustedSession{win("0c0c0c0c", -8*time.Hour, 8*time.Hour)},
			wantWhy: "no terminal, no trusted window for key " + keyA + " (window 0c0c0c0c ended)"},
		{name: "grace_period shortened since", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.cfg.GracePeriod = 30 * time.Minute },
			wantWhy: "no terminal, no trusted window for key " + keyA + " (window 0a0a0a0a ended)"},
		{name: "clock set back", windows: []store.TrustedSession{win("0d0d0d0d", 48*time.Hour, 8*time.Hour)},
			wantWhy: "no terminal, no trusted window for key " + keyA},
		{name: "key unknown", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.g.Key = "" },
			wantWhy: "no terminal, no trusted window: key unknown (no SSH_USER_AUTH)", wantLines: []string{"ExposeAuthInfo"}},
		{name: "address unknown", windows: []store.TrustedSession{live},
			setup:   func(h *harness) { h.g.Remote = "" },
			wantWhy: "no terminal, no trusted window: no client address"},
		{name: "env code hint too", setup: func(h *harness) { h.cfg.AcceptEnvFactor = true },
			wantWhy:   "no terminal, no trusted window for key " + keyA,
			wantLines: []string{"logingate: hint: or send a code: LOGINGATE_PASSCODE=<code>"}},
		{name: "rate limited first", windows: []store.TrustedSession{live},
			setup: func(h *harness) {
				st := h.stored()
				st.Failures = []time.Time{t0, t0, t0, t0, t0}
				h.store.put(t, testUser, st)
			},
			wantWhy: "rate limited", wantLines: []string{"too many failed attempts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := trustedHarness(t, en, nil, tc.windows...)
			if tc.setup != nil {
				tc.setup(h)
			}
			before := h.stored()
			var d Decision
			out := captureStdout(t, func() { d = h.run() })
			if out != "" {
				t.Errorf("stdout got %q; it belongs to the session", out)
			}
			why, prefix := strings.CutSuffix(tc.wantWhy, "...")
			if d.Allow != tc.wantAllow || (!prefix && d.Reason != why) || !strings.HasPrefix(d.Reason, why) {
				t.Errorf("decision %+v, want allow=%v reason %q", d, tc.wantAllow, tc.wantWhy)
			}
			if d.Allow && d.Factor != "trusted" {
				t.Errorf("factor %q, want trusted", d.Factor)
			}
			if d.Allow && h.stderr.Len() > 0 {
				t.Errorf("an allowed session got %q on stderr", h.stderr.String())
			}
			h.wantLines(tc.wantLines...)
			if _, _, writes := h.store.counts(); writes != 0 {
				t.Errorf("%d state writes; a window is only read", writes)
			}
			if after := h.stored(); after.TOTP.LastStep != before.TOTP.LastStep {
				t.Errorf("a code was used up")
			}
		})
	}
}

// A window is tried before a passcode from the environment, which then stays
// unused; without a window the passcode still works, and opens no window (no
// terminal).
func TestHeadlessWindowBeforeEnvCode(t *testing.T) {
	en := totpOnly
	right := en.code(t, t0)

	h := trustedHarness(t, en, nil, win("0a0a0a0a", -time.Hour, 8*time.Hour))
	h.g.EnvCode = right
	if d := h.run(); !d.Allow || d.Factor != "trusted" {
		t.Fatalf("decision %+v, want the window", d)
	}
	if _, updates, _ := h.store.counts(); updates != 0 {
		t.Errorf("the passcode was checked (%d updates) although the window let the session in", updates)
	}

	h = trustedHarness(t, en, nil)
	h.g.EnvCode = right
	if d := h.run(); !d.Allow || d.Factor != "totp" || d.Reason != "code accepted" {
		t.Fatalf("decision %+v, want the passcode", d)
	}
	if st := h.stored(); len(st.Trusted) != 0 {
		t.Errorf("a session without a terminal opened a window: %+v", st.Trusted)
	}
}

// An interactive login under headless: trusted opens a window in the same
// write that records the success; other logins open none.
func TestInteractiveLoginOpensWindow(t *testing.T) {
	en := twoFactors
	right, wrong := en.code(t, t0), en.wrongCode(t)
	full := make([]store.TrustedSession, store.MaxTrusted)
	for i := range full {
		full[i] = win(fmt.Sprintf("%08x", i+1), time.Duration(i-store.MaxTrusted)*time.Minute, 8*time.Hour)
	}
	for _, tc := range []struct {
		name      string
		answers   []answer
		windows   []store.TrustedSession
		setup     func(h *harness)
		wantAllow bool
		wantWhy   string
		wantOpen  bool
		wantCount int
	}{
		{name: "opens", answers: says(right), wantAllow: true, wantOpen: true, wantCount: 1},
		{name: "by backup code", answers: says("abcde-fghjk"), wantAllow: true, wantOpen: true, wantCount: 1},
		{name: "after a wrong code", answers: says(wrong, right), wantAllow: true, wantOpen: true, wantCount: 1},
		{name: "a live window still prompts", answers: says(right), windows: []store.TrustedSession{win("0a0a0a0a", -time.Hour, 8*time.Hour)},
			wantAllow: true, wantOpen: true, wantCount: 2},
		{name: "full list drops the oldest", answers: says(right), windows: full, wantAllow: true, wantOpen: true, wantCount: store.MaxTrusted},
		{name: "headless deny", answers: says(right), setup: func(h *harness) { h.cfg.Headless = "deny" },
			wantAllow: true, wantWhy: "code accepted"},
		{name: "grace_period 0", answers: says(right), setup: func(h *harness) { h.cfg.GracePeriod = 0 },
			wantAllow: true, wantWhy: "code accepted"},
		{name: "key unknown", answers: says(right), setup: func(h *harness) { h.g.Key = "" },
			wantAllow: true, wantWhy: "code accepted; no trusted window: sshd did not name the key (ExposeAuthInfo)"},
		{name: "address unknown", answers: says(right), setup: func(h *harness) { h.g.Remote = "" },
			wantAllow: true, wantWhy: "code accepted; no trusted window: no client address"},
		{name: "failed login", answers: says(wrong, wrong, wrong), wantWhy: "wrong code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := newUI(tc.answers...)
			h := trustedHarness(t, en, ui, tc.windows...)
			if tc.setup != nil {
				tc.setup(h)
			}
			d := h.run()
			if ui.reads() == 0 {
				t.Errorf("an interactive login was not prompted")
			}
			st := h.stored()
			if tc.wantOpen {
				if len(st.Trusted) != tc.wantCount {
					t.Fatalf("%d windows stored, want %d", len(st.Trusted), tc.wantCount)
				}
				w := st.Trusted[len(st.Trusted)-1]
				if w.KeyFingerprint != keyA || w.From != testRemote || !w.Created.Equal(t0) || !w.Until.Equal(t0.Add(8*time.Hour)) {
					t.Errorf("window %+v", w)
				}
				if want := "code accepted; trusted window " + w.ID + " opened for 8h"; !d.Allow || d.Reason != want {
					t.Errorf("decision %+v, want reason %q", d, want)
				}
				h.wantLines("logingate: sessions without a terminal with this key from " + testRemote + " need no code until")
				if _, _, writes := h.store.counts(); writes != len(tc.answers) {
					t.Errorf("%d writes for %d answers: the window needs no write of its own", writes, len(tc.answers))
				}
				if tc.name == "full list drops the oldest" && st.Trusted[0].ID != "00000002" {
					t.Errorf("oldest kept is %s, want 00000002", st.Trusted[0].ID)
				}
				return
			}
			if d.Allow != tc.wantAllow || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v reason %q", d, tc.wantAllow, tc.wantWhy)
			}
			if len(st.Trusted) != len(tc.windows) {
				t.Errorf("windows %+v; none should have opened", st.Trusted)
			}
			h.noLines("need no code")
		})
	}
}

// Confirm, which guards changes of factors, never looks at windows and
// never opens one.
func TestConfirmIgnoresWindows(t *testing.T) {
	en := twoFactors
	live := win("0a0a0a0a", -time.Hour, 8*time.Hour)

	h := trustedHarness(t, en, nil, live)
	if d := h.confirm("enroll"); d.Allow || d.Reason != "no terminal" {
		t.Errorf("Confirm without a terminal and with a live window: %+v, want deny", d)
	}

	ui := newUI(says(en.code(t, t0))...)
	h = trustedHarness(t, en, ui, live)
	d := h.confirm("backup-codes")
	if !d.Allow || d.Factor != "totp" || d.Reason != "code accepted" {
		t.Errorf("Confirm: %+v, want a fresh code", d)
	}
	if ui.reads() != 1 {
		t.Errorf("%d prompts; a window must not spare Confirm its code", ui.reads())
	}
	if st := h.stored(); len(st.Trusted) != 1 || st.Trusted[0].ID != live.ID {
		t.Errorf("Confirm changed the windows: %+v", st.Trusted)
	}
}

// The store may run an update's function twice (a write conflict): only the
// run that is written opens the window the gate reports.
func TestWindowFromTheWrittenRun(t *testing.T) {
	en := totpOnly
	ui := newUI(says(en.code(t, t0))...)
	h := trustedHarness(t, en, ui)
	stale := en.state(t)
	stale.TOTP.LastStep = step(t0) // the stale run refuses the code as used
	b, err := filestore.Encode(stale)
	if err != nil {
		t.Fatal(err)
	}
	h.store.stale = b
	d := h.run()
	st := h.stored()
	if !d.Allow || len(st.Trusted) != 1 || !strings.Contains(d.Reason, st.Trusted[0].ID) {
		t.Fatalf("decision %+v with windows %+v", d, st.Trusted)
	}
}

// Enrolling in the session (unenrolled: enroll) opens a window too, in a
// write of its own; if that write fails, the login stands without one.
func TestEnrollInSessionOpensWindow(t *testing.T) {
	for _, fail := range []bool{false, true} {
		h := newHarness(t, nil, newUI())
		h.cfg.Unenrolled, h.cfg.Headless, h.g.Key = "enroll", "trusted", keyA
		h.g.Enroll = func(context.Context) error {
			if fail {
				h.store.updateErr = errors.New("disk full")
			}
			return nil
		}
		d := h.run()
		if !d.Allow {
			t.Fatalf("decision %+v", d)
		}
		if fail {
			if d.Reason != "enrolled in session; no trusted window: disk full" {
				t.Errorf("reason %q", d.Reason)
			}
			continue
		}
		st := h.stored()
		if len(st.Trusted) != 1 || d.Reason != "enrolled in session; trusted window "+st.Trusted[0].ID+" opened for 8h" {
			t.Errorf("decision %+v, windows %+v", d, st.Trusted)
		}
	}
}
