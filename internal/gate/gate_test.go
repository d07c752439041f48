package gate

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/term"
)

func policy(t *testing.T, lists ...string) *groups.Policy {
	t.Helper()
	p, err := groups.Parse(lists)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGroupPolicy(t *testing.T) {
	en := totpOnly
	right := en.code(t, t0)
	for _, tc := range []struct {
		name      string
		lists     []string // nil: no policy at all
		groups    []string
		lookupErr error
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantReads int
		wantLines []string
	}{
		{name: "outside every gated group", lists: []string{"wheel", "admin*"}, groups: []string{"alice", "users"},
			wantAllow: true, wantFac: "none", wantWhy: "not in a gated group"},
		{name: "negated group", lists: []string{"*,!contractors"}, groups: []string{"users", "contractors"},
			wantAllow: true, wantFac: "none", wantWhy: "not in a gated group"},
		{name: "in a gated group", lists: []string{"wheel", "admin*"}, groups: []string{"users", "admins"},
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "no groups at all is gated", lists: []string{"wheel"}, groups: []string{},
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "lookup error denies", lists: []string{"wheel"}, lookupErr: errors.New("nss: ldap unreachable"),
			wantWhy: "group lookup failed: nss: ldap unreachable", wantLines: []string{"cannot resolve your groups; access denied"}},
		{name: "everyone skips the lookup", lists: []string{"*"},
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "nil policy skips the lookup", lists: nil,
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := newUI(say(right))
			h := newHarness(t, &en, ui)
			h.g.Policy = nil
			if tc.lists != nil {
				h.g.Policy = policy(t, tc.lists...)
			}
			if tc.groups != nil || tc.lookupErr != nil {
				lookups := 0
				h.g.Groups = func() ([]string, error) { lookups++; return tc.groups, tc.lookupErr }
				defer func() {
					if lookups != 1 {
						t.Errorf("%d group lookups, want 1", lookups)
					}
				}()
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v factor=%q reason=%q", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			if ui.reads() != tc.wantReads {
				t.Errorf("%d prompts, want %d", ui.reads(), tc.wantReads)
			}
			h.wantLines(tc.wantLines...)
			if tc.wantFac == "none" || tc.lookupErr != nil {
				if loads, updates, _ := h.store.counts(); loads+updates > 0 {
					t.Errorf("state touched (%d loads, %d updates) for a user the policy decided", loads, updates)
				}
			}
		})
	}
}

func TestUnenrolled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    config.Unenrolled
		terminal  bool
		enroll    error // nil: Enroll succeeds
		noEnroll  bool  // Gate.Enroll is nil
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantCalls int
		wantLines []string
	}{
		{name: "deny", policy: "deny", terminal: true, wantWhy: "not enrolled",
			wantLines: []string{"logingate: error: no second factor is set up for alice; access denied",
				"logingate: hint: an administrator can enroll you with: logingate enroll --user alice"}},
		{name: "deny without terminal", policy: "deny", wantWhy: "not enrolled",
			wantLines: []string{"logingate enroll --user alice"}},
		{name: "allow", policy: "allow", terminal: true, wantAllow: true, wantFac: "none",
			wantWhy: "not enrolled (unenrolled: allow)"},
		{name: "enroll", policy: "enroll", terminal: true, wantAllow: true, wantFac: "totp",
			wantWhy: "enrolled in session", wantCalls: 1},
		{name: "enroll fails", policy: "enroll", terminal: true, enroll: errors.New("code from the app did not match"),
			wantWhy: "enrollment failed: code from the app did not match", wantCalls: 1,
			wantLines: []string{"logingate: error: enrollment did not complete; access denied"}},
		{name: "enroll without terminal", policy: "enroll", wantWhy: "not enrolled, no terminal",
			wantLines: []string{"no terminal to enroll one", "logingate: hint: log in once with a terminal (ssh -t) to enroll"}},
		{name: "enroll not possible here", policy: "enroll", terminal: true, noEnroll: true,
			wantWhy: "not enrolled, no terminal", wantLines: []string{"no terminal to enroll one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ui *fakeUI
			if tc.terminal {
				ui = newUI()
			}
			h := newHarness(t, nil, ui)
			h.cfg.Unenrolled = tc.policy
			calls := 0
			if !tc.noEnroll {
				h.g.Enroll = func(ctx context.Context) error {
					calls++
					if _, ok := ctx.Deadline(); !ok {
						t.Error("enrollment runs without the login deadline")
					}
					return tc.enroll
				}
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v factor=%q reason=%q", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			if calls != tc.wantCalls {
				t.Errorf("Enroll called %d times, want %d", calls, tc.wantCalls)
			}
			if ui != nil && ui.reads() != 0 {
				t.Errorf("the gate itself prompted %d times", ui.reads())
			}
			h.wantLines(tc.wantLines...)
		})
	}
}

