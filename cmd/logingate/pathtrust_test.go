package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

// hiddenLine is all a non-root caller of the privileged gate learns of any
// config or secret-file error (cli.hiddenText).
const hiddenLine = "logingate: error: the second-factor configuration cannot be used; access denied (root can see why: logingate check-config, or the system log)\n"

// setgidLayout is `make install`'s layout in a directory of its own: the
// binary root:logingate 2755 in bin/, root's config in etc/logingate/
// (0644), the state directory root:logingate 0770, and an unprivileged
// user's home in u/home, owned by that user (nobody).
type setgidLayout struct {
	base, bin, config, state, home string
	uid, gid                       uint32 // nobody's
	group                          int    // logingate's
}

func newSetgidLayout(t *testing.T) *setgidLayout {
	t.Helper()
	requireRoot(t)
	g, err := user.LookupGroup("logingate")
	if err != nil {
		need.Unavailable(t, "no logingate group: %v", err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	uid, ugid := nobody(t)
	base, err := os.MkdirTemp("", "lgpath-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	l := &setgidLayout{base: base, bin: filepath.Join(base, "bin", "logingate"),
		config: filepath.Join(base, "etc", "logingate", "logingate.yaml"),
		state:  filepath.Join(base, "state"), home: filepath.Join(base, "u", "home"),
		uid: uid, gid: ugid, group: gid}
	for _, d := range []string{base, filepath.Dir(l.bin), filepath.Join(base, "etc"), filepath.Dir(l.config), filepath.Dir(l.home), l.home} {
		mustDo(t, os.MkdirAll(d, 0o755))
		mustDo(t, os.Chmod(d, 0o755))
	}
	mustDo(t, os.Chown(l.home, int(uid), int(ugid)))
	data, err := os.ReadFile(gateBinary(t))
	mustDo(t, err)
	mustDo(t, os.WriteFile(l.bin, data, 0o755))
	mustDo(t, os.Chown(l.bin, 0, gid))
	mustDo(t, os.Chmod(l.bin, 0o755|os.ModeSetgid))
	mustDo(t, os.Mkdir(l.state, 0o770))
	mustDo(t, os.Chown(l.state, 0, gid))
	mustDo(t, os.Chmod(l.state, 0o770))
	// Root's config: every user needs a second factor, and nobody has none.
	mustDo(t, os.WriteFile(l.config, []byte("state_dir: "+l.state+"\n"), 0o644))
	return l
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// asNobody runs the setgid gate as nobody, with no terminal, in dir, with
// stdin open on the file stdin names (read as root; "" for none), and
// returns stdout, stderr and the exit status.
func (l *setgidLayout) asNobody(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(l.bin, args...)
	cmd.Dir = dir
	if stdin != "" {
		f, err := os.Open(stdin)
		mustDo(t, err)
		defer f.Close()
		cmd.Stdin = f
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + l.home}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: l.uid, Gid: l.gid, Groups: []uint32{}},
		Setsid:     true,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// userFile writes a file as nobody would, in nobody's home.
func (l *setgidLayout) userFile(t *testing.T, rel, data string) string {
	t.Helper()
	p := filepath.Join(l.home, rel)
	for d := filepath.Dir(p); d != l.home; d = filepath.Dir(d) {
		defer os.Chown(d, int(l.uid), int(l.gid))
	}
	mustDo(t, os.MkdirAll(filepath.Dir(p), 0o755))
	mustDo(t, os.WriteFile(p, []byte(data), 0o644))
	mustDo(t, os.Chown(p, int(l.uid), int(l.gid)))
	return p
}

// withoutAuditWarning drops the line saying the default syslog socket is
// unreachable (test machines have none), which is the same for every case.
func withoutAuditWarning(s string) string {
	var out []string
	for _, line := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(line, "logingate: warning: audit log unreachable") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// Issue 10, reproduction 1, as the user does it against the setgid
// install: ~/L/../../../etc/logingate/logingate.yaml is root's config as
// text and the user's own file as the kernel walks it. The user's config
// puts nobody in no gated group, which would let the session start with no
// second factor. The gate must refuse the path with the fixed line, and
// every other way to name a file through a link or /proc likewise.
func TestCallerConfigPathTricksRefused(t *testing.T) {
	l := newSetgidLayout(t)
	mine := "state_dir: /var/lib/logingate\ngroups: [\"nosuchgroup\"]\n"
	l.userFile(t, "a/b/c/.keep", "")
	l.userFile(t, "etc/logingate/logingate.yaml", mine)
	mustDo(t, os.Symlink(filepath.Join(l.home, "a", "b", "c"), filepath.Join(l.home, "L")))
	mustDo(t, os.Lchown(filepath.Join(l.home, "L"), int(l.uid), int(l.gid)))
	trick := filepath.Join(l.home, "L") + "/../../../etc/logingate/logingate.yaml"
	if filepath.Clean(trick) != l.config {
		t.Fatalf("the trick cleans to %s, want root's %s", filepath.Clean(trick), l.config)
	}

	// Root's own links, which a user may name but not through.
	rootLink := filepath.Join(l.base, "etc", "link.yaml")
	mustDo(t, os.Symlink(l.config, rootLink))
	fifo := filepath.Join(l.base, "etc", "fifo.yaml")
	mustDo(t, syscall.Mkfifo(fifo, 0o644))
	rel, err := filepath.Rel(l.home, l.config)
	mustDo(t, err)

	for _, tt := range []struct{ name, dir, path string }{
		{"reproduction 1", l.home, trick},
		{"the user's file", l.home, filepath.Join(l.home, "etc", "logingate", "logingate.yaml")},
		{"dot-dot in root's directories", l.home, filepath.Dir(l.config) + "/../logingate/logingate.yaml"},
		{"root's link, last component", l.home, rootLink},
		{"/proc/self/root", l.home, "/proc/self/root" + l.config},
		{"/proc/self/cwd", filepath.Dir(l.config), "/proc/self/cwd/logingate.yaml"},
		{"/dev/fd of an open config", l.home, "/dev/fd/0"},
		{"/proc/self/fd of an open config", l.home, "/proc/self/fd/0"},
		{"relative", l.home, rel},
		{"a fifo", l.home, fifo},
		{"a directory", l.home, filepath.Dir(l.config)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, debug := range []bool{false, true} {
				args := []string{"-c", tt.path, "--", "echo", "session-started"}
				if debug {
					args = append([]string{"-d"}, args...)
				}
				// stdin is root's config, for /dev/fd/0 and /proc/self/fd/0.
				stdout, stderr, code := l.asNobody(t, tt.dir, l.config, args...)
				if code != 1 || stdout != "" {
					t.Errorf("-d=%v: exit %d, stdout %q: the session may have started", debug, code, stdout)
				}
				got := withoutAuditWarning(stderr)
				if debug {
					got = strings.Replace(got, "logingate: action=login result=deny user=nobody reason=\"config error: the second-factor configuration cannot be used; access denied (root can see why: logingate check-config, or the system log)\"\n", "", 1)
				}
				if got != hiddenLine {
					t.Errorf("-d=%v: stderr %q, want only %q", debug, stderr, hiddenLine)
				}
			}
		})
	}

	// Root's config named directly still works: the gate goes on to ask
	// for a second factor (nobody has none, so it is denied for that).
	_, stderr, code := l.asNobody(t, l.home, "", "-c", l.config, "--", "echo", "session-started")
	if code != 1 || strings.Contains(stderr, "configuration cannot be used") {
		t.Errorf("root's own config: exit %d, stderr %q", code, stderr)
	}
}

// A non-root caller learns nothing of a file only the logingate group may
// read, whether -c names it as the config or root's config names it as a
// secret: every error is the same fixed line, with -d too, and subcommands
// say the same. Root's check-config tells the cause.
func TestCallerLearnsNothingOfSecretFiles(t *testing.T) {
	l := newSetgidLayout(t)
	hidden := func(stderr string) string {
		got := withoutAuditWarning(stderr)
		for _, action := range []string{"login result=deny", "status result=error", "check-config result=error"} {
			got = strings.Replace(got, "logingate: action="+action+" user=nobody reason=\"config error: the second-factor configuration cannot be used; access denied (root can see why: logingate check-config, or the system log)\"\n", "", 1)
		}
		return got
	}
	etc := filepath.Dir(l.config)
	for i, tt := range []struct {
		name, data string
		badConfig  bool // refused as a config
		badSKey    bool // refused as a Duo skey_file
	}{
		// An empty file is a valid config (all defaults): a caller
		// learns that it is empty, as from any file that loads.
		{"empty", "", false, true},
		{"one line", "0123456789abcdef0123456789abcdef01234567\n", true, false},
		{"two lines", "abc\ndef\n", true, true},
		{"too large", strings.Repeat("k", 5000) + "\n", true, true},
		{"yaml error", "state_dir: [\n", true, true},
		{"a store key", "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n", true, false},
	} {
		secret := filepath.Join(etc, fmt.Sprintf("secret-%d", i))
		mustDo(t, os.WriteFile(secret, []byte(tt.data), 0o640))
		mustDo(t, os.Chown(secret, 0, l.group))
		mustDo(t, os.Chmod(secret, 0o640))
		var runs [][]string
		if tt.badConfig {
			runs = append(runs, []string{"-c", secret, "--", "true"}, []string{"-d", "-c", secret, "--", "true"},
				[]string{"-c", secret, "status"}, []string{"-c", secret, "check-config"})
		}
		if tt.badSKey {
			cfg := filepath.Join(etc, fmt.Sprintf("names-secret-%d.yaml", i))
			mustDo(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
				"state_dir: %s\nduo: {ikey: DIXXXXXXXXXXXXXXXXXX, host: api-x.duosecurity.com, skey_file: %s}\n", l.state, secret)), 0o644))
			runs = append(runs, []string{"-c", cfg, "--", "true"}, []string{"-d", "-c", cfg, "--", "true"}, []string{"-c", cfg, "check-config"})
		}
		for _, args := range runs {
			stdout, stderr, code := l.asNobody(t, l.home, "", args...)
			if code != 1 || stdout != "" || hidden(stderr) != hiddenLine {
				t.Errorf("%s, %q: exit %d, stdout %q, stderr %q; want exit 1 and only %q", tt.name, args, code, stdout, stderr, hiddenLine)
			}
		}
	}

	// Root sees why.
	empty := filepath.Join(etc, "empty-skey")
	mustDo(t, os.WriteFile(empty, nil, 0o640))
	cfg := filepath.Join(etc, "names-empty.yaml")
	mustDo(t, os.WriteFile(cfg, []byte("state_dir: "+l.state+"\nduo: {ikey: DIXXXXXXXXXXXXXXXXXX, host: api-x.duosecurity.com, skey_file: "+empty+"}\n"), 0o644))
	out, err := exec.Command(l.bin, "-c", cfg, "check-config").CombinedOutput()
	if err == nil || !strings.Contains(string(out), empty+": is empty") {
		t.Errorf("root's check-config: %v\n%s", err, out)
	}
}

