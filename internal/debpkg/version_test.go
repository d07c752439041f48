package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
)

var debversion, _ = filepath.Abs("../../scripts/debversion.sh")

// git runs git in dir with a fixed identity and, when when is set, that
// commit date.
func git(t *testing.T, dir, when string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
	if when != "" {
		cmd.Env = append(cmd.Env, "GIT_COMMITTER_DATE="+when, "GIT_AUTHOR_DATE="+when)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func version(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(debversion)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("debversion.sh in %s: %v", dir, err)
	}
	return strings.TrimSpace(string(out))
}

// commit adds a change and commits it at when.
func commit(t *testing.T, dir, when string) {
	t.Helper()
	f := filepath.Join(dir, "f")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(b, 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "", "add", "f")
	git(t, dir, when, "commit", "-qm", "c")
}

// dpkgLess reports whether dpkg sorts a before b.
func dpkgLess(t *testing.T, a, b string) bool {
	t.Helper()
	err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return err == nil
}

// TestVersion builds versions the way `make deb` does, from repositories
// shaped like the cases an operator or CI meets, and checks that dpkg
// sorts them in the order the commits were made.
func TestVersion(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		need.Unavailable(t, "debpkg: dpkg not found")
	}
	if _, err := exec.LookPath("git"); err != nil {
		need.Unavailable(t, "debpkg: git not found")
	}
	dir := t.TempDir()
	git(t, dir, "", "init", "-q")

	commit(t, dir, "2026-01-02T03:04:05Z")
	c1 := version(t, dir)
	if !regexp.MustCompile(`^0\.0~git20260102\.030405\.[0-9a-f]{12}$`).MatchString(c1) {
		t.Errorf("untagged commit: %q, want 0.0~git20260102.030405.HASH", c1)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(dir, "untracked"), []byte("a built .deb"), 0o644)
	c1dirty := version(t, dir)
	if !strings.HasPrefix(c1dirty, c1+"+dirty") {
		t.Errorf("dirty tree: %q, want %s+dirty...", c1dirty, c1)
	}
	git(t, dir, "", "checkout", "-q", "f")
	if v := version(t, dir); v != c1 {
		t.Errorf("an untracked file made the tree dirty: %q, want %q", v, c1)
	}

	// Same day, later: must sort after, whatever the hashes.
	commit(t, dir, "2026-01-02T09:00:00Z")
	c2 := version(t, dir)
	git(t, dir, "", "tag", "v1.2.0-rc1")
	rc := version(t, dir)
	commit(t, dir, "2026-01-03T00:00:00Z")
	git(t, dir, "", "tag", "v1.2.0")
	rel := version(t, dir)
	commit(t, dir, "2026-01-04T00:00:00Z")
	after := version(t, dir)
	git(t, dir, "", "tag", "v1.2.1")
	next := version(t, dir)

	if rc != "1.2.0~rc1" || rel != "1.2.0" || next != "1.2.1" {
		t.Errorf("tags: %q %q %q, want 1.2.0~rc1 1.2.0 1.2.1", rc, rel, next)
	}
	if !regexp.MustCompile(`^1\.2\.0\+git20260104\.000000\.[0-9a-f]{12}$`).MatchString(after) {
		t.Errorf("commit after v1.2.0: %q, want 1.2.0+git20260104.000000.HASH", after)
	}
	order := []string{c1, c1dirty, c2, rc, rel, after, next}
	for i := 0; i+1 < len(order); i++ {
		if !dpkgLess(t, order[i], order[i+1]) {
			t.Errorf("dpkg does not sort %q before %q", order[i], order[i+1])
		}
	}

	// A shallow clone, as CI makes one: no tags, one commit. It still builds.
	shallow := filepath.Join(t.TempDir(), "shallow")
	commit(t, dir, "2026-01-05T00:00:00Z")
	git(t, dir, "", "clone", "-q", "--depth", "1", "--no-tags", "file://"+dir, shallow)
	if v := version(t, shallow); !regexp.MustCompile(`^0\.0~git20260105\.000000\.[0-9a-f]{12}$`).MatchString(v) {
		t.Errorf("shallow clone: %q, want 0.0~git20260105.000000.HASH", v)
	}

	// No git at all: an error that says what to do, no made-up version.
	cmd := exec.Command(debversion)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(cmd.Dir))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set DEB_VERSION") {
		t.Errorf("outside git: err %v, output %q; want a failure naming DEB_VERSION", err, out)
	}
}
