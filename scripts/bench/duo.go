package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/logingate/logingate/internal/testutil/duotest"
)

// duoBench is the Duo rows: the gate against a fake Duo Auth API on
// loopback (TLS, signatures checked, answers at once), so that the rows
// measure the gate's own cost of a Duo login: start-up, a TLS handshake,
// preauth and the auth exchange. The fake runs in this driver's process,
// on the same cores as the gate.
type duoBench struct {
	passcode, push, bare string // configs: Duo passcodes; headless: push; duobare's
	codes                []string
}

func duoRows(dir string, g *gateDir, runs int, bins binaries, shell, shellRun string) (peer, error) {
	fake, err := duotest.Start()
	if err != nil {
		return peer{}, err
	}
	b := &duoBench{passcode: filepath.Join(dir, "duo-passcode.yaml"), push: filepath.Join(dir, "duo-push.yaml"), bare: filepath.Join(dir, "duo-bare.conf")}
	for i := range runs {
		b.codes = append(b.codes, fmt.Sprintf("%07d", 1000000+i))
	}
	fake.SetUser("root", duotest.User{
		Devices:   []duotest.Device{duotest.Phone("DPFZRS9FB0D46QFTM891", "XXX-XXX-1234")},
		Push:      "allow",
		Passcodes: b.codes,
	})
	ca := filepath.Join(dir, "duo-ca.pem")
	base, err := os.ReadFile(g.config)
	if err == nil {
		err = os.WriteFile(ca, fake.CAPEM, 0o600)
	}
	block := fmt.Sprintf("duo: {host: %q, ikey: %s, skey: %s, cafile: %s}\n", fake.Host, fake.IKey, fake.SKey, ca)
	for path, body := range map[string]string{
		b.passcode: string(base) + block,
		b.push:     string(base) + block + "headless: push\n",
		b.bare:     fmt.Sprintf("host %s\nikey %s\nskey %s\ncafile %s\nuser root\n", fake.Host, fake.IKey, fake.SKey, ca),
	} {
		if err == nil {
			err = os.WriteFile(path, []byte(body), 0o600)
		}
	}
	if err != nil {
		fake.Close()
		return peer{}, err
	}
	return peer{cases: b.cases(bins.gate, bins.duoBare, shell, shellRun), close: fake.Close}, nil
}

// cases are the Duo rows of the gate under test and of the bare
// duo_api_golang program; shell is the login shell both exec.
func (b *duoBench) cases(gate, bare, shell, shellRun string) []kase {
	allowed := func(status int, stderr string) error {
		if status != 0 || strings.Contains(stderr, "error") {
			return fmt.Errorf("want a Duo login, got exit %d: %q", status, stderr)
		}
		return nil
	}
	run := func(path string, env []string, args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(path, args...)
		cmd.Env = env
		return cmd, nil
	}
	return []kase{
		{id: "duo-passcode", label: "G: gate, Duo passcode (fake Duo on loopback, TLS), then " + shellRun,
			prep: func() (*exec.Cmd, error) {
				if len(b.codes) == 0 {
					return nil, fmt.Errorf("out of Duo passcodes")
				}
				code := b.codes[0]
				b.codes = b.codes[1:]
				return run(gate, baseEnv("LOGINGATE_PASSCODE="+code), "-c", b.passcode, "/bin/true")
			}, check: allowed},
		{id: "duo-push", label: "H: gate, `headless: push` approved at once (fake Duo), then " + shellRun,
			prep: func() (*exec.Cmd, error) { return run(gate, baseEnv(), "-c", b.push, "/bin/true") }, check: allowed},
		{id: "duo-bare", label: "H0: a bare duo_api_golang program: preauth, push (async), one auth_status, then " + shellRun,
			prep: func() (*exec.Cmd, error) { return run(bare, baseEnv(), b.bare, shell) }},
	}
}
