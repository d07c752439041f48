package cli

import (
	"errors"
	"os"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/session"
)

// sessionKey is what the gate knows about the key that opened the session:
// its fingerprint (for trusted windows) and what its authorized_keys line
// says it may run.
type sessionKey struct {
	fingerprint string // "" when sshd did not say (ExposeAuthInfo off)
	command     string // the key's own command="...", when force
	force       bool
	note        string // for the login's audit line: only what is out of the ordinary
}

// errTwoForcedCommands: the key restricts itself to a command and the
// gate's command line forces another. Neither may win silently: running the
// line's command could hand a restricted key a shell.
var errTwoForcedCommands = errors.New("the key's own command= and logingate's command line both force a command")

// lookupSessionKey reads SSH_USER_AUTH and looks the key up in the user's
// authorized_keys files. fromCommandLine is set when logingate's own
// arguments name the command (ForceCommand logingate CMD). Any error denies:
// a key whose restrictions cannot be read must not get more than they allow.
func lookupSessionKey(cfg *config.Config, sess *session.Session, environ []string, fromCommandLine bool) (*sessionKey, error) {
	keys, err := session.AuthKeys(environ)
	if err != nil {
		return nil, err
	}
	k := &sessionKey{}
	if len(keys) == 0 {
		return k, nil // the gate notes it where it matters (headless: trusted)
	}
	k.fingerprint = keys[0].Fingerprint()
	lk, err := session.LookupKeys(sess.User, cfg.AuthorizedKeysFiles, keys)
	if err != nil {
		return nil, err
	}
	exe, _ := os.Executable()
	switch {
	case lk.HasCommand && session.RunsFile(lk.Command, exe, sess.Env, sess.User.Home):
		// command="logingate": sshd ran the key's command, which is this
		// gate; the session's command is the client's, as usual.
	case !lk.Found:
		k.note = "key " + k.fingerprint + " not in authorized_keys_files: unrestricted"
	case lk.HasCommand && fromCommandLine:
		return nil, errTwoForcedCommands
	case lk.HasCommand:
		k.command, k.force = lk.Command, true
		k.note = "key " + k.fingerprint + " runs its own command= (" + lk.Where + ")"
	}
	return k, nil
}

// apply makes the key's own command the session's, as sshd would without
// a ForceCommand in its way.
func (k *sessionKey) apply(s *session.Session) {
	if k.force {
		s.ForceCommand(k.command)
	}
}

// audited adds the key's note to the reason of every login line.
func (k *sessionKey) audited(a *audit.Logger) gate.Auditor {
	return notedAuditor{a, k.note}
}

type notedAuditor struct {
	a    gate.Auditor
	note string
}

func (n notedAuditor) Log(sev audit.Severity, e audit.Event) {
	if e.Action == "login" && n.note != "" {
		if e.Reason != "" {
			e.Reason += "; "
		}
		e.Reason += n.note
	}
	n.a.Log(sev, e)
}
