// Package racetest proves logingate's one-time guarantees across processes:
// many gate processes present the same TOTP code, or the same backup code,
// at the same moment, and exactly one of them gets in, round after round.
// google-authenticator-libpam, with no lock between its read, check and
// write, accepted one scratch code 77 times in 20 rounds of 8 such logins.
//
// Each round starts from a fresh enrollment, so no round waits for the next
// time step, and the rate limit is set high enough that every loser's
// failure goes through to the code check instead of being cut off early.
package racetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/gatebin"
	"github.com/logingate/logingate/internal/testutil/need"
)

const (
	procs        = 16 // gate processes racing in each round
	rounds       = 20 // rounds per factor
	backupCount  = 5  // backup codes per enrollment: the fewest allowed, as every loser hashes them all
	period       = 30 // TOTP step, seconds
	auditTimeout = 10 * time.Second
)

// gateBin is the logingate binary, built once for the package.
var gateBin string

func TestMain(m *testing.M) { gatebin.Main(m, &gateBin, false) }

// TestTOTPCodeRace: 16 processes present the same current TOTP code; one
// gets in, the others are told the code was already used, and the step and
// every loser's failure are on disk.
func TestTOTPCodeRace(t *testing.T) {
	oathtool := need.Tool(t, "oathtool")
	r := newRig(t)
	for round := range rounds {
		secret, _ := r.enroll(t)
		now := time.Now()
		step := now.Unix() / period
		out, err := exec.Command(oathtool, "--totp", "-b", "--now=@"+strconv.FormatInt(now.Unix(), 10), secret).Output()
		if err != nil {
			t.Fatalf("round %d: oathtool: %v", round, err)
		}
		code := strings.TrimSpace(string(out))

		res := r.race(t, round, code, "already used")
		st := r.load(t)
		switch {
		case st.TOTP == nil:
			t.Fatalf("round %d: no TOTP enrollment in the state after the race", round)
		case st.TOTP.LastStep != step:
			t.Errorf("round %d: last accepted step %d, want %d (the code's step)", round, st.TOTP.LastStep, step)
		}
		r.checkRecorded(t, round, st, res, "totp")
	}
}

// TestBackupCodeRace: 16 processes present the same backup code; one gets
// in, the code is gone from the state, the other codes are all still there.
func TestBackupCodeRace(t *testing.T) {
	r := newRig(t)
	for round := range rounds {
		_, codes := r.enroll(t)
		res := r.race(t, round, codes[0], "wrong code")
		st := r.load(t)
		if st.Backup == nil || len(st.Backup.Codes) != backupCount-1 {
			n := 0
			if st.Backup != nil {
				n = len(st.Backup.Codes)
			}
			t.Errorf("round %d: %d backup codes left, want %d", round, n, backupCount-1)
		}
		r.checkRecorded(t, round, st, res, "backup")
	}
}

// rig is one state directory, config and audit socket, for the caller's own
// account: the gate checks the factors of whoever runs it.
type rig struct {
	dir, config, state string
	user               string
	audit              *auditsink.Sink
}

func newRig(t *testing.T) *rig {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// A short directory name: the audit socket's path must fit sun_path.
	dir, err := os.MkdirTemp("", "lgrace-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &rig{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state"), user: u.Username}
	if err := os.Mkdir(r.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(r.state, 0o733|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	r.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	cfg := fmt.Sprintf(`state_dir: %s
accept_env_factor: true
totp: {issuer: racetest, digits: 6, period: %ds, algorithm: SHA1, window: 1}
backup_codes: {count: %d}
rate_limit: {failures: 1000, per: 1m}
syslog: {socket: %s}
`, r.state, period, backupCount, r.audit.Path)
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// enroll replaces the user's enrollment with a new secret and backup codes
// through `logingate enroll --no-verify --json --force`, root's provisioning
// path. It also clears the failures of earlier rounds.
func (r *rig) enroll(t *testing.T) (secret string, codes []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return r.enrollDirect(t)
	}
	cmd := exec.Command(gateBin, "-c", r.config, "enroll", "--user", r.user, "--no-verify", "--json", "--force")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("enroll: %v\n%s%s", err, out, stderr.Bytes())
	}
	e := enrolltest.Parse(t, out)
	secret = e.Secret
	if len(e.Codes) != backupCount {
		t.Fatalf("enroll: want a secret and %d backup codes, got %d codes", backupCount, len(e.Codes))
	}
	return secret, e.Codes
}

