package session

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// certificate parses k as an OpenSSH user certificate. A key that is not a
// certificate, a certificate that cannot be parsed, a host certificate and
// one with a critical option OpenSSH does not know are errors: whatever it
// restricts cannot be told. Errors never quote the certificate.
//
// The wire format (PROTOCOL.certkeys) is read here rather than with
// golang.org/x/crypto/ssh, whose package initialisers every login paid for
// (0.4 to 1.2 ms) although only this function used it. sshd verified the
// certificate before logingate runs; this reads its fields as strictly as
// x/crypto did: every length checked, option names in lexical order, a
// signature key that is a plain key, nothing trailing.
// TestCertificateParserMatchesXCrypto holds the two side by side.
func (k PublicKey) certificate() (*Certificate, error) {
	if !k.isCertificate() {
		return nil, errors.New("not a certificate")
	}
	c, err := parseCertificate(k.Blob)
	if err != nil {
		return nil, fmt.Errorf("certificate cannot be parsed: %w", err)
	}
	if c.certType != userCert {
		return nil, errors.New("a host certificate, not a user certificate")
	}
	for _, o := range c.critical {
		if !slices.Contains(criticalOptions, o.name) {
			return nil, fmt.Errorf("certificate has the critical option %q, which logingate does not know", truncate(o.name, 64))
		}
		if o.name == "force-command" {
			// The option's data, unwrapped: the command itself, "" for an
			// empty one (sshd runs nothing then, nor will the session).
			c.ForceCommand, c.HasForceCommand = o.value, true
		}
	}
	return &c.Certificate, nil
}

// Certificate types (PROTOCOL.certkeys).
const (
	userCert = 1
	hostCert = 2
)

// certKeyFields maps each certificate type x/crypto/ssh parses to its plain
// key type and the number of length-prefixed fields of that key's public
// part (mpints and strings, both uint32 length then bytes).
var certKeyFields = map[string]struct {
	plain  string
	fields int
}{
	"ssh-rsa-cert-v01@openssh.com":                {"ssh-rsa", 2},                            // e, n
	"ecdsa-sha2-nistp256-cert-v01@openssh.com":    {"ecdsa-sha2-nistp256", 2},                // curve, point
	"ecdsa-sha2-nistp384-cert-v01@openssh.com":    {"ecdsa-sha2-nistp384", 2},                // curve, point
	"ecdsa-sha2-nistp521-cert-v01@openssh.com":    {"ecdsa-sha2-nistp521", 2},                // curve, point
	"ssh-ed25519-cert-v01@openssh.com":            {"ssh-ed25519", 1},                        // key
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": {"sk-ecdsa-sha2-nistp256@openssh.com", 3}, // curve, point, application
	"sk-ssh-ed25519-cert-v01@openssh.com":         {"sk-ssh-ed25519@openssh.com", 2},         // key, application
}

// plainKeyFields is the same for the plain key types, for the CA's key.
var plainKeyFields = func() map[string]int {
	m := map[string]int{}
	for _, k := range certKeyFields {
		m[k.plain] = k.fields
	}
	return m
}()

type certOption struct{ name, value string }

// parsedCert is a certificate as read, with what Certificate checks.
type parsedCert struct {
	Certificate
	certType uint32
	critical []certOption
}

// wire reads the SSH wire encoding; the first failure sticks in ok.
type wire struct {
	b  []byte
	ok bool
}

func (w *wire) bytes() []byte {
	if !w.ok || len(w.b) < 4 {
		w.ok = false
		return nil
	}
	n := binary.BigEndian.Uint32(w.b)
	if uint64(n) > uint64(len(w.b)-4) {
		w.ok = false
		return nil
	}
	v := w.b[4 : 4+n]
	w.b = w.b[4+n:]
	return v
}

func (w *wire) uint64() uint64 {
	if !w.ok || len(w.b) < 8 {
		w.ok = false
		return 0
	}
	v := binary.BigEndian.Uint64(w.b)
	w.b = w.b[8:]
	return v
}

func (w *wire) uint32() uint32 {
	if !w.ok || len(w.b) < 4 {
		w.ok = false
		return 0
	}
	v := binary.BigEndian.Uint32(w.b)
	w.b = w.b[4:]
	return v
}

var errShort = errors.New("short or malformed")

