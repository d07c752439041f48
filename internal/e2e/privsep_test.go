package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/install"
	"github.com/logingate/logingate/internal/testutil/sshtest"
	"golang.org/x/sys/unix"
)

// privilegedHost installs the gate as `make install` does: the binary
// root:logingate mode 2755, the state directory root:logingate 0770, and
// sshd runs that binary.
func privilegedHost(t *testing.T) (*host, string, int) {
	t.Helper()
	sshtest.Require(t)
	dir := sshtest.PublicTempDir(t)
	h := &host{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	bin, gid := installSetgid(t, dir)
	protectedDir(t, h.state, gid)
	h.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	cfg := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\naccept_env_factor: true\n", h.state, h.audit.Path)
	must(t, os.WriteFile(h.config, []byte(cfg), 0o644))
	h.Server = sshtest.Start(t, sshtest.Options{
		ForceCommand: bin + " -c " + h.config,
		ExtraConfig:  []string{"AcceptEnv LOGINGATE_PASSCODE"},
	})
	return h, bin, gid
}

// installSetgid installs the gate binary as `make install` does, at
// dir/bin/logingate, root:logingate mode 2755 (creating the group when the
// machine has none), and returns its path and the group's id.
func installSetgid(t *testing.T, dir string) (bin string, gid int) {
	t.Helper()
	bin = filepath.Join(dir, "bin", "logingate")
	return bin, install.Binary(t, gateBin, bin)
}

// protectedDir makes path a protected state directory: root:logingate 0770.
func protectedDir(t *testing.T, path string, gid int) {
	t.Helper()
	install.ProtectedDir(t, path, gid)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sshWithCode runs a remote command as u with a TOTP code in
// LOGINGATE_PASSCODE (no terminal).
func sshWithCode(t *testing.T, h *host, u *sshtest.User, code, command string) (string, string, int) {
	t.Helper()
	cmd := h.SSH(u, "-o", "SendEnv=LOGINGATE_PASSCODE", command)
	cmd.Env = append(os.Environ(), "LOGINGATE_PASSCODE="+code)
	return run(t, cmd)
}

// After a login through a privileged gate, the session holds no logingate
// group and no logingate descriptor, and cannot read, list or change the
// state, its own secret included, nor change the config or read a secret
// file kept for the gate's group (a Duo skey_file, a RADIUS secret).
func TestPrivilegedSessionHoldsNothing(t *testing.T) {
	h, bin, gid := privilegedHost(t)
	u := h.AddUser(t, "priv")
	out, errOut, code := run(t, exec.Command(bin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
	if code != 0 {
		t.Fatalf("enroll through the setgid binary: %d %s %s", code, out, errOut)
	}
	e := parseEnrolled(t, out)
	secret := filepath.Join(h.dir, "duo.skey")
	must(t, os.WriteFile(secret, []byte("not-a-real-skey\n"), 0o640))
	must(t, os.Chown(secret, 0, gid))

	probe := strings.Join([]string{
		`grep -E '^(Gid|Groups):' /proc/self/status`,
		`echo fds: $(ls /proc/self/fd)`,
		fmt.Sprintf(`cat %s/%s/state.json >/dev/null 2>&1 && echo READ-STATE`, h.state, u.Name),
		fmt.Sprintf(`ls %s >/dev/null 2>&1 && echo LIST-STATE`, h.state),
		fmt.Sprintf(`touch %s/planted 2>/dev/null && echo WROTE-STATE`, h.state),
		fmt.Sprintf(`echo 'failmode: safe' >> %s 2>/dev/null && echo WROTE-CONFIG`, h.config),
		fmt.Sprintf(`cat %s >/dev/null 2>&1 && echo READ-SECRET`, secret),
		`echo probe-done`,
	}, "; ")
	out, errOut, code = sshWithCode(t, h, u, e.Code(t, 0), probe)
	if code != 0 || !strings.Contains(out, "probe-done") {
		t.Fatalf("login failed: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, bad := range []string{"READ-STATE", "LIST-STATE", "WROTE-STATE", "WROTE-CONFIG", "READ-SECRET"} {
		if strings.Contains(out, bad) {
			t.Errorf("the session could reach the state: %s\n%s", bad, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 5 && f[0] == "Gid:":
			for _, id := range f[1:] {
				if id != strconv.Itoa(u.GID) {
					t.Errorf("session gids %v, want all %d (real, effective, saved, fs)", f[1:], u.GID)
				}
			}
		case len(f) > 0 && f[0] == "Groups:":
			for _, id := range f[1:] {
				if id == strconv.Itoa(gid) {
					t.Errorf("session keeps the logingate group: %s", line)
				}
			}
		case len(f) > 0 && f[0] == "fds:":
			for _, fd := range f[1:] {
				if fd != "0" && fd != "1" && fd != "2" && fd != "3" { // 3: ls's own directory
					t.Errorf("a descriptor leaked into the session: %s", line)
				}
			}
		}
	}
	h.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp")
}

// A user of a privileged gate cannot use it to open protected files, nor
// steer it with a config of their own, and an unsafe install is refused.
func TestPrivilegedGateRefusesTheCallersSteering(t *testing.T) {
	h, bin, _ := privilegedHost(t)
	u := h.AddUser(t, "steer")
	out, _, code := run(t, exec.Command(bin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
	if code != 0 {
		t.Fatal("enroll failed")
	}
	e := parseEnrolled(t, out)

	// Inside the session, the user runs the setgid binary by hand.
	own := filepath.Join(u.Home, "mine.yaml")
	script := strings.Join([]string{
		fmt.Sprintf(`%s -c %s import google-authenticator %s/%s/state.json; echo import-rc=$?`, bin, h.config, h.state, u.Name),
		fmt.Sprintf(`printf 'state_dir: %s\n' > %s; %s -c %s status; echo own-config-rc=$?`, u.Home, own, bin, own),
	}, "; ")
	out, errOut, code := sshWithCode(t, h, u, e.Code(t, 0), script)
	if code != 0 {
		t.Fatalf("login failed: %d %s", code, errOut)
	}
	if !strings.Contains(out, "import-rc=1") || !strings.Contains(errOut, "permission denied") {
		t.Errorf("importing a protected state file was not refused with the caller's rights:\nstdout %s\nstderr %s", out, errOut)
	}
	if !strings.Contains(out, "own-config-rc=1") || !strings.Contains(errOut, "logingate: error: the second-factor configuration cannot be used; access denied") {
		t.Errorf("a user's own config was accepted by the privileged gate:\nstdout %s\nstderr %s", out, errOut)
	}

	// A group-writable binary is refused outright, and says how to fix it.
	must(t, os.Chmod(bin, 0o775|os.ModeSetgid))
	_, errOut, code = sshWithCode(t, h, u, e.Code(t, 1), "echo should-not-run")
	if code == 0 || !strings.Contains(errOut, "writable by group or others") || !strings.Contains(errOut, "chmod 2755") {
		t.Errorf("unsafe binary: exit %d, stderr %q", code, errOut)
	}
	must(t, os.Chmod(bin, 0o755|os.ModeSetgid))

	// A state directory that others can enter is refused too.
	must(t, os.Chmod(h.state, 0o775))
	_, errOut, code = sshWithCode(t, h, u, e.Code(t, 1), "echo should-not-run")
	if code == 0 || !strings.Contains(errOut, "state cannot be read") {
		t.Errorf("open state directory: exit %d, stderr %q", code, errOut)
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "gives others access")
}

func parseEnrolled(t *testing.T, out string) *enrolled {
	t.Helper()
	return enrolltest.Parse(t, []byte(out))
}

// migrate moves state written by an unprivileged gate (per-user layout)
// into the protected layout without losing anything, and a second run
// changes nothing.
func TestMigrateKeepsEverything(t *testing.T) {
	h, bin, gid := privilegedHost(t)
	u := h.AddUser(t, "migr")
	// The old layout: root:root 1733, state written by an unprivileged gate.
	must(t, os.Chown(h.state, 0, 0))
	must(t, os.Chmod(h.state, 0o733|os.ModeSticky))
	out, _, code := run(t, exec.Command(gateBin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
	if code != 0 {
		t.Fatal("enroll in the old layout failed")
	}
	e := parseEnrolled(t, out)
	codes := codeListRE.FindAllString(out, -1)
	before, _, _ := run(t, exec.Command(gateBin, "-c", h.config, "status", "--user", u.Name, "--json"))

	// The setgid gate refuses the old layout until it is migrated.
	if _, errOut, code := sshWithCode(t, h, u, e.Code(t, 0), "true"); code == 0 {
		t.Fatalf("the privileged gate used an unprotected state directory: %s", errOut)
	}
	out, errOut, code := run(t, exec.Command(bin, "-c", h.config, "migrate"))
	if code != 0 || !strings.Contains(out, "1 users' state moved") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errOut)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(h.state, &st))
	if st.Uid != 0 || int(st.Gid) != gid || st.Mode&0o777 != 0o770 {
		t.Fatalf("state directory after migrate: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	after, _, _ := run(t, exec.Command(bin, "-c", h.config, "status", "--user", u.Name, "--json"))
	if after != before {
		t.Fatalf("status changed by migrate:\nbefore %s\nafter  %s", before, after)
	}
	out, _, code = run(t, exec.Command(bin, "-c", h.config, "migrate"))
	if code != 0 || !strings.Contains(out, "already has the protected layout") {
		t.Fatalf("second migrate: exit %d %s", code, out)
	}
	// The same factors work through the privileged gate.
	if out, errOut, code := sshWithCode(t, h, u, codes[0], "echo migrated-ok"); code != 0 || !strings.Contains(out, "migrated-ok") {
		t.Fatalf("backup code after migrate: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := sshWithCode(t, h, u, e.Code(t, 1), "echo totp-ok"); code != 0 || !strings.Contains(out, "totp-ok") {
		t.Fatalf("TOTP after migrate: exit %d\n%s%s", code, out, errOut)
	}
}

var codeListRE = regexp.MustCompile(`[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}`)

// egidProbeName: a copy of this test binary by that name, run as a program
// by the gate, writes the group ids it runs with to "gids" beside itself,
// and exits.
const egidProbeName = "egid-probe"

func egidProbe() {
	r, e, s := unix.Getresgid()
	_ = os.WriteFile(filepath.Join(filepath.Dir(os.Args[0]), "gids"), fmt.Appendf(nil, "%d %d %d\n", r, e, s), 0o644)
	os.Exit(0)
}

// asUser runs the setgid gate as u outside any session, on a terminal of
// its own (script(1)) with nothing typed, and gives up after a while: what
// is checked is what the command did to files, not how it ended.
func asUser(t *testing.T, u *sshtest.User, cmdline string) string {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) missing: %v", err) // util-linux, on every Debian
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", cmdline, "/dev/null")
	cmd.Dir = u.Home
	cmd.Env = []string{"HOME=" + u.Home, "PATH=/usr/bin:/bin", "USER=" + u.Name, "LOGNAME=" + u.Name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// The setgid gate lends its group to nothing a user names: a QR image is
// created with the user's own rights (so not inside the protected state
// directory), and doctor, which runs the programs it is told to, gives the
// group up before it starts.
func TestPrivilegedToolsUseTheCallersRights(t *testing.T) {
	h, bin, gid := privilegedHost(t)
	u := h.AddUser(t, "tools")

	t.Run("qr image", func(t *testing.T) {
		planted := filepath.Join(h.state, "planted")
		out := asUser(t, u, fmt.Sprintf("%s -c %s enroll --qr-png %s", bin, h.config, planted))
		if _, err := os.Lstat(planted); err == nil {
			t.Errorf("enroll --qr-png created %s in the protected state directory; output: %q", planted, out)
		}
		if !strings.Contains(out, "cannot create the QR image") || !strings.Contains(out, "permission denied") {
			t.Errorf("output %q: want the refusal, with the caller's permission error", out)
		}

		// Where the user may write, the image is theirs and private.
		own := filepath.Join(u.Home, "qr.png")
		out = asUser(t, u, fmt.Sprintf("%s -c %s enroll --qr-png %s", bin, h.config, own))
		var st syscall.Stat_t
		if err := syscall.Stat(own, &st); err != nil {
			t.Fatalf("no image in the user's home: %v; output %q", err, out)
		}
		if int(st.Uid) != u.UID || int(st.Gid) != u.GID || st.Mode&0o777 != 0o600 {
			t.Errorf("image owned by %d:%d mode %04o, want %d:%d 0600", st.Uid, st.Gid, st.Mode&0o777, u.UID, u.GID)
		}
	})

	t.Run("doctor", func(t *testing.T) {
		// A copy of this test binary stands for the sshd the user names;
		// it reports the group ids doctor ran it with.
		dir := filepath.Join(u.Home, "probe")
		must(t, os.Mkdir(dir, 0o755))
		must(t, os.Chown(dir, u.UID, u.GID))
		probe := filepath.Join(dir, egidProbeName)
		data, err := os.ReadFile(os.Args[0])
		must(t, err)
		must(t, os.WriteFile(probe, data, 0o755))
		result := filepath.Join(dir, "gids")
		out := asUser(t, u, fmt.Sprintf("%s -c %s doctor --sshd %s", bin, h.config, probe))
		got, err := os.ReadFile(result)
		if err != nil {
			t.Fatalf("doctor never ran the program it was given: %v; output %q", err, out)
		}
		want := fmt.Sprintf("%d %d %d\n", u.GID, u.GID, u.GID)
		if string(got) != want {
			t.Errorf("doctor ran the user's program with group ids (real, effective, saved) %q, want %q: the logingate group is %d", got, want, gid)
		}
	})
}
