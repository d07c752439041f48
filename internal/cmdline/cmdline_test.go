package cmdline

import (
	"slices"
	"testing"

	"github.com/logingate/logingate/internal/testutil/gateargs"
)

func TestParse(t *testing.T) {
	for _, tc := range gateargs.Cases(t) {
		g, _, _, err := Parse(tc.Args)
		switch {
		case tc.Refused != "":
			if err == nil || err.Error() != tc.Refused {
				t.Errorf("%s: Parse(%q) = %v, want %q", tc.Why, tc.Args, err, tc.Refused)
			}
		case err != nil:
			t.Errorf("%s: Parse(%q): %v", tc.Why, tc.Args, err)
		case (tc.Config != nil) != g.Explicit || tc.Config != nil && *tc.Config != g.Config:
			t.Errorf("%s: Parse(%q) = config %q (explicit %t), want %v", tc.Why, tc.Args, g.Config, g.Explicit, show(tc.Config))
		}
	}
}

func show(p *string) string {
	if p == nil {
		return "the default"
	}
	return *p
}

func TestParseRest(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		rest  []string
		ended bool
	}{
		{[]string{"-d", "ls", "-l"}, []string{"ls", "-l"}, false},
		{[]string{"-d", "--", "enroll"}, []string{"enroll"}, true},
		{[]string{"-", "x"}, []string{"-", "x"}, false},
	} {
		_, rest, ended, err := Parse(tc.args)
		if err != nil || ended != tc.ended || !slices.Equal(rest, tc.rest) {
			t.Errorf("Parse(%q) = %q, %t, %v; want %q, %t", tc.args, rest, ended, err, tc.rest, tc.ended)
		}
	}
}
