package duotest

import (
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"time"
)

// This file checks request credentials the way the Duo Auth API v2 service
// does. It is written from the published description, not from the client
// library, so that a canonicalisation mistake on either side shows up as a 401.

// maxSkew is how far the request date may be from the server's clock.
const maxSkew = 300 * time.Second

// credError is a 401 answer: Duo's code and message.
type credError struct {
	code    int
	message string
}

var (
	errNoCreds = &credError{40101, "Missing request credentials"}
	errBadIKey = &credError{40102, "Invalid integration key in request credentials"}
	errBadSig  = &credError{40103, "Invalid signature in request credentials"}
	errBadDate = &credError{40104, "Missing or invalid request date"}
	errTooSkew = &credError{40105, "Request date too far from the server's clock"}
)

// escape percent-encodes s as RFC 3986 says: every byte outside the
// unreserved set A-Z a-z 0-9 - . _ ~ becomes %XX with uppercase hex.
func escape(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&0xf])
		}
	}
	return b.String()
}

// canonParams is the params line: key=value pairs, encoded, sorted, joined by &.
func canonParams(params url.Values) string {
	var pairs []string
	for k, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, escape(k)+"="+escape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// canonical is the string Auth API v2 signs.
func canonical(date, method, host, path string, params url.Values) string {
	return strings.Join([]string{
		date,
		strings.ToUpper(method),
		strings.ToLower(host),
		path,
		canonParams(params),
	}, "\n")
}

// signature is the hex HMAC-SHA512 of the canonical string under skey.
func signature(skey, canon string) string {
	mac := hmac.New(sha512.New, []byte(skey))
	mac.Write([]byte(canon))
	return hex.EncodeToString(mac.Sum(nil))
}

// authorization is the header value a correct client sends, for tests that
// build requests by hand.
func authorization(ikey, skey, date, method, host, path string, params url.Values) string {
	sig := signature(skey, canonical(date, method, host, path, params))
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig))
}

// verify checks the Authorization and date headers of one request. keys maps
// each known ikey to its skey.
func verify(keys map[string]string, authz, xDuoDate, date, method, host, path string,
	params url.Values, now time.Time) *credError {
	d := xDuoDate
	if d == "" {
		d = date
	}
	if authz == "" {
		return errNoCreds
	}
	if d == "" {
		return errBadDate
	}
	t, err := time.Parse(time.RFC1123Z, d)
	if err != nil {
		return errBadDate
	}
	if skew := now.Sub(t); skew > maxSkew || skew < -maxSkew {
		return errTooSkew
	}
	scheme, cred, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return errBadSig
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return errBadSig
	}
	ikey, sig, ok := strings.Cut(string(raw), ":")
	if !ok {
		return errBadSig
	}
	skey, known := keys[ikey]
	if !known {
		return errBadIKey
	}
	want := signature(skey, canonical(d, method, host, path, params))
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
		return errBadSig
	}
	return nil
}