func parseCertificate(blob []byte) (*parsedCert, error) {
	w := &wire{b: blob, ok: true}
	kf, known := certKeyFields[string(w.bytes())]
	if !w.ok {
		return nil, errShort
	}
	if !known {
		return nil, errors.New("a plain key or an unknown certificate type")
	}
	w.bytes() // nonce
	keyStart := w.b
	for range kf.fields {
		w.bytes()
	}
	if !w.ok {
		return nil, errShort
	}
	key := append(wireString(kf.plain), keyStart[:len(keyStart)-len(w.b)]...)
	c := &parsedCert{}
	c.Key = PublicKey{Type: kf.plain, Blob: key}
	c.Serial = w.uint64()
	c.certType = w.uint32()
	c.KeyID = string(w.bytes())
	principals := w.bytes()
	w.uint64() // valid after
	w.uint64() // valid before
	critical, extensions := w.bytes(), w.bytes()
	w.bytes() // reserved
	caKey, signature := w.bytes(), w.bytes()
	if !w.ok || len(w.b) != 0 {
		return nil, errShort
	}
	for p := (&wire{b: principals, ok: true}); len(p.b) > 0; {
		name := p.bytes()
		if !p.ok {
			return nil, errShort
		}
		c.Principals = append(c.Principals, string(name))
	}
	var err error
	if c.critical, err = parseOptions(critical); err != nil {
		return nil, err
	}
	if _, err = parseOptions(extensions); err != nil {
		return nil, err
	}
	// The CA's key: a plain key, all of it, nothing after.
	ca := &wire{b: caKey, ok: true}
	caType := string(ca.bytes())
	if _, isCert := certKeyFields[caType]; isCert {
		return nil, errors.New("signed by a certificate")
	}
	n, ok := plainKeyFields[caType]
	if !ok {
		return nil, errors.New("unknown signature key type")
	}
	for range n {
		ca.bytes()
	}
	if !ca.ok || len(ca.b) != 0 {
		return nil, errShort
	}
	c.CA = PublicKey{Type: caType, Blob: caKey}
	// The signature: a format and a blob (a security key's adds a flags
	// byte and a counter), nothing after.
	sig := &wire{b: signature, ok: true}
	format := string(sig.bytes())
	sig.bytes()
	if strings.HasPrefix(format, "sk-") {
		if len(sig.b) < 5 {
			return nil, errShort
		}
		sig.b = sig.b[5:]
	}
	if !sig.ok || len(sig.b) != 0 {
		return nil, errShort
	}
	if err := checkKey(c.Key); err != nil {
		return nil, err
	}
	if err := checkKey(c.CA); err != nil {
		return nil, err
	}
	return c, nil
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
func (c *Certificate) authorizedBy(l *authorizedKey, user string) bool {
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
func (k *authorizedKey) option(name string) (string, bool) {
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

// checkKey refuses what x/crypto/ssh refused in a key's fields: an Ed25519
// key that is not 32 bytes, an ECDSA key whose curve is not its type's or
// whose point is not on it, an RSA key with an exponent below 3, even or
// over 24 bits, or a modulus over 16384 bits. It is stricter in one way:
// RSA numbers must be in their canonical encoding (what OpenSSH writes), so
// that the key read here is byte for byte the key sshd names. (sshd verified
// both keys' signatures before logingate runs; this keeps a malformed record
// from parsing.)
func checkKey(k PublicKey) error {
	w := &wire{b: k.Blob, ok: true}
	w.bytes() // type
	switch k.Type {
	case "ssh-ed25519", "sk-ssh-ed25519@openssh.com":
		if len(w.bytes()) != 32 {
			return errors.New("ed25519 key of the wrong size")
		}
	case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ecdsa-sha2-nistp256@openssh.com":
		curve, point := string(w.bytes()), w.bytes()
		var c ecdh.Curve
		switch curve {
		case "nistp256":
			c = ecdh.P256()
		case "nistp384":
			c = ecdh.P384()
		case "nistp521":
			c = ecdh.P521()
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k.Type, "sk-"), "ecdsa-sha2-"), "@openssh.com"); curve != want || c == nil {
			return errors.New("ECDSA key with another curve than its type's")
		}
		if _, err := c.NewPublicKey(point); err != nil {
			return errors.New("ECDSA key with a point not on its curve")
		}
	case "ssh-rsa":
		e, n := w.bytes(), w.bytes()
		if !canonicalPositive(e) || !canonicalPositive(n) {
			return errors.New("RSA key not in canonical encoding")
		}
		if len(e) > 3 || len(e) == 3 && e[0] == 0 { // over 24 bits
			return errors.New("RSA exponent too large")
		}
		var ev int
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		if ev < 3 || ev&1 == 0 {
			return errors.New("RSA exponent below 3 or even")
		}
		if (len(n)-1)*8+bitLen(n[0]) > 16384 {
			return errors.New("RSA modulus too large")
		}
	}
	return nil
}

// canonicalPositive reports whether b is an SSH mpint of a number above
// zero in its shortest form: no needless leading zero byte, no sign bit.
func canonicalPositive(b []byte) bool {
	switch {
	case len(b) == 0 || b[0]&0x80 != 0:
		return false
	case b[0] == 0:
		return len(b) > 1 && b[1]&0x80 != 0
	}
	return true
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

// parseOptions reads critical options or extensions: name and data pairs,
// names in strict lexical order, data empty or one string.
func parseOptions(b []byte) ([]certOption, error) {
	var out []certOption
	w := &wire{b: b, ok: true}
	for len(w.b) > 0 {
		name, data := string(w.bytes()), w.bytes()
		if !w.ok {
			return nil, errShort
		}
		if len(out) > 0 && name <= out[len(out)-1].name {
			return nil, errors.New("certificate options are not in lexical order")
		}
		var value string
		if len(data) > 0 {
			d := &wire{b: data, ok: true}
			value = string(d.bytes())
			if !d.ok || len(d.b) != 0 {
				return nil, errShort
			}
		}
		out = append(out, certOption{name, value})
	}
	return out, nil
}

func wireString(s string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(s)))
	return append(b, s...)
}
