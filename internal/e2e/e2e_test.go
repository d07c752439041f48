// Package e2e proves logingate end to end: a real OpenSSH server on loopback
// runs the built binary as its ForceCommand, and real clients (ssh, scp,
// sftp) log in with codes computed by oathtool, an independent TOTP
// implementation.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/gatebin"
	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// gateBin is the logingate binary built once for the package's tests.
var gateBin string

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == egidProbeName {
		egidProbe()
	}
	gatebin.Main(m, &gateBin, true)
}

// host is one sshd with logingate as its ForceCommand, its config, state
// directory and audit socket.
type host struct {
	*sshtest.Server
	dir, config, state string
	audit              *auditsink.Sink
}

type hostOptions struct {
	yaml  string   // extra config lines
	sshd  []string // extra sshd_config lines
	flags string   // extra logingate flags on the ForceCommand line
}

func newHost(t *testing.T, o hostOptions) *host {
	t.Helper()
	sshtest.Require(t)
	need.Tool(t, "oathtool")
	dir := sshtest.PublicTempDir(t)
	h := &host{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	if err := os.Mkdir(h.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.state, 0o733|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	h.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	cfg := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\n%s", h.state, h.audit.Path, o.yaml)
	if err := os.WriteFile(h.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	force := gateBin + " -c " + h.config
	if o.flags != "" {
		force += " " + o.flags
	}
	h.Server = sshtest.Start(t, sshtest.Options{ForceCommand: force, ExtraConfig: o.sshd})
	return h
}

// gate runs the logingate binary as root with this host's config.
func (h *host) gate(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(gateBin, append([]string{"-c", h.config}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// enrolled is what root's provisioning hands out.
type enrolled = enrolltest.Enrollment

func (h *host) enroll(t *testing.T, u *sshtest.User, flags ...string) *enrolled {
	t.Helper()
	out, errOut, code := h.gate(t, append([]string{"enroll", "--user", u.Name, "--no-verify", "--json"}, flags...)...)
	if code != 0 {
		t.Fatalf("enroll --user %s: exit %d: %s %s", u.Name, code, out, errOut)
	}
	return enrolltest.Parse(t, []byte(out))
}

// run runs cmd and returns its output and exit status.
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}
