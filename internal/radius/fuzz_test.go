package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"strings"
	"testing"
	"unicode"
)

// FuzzVerify feeds arbitrary datagrams to the answer verifier. It must
// never panic, and an answer it accepts must really be authentic: the
// Response Authenticator checks out independently, the Message-Authenticator
// was there when required, a State comes only with a challenge, and the
// Reply-Message is safe to print. Forging one needs the secret, which the
// fuzzer does not have (the seeds are signed with it, so mutations of them
// exercise every check past the authenticator).
func FuzzVerify(f *testing.F) {
	c := &Client{NASIdentifier: "fuzz"}
	q, err := c.newRequest(Request{User: "alice", Password: "123456"}, Secret(testSecret))
	if err != nil {
		f.Fatal(err)
	}
	// Fixed, so that a saved failing input reproduces.
	q.id, q.auth = 7, [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	req := append([]byte(nil), q.wire...)
	req[1] = q.id
	copy(req[4:20], q.auth[:])
	for _, seed := range [][]byte{
		reply(req, testSecret, codeAccessAccept, true),
		reply(req, testSecret, codeAccessReject, true, replyMessage("no\r\n\x1b")),
		reply(req, testSecret, codeAccessChallenge, true, replyMessage("SMS"), state("st")),
		reply(req, testSecret, codeAccessAccept, false),
		reply(req, "other", codeAccessAccept, true),
		req[:19],
	} {
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, requireMA bool) {
		a, err := verify(b, q, []byte(testSecret), requireMA)
		if err != nil {
			if a.code != 0 || a.state != nil || a.reply != "" {
				t.Fatalf("an answer with an error: %+v", a)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error quotes the secret: %v", err)
			}
			return
		}
		switch {
		case a.code != Accept && a.code != Reject && a.code != Challenge:
			t.Fatalf("code %v", a.code)
		case requireMA && !a.hasMA:
			t.Fatal("accepted without the required Message-Authenticator")
		case a.state != nil && a.code != Challenge:
			t.Fatal("State on a non-challenge")
		case strings.ContainsFunc(a.reply, unicode.IsControl):
			t.Fatalf("control character in %q", a.reply)
		case len(a.reply) > maxReplyShown*4:
			t.Fatalf("reply of %d bytes", len(a.reply))
		}
		n := int(b[2])<<8 | int(b[3])
		h := md5.New()
		h.Write(b[:4])
		h.Write(q.auth[:])
		h.Write(b[headerLen:n])
		h.Write([]byte(testSecret))
		if !hmac.Equal(h.Sum(nil), b[4:20]) || b[1] != q.id {
			t.Fatal("accepted an answer that is not authentic")
		}
	})
}
