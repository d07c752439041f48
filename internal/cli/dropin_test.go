package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/session"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

// -f NAME is login_duo's alternate Duo user: Duo is asked about NAME, which
// needs no local account, and the audit line names both. Preauth carries
// failmode and the host name as login_duo sends them. (A denial, so that
// the test process is not replaced by the session.)
func TestGateAlternateDuoUser(t *testing.T) {
	caller, err := session.LookupUID(os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	fake := duotest.New(t)
	fake.SetUser("duo-only-name", duotest.User{Preauth: "deny"})
	dir := t.TempDir()
	ca := fake.WriteCAFile(t, dir)
	conf := filepath.Join(dir, "login_duo.conf")
	ini := "[duo]\nikey = " + fake.IKey + "\nskey = " + fake.SKey + "\nhost = " + fake.Host + "\ncafile = " + ca + "\nfailmode = secure\n"
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	errFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()

	g := globals{config: conf, explicit: true, debug: true, forUser: "duo-only-name"}
	if code := runGate(g, []string{"true"}, []string{"SSH_CONNECTION=203.0.113.9 50000 192.0.2.1 22"}, errFile); code != 1 {
		t.Fatalf("exit %d, want 1 (Duo denies the alternate user)", code)
	}
	out, _ := os.ReadFile(errFile.Name())
	pre := fake.RequestsTo("/auth/v2/preauth")
	if len(pre) != 1 {
		t.Fatalf("%d preauth requests, want 1\n%s", len(pre), out)
	}
	p := pre[0].Params
	host, _ := os.Hostname()
	if p.Get("username") != "duo-only-name" || p.Get("failmode") != "closed" || p.Get("ipaddr") != "203.0.113.9" ||
		!strings.HasPrefix(p.Get("hostname"), host) {
		t.Errorf("preauth sent %v, want username=duo-only-name failmode=closed ipaddr=203.0.113.9 hostname=%s...", p, host)
	}
	want := "Failed Duo login for 'duo-only-name' (local user '" + caller.Name + "') from 203.0.113.9"
	if !strings.Contains(string(out), want) {
		t.Errorf("stderr:\n%s\nwant the audit line %q", out, want)
	}
}

// The host name sent to Duo is looked up within hostLookupTimeout, and is
// at least the short name.
func TestFQDNBounded(t *testing.T) {
	short, _ := os.Hostname()
	start := time.Now()
	name := fqdn(context.Background())
	if took := time.Since(start); took > hostLookupTimeout+100*time.Millisecond {
		t.Errorf("lookup took %s, want at most about %s", took, hostLookupTimeout)
	}
	if name != short && !strings.HasPrefix(name, short+".") && !strings.Contains(name, ".") {
		t.Errorf("host name %q, want %q or a full name", name, short)
	}
}
