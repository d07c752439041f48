package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/radiustest"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// radiusHost installs the privileged gate (as make install does) with an
// sshd, adds two accounts, and points the config at a real FreeRADIUS that
// knows them: the first is accepted with radiustest.AliceCode, the second
// is challenged. The shared secret is in a file root:logingate 0640; the
// config holds no secret. body is more config.
func radiusHost(t *testing.T, body string) (h *host, alice, bob *sshtest.User) {
	t.Helper()
	sshtest.Require(t)
	radiustest.Require(t)
	dir := sshtest.PublicTempDir(t)
	h = &host{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	bin, gid := installSetgid(t, dir)
	h.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	protectedDir(t, h.state, gid)
	secret := filepath.Join(dir, "radius.secret")
	must(t, os.WriteFile(secret, []byte(radiustest.Secret+"\n"), 0o640))
	must(t, os.Chown(secret, 0, gid))

	h.Server = sshtest.Start(t, sshtest.Options{ForceCommand: bin + " -c " + h.config})
	alice, bob = h.AddUser(t, "ra"), h.AddUser(t, "rb")
	srv := radiustest.StartNamed(t, alice.Name, bob.Name)
	cfg := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\n", h.state, h.audit.Path) +
		fmt.Sprintf("radius:\n  servers:\n    - {address: %q, secret_file: %s}\n  label: Corp\n", srv.Addr, secret) + body
	must(t, os.WriteFile(h.config, []byte(cfg), 0o640))
	must(t, os.Chown(h.config, 0, gid))
	return h, alice, bob
}

// A RADIUS code opens an interactive session; a rejected one does not; a
// challenge round (an SMS code) works.
func TestRADIUSLogin(t *testing.T) {
	h, alice, bob := radiusHost(t, "")

	s := h.SSHPty(t, alice, "echo radius-in")
	s.Expect(t, "OTP from Corp: ", expectTimeout)
	s.Send(radiustest.AliceCode + "\r")
	s.Expect(t, "radius-in", expectTimeout)
	if code := s.Wait(); code != 0 {
		t.Fatalf("accepted code: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "action=login", "result=allow", "user="+alice.Name, "factor=radius")

	s = h.SSHPty(t, alice, "echo radius-in")
	s.Expect(t, "OTP from Corp: ", expectTimeout)
	s.Send("999999\r")
	s.Expect(t, "logingate: wrong code", expectTimeout)
	s.Expect(t, "2 attempts left", expectTimeout)
	s.Send("\x03")
	if code := s.Wait(); code == 0 || strings.Contains(s.Output(), "radius-in") {
		t.Fatalf("rejected code: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "result=deny", "user="+alice.Name, "wrong code")

	s = h.SSHPty(t, bob, "echo challenge-in")
	s.Expect(t, "OTP from Corp: ", expectTimeout)
	s.Send("4242\r")
	s.Expect(t, radiustest.BobChallenge+": ", expectTimeout)
	s.Send(radiustest.BobCode + "\r")
	s.Expect(t, "challenge-in", expectTimeout)
	if code := s.Wait(); code != 0 {
		t.Fatalf("challenge: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "result=allow", "user="+bob.Name, "factor=radius")
	for _, secret := range []string{radiustest.Secret, radiustest.AliceCode, radiustest.BobCode} {
		if strings.Contains(h.audit.All(), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

// `logingate radius test` explains each server's answer; exit 0 on accept.
func TestRADIUSTestCommand(t *testing.T) {
	h, alice, _ := radiusHost(t, "")
	for _, tc := range []struct {
		code string
		exit int
		want []string
	}{
		{radiustest.AliceCode, 0, []string{": accept", "accepted the code"}},
		{"000000", 1, []string{": reject", "rejected the code", "logingate: hint: the server answered"}},
	} {
		cmd := exec.Command(gateBin, "-c", h.config, "radius", "test", "--user", alice.Name)
		cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+tc.code)
		out, errOut, code := run(t, cmd)
		all := out + errOut
		if code != tc.exit {
			t.Errorf("code %s: exit %d, want %d\n%s", tc.code, code, tc.exit, all)
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("code %s: output lacks %q:\n%s", tc.code, w, all)
			}
		}
		if strings.Contains(all, radiustest.Secret) || strings.Contains(all, tc.code) {
			t.Errorf("output shows a secret:\n%s", all)
		}
	}
}

// When no valid answer comes, `logingate radius test` says what to look
// at: a server that does not answer (here nothing listens), and one whose
// shared secret differs from secret_file (FreeRADIUS drops such requests).
func TestRADIUSTestCommandExplainsFailures(t *testing.T) {
	h, alice, _ := radiusHost(t, "")
	base, err := os.ReadFile(h.config)
	must(t, err)
	wrong := filepath.Join(h.dir, "wrong.secret")
	must(t, os.WriteFile(wrong, []byte("not-the-shared-secret\n"), 0o600))
	server := regexp.MustCompile(`- \{address: ("[^"]+"), secret_file: ([^}]+)\}`)
	if !server.Match(base) {
		t.Fatalf("no server line in the config:\n%s", base)
	}
	for _, tc := range []struct {
		name, server string
		want         []string
	}{
		{"nothing listens", `- {address: "127.0.0.1:9", secret_file: $2, timeout: 500ms, retries: 0}`,
			[]string{"127.0.0.1:9: refused (nothing listens on that port)", "logingate: hint: a server did not answer"}},
		{"wrong secret", `- {address: $1, secret_file: ` + wrong + `, timeout: 500ms, retries: 0}`,
			[]string{"no answer within 500ms", "logingate: hint:", "NAS address and secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(h.dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			must(t, os.WriteFile(cfg, server.ReplaceAll(base, []byte(tc.server)), 0o600))
			cmd := exec.Command(gateBin, "-c", cfg, "radius", "test", "--user", alice.Name)
			cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+radiustest.AliceCode)
			out, errOut, code := run(t, cmd)
			all := out + errOut
			t.Logf("exit %d:\n%s", code, all)
			if code == 0 {
				t.Errorf("exit 0 with no valid answer:\n%s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "not-the-shared-secret") || strings.Contains(all, radiustest.AliceCode) {
				t.Errorf("output shows a secret:\n%s", all)
			}
		})
	}
}