// A state record with nothing usable in it (every backup code used, no
// TOTP) is unenrolled, not a menu with no entries.
func TestEnrolledWithNothingLeft(t *testing.T) {
	h := newHarness(t, &enrollment{failures: []time.Time{t0.Add(-time.Minute)}}, newUI())
	d := h.run()
	if d.Allow || d.Reason != "not enrolled" {
		t.Errorf("decision %+v, want not enrolled", d)
	}
}

func TestStateUnreadable(t *testing.T) {
	h := newHarness(t, &twoFactors, newUI(say(twoFactors.code(t, t0))))
	h.store.loadErr = errors.New("state file /var/lib/logingate/alice/state.json: permission denied")
	d := h.run()
	if d.Allow || !strings.HasPrefix(d.Reason, "state unreadable: ") || !strings.Contains(d.Reason, "permission denied") {
		t.Errorf("decision %+v, want state unreadable", d)
	}
	if h.ui.reads() != 0 {
		t.Error("prompted although the state could not be read")
	}
	h.wantLines("logingate: error: your second-factor state cannot be read; access denied",
		"logingate: hint: an administrator can check it with: logingate status --user alice")
}

func TestAttemptsAreDurable(t *testing.T) {
	earlier := t0.Add(-time.Minute)
	en := enrollment{digits: 6, failures: []time.Time{earlier}}
	right, wrong := en.code(t, t0), en.wrongCode(t)

	t.Run("wrong code is one more failure", func(t *testing.T) {
		h := newHarness(t, &en, newUI(say(wrong)))
		h.cfg.Prompts = 1
		if d := h.run(); d.Allow {
			t.Fatalf("allowed with a wrong code: %+v", d)
		}
		got := h.stored().Failures
		if len(got) != 2 || !got[0].Equal(earlier) || !got[1].Equal(t0) {
			t.Errorf("failures %v, want [%v %v]", got, earlier, t0)
		}
	})

	t.Run("success clears failures and records itself", func(t *testing.T) {
		h := newHarness(t, &en, newUI(say(wrong), say(right)))
		d := h.run()
		if !d.Allow || d.Factor != "totp" {
			t.Fatalf("decision %+v, want allow by totp", d)
		}
		st := h.stored()
		if len(st.Failures) != 0 {
			t.Errorf("failures %v after a success, want none", st.Failures)
		}
		if ls := st.LastSuccess; ls == nil || !ls.Time.Equal(t0) || ls.From != testRemote || ls.Factor != "totp" {
			t.Errorf("last success %+v, want {%v %s totp}", ls, t0, testRemote)
		}
		if st.TOTP.LastStep != step(t0) {
			t.Errorf("last step %d, want %d: the code is not consumed", st.TOTP.LastStep, step(t0))
		}
	})

	for _, code := range []string{right, wrong} {
		t.Run("store write fails, code "+map[bool]string{true: "right", false: "wrong"}[code == right], func(t *testing.T) {
			h := newHarness(t, &en, newUI(say(code), say(right), say(right)))
			h.store.updateErr = errors.New("write state.json.tmp: no space left on device")
			d := h.run()
			if d.Allow {
				t.Fatalf("allowed although the state write failed: %+v", d)
			}
			if !strings.HasPrefix(d.Reason, "state update failed: ") || !strings.Contains(d.Reason, "no space left") {
				t.Errorf("reason %q, want the state update failure", d.Reason)
			}
			if h.ui.reads() != 1 {
				t.Errorf("%d prompts, want 1: a failed write ends the login", h.ui.reads())
			}
			h.wantLines("logingate: error: your second-factor state could not be updated; access denied")
			if st := h.stored(); len(st.Failures) != 1 || st.TOTP.LastStep != 0 {
				t.Errorf("state changed by a failed write: %+v", st)
			}
		})
	}
}

