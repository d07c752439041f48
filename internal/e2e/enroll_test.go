package e2e

import (
	"regexp"
	"strings"
	"testing"
)

var (
	secretRE = regexp.MustCompile(`secret=([A-Z2-7]+)`)
	codeRE   = regexp.MustCompile(`(?m)^\s+([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})\r?$`)
)

// With unenrolled: enroll, a new user sets up the app inside their first
// interactive login (QR code, a code from the app before anything is saved,
// backup codes shown once), gets the shell, and from then on is asked for a
// code like everyone else. New backup codes need a fresh second factor in
// the same command: the SSH key alone never mints credentials.
func TestEnrollInSessionThenRegenerate(t *testing.T) {
	h := newHost(t, hostOptions{yaml: "unenrolled: enroll\n"})
	u := h.AddUser(t, "enrol")

	s := h.SSHPty(t, u)
	s.Expect(t, "Scan this QR code with your authenticator app:", expectTimeout)
	seen := s.Expect(t, "Code from the app: ", expectTimeout)
	m := secretRE.FindStringSubmatch(seen)
	if m == nil {
		t.Fatalf("no otpauth URI shown:\n%s", seen)
	}
	e := &enrolled{Secret: m[1]}
	s.Send("123\r")
	s.Expect(t, "does not match", expectTimeout)
	s.Send(e.Code(t, 0) + "\r")
	s.Expect(t, "they are not shown again:", expectTimeout)
	seen = s.Expect(t, "$ ", expectTimeout) // the shell's prompt
	codes := codeRE.FindAllStringSubmatch(seen, -1)
	if len(codes) != 10 {
		t.Fatalf("want 10 backup codes shown, got %d:\n%s", len(codes), seen)
	}
	h.audit.WaitFor(t, "action=enroll", "result=ok", "user="+u.Name)
	h.audit.WaitFor(t, "action=login", "result=allow", "user="+u.Name, "enrolled in session")

	// In the session: new backup codes, confirmed with a current one.
	s.Send(gateBin + " -c " + h.config + " backup-codes --regenerate\r")
	s.Expect(t, "confirm this change with a current second factor", expectTimeout)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(codes[0][1] + "\r")
	seen = s.Expect(t, "$ ", expectTimeout)
	fresh := codeRE.FindAllStringSubmatch(seen, -1)
	if !strings.Contains(seen, "New backup codes for "+u.Name) || len(fresh) != 10 {
		t.Fatalf("no new set of 10 codes:\n%s", seen)
	}

	// Replacing the app takes a fresh second factor too: without one,
	// nothing is shown and nothing changes (the second login below still
	// takes a code of this set).
	s.Send(gateBin + " -c " + h.config + " enroll --force\r")
	s.Expect(t, "confirm this change with a current second factor", expectTimeout)
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send("\x04") // Ctrl-D: no factor
	if seen = s.Expect(t, "$ ", expectTimeout); strings.Contains(seen, "Scan this QR code") {
		t.Fatalf("enroll --force went on without a second factor:\n%s", seen)
	}
	// With one, the new secret is shown; abandoned at its code, nothing is
	// saved.
	s.Send(gateBin + " -c " + h.config + " enroll --force\r")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(fresh[1][1] + "\r")
	s.Expect(t, "Scan this QR code with your authenticator app:", expectTimeout)
	s.Expect(t, "Code from the app: ", expectTimeout)
	s.Send("\x03")
	s.Expect(t, "no code entered", expectTimeout)
	s.Expect(t, "$ ", expectTimeout)
	s.Send("exit 0\r")
	if got := s.Wait(); got != 0 {
		t.Fatalf("session exit %d", got)
	}

	// The next login asks for a code; an old backup code no longer works, a
	// new one does.
	s = h.SSHPty(t, u, "echo second-login")
	s.Expect(t, "Passcode or option (1-2): ", expectTimeout)
	s.Send(codes[1][1] + "\r")
	s.Expect(t, "wrong code", expectTimeout)
	s.Send(fresh[0][1] + "\r")
	s.Expect(t, "second-login", expectTimeout)
	if got := s.Wait(); got != 0 {
		t.Fatalf("second login exit %d", got)
	}
}
