package session

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Certificate is what an OpenSSH user certificate (ssh-keygen -s) says
// that bears on the session: who signed it, for whom, and what it forces.
// sshd checked its signature, validity and source-address before logingate
// runs; logingate only reads it.
type Certificate struct {
	Key        PublicKey // the certified key, without the certificate
	CA         PublicKey // the key that signed the certificate
	KeyID      string    // as the CA wrote it; quote it before printing
	Serial     uint64
	Principals []string

	// ForceCommand is the critical option force-command, when
	// HasForceCommand. sshd runs it instead of the client's command, as
	// for an authorized_keys command=, unless sshd_config's ForceCommand
	// overrides it.
	ForceCommand    string
	HasForceCommand bool
}

// criticalOptions are the certificate critical options OpenSSH knows
// (PROTOCOL.certkeys). sshd refuses a certificate with any other, so none
// should reach logingate; one that does is refused here too, since it may
// restrict something logingate would then drop.
var criticalOptions = []string{"force-command", "source-address", "verify-required"}

// Certificate parses k as an OpenSSH user certificate. A key that is not a
// certificate, a certificate that cannot be parsed, a host certificate and
// one with a critical option OpenSSH does not know are errors: whatever it
// restricts cannot be told. Errors never quote the certificate.
func (k PublicKey) Certificate() (*Certificate, error) {
	if !k.IsCertificate() {
		return nil, errors.New("not a certificate")
	}
	pk, err := ssh.ParsePublicKey(k.Blob)
	if err != nil {
		return nil, fmt.Errorf("certificate cannot be parsed: %w", err)
	}
	c, ok := pk.(*ssh.Certificate)
	if !ok {
		return nil, errors.New("certificate cannot be parsed: a plain key under a certificate type")
	}
	if c.CertType != ssh.UserCert {
		return nil, errors.New("a host certificate, not a user certificate")
	}
	for name := range c.CriticalOptions {
		if !slices.Contains(criticalOptions, name) {
			return nil, fmt.Errorf("certificate has the critical option %q, which logingate does not know", truncate(name, 64))
		}
	}
	cert := &Certificate{
		Key:        PublicKey{Type: c.Key.Type(), Blob: c.Key.Marshal()},
		CA:         PublicKey{Type: c.SignatureKey.Type(), Blob: c.SignatureKey.Marshal()},
		KeyID:      c.KeyId,
		Serial:     c.Serial,
		Principals: c.ValidPrincipals,
	}
	// x/crypto unwraps the option's data: the command itself, "" for an
	// empty one (sshd runs nothing then, and neither will the session).
	cert.ForceCommand, cert.HasForceCommand = c.CriticalOptions["force-command"]
	return cert, nil
}

// authorizedBy reports whether the authorized_keys line would accept c as
// sshd's auth_check_authkey_line does: a cert-authority line holding the
// key that signed c, and a principal that matches. With principals="..."
// one of c's principals must be in that comma-separated list; without it,
// c must name user or no principal at all (sshd then accepts it for any
// user). Where sshd is stricter (a list cut at its first empty entry or
// after 40 entries) this matches more lines, never fewer: a line matched in
// excess can only add a restriction or a conflict, which denies. from= and
// expiry-time are not evaluated, for the same reason.
func (c *Certificate) authorizedBy(l *AuthorizedKey, user string) bool {
	if !l.CertAuthority || !bytes.Equal(l.Blob, c.CA.Blob) {
		return false
	}
	list, ok := l.option("principals")
	if !ok {
		return len(c.Principals) == 0 || slices.Contains(c.Principals, user)
	}
	allowed := strings.Split(list, ",")
	for _, p := range c.Principals {
		// sshd's match_list splits the certificate's principal at
		// commas too.
		for _, part := range strings.Split(p, ",") {
			if part != "" && slices.Contains(allowed, part) {
				return true
			}
		}
	}
	return false
}

// option returns the value of the line's first option called name.
func (k *AuthorizedKey) option(name string) (string, bool) {
	for _, o := range k.Options {
		if o.Name == name {
			return o.Value, true
		}
	}
	return "", false
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
