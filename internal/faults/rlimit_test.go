package faults

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// Issue 10, reproduction 4. A failure on record makes the state file
// bigger, a success smaller: a file size limit between the two stopped
// every wrong code's write (nothing recorded, so no rate limit) while the
// right code's write landed and let the guesser in. Under such a limit the
// gate must refuse to start, or still count the wrong code; either way the
// right code must not get in while wrong ones go uncounted.
func TestFileSizeLimitIsNoOracle(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		need.Unavailable(t, "prlimit missing (util-linux)")
	}
	e := newEnv(t, envOptions{})
	a := newAccount(t)
	en := e.enroll(t, a)
	const wrong = "000000"
	// Some failures on record, below the limit of 5: the success that
	// clears them writes a smaller file than the next failure does.
	for range 4 {
		mustDeny(t, "a wrong code", e.login(t, a, wrong))
	}
	fi, err := os.Stat(e.statePath(a))
	must(t, err)
	between := fi.Size() + 1
	right := en.Code(t, 0)

	for _, tc := range []struct {
		name, limit string
		refused     bool // the gate refuses to start
	}{
		// ulimit -f N: soft and hard alike; the gate cannot raise it.
		{name: "hard limit", limit: fmt.Sprintf("%d:%d", between, between), refused: true},
		// ulimit -S -f N: the gate raises it to the hard limit.
		{name: "soft limit only", limit: fmt.Sprintf("%d:unlimited", between)},
		{name: "ulimit -f 0", limit: "0:0", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limited := func(code string) login {
				cmd := e.gateCmd(a, code)
				cmd.Args = append([]string{"prlimit", "--fsize=" + tc.limit, "--"}, cmd.Args...)
				cmd.Path, err = exec.LookPath("prlimit")
				must(t, err)
				return e.loginCmd(t, cmd)
			}
			before := len(e.stateOf(t, a).Failures)
			w := limited(wrong)
			after := len(e.stateOf(t, a).Failures)
			if tc.refused {
				mustDeny(t, "a wrong code under "+tc.limit, w, "logingate: error: the file size limit (ulimit -f) is")
				if after != before {
					t.Errorf("refused to start, yet the failures went %d -> %d", before, after)
				}
			} else {
				mustDeny(t, "a wrong code under "+tc.limit, w, "logingate: wrong code")
				if after != before+1 {
					t.Errorf("a wrong code under a file size limit was not counted: failures %d -> %d\n%v", before, after, w)
				}
			}
			r := limited(right)
			if tc.refused {
				mustDeny(t, "the right code under "+tc.limit, r, "logingate: error: the file size limit (ulimit -f) is")
			} else {
				// The wrong codes so far (4, then one per subtest) lock
				// the user at 5.
				if r.allowed() && after >= 5 {
					t.Fatalf("the right code got in at %d failures on record", after)
				}
			}
			if strings.Contains(r.stderr, "nothing was recorded") || strings.Contains(w.stderr, "nothing was recorded") {
				t.Errorf("a write stopped by the limit:\nwrong: %v\nright: %v", w, r)
			}
		})
	}
}

// loginCmd runs a gate command made by gateCmd, changed by the caller.
func (e *env) loginCmd(t testing.TB, cmd *exec.Cmd) login {
	t.Helper()
	o, er, code := run(t, cmd)
	return login{stdout: o, stderr: er, code: code}
}

// The other limits a caller can set: each fails closed. A wrong code is
// never let in, and is counted whenever the gate got as far as saying it
// was wrong; no write is stopped half-way ("nothing was recorded"). Very
// small limits stop the Go runtime or the dynamic loader before main.
func TestOtherLimitsFailClosed(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		need.Unavailable(t, "prlimit missing (util-linux)")
	}
	e := newEnv(t, envOptions{yaml: "rate_limit: {failures: 100, per: 1h}\n"})
	a := newAccount(t)
	e.enroll(t, a)
	prlimit, err := exec.LookPath("prlimit")
	must(t, err)
	for _, limit := range []string{
		"--nofile=4:4", "--nofile=8:8", "--nofile=16:16", // ulimit -n
		"--as=50000000:50000000", "--as=300000000:300000000", // ulimit -v
		"--data=10000000:10000000", // ulimit -d
		"--cpu=1:1",                // ulimit -t 1
		"--stack=16384:16384",      // ulimit -s
	} {
		before := len(e.stateOf(t, a).Failures)
		cmd := e.gateCmd(a, "000000")
		cmd.Args = append([]string{"prlimit", limit, "--"}, cmd.Args...)
		cmd.Path = prlimit
		l := e.loginCmd(t, cmd)
		after := len(e.stateOf(t, a).Failures)
		mustDeny(t, "a wrong code under "+limit, l)
		if strings.Contains(l.stderr, "logingate: wrong code") && after != before+1 {
			t.Errorf("%s: a wrong code was refused but not counted (failures %d -> %d)", limit, before, after)
		}
		if strings.Contains(l.stderr, "nothing was recorded") {
			t.Errorf("%s: a state write was stopped: %v", limit, l)
		}
		t.Logf("%s: exit %d, failures %d -> %d", limit, l.code, before, after)
	}
}