// race starts procs gate processes at once, all presenting code in
// LOGINGATE_PASSCODE without a terminal, and checks that exactly one got in
// and that every other one was refused with loserSays on stderr and nothing
// on stdout.
func (r *rig) race(t *testing.T, round int, code, loserSays string) []result {
	t.Helper()
	r.audit.Reset()
	cmds := make([]*exec.Cmd, procs)
	res := make([]result, procs)
	for i := range cmds {
		c := exec.Command(gateBin, "-c", r.config, "true")
		c.Env = []string{"PATH=/usr/bin:/bin", "LOGINGATE_PASSCODE=" + code}
		c.Stdout, c.Stderr = &res[i].stdout, &res[i].stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal
		cmds[i] = c
	}
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatalf("round %d: start %d: %v", round, i, err)
		}
	}
	for i, c := range cmds {
		err := c.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			res[i].status = 0
		case errors.As(err, &ee) && ee.Exited():
			res[i].status = ee.ExitCode()
		default:
			t.Fatalf("round %d: process %d: %v (stderr %q)", round, i, err, res[i].stderr.String())
		}
	}

	wins := 0
	for i := range res {
		p := &res[i]
		if p.stdout.Len() != 0 {
			t.Errorf("round %d: process %d wrote to stdout: %q", round, i, p.stdout.String())
		}
		if strings.Contains(p.stderr.String(), "warning") {
			t.Errorf("round %d: process %d warned: %q", round, i, p.stderr.String())
		}
		switch p.status {
		case 0:
			wins++
		case 1:
			if !strings.Contains(p.stderr.String(), loserSays) {
				t.Errorf("round %d: refused process %d said %q, want %q", round, i, p.stderr.String(), loserSays)
			}
		default:
			t.Errorf("round %d: process %d exited %d: %q", round, i, p.status, p.stderr.String())
		}
	}
	if wins != 1 {
		t.Fatalf("round %d: %d of %d processes got in with one code, want exactly 1", round, wins, procs)
	}
	return res
}

// checkRecorded checks what the round left behind: the winner as the last
// success, one failure per loser on disk, and one audit line per process
// agreeing with the exit statuses.
func (r *rig) checkRecorded(t *testing.T, round int, st *store.UserState, res []result, factor string) {
	t.Helper()
	if st.LastSuccess == nil || st.LastSuccess.Factor != factor {
		t.Errorf("round %d: last success %+v, want one by %s", round, st.LastSuccess, factor)
	}
	// The winner clears the failures, so every loser came after it.
	if len(st.Failures) != procs-1 {
		t.Errorf("round %d: %d failures recorded, want %d (one per refused process)", round, len(st.Failures), procs-1)
	}
	lines := r.audit.WaitN(procs, auditTimeout, "action=login")
	allow, deny := 0, 0
	for _, l := range lines {
		switch {
		case strings.Contains(l, "result=allow") && strings.Contains(l, "factor="+factor+" "):
			allow++
		case strings.Contains(l, "result=deny"):
			deny++
		}
	}
	if allow != 1 || deny != procs-1 {
		t.Errorf("round %d: audit log has %d allow and %d deny lines, want 1 and %d:\n%s",
			round, allow, deny, procs-1, strings.Join(lines, "\n"))
	}
}

// load reads the user's state file as it is on disk and decodes it with the
// store's own strict decoder.
func (r *rig) load(t *testing.T) *store.UserState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.state, r.user, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := filestore.Decode(b)
	if err != nil {
		t.Fatalf("state file after the race does not decode: %v", err)
	}
	return st
}

type result struct {
	stdout, stderr bytes.Buffer
	status         int
}