// A backend that runs the update callback again after a write conflict must
// not leave a success from the lost run behind: the code was consumed by
// the login that won the conflict.
func TestUpdateRetryDoesNotKeepLostSuccess(t *testing.T) {
	en := totpOnly
	h := newHarness(t, &en, newUI(say(en.code(t, t0))))
	h.cfg.Prompts = 1
	stale, err := filestore.Encode(en.state(t))
	if err != nil {
		t.Fatal(err)
	}
	h.store.stale = stale
	used := en
	used.lastStep = step(t0) // another login consumed this step meanwhile
	h.store.put(t, testUser, used.state(t))
	d := h.run()
	if d.Allow {
		t.Fatalf("allowed on a success that was never written: %+v", d)
	}
	if d.Reason != factors.ReasonReplayed {
		t.Errorf("reason %q, want %q", d.Reason, factors.ReasonReplayed)
	}
	if got := h.stored().Failures; len(got) != 1 {
		t.Errorf("failures %v, want the one attempt", got)
	}
}

func TestEnvCode(t *testing.T) {
	en := twoFactors
	right, wrong := en.code(t, t0), en.wrongCode(t)
	for _, tc := range []struct {
		name      string
		env       string
		only      *enrollment // instead of twoFactors
		terminal  bool
		answers   []answer
		prompts   int
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantReads int
		wantFails int
		wantLines []string
	}{
		{name: "right, no terminal", env: right, wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "right, terminal unused", env: right, terminal: true, answers: says(wrong),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "backup code", env: "ABCDEFGHJK", wantAllow: true, wantFac: "backup", wantWhy: "code accepted",
			wantLines: []string{"logingate: warning: 1 backup code left"}},
		{name: "wrong, no terminal", env: wrong, wantFac: "totp",
			wantWhy: "passcode from the environment: wrong code", wantFails: 1, wantLines: []string{"logingate: wrong code"}},
		{name: "malformed, no terminal", env: "let me in",
			wantWhy:   "passcode from the environment: malformed answer",
			wantLines: []string{"logingate: the passcode from the environment is not a valid code"}},
		{name: "backup-shaped, TOTP only", env: "ABCDEFGHJK", only: &totpOnly,
			wantWhy: "passcode from the environment: malformed answer"},
		{name: "malformed, then right at the menu", env: "let me in", terminal: true, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "wrong, then the menu with one attempt fewer", env: wrong, terminal: true, answers: says(wrong, wrong, right),
			wantFac: "totp", wantWhy: "wrong code", wantReads: 2, wantFails: 3,
			wantLines: []string{"logingate: 1 attempt left", "too many failed attempts"}},
		{name: "wrong, then right at the menu", env: wrong, terminal: true, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "wrong with one prompt", env: wrong, terminal: true, answers: says(right), prompts: 1, wantFac: "totp",
			wantWhy: "passcode from the environment: wrong code", wantFails: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ui *fakeUI
			if tc.terminal {
				ui = newUI(tc.answers...)
			}
			e := &en
			if tc.only != nil {
				e = tc.only
			}
			h := newHarness(t, e, ui)
			h.g.EnvCode = tc.env
			if tc.prompts > 0 {
				h.cfg.Prompts = tc.prompts
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v factor=%q reason=%q", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			if ui != nil && ui.reads() != tc.wantReads {
				t.Errorf("%d prompts, want %d", ui.reads(), tc.wantReads)
			}
			if got := len(h.stored().Failures); got != tc.wantFails {
				t.Errorf("%d failures stored, want %d", got, tc.wantFails)
			}
			h.wantLines(tc.wantLines...)
		})
	}
}

