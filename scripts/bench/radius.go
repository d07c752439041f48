package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/testutil/radiustest"
)

// radiusBench is the RADIUS row: the gate with a code that a real
// FreeRADIUS on loopback accepts (Debian's freeradius, started by the
// driver with its own raddb, on the same cores as the gate). The user has
// no local factor, so the code goes to RADIUS, the fallback for a code no
// local factor takes, and the success is recorded in the user's state, as
// for any user whose second factor is RADIUS.
type radiusBench struct {
	srv      *radiustest.Server
	g        *gateDir
	state    string // the user's state file, restored before each run
	pristine []byte // the state after one RADIUS login: a returning user
	runs     int    // runs so far, each of which must have left a RADIUS allow line
	version  string // of FreeRADIUS
}

// newRADIUSBench starts FreeRADIUS and writes the row's config, or says
// why the row is left out (freeradius not installed). A server that is
// installed and does not start is an error, not a missing row.
func newRADIUSBench(dir, gate string) (*radiusBench, string, error) {
	bin, err := radiustest.Path()
	if err != nil {
		return nil, "freeradius is not installed (Debian package freeradius)", nil
	}
	u, err := user.Current()
	if err != nil {
		return nil, "", err
	}
	srv, err := radiustest.Launch(dir, u.Username, "bench-nobody")
	if err != nil {
		return nil, "", err
	}
	b := &radiusBench{srv: srv, version: "FreeRADIUS"}
	if out, err := exec.Command(bin, "-v").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "FreeRADIUS Version "); ok {
				b.version = "FreeRADIUS " + strings.TrimSpace(v)
				break
			}
		}
	}
	fail := func(err error) (*radiusBench, string, error) {
		b.close()
		return nil, "", err
	}
	// The shared secret in a file of its own, root's and mode 0600, as the
	// config check demands.
	secret := filepath.Join(dir, "radius.secret")
	if err := os.WriteFile(secret, []byte(radiustest.Secret+"\n"), 0o600); err != nil {
		return fail(err)
	}
	block := fmt.Sprintf("radius: {servers: [{address: %q, secret_file: %s}], label: FreeRADIUS}\n", srv.Addr, secret)
	if b.g, err = newGateDir(dir, "radius", block); err != nil {
		return fail(err)
	}
	b.state = filepath.Join(b.g.state, u.Username, "state.json")

	// One login, untimed, leaves the state a returning RADIUS user has;
	// every timed run starts from it.
	cmd, err := b.cmd(gate)
	if err != nil {
		return fail(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("first RADIUS login: %v: %s\nfreeradius:\n%s", err, out, srv.Output()))
	}
	if err := b.check(0, string(out)); err != nil {
		return fail(fmt.Errorf("first RADIUS login: %v", err))
	}
	if b.pristine, err = os.ReadFile(b.state); err != nil {
		return fail(fmt.Errorf("the first RADIUS login left no state: %v", err))
	}
	return b, "", nil
}

func (b *radiusBench) close() {
	if b.g != nil {
		b.g.close()
	}
	b.srv.Close()
}

// cmd is one login with the code FreeRADIUS accepts, from the user's
// state after one such login.
func (b *radiusBench) cmd(gate string) (*exec.Cmd, error) {
	if b.pristine != nil {
		if err := restore(b.state, b.pristine, 0o600); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(gate, "-c", b.g.config, "/bin/true")
	cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + radiustest.AliceCode)
	return cmd, nil
}

// check says whether a run logged in through RADIUS: exit 0, nothing said
// (no warning, no failmode), and one more allow line with factor=radius
// in the audit log. The line left before the gate exec'd the shell; the
// wait is for this driver's reader, outside the timed region.
func (b *radiusBench) check(status int, stderr string) error {
	if status != 0 || stderr != "" {
		return fmt.Errorf("want a RADIUS login, got exit %d: %q", status, stderr)
	}
	b.runs++
	deadline := time.Now().Add(2 * time.Second)
	for b.g.audit.allowed("radius") < b.runs {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d RADIUS allow lines in the audit log after %d logins", b.g.audit.allowed("radius"), b.runs)
		}
		time.Sleep(time.Millisecond)
	}
	if n := b.g.audit.allowed("radius"); n != b.runs {
		return fmt.Errorf("%d RADIUS allow lines in the audit log after %d logins", n, b.runs)
	}
	return nil
}

// accepts counts the Access-Accepts FreeRADIUS logged for the row's user,
// or returns -1 when its log outgrew the harness's buffer (1 MB, some 3000
// logins), so that the count would be short.
func (b *radiusBench) accepts() int {
	out := b.srv.Output()
	if len(out) >= 1<<20 {
		return -1
	}
	return strings.Count(out, "Login OK: ["+b.srv.Alice+"] ")
}

func (b *radiusBench) kase(gate, shell string) kase {
	return kase{id: "radius", label: "R: gate, RADIUS code (" + b.version + " on loopback), then `" + shell + " -c /bin/true`",
		prep:  func() (*exec.Cmd, error) { return b.cmd(gate) },
		check: b.check}
}
