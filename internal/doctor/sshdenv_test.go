package doctor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
		setShell(t, u.Name, shell)
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
			// SetEnv reaches the shell that runs the ForceCommand.
			if !strings.Contains(out.String(), "\nZDOTDIR=/nonexistent\n") {
				t.Errorf("SetEnv ZDOTDIR=/nonexistent did not reach the ForceCommand: %q", out.String())
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

// TestSSHDRunsForceCommandWithTheShell: sshd hands the whole ForceCommand
// line to the user's shell, so what follows a failing gate runs. This is
// the bypass forcecommand-chained reports, shown on the real sshd.
func TestSSHDRunsForceCommandWithTheShell(t *testing.T) {
	sshtest.Require(t)
	line := "/bin/false || echo logingate-doctor-bypassed"
	if _, op, _ := shellSplit(line); op != "||" {
		t.Fatalf("shellSplit(%q) = %q, want ||", line, op)
	}
	srv := sshtest.Start(t, sshtest.Options{ForceCommand: line})
	u := srv.AddUser(t, "chain")
	c := srv.SSH(u, "-T", "true")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("ssh: %v\nstderr: %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "logingate-doctor-bypassed") {
		t.Errorf("the rest of the ForceCommand did not run after the failing command: %q", out.String())
	}
}

// TestSSHDSetEnvPlantedFiles shows on the real sshd what a file SetEnv
// names does, and that doctor reports it when another user owns the file:
//   - PS4 under SHELLOPTS=xtrace is expanded by the shell sshd starts, as
//     it traces the ForceCommand: before the gate (here /bin/false) runs;
//   - BASH_ENV is not read by that shell (Debian's bash, started by sshd,
//     reads ~/.bashrc instead), nor by the `bash -c` the gate execs, but by
//     every bash script the session runs: after the second factor, as
//     every user who logs in.
func TestSSHDSetEnvPlantedFiles(t *testing.T) {
	sshtest.Require(t)
	dir := filepath.Join(sshtest.PublicTempDir(t), "nobody")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "env")
	if err := os.WriteFile(planted, []byte("echo logingate-doctor-planted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, planted} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(filepath.Dir(dir), "script")
	if err := os.WriteFile(script, []byte("#!/bin/bash\ntrue\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, forceCommand, setEnv string
		ran                        bool
	}{
		{"ps4 before the gate", "/bin/false", `SHELLOPTS=xtrace "PS4=$(. ` + planted + `)"`, true},
		{"bash_env not before the gate", "/bin/false", "BASH_ENV=" + planted, false},
		{"bash_env in a bash script of the session", script, "BASH_ENV=" + planted, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := sshtest.Start(t, sshtest.Options{ForceCommand: tc.forceCommand, ExtraConfig: []string{"SetEnv " + tc.setEnv}})
			u := srv.AddUser(t, "senv")
			c := srv.SSH(u, "-T", "some-command")
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			_ = c.Run()
			if ran := strings.Contains(out.String(), "logingate-doctor-planted"); ran != tc.ran {
				t.Errorf("the planted file ran: %v, want %v; output %q", ran, tc.ran, out.String())
			}
			cfg := srv.ConfigPath
			e, err := (&sshdT{sshd: sshtest.SSHDPath, config: cfg, timeout: 30 * time.Second}).run(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			a := &auditor{cfg: &sshdConfig{}}
			if is := a.checkSetEnv(e); len(is) != 1 || is[0].Severity != sevHigh {
				t.Errorf("doctor on %q: %+v, want one high finding", e["setenv"], is)
			}
		})
	}
}

// setShell makes shell the user's login shell, waiting while another test
// process holds the lock on /etc/passwd (as sshtest's useradd does).
func setShell(t *testing.T, name, shell string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("usermod", "-s", shell, name).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "cannot lock") || time.Now().After(deadline) {
			t.Fatalf("usermod -s %s %s: %v: %s", shell, name, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