func TestNoTerminal(t *testing.T) {
	for _, accept := range []bool{true, false} {
		t.Run(map[bool]string{true: "accept_env_factor", false: "no env factor"}[accept], func(t *testing.T) {
			h := newHarness(t, &twoFactors, nil)
			h.cfg.AcceptEnvFactor = accept
			var d Decision
			out := captureStdout(t, func() { d = h.run() })
			if out != "" {
				t.Errorf("stdout got %q; it belongs to the session", out)
			}
			if d.Allow || d.Reason != "no terminal" {
				t.Errorf("decision %+v, want deny for no terminal", d)
			}
			lines := h.lines()
			if len(lines) != 2 {
				t.Fatalf("stderr lines %q, want an error and a hint", lines)
			}
			if lines[0] != "logingate: error: a second factor is required and this session has no terminal to ask for it" {
				t.Errorf("error line %q", lines[0])
			}
			if !strings.HasPrefix(lines[1], "logingate: hint: log in with a terminal (ssh -t)") {
				t.Errorf("hint %q", lines[1])
			}
			if got := strings.Contains(lines[1], "LOGINGATE_PASSCODE"); got != accept {
				t.Errorf("hint %q mentions LOGINGATE_PASSCODE: %v, want %v", lines[1], got, accept)
			}
			if got := strings.Contains(lines[1], "accept_env_factor"); got == accept {
				t.Errorf("hint %q mentions accept_env_factor: %v, want %v", lines[1], got, !accept)
			}
			if _, updates, _ := h.store.counts(); updates != 0 {
				t.Errorf("%d state updates without an attempt", updates)
			}
		})
	}
}

// Every message of a session without a terminal goes to Stderr, none to the
// process's stdout.
func TestNoTerminalNeverWritesStdout(t *testing.T) {
	en := twoFactors
	locked := en
	locked.failures = []time.Time{t0, t0, t0, t0, t0}
	for _, tc := range []struct {
		name string
		en   *enrollment
		env  string
		set  func(h *harness)
	}{
		{name: "right env code", en: &en, env: en.code(t, t0)},
		{name: "backup env code", en: &en, env: "abcde-fghjk"},
		{name: "wrong env code", en: &en, env: en.wrongCode(t)},
		{name: "no env code", en: &en},
		{name: "rate limited", en: &locked, env: en.code(t, t0)},
		{name: "unenrolled", en: nil},
		{name: "unenrolled enroll", en: nil, set: func(h *harness) { h.cfg.Unenrolled = "enroll" }},
		{name: "group lookup fails", en: &en, set: func(h *harness) {
			h.g.Policy = policy(t, "wheel")
			h.g.Groups = func() ([]string, error) { return nil, errors.New("nss down") }
		}},
		{name: "panic", en: &en, env: "12345678", set: func(h *harness) { h.store.panicUpdate = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.en, nil)
			h.g.EnvCode = tc.env
			if tc.set != nil {
				tc.set(h)
			}
			if out := captureStdout(t, func() { h.run() }); out != "" {
				t.Errorf("stdout got %q", out)
			}
			if h.stderr.Len() == 0 && tc.name != "right env code" {
				t.Error("nothing on stderr: the user is not told why")
			}
		})
	}
}

