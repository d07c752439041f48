package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// evilConfig is a config the attacker writes: it gates nobody (no one is in
// the group), so a gate that loads it runs her command with no second
// factor.
func (h *host) evilConfig() string {
	return h.baseConfig() + "groups: [\"nosuchgroup-hostile\"]\n"
}

// plantEvil writes the attacker's config as u at path (creating its
// directory) and returns path.
func plantEvil(t *testing.T, h *host, u *sshtest.User, path string) string {
	t.Helper()
	script := fmt.Sprintf("mkdir -p %q && cat > %q", filepath.Dir(path), path)
	cmd := shell(u, userEnv(u), script)
	cmd.Stdin = strings.NewReader(h.evilConfig())
	if r := runFor(t, cmd, 10*time.Second); r.code != 0 {
		t.Fatalf("planting %s as %s: %v", path, u.Name, r)
	}
	return path
}

// A non-root caller's -c never makes the privileged gate load a config the
// caller wrote, whatever path names it: issue 10's reproduction 1 (".."
// through the caller's symlink, which a textual check resolves differently
// from the kernel), a symlink as the last component, /dev/fd/N,
// /proc/self/fd/N, /dev/stdin, /proc/self/root/..., /proc/self/cwd/..., a
// fifo, a directory. Each one as the user would type it, with the command
// `echo marker`: the gate must deny (or fail), never run it.
func TestConfigPathTricks(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "path")
	evil := plantEvil(t, h, u, filepath.Join(u.Home, "evil.yaml"))
	gate := fmt.Sprintf("exec %s -c %%s -- echo %s", h.bin, marker)

	// Reproduction 1: textually, L/../../.. from the home is "/", so the
	// path reads as the root-owned config; the kernel follows L into
	// ~/a/b/c first and lands in the home, on the attacker's copy.
	rel := strings.TrimPrefix(h.config, "/")
	plantEvil(t, h, u, filepath.Join(u.Home, rel))
	depth := strings.Count(strings.Trim(u.Home, "/"), "/") + 1
	dotdot := filepath.Join(u.Home, "L") + strings.Repeat("/..", depth+1) + "/" + rel
	if filepath.Clean(dotdot) != h.config {
		t.Fatalf("test bug: %s does not clean to %s", dotdot, h.config)
	}

	sticky := filepath.Join(h.tmp, u.Name)
	cases := []struct{ name, script string }{
		{"own file", fmt.Sprintf(gate, evil)},
		{"dotdot through the user's symlink", fmt.Sprintf("mkdir -p ~/a/b/c && ln -s ~/a/b/c ~/L && "+gate, dotdot)},
		{"symlink as last component", fmt.Sprintf("ln -s %s %s.yaml && "+gate, evil, sticky, sticky+".yaml")},
		{"symlinked directory in a sticky dir", fmt.Sprintf("ln -s %s %s.d && "+gate, filepath.Dir(evil), sticky, sticky+".d/evil.yaml")},
		{"/dev/fd/N", fmt.Sprintf("exec 7<%s && "+gate, evil, "/dev/fd/7")},
		{"/proc/self/fd/N", fmt.Sprintf("exec 7<%s && "+gate, evil, "/proc/self/fd/7")},
		{"/dev/stdin", fmt.Sprintf(gate+" <%s", "/dev/stdin", evil)},
		{"/proc/self/root/...", fmt.Sprintf(gate, "/proc/self/root"+evil)},
		{"/proc/self/cwd/...", fmt.Sprintf("cd && "+gate, "/proc/self/cwd/evil.yaml")},
		{"fifo in a sticky dir", fmt.Sprintf("mkfifo %s.fifo && (cat %s > %s.fifo &) >/dev/null 2>&1 && "+gate, sticky, evil, sticky, sticky+".fifo")},
		{"fifo in the home", fmt.Sprintf("mkfifo ~/c.fifo && (cat %s > ~/c.fifo &) >/dev/null 2>&1 && "+gate, evil, filepath.Join(u.Home, "c.fifo"))},
		{"root's directory", fmt.Sprintf(gate, h.etc)},
		{"relative path", "cd && " + fmt.Sprintf(gate, "evil.yaml")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runFor(t, shell(u, userEnv(u), c.script), 20*time.Second)
			if r.code == -1 {
				t.Errorf("the gate hung (killed after 20s):\n%v", r)
			}
			mustDeny(t, c.name, r)
		})
	}
}

// races is how many gates TestConfigSwapRace starts against the swapping
// symlink.
const races = 2000

// A config path cannot be swapped between the check and the read: the
// attacker flips a symlink of hers in a sticky directory between root's
// config directory and her own, by atomic renames in a tight loop, while
// gates name the file through it. The gate must never run her command.
func TestConfigSwapRace(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "swap")
	evil := plantEvil(t, h, u, filepath.Join(u.Home, "evil", filepath.Base(h.config)))
	helper := h.copyTestBinary(t)
	link := filepath.Join(h.tmp, u.Name+".d")

	swapper := asUser(u, append(userEnv(u), helperEnv+"=swap"), helper, link, h.etc, filepath.Dir(evil))
	must(t, swapper.Start())
	t.Cleanup(func() {
		syscall.Kill(-swapper.Process.Pid, syscall.SIGKILL)
		swapper.Wait()
	})
	path := filepath.Join(link, filepath.Base(h.config))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(link); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the swapper never made its link")
		}
		time.Sleep(10 * time.Millisecond)
	}

	wins, roots, refused := 0, 0, 0
	start := time.Now()
	for i := range races {
		r := runFor(t, asUser(u, userEnv(u), h.bin, "-c", path, "--", "echo", marker), 20*time.Second)
		switch {
		case r.allowed():
			wins++
			if wins == 1 {
				t.Errorf("race %d: the gate ran the attacker's command under her config:\n%v", i, r)
			}
		case strings.Contains(r.stderr, "second factor") || strings.Contains(r.stderr, "enroll"):
			roots++ // root's config was read: she is not enrolled
		default:
			refused++
		}
	}
	t.Logf("%d races in %v: %d won by the attacker, %d read root's config, %d refused the path",
		races, time.Since(start).Round(time.Millisecond), wins, roots, refused)
	if wins > 0 {
		t.Errorf("the attacker won %d of %d races", wins, races)
	}
}
