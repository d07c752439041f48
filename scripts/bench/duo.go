package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/logingate/logingate/internal/duo/duotest"
)

// duoBench is the Duo rows: the gate against a fake Duo Auth API on
// loopback (TLS, signatures checked, answers at once), so that the rows
// measure the gate's own cost of a Duo login: start-up, a TLS handshake,
// preauth and the auth exchange. The fake runs in this driver's process,
// on the same two cores as the gate.
type duoBench struct {
	fake     *duotest.Server
	passcode string // config: Duo passcodes from LOGINGATE_PASSCODE
	push     string // config: headless: push, approved at once
	bare     string // duobare's config: the same host, keys and CA
	codes    []string
}

func newDuoBench(dir string, g *gateDir, runs int) (*duoBench, error) {
	fake, err := duotest.Start()
	if err != nil {
		return nil, err
	}
	b := &duoBench{fake: fake}
	for i := range runs {
		b.codes = append(b.codes, fmt.Sprintf("%07d", 1000000+i))
	}
	fake.SetUser("root", duotest.User{
		Devices:   []duotest.Device{duotest.Phone("DPFZRS9FB0D46QFTM891", "XXX-XXX-1234")},
		Push:      "allow",
		Passcodes: b.codes,
	})
	ca := filepath.Join(dir, "duo-ca.pem")
	if err := os.WriteFile(ca, fake.CAPEM, 0o600); err != nil {
		fake.Close()
		return nil, err
	}
	base, err := os.ReadFile(g.config)
	if err != nil {
		fake.Close()
		return nil, err
	}
	block := fmt.Sprintf("duo: {host: %q, ikey: %s, skey: %s, cafile: %s}\n", fake.Host, fake.IKey, fake.SKey, ca)
	b.passcode = filepath.Join(dir, "duo-passcode.yaml")
	b.push = filepath.Join(dir, "duo-push.yaml")
	for path, extra := range map[string]string{b.passcode: "", b.push: "headless: push\n"} {
		if err := os.WriteFile(path, append(append(base, block...), extra...), 0o600); err != nil {
			fake.Close()
			return nil, err
		}
	}
	b.bare = filepath.Join(dir, "duo-bare.conf")
	bare := fmt.Sprintf("host %s\nikey %s\nskey %s\ncafile %s\nuser root\n", fake.Host, fake.IKey, fake.SKey, ca)
	if err := os.WriteFile(b.bare, []byte(bare), 0o600); err != nil {
		fake.Close()
		return nil, err
	}
	return b, nil
}

func (b *duoBench) close() { b.fake.Close() }

// cases are the Duo rows; shell is the login shell the gate execs. bare,
// when set, adds the row of the bare duo_api_golang program. The rows use
// the user's state of the gate under test, so a -base binary gets none
// (it may not read that state's format).
func (b *duoBench) cases(gate, bare, shell string) []kase {
	allowed := func(status int, stderr string) error {
		if status != 0 || strings.Contains(stderr, "error") {
			return fmt.Errorf("want a Duo login, got exit %d: %q", status, stderr)
		}
		return nil
	}
	cases := []kase{
		{id: "duo-passcode", label: "G: gate, Duo passcode (fake Duo on loopback, TLS), then `" + shell + " -c /bin/true`",
			prep: func() (*exec.Cmd, error) {
				if len(b.codes) == 0 {
					return nil, fmt.Errorf("out of Duo passcodes")
				}
				code := b.codes[0]
				b.codes = b.codes[1:]
				cmd := exec.Command(gate, "-c", b.passcode, "/bin/true")
				cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + code)
				return cmd, nil
			}, check: allowed},
		{id: "duo-push", label: "H: gate, `headless: push` approved at once (fake Duo), then `" + shell + " -c /bin/true`",
			prep: func() (*exec.Cmd, error) {
				cmd := exec.Command(gate, "-c", b.push, "/bin/true")
				cmd.Env = baseEnv()
				return cmd, nil
			}, check: allowed},
	}
	if bare != "" {
		cases = append(cases, kase{id: "duo-bare", label: "H0: a bare duo_api_golang program: preauth, push (async), one auth_status, then `" + shell + " -c /bin/true`",
			prep: func() (*exec.Cmd, error) {
				cmd := exec.Command(bare, b.bare, shell)
				cmd.Env = baseEnv()
				return cmd, nil
			}, check: ok})
	}
	return cases
}
