package gate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
)

// TestStoreOutage: a store that cannot answer (an error wrapping
// store.ErrUnavailable) follows failmode, on the first read and on the
// write that consumes a code; every other store error denies under both
// failmodes.
func TestStoreOutage(t *testing.T) {
	outage := fmt.Errorf("load state: %w: dial tcp 192.0.2.7:5432: connect: connection refused", store.ErrUnavailable)
	other := errors.New("state for alice in the database: totp secret does not decrypt with key \"k1\"")
	locked := fmt.Errorf("update state: %w", store.ErrLocked)
	for _, tc := range []struct {
		name      string
		failmode  config.Failmode
		loadErr   error
		updateErr error
		wantAllow bool
		wantWhy   string
		wantLine  string
	}{
		{name: "load, safe", failmode: "safe", loadErr: outage, wantAllow: true,
			wantWhy: "state store unavailable (load): ", wantLine: "logingate: warning: the second-factor state store cannot be reached; letting you in (failmode safe)"},
		{name: "load, secure", failmode: "secure", loadErr: outage,
			wantWhy: "state store unavailable (load): ", wantLine: "logingate: error: the second-factor state store cannot be reached; access denied"},
		{name: "update, safe", failmode: "safe", updateErr: outage, wantAllow: true,
			wantWhy: "state store unavailable (update): ", wantLine: "letting you in (failmode safe)"},
		{name: "update, secure", failmode: "secure", updateErr: outage,
			wantWhy: "state store unavailable (update): ", wantLine: "access denied"},
		{name: "load, other error, safe", failmode: "safe", loadErr: other,
			wantWhy: "state unreadable: ", wantLine: "your second-factor state cannot be read; access denied"},
		{name: "update, lock held, safe", failmode: "safe", updateErr: locked,
			wantWhy: "state update failed: ", wantLine: "holds your second-factor state locked; access denied"},
		{name: "update, other error, safe", failmode: "safe", updateErr: other,
			wantWhy: "state update failed: ", wantLine: "could not be updated; access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &twoFactors, newUI(say(twoFactors.code(t, t0))))
			h.cfg.Failmode = tc.failmode
			h.store.loadErr, h.store.updateErr = tc.loadErr, tc.updateErr
			d := h.run()
			if d.Allow != tc.wantAllow || d.Failsafe != tc.wantAllow || !strings.HasPrefix(d.Reason, tc.wantWhy) {
				t.Errorf("decision %+v, want allow=%t failsafe=%t reason %q...", d, tc.wantAllow, tc.wantAllow, tc.wantWhy)
			}
			if tc.wantAllow && strings.HasSuffix(tc.wantWhy, "): ") && !strings.HasSuffix(d.Reason, "; failmode safe") {
				t.Errorf("reason %q does not name failmode safe", d.Reason)
			}
			h.wantLines(tc.wantLine)
			if tc.loadErr != nil && h.ui.reads() != 0 {
				t.Error("prompted although the state could not be read")
			}
			if tc.updateErr != nil {
				if st := h.stored(); st.TOTP.LastStep != 0 || st.LastSuccess != nil {
					t.Errorf("state changed by a failed update: %+v", st)
				}
			}
		})
	}
}
