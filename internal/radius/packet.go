package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"layeh.com/radius"

	"github.com/logingate/logingate/internal/term"
)

// Wire values (RFC 2865, RFC 2869, RFC 3162, RFC 3579).
const (
	codeAccessRequest   = 1
	codeAccessAccept    = 2
	codeAccessReject    = 3
	codeAccessChallenge = 11

	typeUserName             = 1
	typeUserPassword         = 2
	typeNASIPAddress         = 4
	typeReplyMessage         = 18
	typeState                = 24
	typeCallingStationID     = 31
	typeNASIdentifier        = 32
	typeMessageAuthenticator = 80
	typeNASIPv6Address       = 95

	headerLen     = 20
	maxPacket     = radius.MaxPacketLength
	maxAttrValue  = 253
	maxPassword   = 128 // RFC 2865 5.2
	maxReplyShown = 512 // bytes of Reply-Message kept
)

// request is an Access-Request as sent: its bytes and what its answer must
// match.
type request struct {
	wire []byte
	id   byte
	auth [16]byte // the Request Authenticator
}

// newRequest encodes an Access-Request for r to a server sharing secret.
// The Message-Authenticator is the first attribute, as the BlastRADIUS
// advisories recommend, and is computed over the finished packet.
func (c *Client) newRequest(r Request, secret Secret) (*request, error) {
	switch {
	case r.User == "" || len(r.User) > maxAttrValue:
		return nil, errors.New("the user name must be 1 to 253 bytes")
	case r.Password == "" || len(r.Password) > maxPassword:
		return nil, errors.New("the code must be 1 to 128 bytes")
	case len(secret) == 0:
		return nil, errors.New("empty shared secret")
	case len(r.Calling) > maxAttrValue || len(c.NASIdentifier) > maxAttrValue || len(r.State) > maxAttrValue:
		return nil, errors.New("an attribute is longer than 253 bytes")
	}
	var rnd [17]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	q := &request{id: rnd[0]}
	copy(q.auth[:], rnd[1:])
	hidden, err := radius.NewUserPassword([]byte(r.Password), secret, q.auth[:])
	if err != nil {
		return nil, errors.New("cannot hide the code")
	}

	b := make([]byte, headerLen, 512)
	b[0], b[1] = codeAccessRequest, q.id
	copy(b[4:20], q.auth[:])
	add := func(t byte, v []byte) { b = append(append(b, t, byte(2+len(v))), v...) }
	add(typeMessageAuthenticator, make([]byte, 16))
	add(typeUserName, []byte(r.User))
	add(typeUserPassword, hidden)
	if ip := c.NASIPAddress; ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			add(typeNASIPAddress, ip4)
		} else {
			add(typeNASIPv6Address, ip.To16())
		}
	}
	if c.NASIdentifier != "" {
		add(typeNASIdentifier, []byte(c.NASIdentifier))
	}
	if r.Calling != "" {
		add(typeCallingStationID, []byte(r.Calling))
	}
	if len(r.State) > 0 {
		add(typeState, r.State)
	}
	if len(b) > maxPacket {
		return nil, errors.New("the request is too large")
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	copy(b[headerLen+2:headerLen+18], mac.Sum(nil))
	q.wire = b
	return q, nil
}

// answer is a verified Access-Accept, -Reject or -Challenge.
type answer struct {
	code  Code
	reply string // Reply-Message, sanitised
	state State
	hasMA bool // carried a valid Message-Authenticator
}

// verify checks a datagram b, from the server's own address and port, as
// the answer to q. The returned error says why it is discarded (RFC 2865:
// silently, so the caller keeps listening); it never quotes the packet.
// Checks, in order: length, identifier, code, Response Authenticator,
// attributes well formed, Message-Authenticator (valid if present,
// present if required).
func verify(b []byte, q *request, secret []byte, requireMA bool) (answer, error) {
	if len(b) < headerLen {
		return answer{}, errors.New("shorter than a RADIUS header")
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > maxPacket || n > len(b) {
		return answer{}, fmt.Errorf("length field %d does not fit the %d bytes received", n, len(b))
	}
	b = b[:n] // octets past Length are padding (RFC 2865 3)
	if b[1] != q.id {
		return answer{}, errors.New("identifier does not match the request")
	}
	var a answer
	switch b[0] {
	case codeAccessAccept:
		a.code = Accept
	case codeAccessReject:
		a.code = Reject
	case codeAccessChallenge:
		a.code = Challenge
	default:
		return answer{}, fmt.Errorf("unexpected code %d", b[0])
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(q.auth[:])
	h.Write(b[headerLen:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), b[4:20]) {
		return answer{}, errors.New("bad Response Authenticator (wrong shared secret, or forged)")
	}
	attrs, err := radius.ParseAttributes(b[headerLen:])
	if err != nil {
		return answer{}, errors.New("malformed attributes")
	}
	maAt := -1 // offset of the Message-Authenticator's value in b
	off := headerLen
	var reply []string
	for _, at := range attrs {
		switch at.Type {
		case typeMessageAuthenticator:
			if maAt >= 0 {
				return answer{}, errors.New("more than one Message-Authenticator")
			}
			if len(at.Attribute) != 16 {
				return answer{}, errors.New("malformed Message-Authenticator")
			}
			maAt = off + 2
		case typeReplyMessage:
			reply = append(reply, string(at.Attribute))
		case typeState:
			if a.state == nil && a.code == Challenge {
				a.state = State(append([]byte(nil), at.Attribute...))
			}
		}
		off += 2 + len(at.Attribute)
	}
	if maAt >= 0 {
		c := append([]byte(nil), b...)
		copy(c[4:20], q.auth[:])
		clear(c[maAt : maAt+16])
		mac := hmac.New(md5.New, secret)
		mac.Write(c)
		if !hmac.Equal(mac.Sum(nil), b[maAt:maAt+16]) {
			return answer{}, errors.New("bad Message-Authenticator (forged, or altered on the way)")
		}
		a.hasMA = true
	} else if requireMA {
		return answer{}, errors.New("no Message-Authenticator (required; see require_message_authenticator)")
	}
	a.reply = sanitize(strings.Join(reply, " "))
	return a, nil
}

// sanitize makes a server's text safe to show on a terminal and log on one
// line (term.SanitizeLine), bounded and trimmed.
func sanitize(s string) string {
	return strings.TrimSpace(term.SanitizeLine(s, maxReplyShown))
}
