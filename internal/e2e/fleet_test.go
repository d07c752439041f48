package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"github.com/logingate/logingate/internal/testutil/pgtest"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// fleet is two hosts of one fleet on this machine: two sshd, each running
// the privileged gate (root:logingate 2755, as make install does) with a
// config of its own that differs in store.host (and failmode, when asked),
// and one PostgreSQL database both configs point at, through one DSN file
// and one key file, root:logingate 0640.
type fleet struct {
	db     *pgtest.Server
	dsn    string
	key    string // the key file's key, base64: must never be printed
	bin    string
	a, b   *host
	hostOf map[*host]string // store.host
}

func newFleet(t *testing.T, failmodeA, failmodeB string) *fleet {
	t.Helper()
	sshtest.Require(t)
	db := pgtest.Start(t)
	dir := sshtest.PublicTempDir(t)
	f := &fleet{db: db, dsn: db.NewDB(t), hostOf: map[*host]string{}}
	var gid int
	f.bin, gid = installSetgid(t, dir)

	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	f.key = base64.StdEncoding.EncodeToString(raw)
	dsnFile, keyFile := filepath.Join(dir, "store.dsn"), filepath.Join(dir, "store.keys")
	for p, s := range map[string]string{dsnFile: f.dsn + "\n", keyFile: "k1:" + f.key + "\n"} {
		must(t, os.WriteFile(p, []byte(s), 0o640))
		must(t, os.Chown(p, 0, gid))
	}

	newHost := func(name, failmode string) *host {
		hdir := filepath.Join(dir, name)
		must(t, os.Mkdir(hdir, 0o755))
		h := &host{dir: hdir, config: filepath.Join(hdir, "logingate.yaml"), state: filepath.Join(hdir, "state")}
		protectedDir(t, h.state, gid)
		h.audit = auditsink.Listen(t, filepath.Join(hdir, "audit.sock"))
		cfg := fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\naccept_env_factor: true\nfailmode: %s\n"+
			"store: {backend: postgres, dsn_file: %s, key_file: %s, host: %s}\n",
			h.state, h.audit.Path, failmode, dsnFile, keyFile, name)
		must(t, os.WriteFile(h.config, []byte(cfg), 0o644))
		h.Server = sshtest.Start(t, sshtest.Options{
			ForceCommand: f.bin + " -c " + h.config,
			ExtraConfig:  []string{"AcceptEnv LOGINGATE_PASSCODE"},
		})
		f.hostOf[h] = name
		return h
	}
	f.a, f.b = newHost("fleet-a", failmodeA), newHost("fleet-b", failmodeB)

	out, errOut, code := run(t, exec.Command(f.bin, "-c", f.a.config, "store", "migrate"))
	if code != 0 || !strings.Contains(out, "schema migrated from version 0 to") {
		t.Fatalf("store migrate: exit %d\n%s%s", code, out, errOut)
	}
	f.noSecrets(t, "store migrate", out+errOut)
	return f
}

// enroll enrolls u once, through the setgid binary as root with host A's
// config.
func (f *fleet) enroll(t *testing.T, u *sshtest.User) *enrolled {
	t.Helper()
	out, errOut, code := run(t, exec.Command(f.bin, "-c", f.a.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
	if code != 0 {
		t.Fatalf("enroll --user %s: exit %d\n%s%s", u.Name, code, out, errOut)
	}
	return enrolltest.Parse(t, []byte(out))
}

// noSecrets fails the test when text holds the database password or the
// key.
func (f *fleet) noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for name, s := range map[string]string{"the database password": f.db.Password, "the store key": f.key} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows %s:\n%s", what, name, text)
		}
	}
}

// lastHost returns the store.host that last changed the user's row.
func (f *fleet) lastHost(t *testing.T, user string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, f.dsn)
	must(t, err)
	defer c.Close(ctx)
	var by string
	must(t, c.QueryRow(ctx, "SELECT updated_by_host FROM logingate_users WHERE name = $1", user).Scan(&by))
	return by
}

