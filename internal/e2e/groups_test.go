package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/nssfake"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// Group gating must see groups the way the C library does: a user and
// groups that exist only through NSS (libnss-extrausers here, LDAP or SSSD
// in production), never in /etc/passwd or /etc/group.
func TestGroupsThroughNSSOnly(t *testing.T) {
	sshtest.Require(t)
	if why := nssfake.Available(); why != "" {
		need.Unavailable(t, "%s", why)
	}
	const uid, lostGID = 59101, 59199
	nssfake.Install(t,
		[]nssfake.FakeUser{
			{Name: "lgx-gated", UID: uid, GID: uid, Shell: "/bin/sh"},
			{Name: "lgx-lost", UID: uid + 1, GID: lostGID, Shell: "/bin/sh"}, // primary group has no name
		},
		[]nssfake.FakeGroup{
			{Name: "lgx-gated", GID: uid},
			{Name: "lgx-ops", GID: uid + 10, Members: []string{"lgx-gated"}},
		})

	dir := sshtest.PublicTempDir(t)
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	os.Chmod(state, 0o733|os.ModeSticky)
	audit := auditsink.Listen(t, filepath.Join(dir, "audit.sock"))

	// run starts the gate as an NSS-only user with no terminal and returns
	// its stdout, stderr and exit status.
	run := func(t *testing.T, user int, groups string) (string, string, int) {
		t.Helper()
		cfg := filepath.Join(dir, fmt.Sprintf("cfg-%d-%x.yaml", user, len(groups)))
		body := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\ngroups: %s\n", state, audit.Path, groups)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(gateBin, "-c", cfg, "echo", "session-ran")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(user), Gid: uint32(user)}}
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}

	cases := []struct {
		name   string
		user   int
		groups string
		gated  bool // must pass a second factor (and, with none, is denied)
		denied string
	}{
		{"supplementary group from NSS", uid, `["lgx-ops"]`, true, "no second factor is set up"},
		{"primary group from NSS", uid, `["lgx-g*"]`, true, "no second factor is set up"},
		{"not in any gated group", uid, `["wheel", "admins"]`, false, ""},
		{"negated group wins", uid, `["*,!lgx-ops"]`, false, ""},
		{"one list of several matches", uid, `["wheel lgx-ops"]`, true, "no second factor is set up"},
		{"unresolvable primary group denies", uid + 1, `["wheel"]`, true, "cannot resolve your groups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, c.user, c.groups)
			if c.gated {
				if code == 0 || strings.Contains(out, "session-ran") {
					t.Fatalf("gated user got in: exit %d, stdout %q", code, out)
				}
				if !strings.Contains(errOut, c.denied) {
					t.Fatalf("stderr %q lacks %q", errOut, c.denied)
				}
				return
			}
			if code != 0 || out != "session-ran\n" {
				t.Fatalf("ungated user: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
	audit.WaitFor(t, "result=skip", "user=lgx-gated", `reason="not in a gated group"`)
	audit.WaitFor(t, "result=deny", "user=lgx-lost", "group lookup failed")
}
