package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/logingate/logingate/internal/cli"
	"github.com/logingate/logingate/internal/testutil/need"
)

// The CLI as a user sees it. Scripts in testdata/script run logingate as a
// command (this test binary under the name "logingate", see TestMain) with
// stdio that is not a terminal: a session like scp or `ssh host cmd`. The pty
// tests (pty_test.go) and the non-root tests (nonroot_test.go) run the real
// binary, built once by gateBinary.

func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"logingate": logingateCommand,
	})
}

// logingateCommand is main as the scripts run it. It first leaves the test
// run's session: started from an interactive shell, the process would
// otherwise inherit its controlling terminal, and the gate would prompt on
// the developer's screen instead of acting as in a session without a pty.
func logingateCommand() {
	if _, err := unix.Setsid(); err != nil {
		fmt.Fprintf(os.Stderr, "test harness: setsid: %v\n", err)
		os.Exit(99)
	}
	os.Exit(cli.Main(os.Args, os.Environ(), os.Stdout, os.Stderr))
}

// cleanupM runs the tests, then removes the binary gateBinary built.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

func TestScripts(t *testing.T) {
	requireRoot(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Values[auditKey{}] = &auditHolder{}
			// The config check refuses a directory others may write to,
			// whatever the umask of the test run.
			return os.Chmod(env.WorkDir, 0o755)
		},
		Cmds:      scriptCommands,
		Condition: scriptCondition,
	})
}

// requireRoot skips a test that must run as root, or fails it under CI=true.
// The scripts enroll root (the caller) and use root-only administration.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Unavailable(t, "needs root")
	}
}

// requireTool skips a test that needs a real tool, or fails it under CI=true,
// where every tool must be present.
func requireTool(t testing.TB, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		need.Unavailable(t, "%s not installed (scripts/deps.sh installs it)", tool)
	}
}

var (
	buildOnce sync.Once
	binDir    string // holds the built binary; removed after the run
	gateBin   string
	buildErr  error
)

// gateBinary builds cmd/logingate once per test run (with -race when the
// tests run with it) into a directory every user can read, and returns its
// path.
func gateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "logingate-cmd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "logingate")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/logingate/logingate/cmd/logingate")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		gateBin = bin
	})
	if buildErr != nil {
		t.Fatalf("building logingate: %v", buildErr)
	}
	return gateBin
}
