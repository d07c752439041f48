package hostile

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// fdsOf lists the descriptors a shell started by u holds: what the test
// harness itself passes down (go test under flock, say), the baseline a
// session through the gate is compared with.
func fdsOf(t *testing.T, u *sshtest.User) string {
	t.Helper()
	r := runFor(t, shell(u, userEnv(u), "echo $(ls /proc/$$/fd)"), 10*time.Second)
	return strings.TrimSpace(r.stdout)
}

// After a login through the privileged gate, the session holds no
// logingate group, no descriptor it did not start with, no secret and no
// passcode in its environment; and from it, another user's state, her own
// state, the config and every group-only secret are out of reach.
func TestSessionHoldsNothing(t *testing.T) {
	h := newHost(t, "")
	h.writeConfig(t, h.config, h.radiusConfig("127.0.0.1:9"))
	a, b := h.user(t, "after"), h.user(t, "victim")
	ena, enb := h.enroll(t, a), h.enroll(t, b)
	probe := []string{
		`grep -E '^(Gid|Groups):' /proc/self/status`,
		`echo fds: $(ls /proc/$$/fd)`,
		`env | sed 's/^/env: /'`,
		fmt.Sprintf(`cat %s >/dev/null 2>&1 && echo REACHED-OTHER-STATE`, h.statePath(b)),
		fmt.Sprintf(`cat %s >/dev/null 2>&1 && echo REACHED-OWN-STATE`, h.statePath(a)),
		fmt.Sprintf(`ls %s >/dev/null 2>&1 && echo LISTED-STATE`, h.state),
		fmt.Sprintf(`touch %s/planted 2>/dev/null && echo WROTE-STATE`, h.state),
		fmt.Sprintf(`echo 'failmode: safe' >> %s 2>/dev/null && echo WROTE-CONFIG`, h.config),
	}
	for _, f := range []string{h.skey, h.radiusSecret, h.dsn, h.keys} {
		probe = append(probe, fmt.Sprintf(`cat %s >/dev/null 2>&1 && echo READ-SECRET %s`, f, filepath.Base(f)))
	}
	probe = append(probe, "echo probe-done")
	cmd := asUser(a, userEnv(a, "LOGINGATE_PASSCODE="+ena.Codes[0]), h.bin, "-c", h.config, "--", strings.Join(probe, "; "))
	r := runFor(t, cmd, 30*time.Second)
	if r.code != 0 || !strings.Contains(r.stdout, "probe-done") {
		t.Fatalf("login failed:\n%v", r)
	}
	for _, bad := range []string{"REACHED-", "LISTED-", "WROTE-", "READ-SECRET"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("the session reached what it must not: %s", grepLines(r.stdout, bad))
		}
	}
	if l := leaks(r.stdout, ena.Codes[0], ena.Secret, enb.Secret); len(l) > 0 {
		t.Errorf("the session's environment or output holds secrets or the passcode: %q", l)
	}
	base := fdsOf(t, a)
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 5 && f[0] == "Gid:":
			for _, id := range f[1:] {
				if id != strconv.Itoa(a.GID) {
					t.Errorf("session gids %v, want all %d", f[1:], a.GID)
				}
			}
		case len(f) > 0 && f[0] == "Groups:":
			for _, id := range f[1:] {
				if id == strconv.Itoa(h.gid) {
					t.Errorf("the session keeps the logingate group: %s", line)
				}
			}
		case len(f) > 0 && f[0] == "fds:":
			if got := strings.Join(f[1:], " "); got != base {
				t.Errorf("the session holds descriptors %q; a shell started without the gate holds %q", got, base)
			}
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Through the setgid binary, every subcommand with every flag a non-root
// caller may pass, aimed at another user, at her own state, at the config
// and the secrets, changes nothing and shows no secret: no state file, the
// config or a secret file differs afterwards, and no output holds a
// secret, a TOTP secret or a backup code. Run without a terminal, as a
// script in her session would.
func TestSubcommandsReachNothing(t *testing.T) {
	h := newHost(t, "")
	radius := filepath.Join(h.etc, "full.yaml")
	h.writeConfig(t, radius, h.radiusConfig("127.0.0.1:9")+h.duoConfig("api-hostile.example.com"))
	a, b := h.user(t, "subcmd"), h.user(t, "target")
	ena, enb := h.enroll(t, a), h.enroll(t, b)
	ga := filepath.Join(a.Home, "ga")
	if r := runFor(t, shell(a, userEnv(a), "printf 'JBSWY3DPEHPK3PXP\\n\" TOTP_AUTH\\n12345678\\n' > ~/ga; chmod 600 ~/ga"), 5*time.Second); r.code != 0 {
		t.Fatalf("writing a google-authenticator file: %v", r)
	}
	protected := []string{h.statePath(a), h.statePath(b), h.config, radius, h.skey, h.radiusSecret, h.dsn, h.keys}
	before := map[string]string{}
	for _, p := range protected {
		before[p] = digest(t, p)
	}
	calls := [][]string{
		{"status"}, {"status", "--json"}, {"status", "--user", b.Name}, {"status", "--user", b.Name, "--json"},
		{"backup-codes"}, {"backup-codes", "--json"}, {"backup-codes", "--regenerate"}, {"backup-codes", "--regenerate", "--json"},
		{"backup-codes", "--user", b.Name}, {"backup-codes", "--user", b.Name, "--regenerate", "--json"},
		{"enroll"}, {"enroll", "--force", "--json"}, {"enroll", "--force", "--no-verify", "--json"},
		{"enroll", "--user", b.Name, "--force", "--no-verify", "--json"}, {"enroll", "--qr-png", filepath.Join(h.state, b.Name, "x.png")},
		{"import", "google-authenticator", ga}, {"import", "--force", "google-authenticator", ga},
		{"import", "--user", b.Name, "--force", "google-authenticator", ga},
		{"import", "google-authenticator", h.statePath(b)}, {"import", "google-authenticator", h.skey},
		{"sessions"}, {"sessions", "--json"}, {"sessions", "--revoke", "all"}, {"sessions", "--user", b.Name, "--revoke", "all"},
		{"unlock", "--user", b.Name}, {"reset", "--user", b.Name}, {"reset", "--user", a.Name},
		{"check-config"}, {"migrate"},
		{"store", "migrate"}, {"store", "import", "--force"}, {"store", "check"}, {"store", "rekey"},
		{"radius", "test", "--user", b.Name}, {"radius", "test", "--user", a.Name},
		{"doctor"}, {"version"},
		{"-f", b.Name, "--", "echo", marker},
	}
	for _, cfg := range []string{h.config, radius} {
		for _, call := range calls {
			for _, debug := range []bool{false, true} {
				args := []string{"-c", cfg}
				if debug {
					args = append(args, "-d")
				}
				args = append(args, call...)
				env := userEnv(a, "SSH_USER_AUTH="+h.skey, "LOGINGATE_PASSCODE="+ena.Code(t, 0))
				r := runFor(t, asUser(a, env, h.bin, args...), 20*time.Second)
				secrets := append([]string{ena.Secret, enb.Secret}, append(ena.Codes, enb.Codes...)...)
				if l := leaks(r.stdout+r.stderr, secrets...); len(l) > 0 {
					t.Errorf("logingate %s showed secrets %q:\n%v", strings.Join(args, " "), l, r)
				}
				if strings.Contains(r.stdout, marker) {
					t.Errorf("logingate %s let the caller in as %s:\n%v", strings.Join(args, " "), b.Name, r)
				}
				for _, p := range protected {
					if d := digest(t, p); d != before[p] {
						t.Errorf("logingate %s changed %s:\n%v", strings.Join(args, " "), p, r)
						before[p] = d
					}
				}
			}
		}
	}
	ls, _ := filepath.Glob(filepath.Join(h.state, "*", "*"))
	sort.Strings(ls)
	t.Logf("%d calls, each with and without -d, under two configs; the state holds %q", len(calls), ls)
}
