// Package session owns what the gate knows about the login it guards and how
// it hands that login over: who is logging in (users, shells and groups
// resolved through NSS), from where (SSH_CONNECTION, SSH_CLIENT or -h), which
// command was asked for (command arguments or SSH_ORIGINAL_COMMAND), with
// which key (SSH_USER_AUTH) and what that key's authorized_keys line lets it
// run (its own command="..."), the passcode a client may send in the
// environment, and the final exec of the user's shell with logingate's own
// variables scrubbed and signal handling back to default.
package session

import (
	"net/netip"
	"strings"
)

// Session is one login as sshd handed it to the gate.
type Session struct {
	User *User
	// Remote is the client's IP address in canonical form, or "" when
	// nothing trustworthy names it.
	Remote string
	// Command is what the user asked to run; meaningful only with HasCommand.
	Command string
	// HasCommand is false for a login-shell session.
	HasCommand bool
	// Env is the environment the session started with. Exec scrubs
	// logingate's own variables from it; it is not modified in place.
	Env []string
}

// FromEnv builds the Session for user from the process environment, the
// command words that followed the flags, and the -h flag. Remote comes from
// SSH_CONNECTION, SSH_CLIENT or hostFlag, the first that holds an IP address,
// in canonical form. Command is args joined by spaces (login_duo's behaviour),
// else a non-empty SSH_ORIGINAL_COMMAND; none means a login shell. The first
// occurrence of a variable counts, as for getenv(3). The rules and why:
// docs/DESIGN.md, "Client address and command".
func FromEnv(env []string, args []string, hostFlag string, user *User) *Session {
	s := &Session{
		User: user,
		Env:  append([]string(nil), env...),
	}
	s.Remote = remoteAddr(env, hostFlag)
	if len(args) > 0 {
		s.Command, s.HasCommand = strings.Join(args, " "), true
	} else if cmd, ok := lookupEnv(env, "SSH_ORIGINAL_COMMAND"); ok && cmd != "" {
		s.Command, s.HasCommand = cmd, true
	}
	return s
}

// remoteAddr picks the client address; see FromEnv.
func remoteAddr(env []string, hostFlag string) string {
	for _, key := range []string{"SSH_CONNECTION", "SSH_CLIENT"} {
		if v, ok := lookupEnv(env, key); ok {
			if fields := strings.Fields(v); len(fields) > 0 {
				if a, ok := parseAddr(fields[0]); ok {
					return a
				}
			}
		}
	}
	if a, ok := parseAddr(strings.TrimSpace(hostFlag)); ok {
		return a
	}
	return ""
}

func parseAddr(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return a.Unmap().WithZone("").String(), true
}

// PasscodeFromEnv returns a passcode the client sent in the environment:
// LOGINGATE_PASSCODE, else DUO_PASSCODE (login_duo's name). An empty value
// counts as unset. Whether to use it is the caller's decision
// (accept_env_factor); Exec scrubs both variables either way.
func PasscodeFromEnv(env []string) (code string, ok bool) {
	for _, key := range passcodeVars {
		if v, ok := lookupEnv(env, key); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// passcodeVars are logingate's own variables, in order of precedence. They
// never reach the session (scrubEnv).
var passcodeVars = []string{"LOGINGATE_PASSCODE", "DUO_PASSCODE"}

// lookupEnv returns the first value of key in env.
func lookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