// captureStdout runs fn with os.Stdout redirected and returns what was
// written there.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout = saved
	}()
	fn()
	os.Stdout = saved
	w.Close()
	out := <-done
	r.Close()
	return out
}

func TestInputFailures(t *testing.T) {
	en := twoFactors
	wrong := en.wrongCode(t)
	for _, tc := range []struct {
		name      string
		answers   func(cancel context.CancelCauseFunc) []answer
		prompt    time.Duration // prompt_timeout; 0: the default
		login     time.Duration // login_timeout; 0: the default
		wantWhy   string
		wantFac   string
		wantLines []string
	}{
		{name: "EOF", answers: func(context.CancelCauseFunc) []answer { return []answer{fail(io.EOF)} },
			wantWhy: "aborted (end of input)", wantLines: []string{"logingate: error: access denied"}},
		{name: "EOF after option", answers: func(context.CancelCauseFunc) []answer { return []answer{say("2"), fail(io.EOF)} },
			wantWhy: "aborted (end of input)"},
		{name: "prompt timeout", prompt: time.Millisecond,
			answers: func(context.CancelCauseFunc) []answer { return []answer{block()} },
			wantWhy: "timed out", wantLines: []string{"logingate: error: timed out waiting for an answer; access denied"}},
		{name: "login timeout", login: time.Millisecond,
			answers: func(context.CancelCauseFunc) []answer { return []answer{block()} },
			wantWhy: "timed out", wantLines: []string{"timed out waiting for an answer"}},
		{name: "signal", answers: func(cancel context.CancelCauseFunc) []answer {
			return []answer{blockAfter(func() { cancel(&term.Interrupted{Signal: syscall.SIGINT}) })}
		}, wantWhy: "interrupted", wantLines: []string{"logingate: error: access denied"}},
		{name: "hangup after a wrong code", answers: func(cancel context.CancelCauseFunc) []answer {
			return []answer{say(wrong), blockAfter(func() { cancel(&term.Interrupted{Signal: syscall.SIGHUP}) })}
		}, wantWhy: "interrupted after: wrong code", wantFac: "totp"},
		{name: "over-long line costs an attempt, then EOF", answers: func(context.CancelCauseFunc) []answer { return says(strings.Repeat("1", 65)) },
			wantWhy: "aborted (end of input) after: over-long answer"},
		{name: "terminal gone", answers: func(context.CancelCauseFunc) []answer { return []answer{fail(syscall.EIO)} },
			wantWhy: "input error"},
		{name: "EOF after a wrong code", answers: func(context.CancelCauseFunc) []answer { return []answer{say(wrong), fail(io.EOF)} },
			wantWhy: "aborted (end of input) after: wrong code", wantFac: "totp"},
		{name: "EOF after a malformed answer", answers: func(context.CancelCauseFunc) []answer { return []answer{say("nope"), fail(io.EOF)} },
			wantWhy: "aborted (end of input) after: malformed answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ui := newUI(tc.answers(cancel)...)
			h := newHarness(t, &en, ui)
			if tc.prompt > 0 {
				h.cfg.PromptTimeout = tc.prompt
			}
			if tc.login > 0 {
				h.cfg.LoginTimeout = tc.login
			}
			d := h.check("login", h.g.Run(ctx))
			if d.Allow || d.Reason != tc.wantWhy || d.Factor != tc.wantFac {
				t.Errorf("decision %+v, want deny factor=%q reason=%q", d, tc.wantFac, tc.wantWhy)
			}
			if len(ui.answers) != 0 {
				t.Errorf("%d answers left unread", len(ui.answers))
			}
			if ui.reads() > 2 {
				t.Errorf("%d prompts: an input failure must end the login at once", ui.reads())
			}
			h.wantLines(tc.wantLines...)
		})
	}
}

