package sshtest_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// gateScript stands in for logingate as ForceCommand: it names the command
// it was asked for on stderr and in ~/gate.log (sshd discards a subsystem's
// stderr), then runs it the way a gate does.
const gateScript = `#!/bin/sh
echo "gate:$SSH_ORIGINAL_COMMAND" | tee -a "$HOME/gate.log" >&2
if [ -n "$SSH_ORIGINAL_COMMAND" ]; then
	exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"
fi
exec "$SHELL" -l
`

// startGated starts a server with gateScript as ForceCommand and one user.
func startGated(t *testing.T) (*sshtest.Server, *sshtest.User) {
	t.Helper()
	sshtest.Require(t)
	gate := filepath.Join(sshtest.PublicTempDir(t), "gate")
	if err := os.WriteFile(gate, []byte(gateScript), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := sshtest.Start(t, sshtest.Options{ForceCommand: gate})
	return srv, srv.AddUser(t, "alice")
}

// gateLog returns what gateScript logged for u.
func gateLog(t *testing.T, u *sshtest.User) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(u.Home, "gate.log"))
	if err != nil {
		t.Fatalf("the gate never ran: %v", err)
	}
	return string(data)
}

// run runs cmd and returns its stdout, stderr and exit code.
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestCommandsRunThroughForceCommand(t *testing.T) {
	t.Parallel()
	srv, u := startGated(t)

	tests := []struct {
		name    string
		command string
		stdout  string
		code    int
	}{
		{"true", "true", "", 0},
		{"exit status", "exit 3", "", 3},
		{"runs as the user", "id -un", u.Name + "\n", 0},
		{"quoting survives", `printf '%s|' "a b" 'c  d'`, "a b|c  d|", 0},
	}
	t.Run("commands", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				stdout, stderr, code := run(t, srv.SSH(u, tt.command))
				if code != tt.code || stdout != tt.stdout {
					t.Errorf("ssh %q: exit %d, stdout %q; want exit %d, stdout %q (stderr %q)",
						tt.command, code, stdout, tt.code, tt.stdout, stderr)
				}
				if want := "gate:" + tt.command + "\n"; stderr != want {
					t.Errorf("ssh %q: stderr %q, want %q (ForceCommand not run?)", tt.command, stderr, want)
				}
			})
		}
	})
	if want := "Accepted publickey for " + u.Name + " from 127.0.0.1"; strings.Count(srv.Log(), want) != len(tests) {
		t.Errorf("sshd log has not %d times %q", len(tests), want)
	}
}

func TestInteractiveLogin(t *testing.T) {
	t.Parallel()
	srv, u := startGated(t)

	s := srv.SSHPty(t, u)
	s.Expect(t, "gate:\r\n", 10*time.Second)
	s.Expect(t, u.Name+"@", 10*time.Second)
	s.Expect(t, "$ ", 10*time.Second)
	s.Send("echo h''i; tty; exit 4\r")
	s.Expect(t, "\r\nhi\r\n/dev/pts/", 10*time.Second)
	if code := s.Wait(); code != 4 {
		t.Errorf("exit code %d, want 4; output %q", code, s.Output())
	}
}

func TestPtyCommand(t *testing.T) {
	t.Parallel()
	srv, u := startGated(t)

	s := srv.SSHPty(t, u, "read -r line; echo got:$line")
	s.Expect(t, "gate:read -r line", 10*time.Second)
	s.Send("typed\r")
	s.Expect(t, "got:typed\r\n", 10*time.Second)
	if code := s.Wait(); code != 0 {
		t.Errorf("exit code %d, want 0; output %q", code, s.Output())
	}
}

// randomFile writes a file of random bytes under dir and returns its path
// and content.
func randomFile(t *testing.T, dir, name string) (string, []byte) {
	t.Helper()
	data := make([]byte, 100_000)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// checkRemote checks that the file the user received is theirs and intact.
func checkRemote(t *testing.T, u *sshtest.User, name string, want []byte) {
	t.Helper()
	path := filepath.Join(u.Home, name)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was sent", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != u.UID {
		t.Errorf("%s owned by uid %d, want %d", path, uid, u.UID)
	}
}

