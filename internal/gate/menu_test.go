package gate

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	menuPrompt  = "Passcode or option (1-2): "
	totpPrompt  = "Authenticator app code: "
	backupPromp = "Backup code: "
)

func TestMenuLayout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		en         enrollment
		remote     string
		wantLines  []string // the first lines shown, exactly
		wantPrompt string
	}{
		{name: "two factors", en: twoFactors, remote: testRemote, wantLines: []string{
			"logingate: second factor for alice (from 203.0.113.9)",
			" 1. Authenticator app code",
			" 2. Backup code",
		}, wantPrompt: menuPrompt},
		{name: "no remote address", en: twoFactors, wantLines: []string{
			"logingate: second factor for alice",
			" 1. Authenticator app code",
		}, wantPrompt: menuPrompt},
		{name: "TOTP only", en: totpOnly, remote: testRemote, wantLines: []string{
			"logingate: second factor for alice (from 203.0.113.9)",
		}, wantPrompt: totpPrompt},
		{name: "backup codes only", en: enrollment{codes: []string{"abcde-fghjk"}}, remote: testRemote, wantLines: []string{
			"logingate: second factor for alice (from 203.0.113.9)",
		}, wantPrompt: backupPromp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := newUI(fail(io.EOF))
			h := newHarness(t, &tc.en, ui)
			h.g.Remote = tc.remote
			h.run()
			lines := ui.shown()
			if len(lines) < len(tc.wantLines) || !slices.Equal(lines[:len(tc.wantLines)], tc.wantLines) {
				t.Errorf("menu shown:\n%s\nwant it to start with:\n%s", strings.Join(lines, "\n"), strings.Join(tc.wantLines, "\n"))
			}
			if len(tc.en.codes) == 0 || tc.en.digits == 0 {
				h.noLines(" 1. ", " 2. ")
			}
			if !slices.Equal(ui.prompts, []string{tc.wantPrompt}) {
				t.Errorf("prompts %q, want [%q]", ui.prompts, tc.wantPrompt)
			}
		})
	}
}

