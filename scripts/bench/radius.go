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
// no local factor, so the code goes to RADIUS, and the success is recorded
// in the user's state, as for any user whose second factor is RADIUS.
type radiusBench struct {
	srv      *radiustest.Server
	g        *gateDir
	key      string // the row's audit key, USER/radius
	state    string // the user's state file, restored before each run
	pristine []byte // the state after one RADIUS login: a returning user
	version  string // of FreeRADIUS
}

// newRADIUSBench starts FreeRADIUS and writes the row's config, or says
// why the row is left out (freeradius not installed). A server that is
// installed and does not start is an error, not a missing row.
func newRADIUSBench(dir, gate string) (*radiusBench, string, error) {
	bin, err := radiustest.Path()
	if err != nil {
		return nil, "the RADIUS row: freeradius is not installed (Debian package freeradius)", nil
	}
	u, err := user.Current()
	if err != nil {
		return nil, "", err
	}
	srv, err := radiustest.Launch(dir, u.Username, "bench-nobody")
	if err != nil {
		return nil, "", err
	}
	b := &radiusBench{srv: srv, version: "FreeRADIUS", key: u.Username + "/radius"}
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
		return nil, "", fmt.Errorf("RADIUS row: %v", err)
	}
	// The shared secret in a file of root's, mode 0600, as the config
	// check demands.
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
	cmd, _ := b.cmd(gate)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		return fail(fmt.Errorf("first login: %v: %s\nfreeradius:\n%s", err, out, srv.Output()))
	}
	if b.pristine, err = os.ReadFile(b.state); err != nil {
		return fail(fmt.Errorf("the first login left no state: %v", err))
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
		if err := restore(b.state, b.pristine, 0o600, nobody); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(gate, "-c", b.g.config, "/bin/true")
	cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + radiustest.AliceCode)
	return cmd, nil
}

// kase is the row: every run must exit 0, say nothing (no warning, no
// failmode) and leave one more allow line with factor=radius.
func (b *radiusBench) kase(gate, shellRun string) kase {
	return b.g.audit.audited(kase{id: "radius", label: "R: gate, RADIUS code (" + b.version + " on loopback), then " + shellRun,
		prep: func() (*exec.Cmd, error) { return b.cmd(gate) }}, b.key)
}

// countAccepts compares FreeRADIUS's own log with the row's logins (the
// untimed first one included): an Access-Accept for every one. A log that
// outgrew the harness's buffer (1 MB, some 3000 logins) is not counted.
func (b *radiusBench) countAccepts(res *latencyResult) error {
	res.radiusServer, res.radiusLogins = b.version, b.g.audit.allowed(b.key)
	for range 100 {
		out := b.srv.Output()
		if res.radiusAccepts = -1; len(out) < 1<<20 {
			res.radiusAccepts = strings.Count(out, "Login OK: ["+b.srv.Alice+"] ")
		}
		if res.radiusAccepts < 0 || res.radiusAccepts >= res.radiusLogins {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res.radiusAccepts >= 0 && res.radiusAccepts != res.radiusLogins {
		return fmt.Errorf("FreeRADIUS logged %d accepts for the RADIUS row's %d logins", res.radiusAccepts, res.radiusLogins)
	}
	return nil
}