// The gate never lets anyone in on a panic, wherever it comes from, and
// still writes its audit line.
func TestPanicDenies(t *testing.T) {
	en := twoFactors
	right := en.code(t, t0)
	boom := &localFactor{name: "boom", verify: func(*store.UserState, string, time.Time) (factors.Outcome, error) {
		panic("factor exploded with code " + right)
	}}
	for _, tc := range []struct {
		name     string
		env      string
		terminal bool
		set      func(h *harness)
		confirm  bool
	}{
		{name: "factor", terminal: true, set: func(h *harness) {
			h.g.Factors = func(string, *store.UserState) []factors.Factor { return []factors.Factor{boom} }
		}},
		{name: "factor with env code", env: right, set: func(h *harness) {
			h.g.Factors = func(string, *store.UserState) []factors.Factor { return []factors.Factor{boom} }
		}},
		{name: "factor source", terminal: true, set: func(h *harness) {
			h.g.Factors = func(string, *store.UserState) []factors.Factor { panic("no factors") }
		}},
		{name: "store load", terminal: true, set: func(h *harness) { h.store.panicLoad = true }},
		{name: "store update", terminal: true, set: func(h *harness) { h.store.panicUpdate = true }},
		{name: "store after an accepted code", terminal: true, set: func(h *harness) { h.store.panicAfter = true }},
		{name: "store after an accepted env code", env: right, set: func(h *harness) { h.store.panicAfter = true }},
		{name: "group lookup", terminal: true, set: func(h *harness) {
			h.g.Policy = policy(t, "wheel")
			h.g.Groups = func() ([]string, error) { panic("nss exploded") }
		}},
		{name: "enroll", terminal: true, set: func(h *harness) {
			h.store = newStore()
			h.g.Store = h.store
			h.cfg.Unenrolled = "enroll"
			h.g.Enroll = func(context.Context) error { panic("enroll exploded") }
		}},
		{name: "terminal read", terminal: true, set: func(h *harness) { h.ui.panicRead = true }},
		{name: "terminal write", terminal: true, set: func(h *harness) { h.ui.panicSay = true }},
		{name: "confirm, store update", terminal: true, confirm: true, set: func(h *harness) { h.store.panicAfter = true }},
		{name: "no config", terminal: true, set: func(h *harness) { h.g.Config = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ui *fakeUI
			if tc.terminal {
				ui = newUI(say(right), say(right), say(right))
			}
			h := newHarness(t, &en, ui)
			h.g.EnvCode = tc.env
			tc.set(h)
			var d Decision
			if tc.confirm {
				d = h.confirm("reset")
			} else {
				d = h.run()
			}
			if d.Allow || d.Reason != "internal error" || d.Factor != "" {
				t.Errorf("decision %+v, want deny for an internal error", d)
			}
			if ui == nil || !ui.panicSay {
				h.wantLines("logingate: error: internal error; access denied")
			}
			h.noLines("exploded", "goroutine")
		})
	}
}

