package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/duotest"
)

// A login_duo.conf with motd, send_gecos and verified_push, through the
// real sshd and the privileged gate: the interactive session asks Duo about
// the GECOS name, shows the Verified Push number preauth answered, pushes
// with its txid, opens, and shows the message of the day; scp and sftp
// under the same file (a user Duo lets in at preauth) get not one byte of
// it.
func TestLoginDuoConfKeys(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "login_duo.conf", "[duo]\n{duo}failmode = secure\nmotd = yes\nsend_gecos = yes\nverified_push = yes\n")
	u := h.AddUser(t, "vpush")
	alias := "duo-" + u.Name
	if out, err := exec.Command("usermod", "-c", alias, u.Name).CombinedOutput(); err != nil {
		t.Fatalf("usermod -c: %v: %s", err, out)
	}
	fake.SetUser(alias, duoPhone(duotest.User{VerifiedPush: "417"}))
	motd, _ := os.ReadFile("/etc/motd")
	motdLine := ""
	for _, l := range strings.Split(string(motd), "\n") {
		if strings.TrimSpace(l) != "" {
			motdLine = strings.TrimSpace(l)
			break
		}
	}

	s := h.SSHPty(t, u)
	s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
	s.Send("1\r")
	s.Expect(t, "Verification code: 417", expectTimeout)
	fake.Type(alias, "417")
	s.Expect(t, "$ ", expectTimeout)
	s.Send("echo in-''session; exit\r")
	s.Expect(t, "in-session", expectTimeout)
	if code := s.Wait(); code != 0 {
		t.Fatalf("interactive login: exit %d\n%s", code, s.Output())
	}
	pre := fake.RequestsTo("/auth/v2/preauth")
	if len(pre) != 1 || pre[0].Params.Get("username") != alias || pre[0].Params.Get("client_supports_verified_push") != "1" ||
		pre[0].Params.Get("failmode") != "closed" {
		t.Errorf("preauth %+v, want the GECOS name, verified push and failmode=closed", pre)
	}
	if auth := fake.RequestsTo("/auth/v2/auth"); len(auth) != 1 || auth[0].Params.Get("factor") != "push" || auth[0].Params.Get("txid") == "" {
		t.Errorf("%d auth requests, want one push carrying preauth's verified push txid", len(auth))
	}
	if motdLine != "" {
		// motd = yes shows it after the gate let the user in, as
		// login_duo does (anything pam_motd shows comes before the gate).
		out := s.Output()
		if i, j := strings.LastIndex(out, motdLine), strings.Index(out, "Verification code: 417"); i < 0 || i < j {
			t.Errorf("the motd line %q is not shown after the login:\n%s", motdLine, out)
		}
	} else {
		t.Log("no /etc/motd on this host: motd = yes is checked only for silence")
	}

	// The same file for tools whose protocol is stdout: Duo allows the
	// user at preauth, so no push is needed, and motd must stay off.
	fake.SetUser(alias, duotest.User{Preauth: "allow"})
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	payload := strings.Repeat("logingate login_duo.conf ", 5000)
	must(t, os.WriteFile(local, []byte(payload), 0o644))
	batch := filepath.Join(dir, "batch")
	must(t, os.WriteFile(batch, []byte("put "+local+" sftp-copy\n"), 0o644))
	for _, c := range []struct {
		name string
		cmd  *exec.Cmd
		file string
	}{
		{"scp", h.SCP(u, local, h.Remote(u, "scp-copy")), "scp-copy"},
		{"scp -O", h.SCP(u, "-O", local, h.Remote(u, "scpO-copy")), "scpO-copy"},
		{"sftp -b", h.SFTP(u, batch), "sftp-copy"},
	} {
		_, errOut, code := run(t, c.cmd)
		got, err := os.ReadFile(filepath.Join(u.Home, c.file))
		if code != 0 || err != nil || string(got) != payload {
			t.Errorf("%s: exit %d, stderr %q: the file did not arrive intact (%v)", c.name, code, errOut, err)
		}
	}
	out, _, code := run(t, h.SSH(u, "echo clean"))
	if code != 0 || out != "clean\n" {
		t.Errorf("a command under motd = yes: exit %d, stdout %q, want only its output", code, out)
	}
}

// -f is root's alone when the gate is privileged: a user's session
// cannot name whose Duo account approves it.
func TestLoginDuoAlternateUserPrivileged(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "login_duo.conf", "[duo]\n{duo}failmode = secure\n", "-f", "someone-else")
	u := h.AddUser(t, "dashf")
	fake.SetUser("someone-else", duotest.User{Preauth: "allow"})
	out, errOut, code := run(t, h.SSH(u, "echo ran"))
	if code == 0 || out != "" || !strings.Contains(errOut, "logingate: error: only root may use -f") {
		t.Errorf("-f in a user's session: exit %d, stdout %q, stderr %q, want denied", code, out, errOut)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached Duo for a refused -f", n)
	}
}
