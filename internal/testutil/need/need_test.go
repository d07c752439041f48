package need

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// fake records what a helper did to the test, without ending this one.
type fake struct {
	testing.TB
	skipped, failed string
}

func (f *fake) Helper()           {}
func (f *fake) Skip(args ...any)  { f.skipped = fmt.Sprint(args...) }
func (f *fake) Fatal(args ...any) { f.failed = fmt.Sprint(args...) }

func TestUnavailableSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "")
	f := &fake{}
	Unavailable(f, "%s missing", "oathtool")
	if f.skipped != "oathtool missing" || f.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip", f.skipped, f.failed)
	}

	t.Setenv("CI", "true")
	f = &fake{}
	Unavailable(f, "%s missing", "oathtool")
	if f.failed != "oathtool missing (required when CI=true)" || f.skipped != "" {
		t.Errorf("with CI=true: skipped %q, failed %q; want a failure", f.skipped, f.failed)
	}
}

func TestTool(t *testing.T) {
	want, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	f := &fake{}
	if got := Tool(f, "sh"); got != want || f.skipped != "" || f.failed != "" {
		t.Errorf("Tool(sh) = %q (skipped %q, failed %q), want %q", got, f.skipped, f.failed, want)
	}
	t.Setenv("CI", "true")
	f = &fake{}
	Tool(f, "no-such-tool-logingate")
	if !strings.Contains(f.failed, "no-such-tool-logingate not installed") {
		t.Errorf("missing tool under CI=true: failed %q", f.failed)
	}
}
