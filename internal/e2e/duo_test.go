package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/auditsink"
	"github.com/logingate/logingate/internal/testutil/duotest"
	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// duoHost installs the privileged gate (as make install does) with a
// config that points Duo at the fake: root:logingate 0640, since it holds
// the secret key. name picks the config's form: "logingate.yaml", or
// "login_duo.conf" for login_duo's own INI file as a drop-in. body is the
// rest of the file; {duo} in it expands to the Duo keys in that form (for
// logingate.yaml, {duo-noverify} expands to them with noverify instead of
// the fake's CA).
// flags are added to the ForceCommand line.
func duoHost(t *testing.T, fake *duotest.Server, name, body string, flags ...string) (*host, string) {
	t.Helper()
	sshtest.Require(t)
	dir := sshtest.PublicTempDir(t)
	h := &host{dir: dir, config: filepath.Join(dir, name), state: filepath.Join(dir, "state")}
	bin, gid := installSetgid(t, dir)
	h.audit = auditsink.Listen(t, filepath.Join(dir, "audit.sock"))
	ca := fake.WriteCAFile(t, dir)
	must(t, os.Chmod(ca, 0o644))

	var keys, cfg string
	if strings.HasSuffix(name, ".conf") {
		keys = fmt.Sprintf("ikey = %s\nskey = %s\nhost = %s\ncafile = %s\n", fake.IKey, fake.SKey, fake.Host, ca)
		cfg = strings.ReplaceAll(body, "{duo}", keys)
	} else {
		protectedDir(t, h.state, gid)
		keys = fmt.Sprintf("duo: {host: %q, ikey: %s, skey: %s, cafile: %s}\n", fake.Host, fake.IKey, fake.SKey, ca)
		noverify := fmt.Sprintf("duo: {host: %q, ikey: %s, skey: %s, noverify: true}\n", fake.Host, fake.IKey, fake.SKey)
		cfg = fmt.Sprintf("state_dir: %s\nsyslog: {socket: %s}\n", h.state, h.audit.Path) +
			strings.NewReplacer("{duo}", keys, "{duo-noverify}", noverify).Replace(body)
	}
	must(t, os.WriteFile(h.config, []byte(cfg), 0o640))
	must(t, os.Chown(h.config, 0, gid))
	force := strings.Join(append([]string{bin, "-c", h.config}, flags...), " ")
	h.Server = sshtest.Start(t, sshtest.Options{ForceCommand: force})
	return h, bin
}

func duoPhone(u duotest.User) duotest.User {
	u.Devices = []duotest.Device{duotest.Phone("DPFZRS9FB0D46QFTM891", "XXX-XXX-1234")}
	return u
}

