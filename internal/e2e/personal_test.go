package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// Personal mode: no system install at all. A user protects their own key
// with authorized_keys command="logingate", keeps the config and state in
// ~/.config/logingate, and enrolls themselves at a terminal.
func TestPersonalModeThroughAuthorizedKeys(t *testing.T) {
	sshtest.Require(t)
	dir := sshtest.PublicTempDir(t)
	audit := auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	srv := sshtest.Start(t, sshtest.Options{})
	u := srv.AddUser(t, "pers")

	cfgDir := filepath.Join(u.Home, ".config", "logingate")
	must(t, os.MkdirAll(cfgDir, 0o700))
	cfg := fmt.Sprintf("state_dir: ~/.config/logingate/state\nsyslog: {socket: %s}\n", audit.Path)
	must(t, os.WriteFile(filepath.Join(cfgDir, "logingate.yaml"), []byte(cfg), 0o600))
	for _, p := range []string{filepath.Join(u.Home, ".config"), cfgDir, filepath.Join(cfgDir, "logingate.yaml")} {
		must(t, os.Chown(p, u.UID, u.GID))
	}

	// The user enrolls at a terminal, with no -c: the personal config is found.
	s := sshtest.StartPty(t, u.Command(gateBin, "enroll"))
	seen := s.Expect(t, "Code from the app: ", expectTimeout)
	m := secretRE.FindStringSubmatch(seen)
	if m == nil {
		t.Fatalf("no otpauth URI shown:\n%s", seen)
	}
	e := &enrolled{Secret: m[1]}
	s.Send(e.Code(t, 0) + "\r")
	s.Expect(t, "they are not shown again:", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Fatalf("enroll exit %d:\n%s", got, s.Output())
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(filepath.Join(cfgDir, "state", u.Name, "state.json"), &st))
	if int(st.Uid) != u.UID || st.Mode&0o077 != 0 {
		t.Fatalf("personal state: uid %d mode %o, want the user's, private", st.Uid, st.Mode&0o777)
	}

	// The key is gated by its own command= option, not by sshd_config.
	u.WriteAuthorizedKeys(t, `command="`+gateBin+`",restrict,pty `+u.PublicKey)
	p := srv.SSHPty(t, u, "echo personal-$((40+2))")
	p.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	p.Send(e.Code(t, 1) + "\r")
	p.Expect(t, "personal-42", expectTimeout)
	if got := p.Wait(); got != 0 {
		t.Fatalf("login exit %d", got)
	}
	audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp")

	// Without a code, nothing runs.
	out, errOut, code := run(t, srv.SSH(u, "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") || out != "" {
		t.Fatalf("personal gate let a session through: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
