package doctor

import (
	"context"
	"path/filepath"
	"testing"
)

// send_gecos with a GECOS field users may change (CHFN_RESTRICT) lets a
// user pick whose Duo account approves them: doctor reports it as high,
// and says nothing when chfn cannot change that field.
func TestDuoGECOSChangeable(t *testing.T) {
	h := newTestHost(t, hardenedSpec(t))
	conf := filepath.Join(h.dir, "etc", "login_duo.conf")
	writeFile(t, conf, "[duo]\nikey = DIWJ8X6AEYOR5OMC6TQ1\nskey = Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep\nhost = api-3ff1e4c7.duosecurity.com\n"+
		"failmode = secure\nsend_gecos = yes\ngecos_username_pos = 2\n", 0o600)
	for _, tt := range []struct {
		restrict string
		want     int
	}{{"CHFN_RESTRICT rwh\n", 1}, {"CHFN_RESTRICT f\n", 0}, {"", 0}} {
		defs := filepath.Join(h.dir, "login.defs")
		writeFile(t, defs, tt.restrict, 0o644)
		rep, err := run(context.Background(), options{SSHD: h.sshd, SSHDConfig: h.config, PAM: h.pam, Binary: h.binary, Config: conf, LoginDefs: defs})
		if err != nil {
			t.Fatal(err)
		}
		fs := find(rep, "duo-gecos")
		if len(fs) != tt.want || len(fs) == 1 && fs[0].Severity != sevHigh {
			t.Errorf("login.defs %q: findings %+v, want %d high", tt.restrict, fs, tt.want)
		}
	}
}