// A push approved on the phone opens the session; each status line shows
// as it comes. A Duo passcode works once.
func TestDuoPushAndPasscode(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "logingate.yaml", "{duo}")
	u := h.AddUser(t, "duo")
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "allow", PushDelay: 1, Passcodes: []string{"7654321"}}))

	s := h.SSHPty(t, u, "echo pushed-in")
	s.Expect(t, " 1. Duo Push to iOS (XXX-XXX-1234)", expectTimeout)
	s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
	s.Send("1\r")
	s.Expect(t, "pushed-in", expectTimeout)
	if code := s.Wait(); code != 0 {
		t.Fatalf("push login: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "action=login", "result=allow", "user="+u.Name, "factor=duo-push")
	auth := fake.RequestsTo("/auth/v2/auth")
	if len(auth) != 1 || auth[0].Params.Get("factor") != "push" || auth[0].Params.Get("ipaddr") != "127.0.0.1" {
		t.Errorf("auth requests %+v, want one push from 127.0.0.1", auth)
	}

	// A push denied on the phone costs an attempt; three deny the login.
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "deny", Passcodes: []string{"7654321"}}))
	s = h.SSHPty(t, u, "echo denied-in")
	for range 3 {
		s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
		s.Send("push\r")
	}
	if code := s.Wait(); code == 0 || strings.Contains(s.Output(), "denied-in\r\n") {
		t.Fatalf("three denied pushes: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "factor=duo-push")

	for i, want := range []int{0, 1} {
		s := h.SSHPty(t, u, "echo passcode-in")
		s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
		s.Send("7654321\r")
		if want == 1 {
			s.Expect(t, "wrong code", expectTimeout)
			s.Send("\x03")
		}
		if code := s.Wait(); (code != 0) != (want == 1) || strings.Contains(s.Output(), "passcode-in") == (want == 1) {
			t.Errorf("passcode use %d: exit %d\n%s", i+1, code, s.Output())
		}
	}
}

// headless: push sends one push for scp-style sessions, silently as
// login_duo does: nothing but the command's own output on stdout, and
// nothing of the gate's on stderr.
func TestDuoHeadlessPush(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "logingate.yaml", "headless: push\n{duo}")
	u := h.AddUser(t, "headless")
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "allow"}))
	out, errOut, code := run(t, h.SSH(u, "echo quiet"))
	if code != 0 || out != "quiet\n" {
		t.Fatalf("headless push: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, "logingate") {
		t.Errorf("headless push: stderr %q; an approved push is silent", errOut)
	}
	auth := fake.RequestsTo("/auth/v2/auth")
	if len(auth) != 1 || auth[0].Params.Get("factor") != "auto" {
		t.Errorf("auth requests %+v, want one automatic push", auth)
	}

	// scp, whose protocol would break on a stray byte: one push each.
	local := filepath.Join(t.TempDir(), "payload")
	payload := strings.Repeat("logingate duo ", 5000)
	must(t, os.WriteFile(local, []byte(payload), 0o644))
	for _, mode := range [][]string{nil, {"-O"}} {
		name := "scp" + strings.Join(mode, "")
		if _, errOut, code := run(t, h.SCP(u, append(mode, local, h.Remote(u, name))...)); code != 0 {
			t.Errorf("%v with headless: push: exit %d, stderr %q", append([]string{"scp"}, mode...), code, errOut)
		}
		if got, err := os.ReadFile(filepath.Join(u.Home, name)); err != nil || string(got) != payload {
			t.Errorf("%s: the file did not arrive intact: %v", name, err)
		}
	}
	if n := len(fake.RequestsTo("/auth/v2/auth")); n != 3 {
		t.Errorf("%d pushes for one ssh and two scp sessions, want 3", n)
	}

	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "deny"}))
	if out, _, code := run(t, h.SSH(u, "echo quiet")); code == 0 || out != "" {
		t.Errorf("a denied headless push: exit %d, stdout %q", code, out)
	}
}

// A Duo outage: failmode safe lets a user with nothing else in (audited
// as failsafe), secure denies; a user who also holds TOTP is asked for it
// under either.
func TestDuoOutage(t *testing.T) {
	for _, mode := range []string{"safe", "secure"} {
		t.Run(mode, func(t *testing.T) {
			fake := duotest.New(t)
			h, bin := duoHost(t, fake, "logingate.yaml", "failmode: "+mode+"\n{duo}")
			u := h.AddUser(t, "outage")
			fake.SetUser(u.Name, duoPhone(duotest.User{}))
			fake.Fail("/auth/v2/preauth", duotest.Failure{Times: 100, Status: 503})
			out, errOut, code := run(t, h.SSH(u, "echo through"))
			if mode == "safe" {
				if code != 0 || out != "through\n" {
					t.Errorf("failmode safe: exit %d, stdout %q, stderr %q", code, out, errOut)
				}
				h.audit.WaitFor(t, "result=failsafe", "user="+u.Name, "failmode safe")
			} else {
				if code == 0 || out != "" || !strings.Contains(errOut, "cannot be reached; access denied") {
					t.Errorf("failmode secure: exit %d, stdout %q, stderr %q", code, out, errOut)
				}
				h.audit.WaitFor(t, "result=deny", "user="+u.Name, "failmode secure")
			}

			out, _, code = run(t, exec.Command(bin, "-c", h.config, "enroll", "--user", u.Name, "--no-verify", "--json"))
			if code != 0 {
				t.Fatal("enroll through the setgid binary failed")
			}
			e := parseEnrolled(t, out)
			s := h.SSHPty(t, u, "echo totp-in")
			s.Expect(t, "duo cannot be reached; use another factor", expectTimeout)
			s.Expect(t, ": ", expectTimeout)
			s.Send(e.Code(t, 0) + "\r")
			s.Expect(t, "totp-in", expectTimeout)
			if code := s.Wait(); code != 0 {
				t.Errorf("TOTP during the outage: exit %d\n%s", code, s.Output())
			}
		})
	}
}