// One enrollment serves both hosts, and each code works once across them:
// a TOTP code used on host A is refused on host B (the next step's code
// works there), a backup code used on B is refused on A. Neither host
// keeps local state.
func TestFleetOneEnrollmentCodesOnceAcrossHosts(t *testing.T) {
	f := newFleet(t, "secure", "secure")
	u := f.a.AddUser(t, "fleet") // an OS user: it logs in to both servers with one key
	e := f.enroll(t, u)
	code := e.Code(t, 0)

	s := f.a.SSHPty(t, u, "echo on-a")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(code + "\r")
	s.Expect(t, "on-a", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Fatalf("host A, TOTP: exit %d\n%s", got, s.Output())
	}
	f.a.audit.WaitFor(t, "action=login", "result=allow", "user="+u.Name, "factor=totp")
	if by := f.lastHost(t, u.Name); by != "fleet-a" {
		t.Errorf("the row was last changed by %q, want fleet-a", by)
	}

	s = f.b.SSHPty(t, u, "echo should-not-run")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(code + "\r")
	s.Expect(t, "that code was already used", expectTimeout)
	s.Send("\x04") // Ctrl-D: give up
	if got := s.Wait(); got == 0 || strings.Contains(s.Output(), "should-not-run\r\n") {
		t.Fatalf("host B accepted host A's code: exit %d\n%s", got, s.Output())
	}
	f.b.audit.WaitFor(t, "action=login", "result=deny", "user="+u.Name, "code already used")

	out, errOut, got := sshWithCode(t, f.b, u, e.Code(t, 1), "echo on-b")
	if got != 0 || out != "on-b\n" {
		t.Fatalf("host B, next step's code: exit %d, stdout %q, stderr %q", got, out, errOut)
	}
	f.b.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp")

	out, errOut, got = sshWithCode(t, f.b, u, e.Codes[0], "echo backup-on-b")
	if got != 0 || out != "backup-on-b\n" || !strings.Contains(errOut, fmt.Sprintf("%d backup codes left", len(e.Codes)-1)) {
		t.Fatalf("host B, backup code: exit %d, stdout %q, stderr %q", got, out, errOut)
	}
	f.b.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=backup")
	if by := f.lastHost(t, u.Name); by != "fleet-b" {
		t.Errorf("the row was last changed by %q, want fleet-b", by)
	}

	out, errOut, got = sshWithCode(t, f.a, u, e.Codes[0], "echo should-not-run")
	if got == 0 || out != "" || !strings.Contains(errOut, "logingate: wrong code") {
		t.Fatalf("host A accepted a backup code used on host B: exit %d, stdout %q, stderr %q", got, out, errOut)
	}
	f.a.audit.WaitFor(t, "result=deny", "user="+u.Name, "wrong code")

	for _, h := range []*host{f.a, f.b} {
		ents, err := os.ReadDir(h.state)
		must(t, err)
		if len(ents) != 0 {
			t.Errorf("%s keeps local state: %v", f.hostOf[h], ents)
		}
		f.noSecrets(t, f.hostOf[h]+"'s audit log", h.audit.All())
	}
	f.noSecrets(t, "the terminal", s.Output())
}

// The database stopped: a login follows each host's failmode (A safe: in,
// with a warning, audited failsafe; B secure: denied). Started again, both
// hosts log in with codes, and a code used on one is still refused on the
// other.
func TestFleetDatabaseDown(t *testing.T) {
	f := newFleet(t, "safe", "secure")
	u := f.a.AddUser(t, "fldown")
	e := f.enroll(t, u)

	must(t, f.db.Stop())
	out, errOut, code := sshWithCode(t, f.a, u, e.Code(t, 0), "echo through")
	if code != 0 || out != "through\n" || !strings.Contains(errOut, "state store cannot be reached; letting you in (failmode safe)") {
		t.Errorf("database down, failmode safe: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.a.audit.WaitFor(t, "action=login", "result=failsafe", "user="+u.Name, "state store unavailable", "failmode safe")
	f.noSecrets(t, "a failsafe login", errOut)

	out, errOut, code = sshWithCode(t, f.b, u, e.Code(t, 0), "echo should-not-run")
	if code == 0 || out != "" || !strings.Contains(errOut, "state store cannot be reached; access denied") {
		t.Errorf("database down, failmode secure: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.b.audit.WaitFor(t, "action=login", "result=deny", "user="+u.Name, "state store unavailable", "failmode secure")
	f.noSecrets(t, "a failsecure login", errOut)

	must(t, f.db.Restart())
	// Nothing was consumed during the outage: a code works now, once.
	now := e.Code(t, 0)
	if out, errOut, code := sshWithCode(t, f.b, u, now, "echo back-on-b"); code != 0 || out != "back-on-b\n" {
		t.Fatalf("host B after the restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := sshWithCode(t, f.a, u, now, "echo should-not-run"); code == 0 || out != "" || !strings.Contains(errOut, "already used") {
		t.Fatalf("host A after the restart took host B's code: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := sshWithCode(t, f.a, u, e.Code(t, 1), "echo back-on-a"); code != 0 || out != "back-on-a\n" {
		t.Fatalf("host A after the restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.a.audit.WaitFor(t, "result=allow", "user="+u.Name, "factor=totp")
	for _, h := range []*host{f.a, f.b} {
		f.noSecrets(t, f.hostOf[h]+"'s audit log", h.audit.All())
	}
}
