package doctor

import (
	"slices"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/testutil/gateargs"
)

// Doctor reads a ForceCommand's flags as the gate does: the table in
// testutil/gateargs is also the gate's (TestGlobalsAgreeWithDoctor in package
// cli), so the config doctor audits is the one the gate loads, and a line
// the gate refuses is reported.
func TestGateFlagsTable(t *testing.T) {
	cases := gateargs.Cases(t)
	a := &auditor{gateBins: map[string]bool{}}
	for _, tc := range cases {
		words := append([]string{"/nonexistent/logingate"}, tc.Args...)
		g, err := gateFlags(words)
		switch {
		case tc.Refused != "":
			if err == nil || err.Error() != tc.Refused {
				t.Errorf("%s: gateFlags(%q) = %v, want %q", tc.Why, words, err, tc.Refused)
			}
		case err != nil:
			t.Errorf("%s: gateFlags(%q): %v", tc.Why, words, err)
		case (tc.Config != nil) != g.Explicit || tc.Config != nil && *tc.Config != g.Config:
			t.Errorf("%s: gateFlags(%q) = %q (named %t), want %v", tc.Why, words, g.Config, g.Explicit, tc.Config)
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, privilege.ShellQuote(w))
		}
		line := strings.Join(quoted, " ")
		if split, _, _ := shellSplit(line); !slices.Equal(split, words) {
			t.Fatalf("%s: shellSplit(%q) = %q, want %q", tc.Why, line, split, words)
		}
		fs := a.checkForceCommand(effective{"forcecommand": {line}})
		if refused := len(fs) == 1 && fs[0].ID == "forcecommand-args"; refused != (tc.Refused != "") {
			t.Errorf("%s: ForceCommand %q: findings %+v, want forcecommand-args %t", tc.Why, words, fs, tc.Refused != "")
		}
	}
}