// login_duo's own file works unchanged, with no state directory at all,
// login_duo's log wording, and a warning that its failmode default applies.
func TestDuoDropIn(t *testing.T) {
	fake := duotest.New(t)
	// The drop-in logs where login_duo does (/dev/log, facility user);
	// -d copies each line to stderr, which the terminal shows.
	h, _ := duoHost(t, fake, "login_duo.conf", "[duo]\n{duo}pushinfo = yes\n", "-d")
	u := h.AddUser(t, "dropin")
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "allow"}))

	s := h.SSHPty(t, u, "echo drop-in")
	s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
	s.Send("push\r")
	s.Expect(t, "drop-in", expectTimeout)
	if code := s.Wait(); code != 0 {
		t.Fatalf("drop-in push: exit %d\n%s", code, s.Output())
	}
	for _, want := range []string{
		"login_duo: Successful Duo login for '" + u.Name + "' from 127.0.0.1",
		"sets no failmode: login_duo's default, safe,",
	} {
		if !strings.Contains(s.Output(), want) {
			t.Errorf("the drop-in's log lacks %q:\n%s", want, s.Output())
		}
	}
	if _, err := os.Stat(h.state); !os.IsNotExist(err) {
		t.Errorf("a login_duo file alone made local state: %v", err)
	}
	auth := fake.RequestsTo("/auth/v2/auth")
	if len(auth) != 1 {
		t.Fatalf("auth requests %+v", auth)
	}
	info, _ := url.ParseQuery(auth[0].Params.Get("pushinfo"))
	if info.Get("Command") != "echo drop-in" {
		t.Errorf("pushinfo %v, want the command", info)
	}
}

// noverify: the gate reaches a Duo whose certificate it cannot verify (the
// fake's CA is not configured), and logs a warning at every login.
// failmode secure, so that a failed TLS handshake could not let the user
// in as failsafe.
func TestDuoNoVerify(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "logingate.yaml", "failmode: secure\nheadless: push\n{duo-noverify}")
	u := h.AddUser(t, "noverify")
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "allow"}))
	for i := range 2 {
		out, errOut, code := run(t, h.SSH(u, "echo verified-not"))
		if code != 0 || out != "verified-not\n" {
			t.Fatalf("login %d with noverify: exit %d, stdout %q, stderr %q", i+1, code, out, errOut)
		}
	}
	if n := len(fake.RequestsTo("/auth/v2/auth")); n != 2 {
		t.Errorf("%d pushes reached the fake for two logins, want 2", n)
	}
	if l := h.audit.WaitN(2, 5*time.Second, "action=login", "result=allow", "user="+u.Name, "factor=duo-auto"); len(l) != 2 {
		t.Errorf("%d login allow lines, want 2:\n%s", len(l), h.audit.All())
	}
	warn := []string{"action=config", "result=warning", "user=" + u.Name, "duo noverify is set"}
	if l := h.audit.WaitN(2, 5*time.Second, warn...); len(l) != 2 {
		t.Errorf("%d noverify warnings for two logins, want 2:\n%s", len(l), h.audit.All())
	}
}

// Ctrl-C while a push waits cancels it and denies; nothing runs.
func TestDuoPushInterrupted(t *testing.T) {
	fake := duotest.New(t)
	h, _ := duoHost(t, fake, "logingate.yaml", "{duo}")
	u := h.AddUser(t, "ctrlc")
	fake.SetUser(u.Name, duoPhone(duotest.User{Push: "never"}))
	s := h.SSHPty(t, u, "echo should-not-run")
	s.Expect(t, "Passcode or option (1-3): ", expectTimeout)
	s.Send("push\r")
	s.Expect(t, "(0s)", expectTimeout) // the first status line: the push is out
	s.Send("\x03")
	if code := s.Wait(); code == 0 || strings.Contains(s.Output(), "should-not-run\r\n") {
		t.Fatalf("an interrupted push: exit %d\n%s", code, s.Output())
	}
	h.audit.WaitFor(t, "result=deny", "user="+u.Name, "interrupted")
}
