// Package need is how a test says what it needs to run: root, an outside
// tool, a condition the machine may not meet. A missing need skips the
// test on a developer's machine; with CI=true it fails it, because CI must
// run every test and a skip there would hide one that never ran.
package need

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// CI says whether this run is CI's (CI=true), where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips t, or fails it under CI=true, saying what is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatal(msg + " (required when CI=true)")
		return
	}
	t.Skip(msg)
}

// Root skips t, or fails it under CI=true, unless the test runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// Tool returns the path of the program name, and skips t (or fails it
// under CI=true) when it is not installed; scripts/deps.sh installs every
// tool the tests use.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s not installed (scripts/deps.sh installs it)", name)
		return ""
	}
	return p
}
