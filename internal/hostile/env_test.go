package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// attackerFiles makes, as u, the files and directories the hostile
// environment names, in ~/att: a pgpass, a pg_service.conf, CA files, a
// zone file and a zoneinfo tree, a HOSTALIASES file. It returns the
// directories to watch.
func attackerFiles(t *testing.T, u *sshtest.User) (att string, dirs []string) {
	t.Helper()
	att = filepath.Join(u.Home, "att")
	script := `set -e; umask 022; mkdir -p att/certs att/zoneinfo/Hostile att/pg; cd att
echo '*:*:*:*:attacker' > pgpass; chmod 600 pgpass
printf '[hostile]\nhost=%[1]s/pg\nsslmode=disable\n' > pg_service.conf
printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' > ca.pem; cp ca.pem certs/ca.pem; cp ca.pem root.crt
cp /usr/share/zoneinfo/UTC zone; cp zone zoneinfo/Hostile/Zone
printf 'api-hostile attacker.example\n' > hosts
chmod 777 pg`
	if r := runFor(t, shell(u, userEnv(u), fmt.Sprintf(script, att)), 10*time.Second); r.code != 0 {
		t.Fatalf("making the attacker's files: %v", r)
	}
	return att, []string{att, filepath.Join(att, "certs"), filepath.Join(att, "zoneinfo"), filepath.Join(att, "zoneinfo", "Hostile"), filepath.Join(att, "pg")}
}

// hostileEnv is every variable issue 10 names, pointed at the attacker's
// files and listeners.
func hostileEnv(att, proxy string) []string {
	return []string{
		"PGHOST=" + filepath.Join(att, "pg"),
		"PGPASSFILE=" + filepath.Join(att, "pgpass"),
		"PGSERVICEFILE=" + filepath.Join(att, "pg_service.conf"),
		"PGSERVICE=hostile",
		"PGSSLMODE=disable",
		"PGSSLROOTCERT=" + filepath.Join(att, "root.crt"),
		"PGSYSCONFDIR=" + att,
		"SSL_CERT_FILE=" + filepath.Join(att, "ca.pem"),
		"SSL_CERT_DIR=" + filepath.Join(att, "certs"),
		"HTTPS_PROXY=http://" + proxy,
		"HTTP_PROXY=http://" + proxy,
		"ALL_PROXY=socks5://" + proxy,
		"https_proxy=http://" + proxy,
		"NO_PROXY=",
		"GODEBUG=netdns=go+2,http2debug=2,x509usefallbackroots=1",
		"GOTRACEBACK=crash",
		"TZ=:" + filepath.Join(att, "zone"),
		"ZONEINFO=" + filepath.Join(att, "zoneinfo"),
		"LOCALDOMAIN=attacker.example",
		"RES_OPTIONS=ndots:15 attempts:1 timeout:1",
		"HOSTALIASES=" + filepath.Join(att, "hosts"),
		"LANG=xx_XX.UTF-8",
		"LC_ALL=xx_XX.UTF-8",
	}
}

// The caller's environment steers nothing the privileged gate trusts,
// reads or sends (issue 10's reproduction 2 and the variables it lists):
// with PGHOST naming a fake server of the attacker's that asks for a
// clear-text password, proxies naming her listener, CA, zone, resolver
// and database files of hers, the gate contacts none of her listeners,
// opens none of her files, and decides as it does with a clean
// environment. Two root configs: the shared store (dsn_file without a
// host) and Duo (skey_file).
func TestEnvironmentSteersNothing(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "env")
	att, dirs := attackerFiles(t, u)
	configs := map[string]string{
		"postgres store": fmt.Sprintf("store:\n  backend: postgres\n  dsn_file: %s\n  key_file: %s\n  timeout: 1s\n", h.dsn, h.keys),
		"duo":            h.duoConfig("api-hostile.example.com") + "groups: [\"*\"]\n",
	}
	for name, extra := range configs {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(h.etc, strings.ReplaceAll(name, " ", "-")+".yaml")
			h.writeConfig(t, cfg, extra)
			gate := func(env ...string) result {
				cmd := asUser(u, userEnv(u, append(env, "LOGINGATE_PASSCODE=123456")...), h.bin, "-c", cfg, "--", "echo", marker)
				return runFor(t, cmd, 30*time.Second)
			}
			clean := gate()
			proxy := tcpListener(t)
			pg := pgListener(t, filepath.Join(att, "pg"))
			w := watchOpens(t, dirs...)
			hostile := gate(hostileEnv(att, proxy.Addr)...)
			if n, got := pg.Seen(); n > 0 {
				t.Errorf("PGHOST: the attacker's PostgreSQL got %d connections; password leaked: %v; bytes %q", n, strings.Contains(got, dsnPassword), got)
			}
			if n, got := proxy.Seen(); n > 0 {
				t.Errorf("a proxy variable: the attacker's proxy got %d connections: %q", n, got)
			}
			if opened := w.Opened(); len(opened) > 0 {
				t.Errorf("the gate opened files the environment named: %q", opened)
			}
			if hostile.code != clean.code || hostile.allowed() != clean.allowed() {
				t.Errorf("the environment changed the decision:\nclean: %v\nhostile: %v", clean, hostile)
			}
			if l := leaks(hostile.stdout + hostile.stderr); len(l) > 0 {
				t.Errorf("a secret reached the caller: %q", l)
			}
		})
	}
}

