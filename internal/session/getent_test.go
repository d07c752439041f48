package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// TestGetentGetsNothingOfTheCaller: a user the files do not answer is
// looked up by getent with an empty environment, the name after "--", and
// GECOS whole.
func TestGetentGetsNothingOfTheCaller(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	script := filepath.Join(dir, "getent")
	body := "#!/bin/sh\n{ echo \"args=$*\"; env; } >" + seen + "\n" +
		"echo 'lgx-getent:x:4242:4243:Ada Lovelace,Room 1,,:/home/ada:/bin/zsh'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	getentPath = script
	t.Cleanup(func() { getentPath = defaultGetent })
	t.Setenv("LGX_SECRET", "must-not-pass")

	u, err := LookupUser("lgx-getent")
	if err != nil {
		t.Fatal(err)
	}
	want := User{Name: "lgx-getent", UID: 4242, GID: 4243, Gecos: "Ada Lovelace,Room 1,,", Home: "/home/ada", Shell: "/bin/zsh"}
	if *u != want {
		t.Errorf("LookupUser = %+v, want %+v", *u, want)
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "args=passwd -- lgx-getent" {
		t.Errorf("getent ran with %q", lines[0])
	}
	for _, l := range lines[1:] {
		// sh sets PWD, SHLVL and _ itself; nothing may come from us.
		if name, _, _ := strings.Cut(l, "="); name != "PWD" && name != "SHLVL" && name != "_" {
			t.Errorf("getent's environment has %q", l)
		}
	}

	// An answer for another name (getent reads a number as an id) is no
	// answer.
	if _, err := LookupUser("lgx-other"); !errors.Is(err, errUnknownUser) {
		t.Errorf("LookupUser(lgx-other) answered by lgx-getent's entry: %v", err)
	}
}

// TestNamesGetentWouldMisread: a name that getent would take for an option
// or an id, or that no passwd line can hold, is no user.
func TestNamesGetentWouldMisread(t *testing.T) {
	for _, name := range []string{"0", "-s", "--help", "a:b", "a\nb"} {
		if u, err := LookupUser(name); !errors.Is(err, errUnknownUser) {
			t.Errorf("LookupUser(%q) = %+v, %v; want errUnknownUser", name, u, err)
		}
	}
}

// The getent helper mode: the test binary, installed setgid, looks up a user
// through the fake getent named in getentEnv, as a setgid gate would.
const (
	modeGetent = "getent"
	getentEnv  = "LOGINGATE_SESSION_TEST_GETENT"
)

// getentHelper prints its own gids ("gate Gid: real effective saved fs"),
// so that the test sees it really held the group, then looks the user up.
func getentHelper() int {
	getentPath = os.Getenv(getentEnv)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 99
	}
	fmt.Printf("gate Gid: %s\n", strings.Join(statusField(status, "Gid:"), " "))
	if _, err := LookupUser("lgx-getent"); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 99
	}
	return 0
}

// statusField returns the values of one /proc/PID/status line, say "Gid:".
func statusField(status []byte, key string) []string {
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key {
			return f[1:]
		}
	}
	return nil
}

// TestGetentRunsWithoutTheGateGroup: getent, run by a setgid gate, does not
// hold the gate's group: not as its real, effective, saved or filesystem gid,
// nor as a supplementary group. The test binary is installed setgid to
// a group of its own and run as nobody; the fake getent records its ids with
// shell builtins only, since it runs with no PATH.
func TestGetentRunsWithoutTheGateGroup(t *testing.T) {
	need.Root(t)
	const (
		nobody  = 65534
		gateGID = 42424 // any group nobody does not otherwise hold
	)
	dir, err := os.MkdirTemp("", "session-getent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustDo(os.Chmod(dir, 0o755)) // nobody must reach the binary and the script
	self, err := os.ReadFile(os.Args[0])
	mustDo(err)
	bin := filepath.Join(dir, "gate")
	mustDo(os.WriteFile(bin, self, 0o755))
	mustDo(os.Chown(bin, 0, gateGID))
	mustDo(os.Chmod(bin, 0o755|os.ModeSetgid)) // after chown, which clears it

	seen := filepath.Join(dir, "seen")
	mustDo(os.WriteFile(seen, nil, 0o600))
	mustDo(os.Chown(seen, nobody, nobody))
	script := filepath.Join(dir, "getent")
	// -p: sh would otherwise drop an effective gid it was given and hide
	// what getent, which drops nothing, would hold.
	body := "#!/bin/sh -p\n" +
		"while read -r k v; do case $k in Gid:|Groups:) echo \"$k $v\";; esac; done </proc/$$/status >" + seen + "\n" +
		"echo 'lgx-getent:x:4242:4243::/home/ada:/bin/sh'\n"
	mustDo(os.WriteFile(script, []byte(body), 0o755))

	cmd := exec.Command(bin)
	cmd.Env = []string{helperEnv + "=" + modeGetent, getentEnv + "=" + script}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gate: %v\n%s", err, out)
	}

	// Without the group in the gate, the test would prove nothing.
	g := strconv.Itoa(gateGID)
	var gate []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "gate "); ok {
			gate = statusField([]byte(rest), "Gid:")
		}
	}
	if len(gate) != 4 || gate[1] != g {
		t.Fatalf("gate gids %q, want effective %s (is the temp dir's mount nosuid?)\n%s", gate, g, out)
	}

	b, err := os.ReadFile(seen)
	mustDo(err)
	want := strconv.Itoa(nobody)
	gids := statusField(b, "Gid:")
	if !slices.Equal(gids, []string{want, want, want, want}) {
		t.Errorf("getent ran with gids %q (real, effective, saved, fs), want %s for each; the gate's group is %s", gids, want, g)
	}
	if slices.Contains(statusField(b, "Groups:"), g) {
		t.Errorf("getent holds the gate's group %s as a supplementary group:\n%s", g, b)
	}
}
