package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	signer ssh.Signer
	line   string // "ssh-ed25519 BASE64", for a cert-authority line
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{signer: s, line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))}
}

// certOptions shape one certificate.
type certOptions struct {
	principals []string // none: valid for any principal, as ssh-keygen -s without -n makes
	critical   map[string]string
	certType   uint32 // ssh.UserCert unless set
	key        ssh.PublicKey
}

// sign certifies a new (or the given) ed25519 key and returns the
// certificate as SSH_USER_AUTH names it.
func (ca *testCA) sign(t testing.TB, o certOptions) PublicKey {
	t.Helper()
	if o.key == nil {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if o.key, err = ssh.NewPublicKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	if o.certType == 0 {
		o.certType = ssh.UserCert
	}
	c := &ssh.Certificate{
		Key:             o.key,
		Serial:          42,
		CertType:        o.certType,
		KeyId:           "alice@example",
		ValidPrincipals: o.principals,
		ValidBefore:     ssh.CertTimeInfinity,
		Permissions:     ssh.Permissions{CriticalOptions: o.critical},
	}
	if len(o.principals) == 0 {
		// x/crypto signs no such certificate; OpenSSH does. The
		// signature no longer fits, which logingate does not check
		// (sshd did).
		c.ValidPrincipals = []string{"placeholder"}
	}
	if err := c.SignCert(rand.Reader, ca.signer); err != nil {
		t.Fatal(err)
	}
	if len(o.principals) == 0 {
		c.ValidPrincipals = nil
	}
	return PublicKey{Type: c.Type(), Blob: c.Marshal()}
}

func TestCertificateFromOpenSSH(t *testing.T) {
	// certB64 was made by ssh-keygen -s (the ECDSA key) -I testcert
	// -n alice, with no force-command.
	c, err := PublicKey{Type: certType, Blob: decode(t, certB64)}.certificate()
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != "testcert" || !slices.Equal(c.Principals, []string{"alice"}) || c.HasForceCommand {
		t.Errorf("certificate %+v", c)
	}
	if c.CA.Fingerprint() != ecFP || c.CA.Type != ecType {
		t.Errorf("CA %s %s, want the ECDSA key %s", c.CA.Type, c.CA.Fingerprint(), ecFP)
	}
	if c.Key.Fingerprint() != edFP || c.Key.Type != edType {
		t.Errorf("certified key %s %s, want the ed25519 key %s", c.Key.Type, c.Key.Fingerprint(), edFP)
	}
}

func TestCertificate(t *testing.T) {
	ca := newTestCA(t)
	c, err := ca.sign(t, certOptions{principals: []string{"alice", "ops"}, critical: map[string]string{
		"force-command": "echo forced-by-cert", "source-address": "127.0.0.1/32"}}).certificate()
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasForceCommand || c.ForceCommand != "echo forced-by-cert" || c.Serial != 42 || c.KeyID != "alice@example" {
		t.Errorf("certificate %+v", c)
	}
	if c.CA.Fingerprint() != (PublicKey{Blob: ca.signer.PublicKey().Marshal()}).Fingerprint() {
		t.Errorf("CA is not the signing key")
	}
	// An empty force-command still forces: sshd runs nothing.
	c, err = ca.sign(t, certOptions{critical: map[string]string{"force-command": ""}}).certificate()
	if err != nil || !c.HasForceCommand || c.ForceCommand != "" {
		t.Errorf("empty force-command: %+v, %v", c, err)
	}

	cert := ca.sign(t, certOptions{})
	truncated := PublicKey{Type: cert.Type, Blob: cert.Blob[:len(cert.Blob)-10]}
	for _, tc := range []struct {
		name string
		key  PublicKey
		err  string
	}{
		{"plain key", PublicKey{Type: edType, Blob: decode(t, edB64)}, "not a certificate"},
		{"truncated", truncated, "cannot be parsed"},
		{"plain key under a certificate type", PublicKey{Type: certType, Blob: decode(t, edB64)}, "cannot be parsed"},
		{"host certificate", ca.sign(t, certOptions{certType: ssh.HostCert}), "host certificate"},
		{"unknown critical option", ca.sign(t, certOptions{critical: map[string]string{"force-subsystem": "sftp"}}), `"force-subsystem"`},
	} {
		_, err := tc.key.certificate()
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(tc.key.Blob)[20:40]) {
			t.Errorf("%s: error quotes the certificate: %v", tc.name, err)
		}
	}
}