func TestSFTPBatch(t *testing.T) {
	t.Parallel()
	srv, u := startGated(t)
	local := t.TempDir()
	src, data := randomFile(t, local, "src")
	back := filepath.Join(local, "back")
	batch := filepath.Join(local, "batch")
	script := "put " + src + " up.bin\nget up.bin " + back + "\n"
	if err := os.WriteFile(batch, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := run(t, srv.SFTP(u, batch))
	if code != 0 {
		t.Fatalf("sftp exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	// sshd drops what a subsystem writes to stderr: a gate's message
	// never reaches an sftp user.
	if stderr != "" {
		t.Errorf("stderr %q, want none", stderr)
	}
	if want := "gate:" + sshtest.SFTPServerPath + "\n"; gateLog(t, u) != want {
		t.Errorf("gate log %q, want %q", gateLog(t, u), want)
	}
	checkRemote(t, u, "up.bin", data)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Errorf("file fetched back differs (err %v)", err)
	}
}

func TestSCP(t *testing.T) {
	t.Parallel()
	srv, u := startGated(t)

	for _, tt := range []struct {
		name  string
		flags []string
		gate  string // what the gate is asked to run, uploading
	}{
		{"sftp protocol", nil, "gate:" + sshtest.SFTPServerPath + "\n"},
		{"legacy protocol", []string{"-O"}, "gate:scp -t up-legacy\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			local := t.TempDir()
			src, data := randomFile(t, local, "src")
			remote := "up-" + strings.Fields(tt.name)[0]
			back := filepath.Join(local, "back")

			_, stderr, code := run(t, srv.SCP(u, append(tt.flags, src, srv.Remote(u, remote))...))
			if code != 0 || !strings.Contains(gateLog(t, u), tt.gate) {
				t.Fatalf("upload: exit %d, stderr %q, gate log %q; want 0 and %q", code, stderr, gateLog(t, u), tt.gate)
			}
			checkRemote(t, u, remote, data)
			_, stderr, code = run(t, srv.SCP(u, append(tt.flags, srv.Remote(u, remote), back)...))
			if code != 0 {
				t.Fatalf("download: exit %d, stderr %q", code, stderr)
			}
			if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
				t.Errorf("file fetched back differs (err %v)", err)
			}
		})
	}
}

func TestRsyncOverSSHCommand(t *testing.T) {
	t.Parallel()
	need.Tool(t, "rsync")
	srv, u := startGated(t)
	src, data := randomFile(t, t.TempDir(), "src")

	_, stderr, code := run(t, exec.Command("rsync", "-e", srv.SSHCommand(u), src, srv.Remote(u, "up.rsync")))
	if code != 0 || !strings.Contains(stderr, "gate:rsync --server") {
		t.Fatalf("rsync: exit %d, stderr %q", code, stderr)
	}
	checkRemote(t, u, "up.rsync", data)
}

func TestExtraConfigOverridesDefaults(t *testing.T) {
	t.Parallel()
	// internal-sftp would clash with the default Subsystem line if both
	// were written; the Match block must land after the global settings.
	srv := sshtest.Start(t, sshtest.Options{ExtraConfig: []string{
		"Subsystem sftp internal-sftp",
		"Match User nobody",
		"\tPermitTTY no",
	}})
	u := srv.AddUser(t, "bob")
	stdout, stderr, code := run(t, srv.SFTP(u, "-"))
	if code != 0 {
		t.Fatalf("sftp with internal-sftp: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}

func TestUserCommandRunsAsUser(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t, sshtest.Options{})
	u := srv.AddUser(t, "carol")
	out, err := u.Command("sh", "-c", `id -u; echo "$HOME"; pwd; id -G`).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strconv.Itoa(u.UID), u.Home, u.Home, strconv.Itoa(u.GID)}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}
