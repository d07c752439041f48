package cli

import (
	"errors"
	"testing"

	"github.com/logingate/logingate/internal/testutil/gateargs"
)

// The gate reads its flags as the shared table (testutil/gateargs) says, the table
// doctor's TestGateFlagsTable reads ForceCommand lines with: both agree on
// which config a command line names, and on which lines the gate refuses.
func TestGlobalsAgreeWithDoctor(t *testing.T) {
	cases := gateargs.Cases(t)
	for _, tc := range cases {
		g, _, _, err := parseGlobals(tc.Args)
		var ue usageError
		switch {
		case tc.Refused != "":
			if !errors.As(err, &ue) || ue.msg != tc.Refused {
				t.Errorf("%s: parseGlobals(%q) = %v, want the usage error %q", tc.Why, tc.Args, err, tc.Refused)
			}
		case err != nil:
			t.Errorf("%s: parseGlobals(%q): %v", tc.Why, tc.Args, err)
		case tc.Config == nil && g.explicit:
			t.Errorf("%s: parseGlobals(%q) names config %q, want the default", tc.Why, tc.Args, g.config)
		case tc.Config != nil && (!g.explicit || g.config != *tc.Config):
			t.Errorf("%s: parseGlobals(%q) = config %q (explicit %t), want %q", tc.Why, tc.Args, g.config, g.explicit, *tc.Config)
		}
	}
}
