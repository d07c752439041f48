package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/session"
)

// sessionKey is what the gate knows about the key that opened the session:
// its fingerprint (for trusted windows) and what sshd would have forced it
// to run: its authorized_keys line's command="...", or for an OpenSSH
// certificate its force-command and its cert-authority line's command=.
//
// For a certificate the fingerprint is the certificate's own (the SHA256 of
// its whole blob), not the certified key's that ssh-keygen -l and sshd's
// log print: a reissued certificate (new serial, principals, validity or
// force-command) needs a fresh interactive login before its first trusted
// window, at the cost of one prompt per reissue for short-lived
// certificates.
type sessionKey struct {
	fingerprint string // "" when sshd did not say (ExposeAuthInfo off)
	command     string // what sshd would have forced, when force
	force       bool
	note        string // for the login's audit line: only what is out of the ordinary
}

// errTwoForcedCommands: the key restricts itself to a command and the
// gate's command line forces another. Neither may win silently: running the
// line's command could hand a restricted key a shell.
var errTwoForcedCommands = errors.New("the key's own command= (or its certificate's force-command) and logingate's command line both force a command")

// lookupSessionKey reads SSH_USER_AUTH, looks the key up in the user's
// authorized_keys files and reads the certificate among the keys, if any.
// fromCommandLine is set when logingate's own arguments name the command
// (ForceCommand logingate CMD). Any error denies: a key whose restrictions
// cannot be read must not get more than they allow, and a certificate
// whose force-command differs from its cert-authority line's command= is
// refused, as sshd refuses it.
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
	command, force, err := lk.Forced()
	if err != nil {
		return nil, err
	}
	exe, _ := os.Executable()
	switch {
	case force && session.RunsFile(command, exe, sess.Env, sess.User.Home):
		// command="logingate" (or a certificate forcing it): sshd ran
		// the forced command, which is this gate; the session's command
		// is the client's, as usual.
	case force && fromCommandLine:
		return nil, errTwoForcedCommands
	case force:
		k.command, k.force = command, true
		k.note = forcedNote(k.fingerprint, lk)
	case !lk.Found && len(lk.Certificates) > 0:
		k.note = describeCert(k.fingerprint, lk.Certificates[0]) + " not in authorized_keys_files and without force-command: unrestricted"
	case !lk.Found:
		k.note = "key " + k.fingerprint + " not in authorized_keys_files: unrestricted"
	}
	return k, nil
}

// forcedNote says for the audit line which option forces the command.
func forcedNote(fingerprint string, lk session.KeyLookup) string {
	var cert *session.Certificate
	for _, c := range lk.Certificates {
		if c.HasForceCommand {
			cert = c
			break
		}
	}
	switch {
	case cert != nil && lk.HasCommand:
		return describeCert(fingerprint, cert) + " runs its force-command, the same as command= (" + lk.Where + ")"
	case cert != nil:
		return describeCert(fingerprint, cert) + " runs its force-command"
	case len(lk.Certificates) > 0:
		// Usually the certificate's cert-authority line; with two keys
		// (AuthenticationMethods publickey,publickey) maybe the other's.
		return describeCert(fingerprint, lk.Certificates[0]) + " runs command= (" + lk.Where + ")"
	}
	return "key " + fingerprint + " runs its own command= (" + lk.Where + ")"
}

// describeCert names a certificate for the audit line as sshd's log does:
// the certified key's fingerprint, key ID, serial and CA, after the
// certificate's own fingerprint (the trusted windows' key).
func describeCert(fingerprint string, c *session.Certificate) string {
	id := c.KeyID
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return fmt.Sprintf("certificate %s (key %s, ID %q, serial %d, CA %s)", fingerprint, c.Key.Fingerprint(), id, c.Serial, c.CA.Fingerprint())
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
