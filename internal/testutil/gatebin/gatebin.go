// Package gatebin builds the logingate binary once for a test package whose
// tests run it as a separate process (end to end through sshd, races
// between processes, faults staged on live gates).
package gatebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds logingate into a temp directory that others may enter (sshd
// runs it as the test users), sets *bin to its path, runs the tests and
// exits with their status, removing the directory. With needRoot, a
// non-root run outside CI builds nothing and leaves the tests to skip
// themselves.
func Main(m *testing.M, bin *string, needRoot bool) {
	os.Exit(run(m, bin, needRoot))
}

func run(m *testing.M, bin *string, needRoot bool) int {
	if needRoot && os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "logingate-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*bin = filepath.Join(dir, "logingate")
	// Static, as make build and make deb ship it.
	cmd := exec.Command("go", "build", "-o", *bin, "github.com/logingate/logingate/cmd/logingate")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building logingate: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