// Root's check-config warns, before an upgrade, about a config path that a
// user's ForceCommand -c would now have refused: one reached through a
// link that config management made. Root's own runs keep following it.
func TestCheckConfigWarnsOfLinkedConfig(t *testing.T) {
	l := newSetgidLayout(t)
	cm := filepath.Join(l.base, "cm")
	mustDo(t, os.Mkdir(cm, 0o755))
	real := filepath.Join(cm, "logingate.yaml")
	mustDo(t, os.Rename(l.config, real))
	mustDo(t, os.Symlink("../../cm/logingate.yaml", l.config))
	out, err := exec.Command(l.bin, "-c", l.config, "check-config").CombinedOutput()
	if err != nil {
		t.Fatalf("root's check-config of a linked config: %v\n%s", err, out)
	}
	for _, want := range []string{
		"logingate: warning: " + l.config + ": a privileged gate refuses this path when a user's ForceCommand names it with -c",
		l.config + " is a symbolic link",
		"configuration ok",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(l.bin, "-c", real, "check-config").CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Errorf("check-config of the real path: %v\n%s", err, out)
	}
}

// A file system a user may mount (removable media through udisks or an
// fstab "user" entry, FUSE) holds whatever owners and modes its maker
// wrote: a root-owned config on it is the user's. Such mounts are always
// nosuid, so a caller's -c on a nosuid file system is refused. A nosuid
// tmpfs that root mounts here stands in for the user's image.
func TestCallerConfigOnAUserMount(t *testing.T) {
	l := newSetgidLayout(t)
	media := filepath.Join(l.base, "media")
	mustDo(t, os.Mkdir(media, 0o755))
	if err := syscall.Mount("tmpfs", media, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755"); err != nil {
		need.Unavailable(t, "cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(media, syscall.MNT_DETACH) })
	cfg := filepath.Join(media, "logingate.yaml")
	mustDo(t, os.WriteFile(cfg, []byte("state_dir: /var/lib/logingate\ngroups: [\"nosuchgroup\"]\n"), 0o644))
	stdout, stderr, code := l.asNobody(t, l.home, "", "-c", cfg, "--", "echo", "session-started")
	if code != 1 || stdout != "" || withoutAuditWarning(stderr) != hiddenLine {
		t.Errorf("-c on a nosuid mount: exit %d, stdout %q, stderr %q; want it refused with %q", code, stdout, stderr, hiddenLine)
	}
}