func TestConfirm(t *testing.T) {
	en := twoFactors
	right := en.code(t, t0)
	locked := en
	locked.failures = []time.Time{t0, t0, t0, t0, t0}
	for _, tc := range []struct {
		name      string
		en        *enrollment
		terminal  bool
		answers   []answer
		env       string
		set       func(h *harness)
		wantAllow bool
		wantFac   string
		wantWhy   string
		wantReads int
		wantLines []string
	}{
		{name: "right code", en: &en, terminal: true, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1,
			wantLines: []string{"logingate: confirm this change with a current second factor",
				"logingate: second factor for alice (from 203.0.113.9)", " 2. Backup code"}},
		{name: "backup code", en: &en, terminal: true, answers: says("2", "abcde-fghjk"),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantReads: 2},
		{name: "no group policy", en: &en, terminal: true, answers: says(right), set: func(h *harness) {
			h.g.Policy = policy(t, "wheel")
			h.g.Groups = func() ([]string, error) {
				t.Error("Confirm looked up groups")
				return []string{"users"}, nil
			}
		}, wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantReads: 1},
		{name: "env code ignored", en: &en, terminal: true, env: right, answers: []answer{fail(io.EOF)},
			wantWhy: "aborted (end of input)", wantReads: 1},
		{name: "env code without terminal", en: &en, env: right, wantWhy: "no terminal",
			wantLines: []string{"logingate: error: confirming with a second factor needs a terminal"}},
		{name: "not enrolled", terminal: true, set: func(h *harness) {
			h.cfg.Unenrolled = "enroll"
			h.g.Enroll = func(context.Context) error { t.Error("Confirm enrolled"); return nil }
		}, wantWhy: "not enrolled", wantLines: []string{"logingate: error: alice has no second factor to confirm with"}},
		{name: "not enrolled, unenrolled allow", terminal: true, set: func(h *harness) { h.cfg.Unenrolled = "allow" },
			wantWhy: "not enrolled"},
		{name: "rate limited", en: &locked, terminal: true, answers: says(right), wantWhy: "rate limited",
			wantLines: []string{"too many failed attempts for alice"}},
		{name: "wrong codes", en: &en, terminal: true, answers: says(en.wrongCode(t), "abcde-abcde", "1", en.wrongCode(t)),
			wantFac: "totp", wantWhy: "wrong code", wantReads: 4, wantLines: []string{"too many failed attempts"}},
		{name: "state unreadable", en: &en, terminal: true, answers: says(right),
			set:     func(h *harness) { h.store.loadErr = errors.New("bad json") },
			wantWhy: "state unreadable: bad json", wantLines: []string{"your second-factor state cannot be read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ui *fakeUI
			if tc.terminal {
				ui = newUI(tc.answers...)
			}
			h := newHarness(t, tc.en, ui)
			h.g.EnvCode = tc.env
			if tc.set != nil {
				tc.set(h)
			}
			d := h.confirm("backup-codes")
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v factor=%q reason=%q", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			if ui != nil && ui.reads() != tc.wantReads {
				t.Errorf("%d prompts, want %d", ui.reads(), tc.wantReads)
			}
			h.wantLines(tc.wantLines...)
		})
	}
}

// A gate without an auditor still decides.
func TestNoAuditor(t *testing.T) {
	h := newHarness(t, &totpOnly, newUI(say(totpOnly.code(t, t0))))
	h.g.Audit = nil
	if d := h.g.Run(context.Background()); !d.Allow {
		t.Errorf("decision %+v, want allow", d)
	}
}

// The audit line an administrator reads for each kind of decision.
func TestAuditLine(t *testing.T) {
	en := twoFactors
	for _, tc := range []struct {
		name    string
		answers []answer
		set     func(h *harness)
		want    string
	}{
		{name: "skip", set: func(h *harness) {
			h.g.Policy = policy(t, "wheel")
			h.g.Groups = func() ([]string, error) { return []string{"users"}, nil }
		}, want: `action=login result=skip user=alice from=203.0.113.9 factor=none reason="not in a gated group"`},
		{name: "allow", answers: says("abcde-fghjk"),
			want: `action=login result=allow user=alice from=203.0.113.9 factor=backup reason="code accepted"`},
		{name: "deny", answers: says(en.wrongCode(t), "ABCDE-FGHJK"), set: func(h *harness) { h.cfg.Prompts = 1 },
			want: `action=login result=deny user=alice from=203.0.113.9 factor=totp reason="wrong code"`},
		{name: "deny without a factor", answers: []answer{fail(io.EOF)},
			want: `action=login result=deny user=alice from=203.0.113.9 reason="aborted (end of input)"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &en, newUI(tc.answers...))
			if tc.set != nil {
				tc.set(h)
			}
			h.run()
			if got := h.events()[0].e.Line(); got != tc.want {
				t.Errorf("audit line\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