// A umask of 0 does not loosen anything the gate writes: after a failed and
// a successful login made under it, nothing in the user's state directory
// is open to group or others.
func TestUmaskZero(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "umask")
	en := h.enroll(t, u)
	umask0 := func(code string) {
		cmd := shell(u, userEnv(u, "LOGINGATE_PASSCODE="+code), fmt.Sprintf("umask 0; exec %s -c %s -- echo %s", h.bin, h.config, marker))
		runFor(t, cmd, 30*time.Second)
	}
	umask0(en.WrongCode(t))
	if st := h.stateOf(t, u); len(st.Failures) != 1 {
		t.Fatalf("the failed login under umask 0 was not recorded: %d failures", len(st.Failures))
	}
	umask0(en.Codes[0])
	if st := h.stateOf(t, u); len(st.Backup.Codes) != len(en.Codes)-1 {
		t.Fatalf("the login under umask 0 was not recorded: %d of %d backup codes left", len(st.Backup.Codes), len(en.Codes))
	}
	filepath.Walk(filepath.Join(h.state, u.Name), func(path string, fi os.FileInfo, err error) error {
		must(t, err)
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %04o under umask 0", path, fi.Mode().Perm())
		}
		return nil
	})
}

// A store DSN that names no host sends the password nowhere a user can
// listen: with no PGHOST at all, pgx picks a socket directory by what
// exists (/var/run/postgresql, else /tmp), and any user can create
// /tmp/.s.PGSQL.5432. The gate runs in a private mount namespace whose
// /run and /tmp are fresh tmpfs, as on a host without a local PostgreSQL,
// with an empty environment; the attacker's fake server there must get
// nothing.
func TestDSNWithoutHostFindsNoUserSocket(t *testing.T) {
	require(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		need.Unavailable(t, "hostile: unshare missing (util-linux)")
	}
	root, err := os.MkdirTemp("/var/tmp", "logingate-hostile-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	h := newHostIn(t, root, "")
	h.writeConfig(t, h.config, fmt.Sprintf("store:\n  backend: postgres\n  dsn_file: %s\n  key_file: %s\n  timeout: 1s\n", h.dsn, h.keys))
	u := h.user(t, "dsn")
	helper := h.copyTestBinary(t)
	got := filepath.Join(u.Home, "got")
	script := fmt.Sprintf(`mount -t tmpfs -o mode=755 none /run && mount -t tmpfs -o mode=1777 none /tmp || exit 97
runuser -u %[1]s -- env %[2]s=pglisten %[3]s /tmp/.s.PGSQL.5432 %[4]s & sleep 0.5
runuser -u %[1]s -- env -i HOME=%[5]s PATH=/usr/bin:/bin LOGINGATE_PASSCODE=123456 %[6]s -c %[7]s -- echo %[8]s
rc=$?; kill %%1 2>/dev/null; wait; exit $rc`, u.Name, helperEnv, helper, got, u.Home, h.bin, h.config, marker)
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	r := runFor(t, cmd, 30*time.Second)
	if r.code == 97 {
		need.Unavailable(t, "hostile: cannot mount in a private namespace: %v", r)
	}
	mustDeny(t, "store without a host", r)
	if b, _ := os.ReadFile(got); len(b) > 0 {
		t.Errorf("the attacker's socket in /tmp got a connection; password leaked: %v; bytes %q", strings.Contains(string(b), dsnPassword), b)
	}
}
