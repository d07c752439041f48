package faults

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// A clock that went back (or state copied from a host whose clock ran
// ahead) leaves a last accepted TOTP step in the future. Replay protection
// holds: no current code is accepted, since each is at or before a step
// already used. Backup codes still work, `logingate status` still reads the
// state, and an administrator recovers the authenticator app with
// `logingate reset --user NAME` and a new enrollment.
func TestLastStepInTheFuture(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := newAccount(t)
	en := e.enroll(t, a)

	var m map[string]any
	good, err := os.ReadFile(e.statePath(a))
	must(t, err)
	must(t, json.Unmarshal(good, &m))
	future := time.Now().Add(24*time.Hour).Unix() / 30
	m["totp"].(map[string]any)["last_step"] = future
	b, err := json.Marshal(m)
	must(t, err)
	must(t, os.WriteFile(e.statePath(a), b, 0o600))

	// Steps 0 and +1 stay inside the window even if a 30 s step ends
	// between computing the code and checking it (-1 would then fall out
	// of it and read as a wrong code).
	for _, offset := range []int{0, 1} {
		mustDeny(t, "a current code after the clock went back", e.login(t, a, en.Code(t, offset)), "already used")
	}
	if st := e.stateOf(t, a); st.TOTP.LastStep != future {
		t.Errorf("last step %d after refused codes, want %d", st.TOTP.LastStep, future)
	}
	out, errOut, code := e.admin(t, "status", "--user", a.Name)
	if code != 0 || !strings.Contains(out, a.Name) {
		t.Errorf("status with a last step in the future: exit %d\n%s%s", code, out, errOut)
	}
	mustAllow(t, "a backup code after the clock went back", e.login(t, a, en.Codes[0]))

	if out, errOut, code := e.admin(t, "reset", "--user", a.Name); code != 0 {
		t.Fatalf("reset: exit %d\n%s%s", code, out, errOut)
	}
	en = e.enroll(t, a)
	mustAllow(t, "a code of the new enrollment after reset", e.login(t, a, en.Code(t, 0)))
	if st := e.stateOf(t, a); bytes.Contains(good, []byte(string(st.TOTP.Secret))) {
		t.Error("the new enrollment kept the old secret")
	}
}
