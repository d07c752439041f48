package hostile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// parallelGates is how many gates of one user wait at the prompt at once;
// limit is the rate limit's failures.
const (
	parallelGates = 8
	limit         = 3
)

// The rate limit holds across gates that reached the prompt before the
// user was locked (issue 10's reproduction 3): eight gates of one user wait
// at the prompt; wrong codes typed into three of them lock the user
// (rate_limit 3 per 5m); then right codes are typed into the other five,
// four valid backup codes and the current TOTP code. Every one of them is
// refused and no backup code is used up: once the user is locked, no code
// is checked, so a thief with many sessions gets no more guesses than the
// limit.
func TestParallelGatesHoldRateLimit(t *testing.T) {
	h := newHost(t, fmt.Sprintf("rate_limit: {failures: %d, per: 5m}\nprompts: 1\n", limit))
	u := h.user(t, "rate")
	en := h.enroll(t, u)
	var gates []*sshtest.PtySession
	for range parallelGates {
		cmd := asUser(u, userEnv(u, "TERM=dumb"), h.bin, "-c", h.config, "--", "echo", marker)
		cmd.SysProcAttr.Setsid = false // the pty makes the session
		gates = append(gates, sshtest.StartPty(t, cmd))
	}
	for _, g := range gates {
		g.Expect(t, "Passcode", 20*time.Second)
	}
	wrong := en.WrongCode(t)
	for i, g := range gates[:limit] {
		g.Send(wrong + "\r")
		if code := g.Wait(); code == 0 {
			t.Fatalf("gate %d let a wrong code in:\n%s", i, g.Output())
		}
	}
	right := append(append([]string{}, en.Codes[:parallelGates-limit-1]...), en.Code(t, 0))
	let := 0
	for i, g := range gates[limit:] {
		g.Send(right[i] + "\r")
		if code := g.Wait(); code == 0 || strings.Contains(g.Output(), marker) {
			let++
		}
	}
	st := h.stateOf(t, u)
	t.Logf("%d wrong codes locked the user; of %d right codes typed afterwards at gates already waiting, %d were let in; %d failures recorded, %d of %d backup codes left",
		limit, len(right), let, len(st.Failures), len(st.Backup.Codes), len(en.Codes))
	if let > 0 || len(st.Backup.Codes) != len(en.Codes) {
		t.Errorf("codes typed after the lockout were checked: %d logins let in, %d backup codes used up", let, len(en.Codes)-len(st.Backup.Codes))
	}
}