func TestLookupKeysCertificates(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	plain := PublicKey{Type: edType, Blob: decode(t, edB64)}
	edKey, err := ssh.ParsePublicKey(plain.Blob)
	if err != nil {
		t.Fatal(err)
	}
	forced := map[string]string{"force-command": "echo forced-by-cert"}
	alice := ca.sign(t, certOptions{principals: []string{"alice"}, key: edKey})
	aliceForced := ca.sign(t, certOptions{principals: []string{"alice"}, critical: forced})
	noPrincipal := ca.sign(t, certOptions{})
	ops := ca.sign(t, certOptions{principals: []string{"ops", "db,web"}})
	for _, tc := range []struct {
		name       string
		keys       string // authorized_keys
		cert       PublicKey
		found, has bool
		command    string
		err        string
	}{
		{name: "no line: TrustedUserCAKeys", cert: aliceForced},
		{name: "cert-authority with command=", keys: `cert-authority,command="echo ca-line" ` + ca.line,
			cert: alice, found: true, has: true, command: "echo ca-line"},
		{name: "cert-authority without command=", keys: "cert-authority " + ca.line, cert: aliceForced, found: true},
		{name: "another CA's line", keys: `cert-authority,command="x" ` + other.line, cert: alice},
		{name: "the CA's key without cert-authority", keys: `command="x" ` + ca.line, cert: alice},
		{name: "the certified key's own line", keys: `command="x" ` + edType + " " + edB64, cert: alice},
		{name: "no principals in the certificate", keys: `cert-authority,command="x" ` + ca.line,
			cert: noPrincipal, found: true, has: true, command: "x"},
		{name: "principal is not the user", keys: `cert-authority,command="x" ` + ca.line, cert: ops},
		{name: "principals= lists one of the certificate's", keys: `cert-authority,principals="web,admin",command="x" ` + ca.line,
			cert: ops, found: true, has: true, command: "x"},
		{name: "principals= lists none of them", keys: `cert-authority,principals="alice,admin",command="x" ` + ca.line, cert: ops},
		{name: "principals= and no principal in the certificate", keys: `cert-authority,principals="alice",command="x" ` + ca.line, cert: noPrincipal},
		{name: "two lines for the CA, different commands", keys: `cert-authority,command="a" ` + ca.line + "\n" + `cert-authority,command="b" ` + ca.line,
			cert: alice, err: "with different command= options"},
		{name: "the second line does not match", keys: `cert-authority,command="a" ` + ca.line + "\n" + `cert-authority,principals="root",command="b" ` + ca.line,
			cert: alice, found: true, has: true, command: "a"},
		{name: "broken line naming the CA", keys: `cert-authority,command="unterminated ` + ca.line, cert: alice, err: "its restrictions are unknown"},
		{name: "unparsable certificate", cert: PublicKey{Type: certType, Blob: alice.Blob[:40]}, err: "cannot be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.keys != "" {
				writeFile(t, filepath.Join(home, ".ssh", "authorized_keys"), tc.keys+"\n")
			}
			u := &User{Name: "alice", UID: 1001, Home: home}
			got, err := LookupKeys(u, []string{".ssh/authorized_keys"}, []PublicKey{tc.cert})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Found != tc.found || got.HasCommand != tc.has || got.Command != tc.command {
				t.Errorf("lookup %+v, want found %v command %q (%v)", got, tc.found, tc.command, tc.has)
			}
			if len(got.Certificates) != 1 {
				t.Errorf("certificates %v, want the one used", got.Certificates)
			}
		})
	}
	// A plain key next to a certificate is looked up as before.
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".ssh", "authorized_keys"), `command="a" `+edType+" "+edB64+"\n"+`cert-authority,command="a" `+ca.line+"\n")
	got, err := LookupKeys(&User{Name: "alice", Home: home}, []string{".ssh/authorized_keys"}, []PublicKey{plain, alice})
	if err != nil || !got.Found || got.Command != "a" || len(got.Certificates) != 1 {
		t.Errorf("plain key and certificate: %+v, %v", got, err)
	}
}

func TestForced(t *testing.T) {
	cert := func(cmd string, has bool) *Certificate {
		return &Certificate{ForceCommand: cmd, HasForceCommand: has}
	}
	line := func(cmd string) KeyLookup {
		return KeyLookup{Found: true, Command: cmd, HasCommand: true, Where: "/home/alice/.ssh/authorized_keys:3"}
	}
	withCerts := func(l KeyLookup, c ...*Certificate) KeyLookup { l.Certificates = c; return l }
	for _, tc := range []struct {
		name    string
		lookup  KeyLookup
		command string
		has     bool
		err     string
	}{
		{name: "nothing forced", lookup: withCerts(KeyLookup{Found: true}, cert("", false))},
		{name: "plain key, command=", lookup: line("backup"), command: "backup", has: true},
		{name: "certificate only (TrustedUserCAKeys)", lookup: withCerts(KeyLookup{}, cert("echo forced-by-cert", true)),
			command: "echo forced-by-cert", has: true},
		{name: "cert-authority command= only", lookup: withCerts(line("echo ca-line"), cert("", false)),
			command: "echo ca-line", has: true},
		{name: "both, the same", lookup: withCerts(line("backup"), cert("backup", true)), command: "backup", has: true},
		{name: "both, different", lookup: withCerts(line("echo ca-line"), cert("echo forced-by-cert", true)),
			err: "the certificate's force-command and the command= option on /home/alice/.ssh/authorized_keys:3 differ"},
		{name: "an empty force-command against command=", lookup: withCerts(line("backup"), cert("", true)), err: "differ"},
		{name: "an empty force-command forces", lookup: withCerts(KeyLookup{}, cert("", true)), has: true},
		{name: "two certificates, the same", lookup: withCerts(KeyLookup{}, cert("a", true), cert("", false), cert("a", true)),
			command: "a", has: true},
		{name: "two certificates, different", lookup: withCerts(KeyLookup{}, cert("a", true), cert("b", true)),
			err: "different force-command"},
	} {
		command, has, err := tc.lookup.Forced()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			if has || command != "" {
				t.Errorf("%s: a conflict still forces %q", tc.name, command)
			}
			continue
		}
		if err != nil || command != tc.command || has != tc.has {
			t.Errorf("%s: Forced() = %q, %v, %v; want %q, %v", tc.name, command, has, err, tc.command, tc.has)
		}
	}
}
