package gate

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store/filestore"
)

// fuzzEnrollment is the fixed user of FuzzMenuAnswers: an 8-digit TOTP
// that accepts the current step only (its code at t0 is 37237878, the
// previous step's 50112969), one of our backup codes and one imported
// scratch code, so that 8-digit answers reach both factors.
var fuzzEnrollment = enrollment{
	digits:  8,
	window:  new(0),
	codes:   []string{"abcde-fghjk"},
	scratch: []string{"31415926"},
}

// normCode reads an answer as generously as any factor could: ASCII upper
// case, separators dropped, O read as 0 and I, L as 1. Whatever a factor
// accepts normalises here to the code it matched.
func normCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch {
		case c == 'O':
			c = '0'
		case c == 'I' || c == 'L':
			c = '1'
		case !('A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// FuzzMenuAnswers feeds arbitrary typed lines to the menu. Whatever is
// typed, the gate never panics, lets in only someone who typed a valid
// code, consumes a code only when it lets in, never shows a code, and
// writes exactly one audit line.
func FuzzMenuAnswers(f *testing.F) {
	en := fuzzEnrollment
	rec, err := filestore.Encode(en.state(f))
	if err != nil {
		f.Fatal(err)
	}
	totpCode := en.code(f, t0)
	if totpCode != "37237878" {
		f.Fatalf("TOTP code at t0 is %s; the seed corpus expects 37237878", totpCode)
	}
	valid := map[string]string{ // normalised code -> the factor that takes it
		totpCode:     "totp",
		"ABCDEFGHJK": "backup",
		"31415926":   "backup",
	}

	f.Fuzz(func(t *testing.T, input string) {
		lines := strings.Split(input, "\n")
		ui := newUI(says(lines...)...)
		cfg := config.Default("testhost")
		st := newStore()
		st.data[testUser] = bytes.Clone(rec)
		au := &recAudit{}
		stderr := &bytes.Buffer{}
		g := &Gate{
			Config: &cfg, Store: st, Factors: localFactors(&cfg, st), Audit: au,
			User: testUser, Remote: testRemote, UI: ui, Stderr: stderr, Now: func() time.Time { return t0 },
		}
		d := g.Run(context.Background())

		if n := len(au.events); n != 1 {
			t.Fatalf("%d audit events, want 1", n)
		}
		if e := au.events[0].e; e.User != testUser || e.Reason != d.Reason || e.Factor != d.Factor ||
			e.Result != map[bool]string{true: "allow", false: "deny"}[d.Allow] {
			t.Fatalf("audit event %+v does not match decision %+v", e, d)
		}
		if ui.reads() > len(lines)+1 {
			t.Fatalf("%d prompts for %d lines: the gate went on after EOF", ui.reads(), len(lines))
		}
		if stderr.Len() > 0 {
			t.Fatalf("stderr %q with a terminal", stderr.String())
		}

		after, err := filestore.Decode(st.data[testUser])
		if err != nil {
			t.Fatal(err)
		}
		consumed := 0
		if after.TOTP.LastStep != 0 {
			consumed++
		}
		consumed += 2 - len(after.Backup.Codes)
		if d.Allow {
			typed := false
			for _, l := range lines {
				if valid[normCode(l)] == d.Factor && (d.Factor != "totp" || strings.TrimSpace(l) == totpCode) {
					typed = true
				}
			}
			if !typed {
				t.Fatalf("let in by %s, but no line typed holds a valid code: %q", d.Factor, lines)
			}
			if consumed != 1 || len(after.Failures) != 0 || after.LastSuccess == nil {
				t.Fatalf("after a success: %d codes consumed, failures %v, last success %+v", consumed, after.Failures, after.LastSuccess)
			}
		} else if consumed != 0 {
			t.Fatalf("denied (%+v) but %d codes consumed", d, consumed)
		}

		for _, l := range append(ui.shown(), ui.prompts...) {
			for _, code := range []string{totpCode, "abcde-fghjk", "ABCDE-FGHJK", "ABCDEFGHJK", "31415926"} {
				if strings.Contains(l, code) {
					t.Fatalf("line %q shows a code", l)
				}
			}
		}
	})
}
