package doctor

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// printEnvCommand is the ForceCommand of TestSSHDOverridesClientEnv. sshd
// runs it as `$SHELL -c printEnvCommand`, with this test binary as the
// user's shell: a shell would rewrite some variables itself (bash sets
// SHELLOPTS and BASHOPTS, and never imports IFS), which would hide what sshd
// did with them.
const printEnvCommand = "logingate-doctor-printenv"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "-c" && os.Args[2] == printEnvCommand {
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSSHDOverridesClientEnv asks a real sshd which variables a client
// sent through AcceptEnv * still has in the session's environment, with and
// without a command (no pty: the client chooses), and holds doctor's
// sshdOverrides to what it sees. An AcceptEnv name sshd overrides is no
// finding; one it keeps is.
func TestSSHDOverridesClientEnv(t *testing.T) {
	sshtest.Require(t)
	shell := filepath.Join(sshtest.PublicTempDir(t), "printenv-shell")
	copyExecutable(t, shell)
	srv := sshtest.Start(t, sshtest.Options{
		ForceCommand: printEnvCommand,
		ExtraConfig: []string{"AcceptEnv *", "SetEnv ZDOTDIR=/nonexistent",
			"Match User *-hidden", "\tExposeAuthInfo no"},
	})
	names := map[string]bool{}
	for _, n := range dangerousEnv {
		if !strings.Contains(n, "%") {
			names[n] = true
		}
	}
	for n := range sshdSets {
		names[n] = true
	}
	list := slices.Sorted(maps.Keys(names))
	var sent []string
	for _, n := range list {
		sent = append(sent, n+"=lgdoctor-client-"+n)
	}
	for _, label := range []string{"shown", "hidden"} {
		u := srv.AddUser(t, label)
		if out, err := exec.Command("usermod", "-s", shell, u.Name).CombinedOutput(); err != nil {
			t.Fatalf("usermod: %v: %s", err, out)
		}
		e := effective{"exposeauthinfo": {"yes"}, "setenv": {"ZDOTDIR=/nonexistent"}}
		if label == "hidden" {
			e["exposeauthinfo"] = []string{"no"}
		}
		kept := map[string]bool{}
		for _, cmd := range [][]string{nil, {"some", "command"}} {
			args := append([]string{"-T", "-o", "SetEnv=" + strings.Join(sent, " ")}, cmd...)
			c := srv.SSH(u, args...)
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			if err := c.Run(); err != nil {
				t.Fatalf("ssh %q: %v\nstderr: %s\nsshd log:\n%s", args, err, errb.String(), srv.Log())
			}
			if !strings.Contains(out.String(), "SSH_CONNECTION=") {
				t.Fatalf("no environment printed: %q", out.String())
			}
			for _, line := range strings.Split(out.String(), "\n") {
				name, val, _ := strings.Cut(line, "=")
				if val == "lgdoctor-client-"+name {
					kept[name] = true
				}
			}
		}
		for _, n := range list {
			if got, want := sshdOverrides(n, e), !kept[n]; got != want {
				t.Errorf("%s (exposeauthinfo %s): doctor says sshd overrides the client's value: %v; the real sshd: %v",
					n, e.get("exposeauthinfo"), got, want)
			}
		}
		t.Logf("%s: client values kept by sshd: %q", label, slices.Sorted(maps.Keys(kept)))
	}
}

// copyExecutable copies the running test binary to path, mode 0755.
func copyExecutable(t *testing.T, path string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
