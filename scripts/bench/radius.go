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

// radiusRows is the RADIUS row: the gate with a code that a real FreeRADIUS
// on loopback accepts (Debian's freeradius, started with its own raddb, on
// the same cores as the gate). The user has no local factor, so the code
// goes to RADIUS, and the success is recorded in the user's state. Every
// run must exit 0, say nothing, leave one more allow line with
// factor=radius, and have FreeRADIUS log one more accept.
func radiusRows(dir, gate, shellRun string) (peer, error) {
	bin, err := radiustest.Path()
	if err != nil {
		return peer{why: "the RADIUS row: freeradius is not installed"}, nil
	}
	u, err := user.Current()
	if err != nil {
		return peer{}, err
	}
	srv, err := radiustest.Launch(dir, u.Username, "bench-nobody")
	if err != nil {
		return peer{}, err
	}
	version := "FreeRADIUS"
	if out, err := exec.Command(bin, "-v").Output(); err == nil {
		if _, v, ok := strings.Cut(string(out), "FreeRADIUS Version "); ok {
			version = "FreeRADIUS " + strings.TrimRight(strings.Fields(v)[0], ",")
		}
	}
	var g *gateDir
	fail := func(err error) (peer, error) {
		if g != nil {
			g.close()
		}
		srv.Close()
		return peer{}, fmt.Errorf("RADIUS row: %v", err)
	}
	// The shared secret in a file of root's, mode 0600, as the config
	// check demands.
	secret := filepath.Join(dir, "radius.secret")
	if err := os.WriteFile(secret, []byte(radiustest.Secret+"\n"), 0o600); err != nil {
		return fail(err)
	}
	block := fmt.Sprintf("radius: {servers: [{address: %q, secret_file: %s}], label: FreeRADIUS}\n", srv.Addr, secret)
	if g, err = newGateDir(dir, "radius", block); err != nil {
		return fail(err)
	}
	state, key := filepath.Join(g.state, u.Username, "state.json"), u.Username+"/radius"
	var pristine []byte
	login := func() (*exec.Cmd, error) {
		if pristine != nil {
			if err := restore(state, pristine, 0o600, nobody); err != nil {
				return nil, err
			}
		}
		cmd := exec.Command(gate, "-c", g.config, "/bin/true")
		cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + radiustest.AliceCode)
		return cmd, nil
	}
	// One login, untimed, leaves the state a returning RADIUS user has;
	// every timed run starts from it.
	cmd, _ := login()
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		return fail(fmt.Errorf("first login: %v: %s\nfreeradius:\n%s", err, out, srv.Output()))
	}
	if pristine, err = os.ReadFile(state); err != nil {
		return fail(fmt.Errorf("the first login left no state: %v", err))
	}
	k := g.audit.audited(kase{id: "radius", label: "R: gate, RADIUS code (" + version + " on loopback), then " + shellRun, prep: login}, key)
	audited := k.check
	k.check = func(status int, stderr string) error {
		if err := audited(status, stderr); err != nil {
			return err
		}
		// Its log is kept up to 1 MB, some 3000 logins: enough for a run.
		accepts := func() int { return strings.Count(srv.Output(), "Login OK: ["+srv.Alice+"] ") }
		for deadline := time.Now().Add(2 * time.Second); accepts() < g.audit.allowed(key) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n, want := accepts(), g.audit.allowed(key); n != want && len(srv.Output()) < 1<<20 {
			return fmt.Errorf("FreeRADIUS logged %d accepts for %d logins", n, want)
		}
		return nil
	}
	return peer{cases: []kase{k}, close: func() { g.close(); srv.Close() }}, nil
}
