package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildDeb runs `make deb` in the source tree into out, with version when
// set (else the one make computes from git), and returns the package's path.
func buildDeb(t *testing.T, out, version string) string {
	t.Helper()
	args := []string{"-C", "../..", "--no-print-directory", "deb", "DEB_OUT=" + out}
	if version != "" {
		args = append(args, "DEB_VERSION="+version)
	}
	cmd := exec.Command("make", args...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	deb := lines[len(lines)-1]
	if _, err := os.Stat(deb); err != nil || filepath.Dir(deb) != out {
		t.Fatalf("make deb printed no package in %s:\n%s", out, b)
	}
	return deb
}

// debField reads a control field of a package file.
func debField(t *testing.T, deb, field string) string {
	t.Helper()
	b, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s %s: %v", deb, field, err)
	}
	return strings.TrimSpace(string(b))
}

// explainedWarnings are the lintian tags packaging/deb/LINTIAN.md explains.
var explainedWarnings = map[string]bool{"package-has-long-file-name": true}

// checkLintian fails on any lintian error, and on any warning that
// packaging/deb/LINTIAN.md does not explain. It logs the whole output.
func checkLintian(t *testing.T, deb string) {
	t.Helper()
	cmd := exec.Command("lintian", "--pedantic", "--tag-display-limit", "0", deb)
	b, err := cmd.CombinedOutput()
	t.Logf("lintian --pedantic %s:\n%s", filepath.Base(deb), b)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("lintian: %v", err)
		}
	}
	notes, rerr := os.ReadFile("../../packaging/deb/LINTIAN.md")
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		switch f[0] {
		case "E:":
			t.Errorf("lintian error: %s", l)
		case "W:":
			tag := f[2]
			if !explainedWarnings[tag] || !strings.Contains(string(notes), "`"+tag+"`") {
				t.Errorf("lintian warning not explained in packaging/deb/LINTIAN.md: %s", l)
			}
		}
	}
}
