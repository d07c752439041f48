package audit

import (
	"bytes"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestLineReachesSocket(t *testing.T) {
	path, c := listen(t)
	var stderr bytes.Buffer
	l := New("authpriv", "logingate", path, false, &stderr)
	defer l.Close()
	l.Log(Notice, Event{Action: "login", Result: "deny", User: "alice", From: "203.0.113.9", Factor: "totp", Reason: "wrong code"})
	got := read(t, c)
	// authpriv (10) * 8 + notice (5) = 85
	want := regexp.MustCompile(`^<85>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d logingate\[\d+\]: action=login result=deny user=alice from=203.0.113.9 factor=totp reason="wrong code"$`)
	if !want.MatchString(got) {
		t.Fatalf("line %q does not match %v", got, want)
	}
	if stderr.Len() != 0 {
		t.Fatalf("unexpected stderr %q", stderr.String())
	}
}

func TestDebugCopiesToStderr(t *testing.T) {
	path, c := listen(t)
	var stderr bytes.Buffer
	l := New("user", "login_duo", path, true, &stderr)
	defer l.Close()
	l.Log(Info, Event{Action: "login", Result: "allow", User: "bob"})
	if got := read(t, c); !strings.HasPrefix(got, "<14>") {
		t.Fatalf("facility user, severity info: got %q", got)
	}
	if got := stderr.String(); got != "login_duo: action=login result=allow user=bob\n" {
		t.Fatalf("stderr %q", got)
	}
}

func TestUnreachableWarnsOnce(t *testing.T) {
	var stderr bytes.Buffer
	l := New("authpriv", "logingate", filepath.Join(t.TempDir(), "missing.sock"), false, &stderr)
	l.Log(Notice, Event{Action: "login", Result: "deny", User: "alice"})
	l.Log(Notice, Event{Action: "login", Result: "deny", User: "alice"})
	out := stderr.String()
	if strings.Count(out, "logingate: warning: audit log unreachable") != 1 {
		t.Fatalf("want exactly one warning, got %q", out)
	}
}

func TestValuesCannotForgeLines(t *testing.T) {
	e := Event{Action: "login", Result: "deny", User: "eve\nlogingate[1]: result=allow", Reason: `a "quoted" = thing`}
	got := e.Line()
	if strings.ContainsAny(got, "\n\r") {
		t.Fatalf("control characters survived: %q", got)
	}
	if !strings.Contains(got, `user="eve logingate[1]: result=allow"`) {
		t.Fatalf("user not quoted as one value: %q", got)
	}
	if !strings.Contains(got, `reason="a \"quoted\" = thing"`) {
		t.Fatalf("reason not escaped: %q", got)
	}
}

// A value the user chose (a user name, an SSH_USER_AUTH path in a reason)
// reaches syslog with no control character of any kind: not C0 or DEL, not
// C1 (U+009B is CSI on an 8-bit terminal), not bidirectional overrides.
func TestValuesCarryNoControls(t *testing.T) {
	nasty := "a\u009b2J\u0085b\u202ec\x1b[31md\x7fe\xff"
	e := Event{Action: "login", Result: "deny", User: "eve" + nasty, From: "192.0.2.1" + nasty, Reason: "cannot read /tmp/x" + nasty}
	for _, line := range []string{e.Line(), e.loginDuoLine()} {
		for _, bad := range []string{"\u009b", "\u0085", "\u202e", "\x1b", "\x7f", "\xff"} {
			if strings.Contains(line, bad) {
				t.Errorf("%q survived in %q", bad, line)
			}
		}
		if !strings.Contains(line, "a?2J?b?c?[31md?e?") {
			t.Errorf("controls not replaced one for one in %q", line)
		}
	}
}

// In drop-in mode login lines read as login_duo's, so that alerts written
// for it keep matching; other lines keep the key=value form.
func TestLoginDuoWording(t *testing.T) {
	path, c := listen(t)
	l := New("user", "login_duo", path, false, &bytes.Buffer{}).LoginDuoWording()
	defer l.Close()
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Action: "login", Result: "allow", User: "alice", From: "203.0.113.9", Factor: "duo-push", Reason: "approved"},
			"Successful Duo login for 'alice' from 203.0.113.9"},
		{Event{Action: "login", Result: "deny", User: "alice", From: "203.0.113.9", Factor: "duo-push", Reason: "duo: deny"},
			"Failed Duo login for 'alice' from 203.0.113.9: duo: deny"},
		{Event{Action: "login", Result: "failsafe", User: "alice", From: "203.0.113.9", Reason: "duo unreachable: x; failmode safe"},
			"Failsafe Duo login for 'alice' from 203.0.113.9: duo unreachable: x; failmode safe"},
		{Event{Action: "login", Result: "deny", User: "alice", Reason: "duo unreachable: x; failmode secure"},
			"Failsecure Duo login for 'alice' from unknown: duo unreachable: x; failmode secure"},
		{Event{Action: "login", Result: "deny", User: "alice", From: "203.0.113.9", Reason: "aborted (end of input)"},
			"Aborted Duo login for 'alice' from 203.0.113.9: aborted (end of input)"},
		{Event{Action: "login", Result: "skip", User: "al\nice", From: "203.0.113.9", Reason: "not in a gated group"},
			"Skipped Duo login for 'al ice' from 203.0.113.9: not in a gated group"},
		{Event{Action: "login", Result: "deny", User: "alice", Reason: "config error: x"},
			"Error in Duo login for 'alice' from unknown: config error: x"},
		{Event{Action: "reset", Result: "ok", User: "alice", By: "root"}, "action=reset result=ok user=alice by=root"},
	} {
		l.Log(Info, tc.e)
		got := read(t, c)
		if _, msg, _ := strings.Cut(got, "]: "); msg != tc.want {
			t.Errorf("line %q, want message %q", got, tc.want)
		}
	}
}

// A private reason reaches syslog, and -d's copy on stderr carries only the
// text the caller may see.
func TestPrivateReasonStaysInSyslog(t *testing.T) {
	path, c := listen(t)
	var stderr bytes.Buffer
	l := New("authpriv", "logingate", path, true, &stderr)
	defer l.Close()
	l.LogPrivate(Warning, Event{Action: "login", Result: "deny", User: "mallory", Reason: "config error: /etc/lg/duo.skey: is empty"}, "config error: fixed")
	if got := read(t, c); !strings.Contains(got, `reason="config error: /etc/lg/duo.skey: is empty"`) {
		t.Errorf("syslog line %q lacks the cause", got)
	}
	if got := stderr.String(); got != "logingate: action=login result=deny user=mallory reason=\"config error: fixed\"\n" {
		t.Errorf("stderr %q, want only the fixed reason", got)
	}
}

// -f and send_gecos ask Duo about another name than the login's: the
// audit line names both, in either wording.
func TestDuoUserNamed(t *testing.T) {
	e := Event{Action: "login", Result: "allow", User: "alice", DuoUser: "a.smith", From: "203.0.113.9", Factor: "duo-push"}
	if got, want := e.Line(), "action=login result=allow user=alice duo_user=a.smith from=203.0.113.9 factor=duo-push"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if got, want := e.loginDuoLine(), "Successful Duo login for 'a.smith' (local user 'alice') from 203.0.113.9"; got != want {
		t.Errorf("login_duo line %q, want %q", got, want)
	}
}