func TestMenuAnswers(t *testing.T) {
	en := twoFactors
	right, wrong := en.code(t, t0), en.wrongCode(t)
	used := en
	used.lastStep = step(t0)

	// An 8-digit TOTP next to imported 8-digit scratch codes: a code typed
	// at the menu goes to TOTP first, then to the backup codes.
	en8 := enrollment{digits: 8, scratch: []string{"31415926", "27182818"}}
	right8, wrong8 := en8.code(t, t0), en8.wrongCode(t)
	if slices.Contains(en8.scratch, right8) || slices.Contains(en8.scratch, wrong8) {
		t.Fatal("test fixture: a scratch code equals a TOTP code")
	}
	used8 := en8
	used8.lastStep = step(t0)

	for _, tc := range []struct {
		name        string
		en          enrollment
		prompts     int // 0: the default, 3
		answers     []answer
		wantAllow   bool
		wantFac     string
		wantWhy     string
		wantPrompts []string
		wantLines   []string
		noLines     []string
		wantFails   int
		after       func(t *testing.T, h *harness)
	}{
		{name: "code straight away", en: en, answers: says(right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantPrompts: []string{menuPrompt},
			after: func(t *testing.T, h *harness) {
				if got := len(h.stored().Backup.Codes); got != 2 {
					t.Errorf("%d backup codes left, want 2: a TOTP login used one", got)
				}
			}},
		{name: "previous step within the window", en: en, answers: says(en.code(t, t0.Add(-30*time.Second))),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantPrompts: []string{menuPrompt}},
		{name: "option then code", en: en, answers: says("1", right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantPrompts: []string{menuPrompt, totpPrompt}},
		{name: "option then backup code", en: en, answers: says("2", "abcde-fghjk"),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantPrompts: []string{menuPrompt, backupPromp},
			wantLines: []string{"logingate: warning: 1 backup code left: run 'logingate backup-codes --regenerate' for a new set"},
			after: func(t *testing.T, h *harness) {
				if st := h.stored(); len(st.Backup.Codes) != 1 || st.TOTP.LastStep != 0 {
					t.Errorf("after a backup code: %d codes left, last step %d; want 1 and 0", len(st.Backup.Codes), st.TOTP.LastStep)
				}
			}},
		{name: "backup code straight away, upper case without dash", en: en, answers: says("MNPQRSTVWX"),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantPrompts: []string{menuPrompt}},
		{name: "spaces around a code", en: en, answers: says("  " + right + " \t"),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "8-digit TOTP code", en: en8, answers: says(right8),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted",
			after: func(t *testing.T, h *harness) {
				if got := len(h.stored().Backup.Codes); got != 2 {
					t.Errorf("%d scratch codes left, want 2", got)
				}
			}},
		{name: "8-digit scratch code", en: en8, answers: says("27182818"),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantLines: []string{"1 backup code left"},
			after: func(t *testing.T, h *harness) {
				if st := h.stored(); st.TOTP.LastStep != 0 || len(st.Backup.Codes) != 1 {
					t.Errorf("last step %d, %d codes: want 0 and 1", st.TOTP.LastStep, len(st.Backup.Codes))
				}
			}},
		{name: "8-digit scratch code by option", en: en8, answers: says("2", "31415926"),
			wantAllow: true, wantFac: "backup", wantWhy: "code accepted", wantPrompts: []string{menuPrompt, backupPromp}},
		{name: "8-digit wrong code tries both", en: en8, prompts: 1, answers: says(wrong8),
			wantFac: "totp", wantWhy: "wrong code", wantFails: 1, wantLines: []string{"logingate: wrong code"}},
		{name: "8-digit replayed TOTP code", en: used8, prompts: 1, answers: says(right8),
			wantFac: "totp", wantWhy: "code already used; wrong code", wantFails: 1,
			wantLines: []string{"logingate: that code was already used; wait for the next one"}},
		{name: "option limits the code to that factor", en: en, answers: []answer{say("2"), say(right), fail(io.EOF)},
			wantWhy: "aborted (end of input) after: malformed answer", wantPrompts: []string{menuPrompt, backupPromp, menuPrompt},
			wantLines: []string{"logingate: that is not a valid code or option (1-2), 2 attempts left"}},
		{name: "malformed answer costs an attempt, not a failure", en: en, answers: says("hello", right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted",
			wantLines: []string{"logingate: that is not a valid code or option (1-2), 2 attempts left"}},
		{name: "malformed answers use up the attempts", en: en, answers: says("hello", "12345", "abcde", right),
			wantWhy: "malformed answer", wantPrompts: []string{menuPrompt, menuPrompt, menuPrompt},
			wantLines: []string{"1 attempt left", "logingate: error: too many failed attempts; access denied"}},
		{name: "malformed with one factor", en: totpOnly, answers: says("hello", totpOnly.code(t, t0)),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted",
			wantLines: []string{"logingate: that is not a valid code, 2 attempts left"}},
		{name: "options out of range", en: en, answers: says("0", "3", "12"),
			wantWhy: "malformed answer", wantPrompts: []string{menuPrompt, menuPrompt, menuPrompt}},
		{name: "blank lines cost nothing", en: en, answers: says("", "  ", right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted", wantPrompts: []string{menuPrompt, menuPrompt, menuPrompt}},
		{name: "three blank lines in a row deny", en: en, answers: says("", "", "", right),
			wantWhy: "empty answers", wantPrompts: []string{menuPrompt, menuPrompt, menuPrompt},
			wantLines: []string{"logingate: error: no answer; access denied"}},
		{name: "blank lines not in a row", en: en, answers: says("", "", wrong, "", "", "hello", "", "", right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "blank lines after a wrong code", en: en, answers: says(wrong, "", "", ""),
			wantFac: "totp", wantWhy: "empty answers after: wrong code", wantFails: 1},
		{name: "wrong codes use up the attempts", en: en, answers: says(wrong, "zzzzz-zzzzz", wrong, right),
			wantFac: "totp", wantWhy: "wrong code", wantFails: 3,
			wantPrompts: []string{menuPrompt, menuPrompt, menuPrompt},
			wantLines: []string{"logingate: wrong code", "logingate: 2 attempts left", "logingate: 1 attempt left",
				"logingate: error: too many failed attempts; access denied"}},
		{name: "one prompt", en: en, prompts: 1, answers: says(wrong, right),
			wantFac: "totp", wantWhy: "wrong code", wantFails: 1, wantPrompts: []string{menuPrompt},
			wantLines: []string{"too many failed attempts"}, noLines: []string{"attempt left", "attempts left"}},
		{name: "success after failures clears them", en: en, prompts: 4, answers: says(wrong, wrong, wrong, right),
			wantAllow: true, wantFac: "totp", wantWhy: "code accepted"},
		{name: "wrong backup code", en: en, prompts: 1, answers: says("zzzzz-zzzzz"),
			wantFac: "backup", wantWhy: "wrong code", wantFails: 1},
		{name: "replayed code", en: used, answers: []answer{say(right), fail(io.EOF)},
			wantFac: "totp", wantWhy: "aborted (end of input) after: code already used", wantFails: 1,
			wantLines: []string{"logingate: that code was already used; wait for the next one", "2 attempts left"},
			noLines:   []string{"wrong code"}},
		{name: "option then option", en: en, prompts: 1, answers: says("1", "2"),
			wantWhy: "malformed answer", wantPrompts: []string{menuPrompt, totpPrompt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := newUI(tc.answers...)
			h := newHarness(t, &tc.en, ui)
			if tc.prompts > 0 {
				h.cfg.Prompts = tc.prompts
			}
			d := h.run()
			if d.Allow != tc.wantAllow || d.Factor != tc.wantFac || d.Reason != tc.wantWhy {
				t.Errorf("decision %+v, want allow=%v factor=%q reason=%q", d, tc.wantAllow, tc.wantFac, tc.wantWhy)
			}
			if tc.wantPrompts != nil && !slices.Equal(ui.prompts, tc.wantPrompts) {
				t.Errorf("prompts %q, want %q", ui.prompts, tc.wantPrompts)
			}
			st := h.stored()
			if len(st.Failures) != tc.wantFails {
				t.Errorf("%d failures stored, want %d", len(st.Failures), tc.wantFails)
			}
			if tc.wantAllow && (st.LastSuccess == nil || st.LastSuccess.Factor != tc.wantFac) {
				t.Errorf("last success %+v, want one by %s", st.LastSuccess, tc.wantFac)
			}
			if !tc.wantAllow && st.LastSuccess != nil {
				t.Errorf("last success %+v recorded on a denial", st.LastSuccess)
			}
			h.wantLines(tc.wantLines...)
			h.noLines(tc.noLines...)
			if tc.after != nil {
				tc.after(t, h)
			}
		})
	}
}

// A code is good for one login: the next login with it is refused, and
// told why.
func TestCodesAreSingleUse(t *testing.T) {
	en := twoFactors
	for _, tc := range []struct {
		name, code, wantWhy, wantLine string
	}{
		{name: "TOTP", code: en.code(t, t0), wantWhy: "code already used",
			wantLine: "logingate: that code was already used; wait for the next one"},
		{name: "backup", code: "abcde-fghjk", wantWhy: "wrong code", wantLine: "logingate: wrong code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &en, newUI(say(tc.code)))
			if d := h.run(); !d.Allow {
				t.Fatalf("first login denied: %+v", d)
			}
			again := newHarness(t, nil, newUI(say(tc.code)))
			again.store = h.store
			again.g.Store = h.store
			again.g.Factors = localFactors(again.cfg, h.store)
			again.cfg.Prompts = 1
			again.typed = h.typed
			d := again.run()
			if d.Allow || d.Reason != tc.wantWhy {
				t.Errorf("second login with the same code: %+v, want deny with %q", d, tc.wantWhy)
			}
			again.wantLines(tc.wantLine)
		})
	}
}

func TestMenuHelpers(t *testing.T) {
	for _, tc := range []struct {
		answer string
		n      int
		want   int
	}{
		{"1", 2, 1}, {"2", 2, 2}, {"3", 2, 0}, {"0", 2, 0}, {"-1", 2, 0},
		{"10", 10, 10}, {"11", 10, 0}, {"", 2, 0}, {"a", 2, 0}, {"123456", 2, 0},
	} {
		got, ok := option(tc.answer, tc.n)
		if ok != (tc.want > 0) || got != tc.want {
			t.Errorf("option(%q, %d) = %d, %v; want %d", tc.answer, tc.n, got, ok, tc.want)
		}
	}
	for n, want := range map[int]string{0: "", 1: ", 1 attempt left", 2: ", 2 attempts left", 9: ", 9 attempts left"} {
		if got := attemptsLeft(n); got != want {
			t.Errorf("attemptsLeft(%d) = %q, want %q", n, got, want)
		}
	}
}

// The whole conversation, line by line, as the user reads it.
func TestMenuTranscript(t *testing.T) {
	en := twoFactors
	wrong := en.wrongCode(t)
	menu := []string{
		"logingate: second factor for alice (from 203.0.113.9)",
		" 1. Authenticator app code",
		" 2. Backup code",
	}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    []string
	}{
		{name: "three wrong codes", answers: says(wrong, "", "nope", "2", "zzzzz-zzzzz"), want: append(slices.Clone(menu),
			"logingate: wrong code",
			"logingate: 2 attempts left",
			"logingate: that is not a valid code or option (1-2), 1 attempt left",
			"logingate: wrong code",
			"logingate: error: too many failed attempts; access denied",
		)},
		{name: "backup code after a wrong one", answers: says(wrong, "mnpqr-stvwx"), want: append(slices.Clone(menu),
			"logingate: wrong code",
			"logingate: 2 attempts left",
			"logingate: warning: 1 backup code left: run 'logingate backup-codes --regenerate' for a new set",
		)},
		{name: "end of input", answers: nil, want: append(slices.Clone(menu),
			"logingate: error: access denied",
		)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := newUI(tc.answers...)
			h := newHarness(t, &en, ui)
			h.run()
			if got := ui.shown(); !slices.Equal(got, tc.want) {
				t.Errorf("the user saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
