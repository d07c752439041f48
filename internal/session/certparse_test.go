package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestCertificateParserMatchesXCrypto holds logingate's certificate reader
// (cert.go) against golang.org/x/crypto/ssh, which it replaced on the gate
// path: for certificates of every key type x/crypto makes, signed by CAs of
// several types, both must read the same fields; for every truncation and
// thousands of random byte changes of them, whatever x/crypto refuses
// logingate must refuse too, and where both read one, the same fields.
func TestCertificateParserMatchesXCrypto(t *testing.T) {
	signers := map[string]crypto.Signer{}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	signers["ed25519"] = ed
	for name, curve := range map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signers[name] = k
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signers["rsa"] = rk
	var certs [][]byte
	for keyName, key := range signers {
		pub, err := ssh.NewPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		for caName, caKey := range signers {
			ca, err := ssh.NewSignerFromSigner(caKey)
			if err != nil {
				t.Fatal(err)
			}
			c := &ssh.Certificate{Key: pub, Serial: 7, CertType: ssh.UserCert, KeyId: keyName + " by " + caName,
				ValidPrincipals: []string{"alice", "ops,admins"}, ValidBefore: ssh.CertTimeInfinity,
				Permissions: ssh.Permissions{
					CriticalOptions: map[string]string{"force-command": "backup --run", "source-address": "10.0.0.0/8"},
					Extensions:      map[string]string{"permit-pty": ""}}}
			if err := c.SignCert(rand.Reader, ca); err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c.Marshal())
		}
	}
	compare := func(t *testing.T, blob []byte, must bool) {
		t.Helper()
		want, werr := ssh.ParsePublicKey(blob)
		got, gerr := parseCertificate(blob)
		wc, isCert := want.(*ssh.Certificate)
		if werr != nil || !isCert {
			if gerr == nil {
				t.Fatalf("x/crypto refuses %x (%v), logingate reads it", blob, werr)
			}
			return
		}
		if gerr != nil {
			if must {
				t.Fatalf("logingate refuses a certificate x/crypto reads: %v", gerr)
			}
			return // stricter than x/crypto is allowed
		}
		fc, hasFC := wc.CriticalOptions["force-command"]
		var gfc string
		var gHas bool
		for _, o := range got.critical {
			if o.name == "force-command" {
				gfc, gHas = o.value, true
			}
		}
		if got.Key.Type != wc.Key.Type() || !slices.Equal(got.Key.Blob, wc.Key.Marshal()) ||
			got.CA.Type != wc.SignatureKey.Type() || !slices.Equal(got.CA.Blob, wc.SignatureKey.Marshal()) ||
			got.KeyID != wc.KeyId || got.Serial != wc.Serial || got.certType != wc.CertType ||
			!slices.Equal(got.Principals, wc.ValidPrincipals) || len(got.critical) != len(wc.CriticalOptions) ||
			gfc != fc || gHas != hasFC {
			t.Fatalf("fields differ:\n logingate %+v\n x/crypto  %+v", got, wc)
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, c := range certs {
		compare(t, c, true)
		for n := range len(c) {
			compare(t, c[:n], false)
		}
		for range 2000 {
			m := slices.Clone(c)
			for range 1 + rng.IntN(3) {
				m[rng.IntN(len(m))] = byte(rng.IntN(256))
			}
			compare(t, m, false)
		}
	}
}
