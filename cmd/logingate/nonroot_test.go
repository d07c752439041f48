package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// An ordinary user acts only on their own second factor: root runs the
// built binary as nobody and checks each way of reaching another user's
// state is refused, and that root's state is left as it was.
func TestNonRootCannotActOnOthers(t *testing.T) {
	requireRoot(t)
	bin := gateBinary(t)
	uid, gid := nobody(t)

	// A directory nobody can traverse; the config and state stay root's.
	dir, err := os.MkdirTemp("", "lgnonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, os.ModeSticky|0o733); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "logingate.yaml")
	yaml := fmt.Sprintf("state_dir: %s\naccept_env_factor: true\nsyslog:\n  socket: %s\n", state, filepath.Join(dir, "no-syslog"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", cfg, "enroll", "--user", "root", "--no-verify").CombinedOutput(); err != nil {
		t.Fatalf("enroll root: %v: %s", err, out)
	}
	rootState := filepath.Join(state, "root", "state.json")
	before, err := os.ReadFile(rootState)
	if err != nil {
		t.Fatal(err)
	}

	const otherUser = "logingate: error: only root may act on another user (--user)"
	tests := []struct {
		name string
		args []string
		want string // the line on stderr; with --json, the error on stdout
	}{
		// Unprivileged, -f names only the Duo user (login_duo's meaning):
		// the factors checked stay nobody's, who has none.
		{"gate -f", []string{"-f", "root", "echo", "session-started"}, "logingate: error: no second factor is set up for nobody; access denied"},
		{"status --user", []string{"status", "--user", "root"}, otherUser},
		{"status --user --json", []string{"status", "--user", "root", "--json"}, `{"error":"only root may act on another user (--user)"}`},
		{"enroll --user", []string{"enroll", "--user", "root", "--force"}, otherUser},
		{"backup-codes --user", []string{"backup-codes", "--user", "root", "--regenerate"}, otherUser},
		{"import --user", []string{"import", "google-authenticator", "--user", "root", "--force", "/dev/null"}, otherUser},
		{"unlock", []string{"unlock", "--user", "root"}, "logingate: error: unlock is for root"},
		{"reset", []string{"reset", "--user", "root"}, "logingate: error: reset is for root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"-c", cfg}, tt.args...)...)
			cmd.Dir = dir
			// A passcode is offered, and must not matter.
			cmd.Env = []string{"PATH=/usr/bin:/bin", "LOGINGATE_PASSCODE=000000"}
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Credential: &syscall.Credential{Uid: uid, Gid: gid},
				Setsid:     true, // no controlling terminal, as in `ssh host cmd`
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want exit status 1", err)
			}
			if slices.Contains(tt.args, "--json") {
				if stdout.String() != tt.want+"\n" || stderr.Len() != 0 {
					t.Errorf("stdout %q, stderr %q; want only %q on stdout", stdout.String(), stderr.String(), tt.want)
				}
			} else {
				if stdout.Len() != 0 {
					t.Errorf("stdout %q, want nothing", stdout.String())
				}
				if !strings.Contains(stderr.String(), tt.want+"\n") {
					t.Errorf("stderr %q, want the line %q", stderr.String(), tt.want)
				}
			}
			if strings.Contains(stderr.String(), "secret") {
				t.Errorf("stderr mentions a secret: %q", stderr.String())
			}
			after, err := os.ReadFile(rootState)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("root's state changed")
			}
		})
	}
}

// nobody returns the uid and gid of the unprivileged account "nobody".
func nobody(t *testing.T) (uid, gid uint32) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		need.Unavailable(t, "no account nobody: %v", err)
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("account nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return uint32(id), uint32(g)
}
