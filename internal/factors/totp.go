package factors

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/logingate/logingate/internal/store"
)

// maxWindow is the largest number of steps either side of now that a TOTP
// check will look at. google-authenticator's largest window (-w 21) is 10
// steps either side; a larger value in a state record is treated as corrupt.
const maxWindow = 10

// minSecretBytes is the shortest key accepted: 80 bits, what older
// google-authenticator versions generated. New enrollments use 160 bits.
const minSecretBytes = 10

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpFactor checks authenticator-app codes for one user.
type totpFactor struct {
	st     store.Store
	user   string
	window int
	now    func() time.Time
	digits int // from the enrollment snapshot, for Accepts only
}

// NewTOTP returns the authenticator-app factor for user. window is the number
// of steps accepted either side of now when the user's state does not set its
// own. t is the enrollment as loaded for the menu; Accepts uses its digit
// count, Check always reads the current state under the store's lock.
func NewTOTP(st store.Store, user string, window int, now func() time.Time, t *store.TOTP) Factor {
	if now == nil {
		now = time.Now
	}
	f := &totpFactor{st: st, user: user, window: window, now: now}
	if t != nil {
		f.digits = t.Digits
	}
	return f
}

func (f *totpFactor) Name() string   { return "totp" }
func (f *totpFactor) Label() string  { return "Authenticator app code" }
func (f *totpFactor) Traits() Traits { return Traits{} }

// Accepts reports whether code is all digits with the enrolled length.
func (f *totpFactor) Accepts(code string) bool {
	return f.digits > 0 && len(code) == f.digits && allDigits(code)
}

// Check verifies code against the current enrollment and, on success,
// records its time step so that neither it nor any earlier step is accepted
// again. The decision and the write happen under one Update, so of several
// logins racing with the same code exactly one succeeds.
func (f *totpFactor) Check(ctx context.Context, code string) (Outcome, error) {
	return checkLocal(ctx, f.st, f.user, f, code, f.now)
}

// Verify checks code against st's enrollment at now over the window (the
// state's own, else the factor's). A match must be a later step than any
// accepted before; on success st.TOTP.LastStep records it. On failure st is
// unchanged.
func (f *totpFactor) Verify(st *store.UserState, code string, now time.Time) (Outcome, error) {
	t := st.TOTP
	if t == nil {
		return Outcome{Reason: ReasonWrong}, nil
	}
	w := f.window
	if t.Window != nil {
		w = *t.Window
	}
	step, ok, err := verifyTOTP(t, code, w, now)
	if err != nil {
		return Outcome{}, fmt.Errorf("totp: %w", err)
	}
	if !ok {
		return Outcome{Reason: ReasonWrong}, nil
	}
	if step <= t.LastStep {
		return Outcome{Reason: ReasonReplayed}, nil
	}
	t.LastStep = step
	return Outcome{OK: true}, nil
}

// checkLocal runs a Local factor's Verify inside one store update: the
// state is written only when the code was accepted, and the success is
// reported only once that write has landed.
func checkLocal(ctx context.Context, st store.Store, user string, f Local, code string, now func() time.Time) (Outcome, error) {
	var out Outcome
	err := st.Update(ctx, user, func(s *store.UserState) error {
		var err error
		out, err = f.Verify(s, code, now())
		if err != nil {
			return err
		}
		if !out.OK {
			return store.ErrUnchanged
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err // Verify's errors name the factor; the store's name the file
	}
	return out, nil
}

var (
	_ Local = (*totpFactor)(nil)
	_ Local = (*backupFactor)(nil)
)

// VerifyTOTP reports whether code is t's code for a time step within window
// steps of now, and which step matched. It does not look at t.LastStep: the
// caller decides about replays. When several steps in the window share the
// code, the latest one is returned, so that recording it also burns the
// others. Every step is computed and compared in constant time whatever
// matches. An unusable enrollment (bad secret, algorithm, digits, period or
// window) verifies nothing.
func VerifyTOTP(t *store.TOTP, code string, window int, now time.Time) (step int64, ok bool) {
	step, ok, err := verifyTOTP(t, code, window, now)
	if err != nil {
		return 0, false
	}
	return step, ok
}

func verifyTOTP(t *store.TOTP, code string, window int, now time.Time) (int64, bool, error) {
	k, err := parseTOTP(t)
	if err != nil {
		return 0, false, err
	}
	if window < 0 {
		window = 0
	}
	if window > maxWindow {
		return 0, false, fmt.Errorf("window %d is over the limit of %d", window, maxWindow)
	}
	cur := k.step(now)
	in := []byte(code)
	var matched int64
	found := 0
	for s := cur - int64(window); s <= cur+int64(window); s++ {
		if s < 0 {
			continue
		}
		c, err := k.code(uint64(s))
		if err != nil {
			return 0, false, err
		}
		eq := subtle.ConstantTimeCompare([]byte(c), in)
		// Keep the latest matching step without branching on the result.
		mask := -int64(eq)
		matched = (s & mask) | (matched &^ mask)
		found |= eq
	}
	return matched, found == 1, nil
}

// TOTPCode returns t's code for the time step containing at.
func TOTPCode(t *store.TOTP, at time.Time) (string, error) {
	k, err := parseTOTP(t)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	s := k.step(at)
	if s < 0 {
		return "", errors.New("totp: time before the epoch")
	}
	c, err := k.code(uint64(s))
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return c, nil
}

// totpKey is a validated enrollment, ready to compute codes.
type totpKey struct {
	secret string // canonical base32, no padding
	period int64
	opts   hotp.ValidateOpts
}

func (k totpKey) step(at time.Time) int64 {
	u := at.Unix()
	s := u / k.period
	if u%k.period < 0 {
		s-- // floor, also before 1970
	}
	return s
}

func (k totpKey) code(counter uint64) (string, error) {
	c, err := hotp.GenerateCodeCustom(k.secret, counter, k.opts)
	if err != nil {
		// pquerna/otp's errors do not quote the secret, but keep ours fixed.
		return "", errors.New("cannot compute code")
	}
	return c, nil
}

func parseTOTP(t *store.TOTP) (totpKey, error) {
	if t == nil {
		return totpKey{}, errors.New("no enrollment")
	}
	secret, err := decodeSecret(string(t.Secret))
	if err != nil {
		return totpKey{}, err
	}
	alg, err := parseAlgorithm(t.Algorithm)
	if err != nil {
		return totpKey{}, err
	}
	if t.Digits != 6 && t.Digits != 8 {
		return totpKey{}, fmt.Errorf("%d digits, want 6 or 8", t.Digits)
	}
	if t.Period < 1 || t.Period > 3600 {
		return totpKey{}, fmt.Errorf("period %ds out of range 1..3600", t.Period)
	}
	return totpKey{
		secret: secret,
		period: int64(t.Period),
		opts:   hotp.ValidateOpts{Digits: otp.Digits(t.Digits), Algorithm: alg},
	}, nil
}

// normaliseSecret returns a base32 secret upper-cased, without white space
// or '=' padding: the form authenticator apps show is often grouped and
// lower-case, and pquerna/otp fails on inner spaces.
func normaliseSecret(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '\v', '\f', '=':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// decodeSecret normalises s, checks that it is valid base32 of a usable
// length and returns it in canonical form. Errors never quote the secret.
func decodeSecret(s string) (string, error) {
	n := normaliseSecret(s)
	// Decode exactly as pquerna/otp will: padded, standard alphabet. (The
	// unpadded decoder also takes lengths that no padding makes valid.)
	raw, err := base32.StdEncoding.DecodeString(n + strings.Repeat("=", (8-len(n)%8)%8))
	if err != nil {
		return "", errors.New("secret is not valid base32")
	}
	if len(raw) < minSecretBytes {
		return "", fmt.Errorf("secret is %d bits, want at least %d", 8*len(raw), 8*minSecretBytes)
	}
	return b32.EncodeToString(raw), nil // canonical: the key bytes, re-encoded
}

func parseAlgorithm(a string) (otp.Algorithm, error) {
	switch strings.ToUpper(a) {
	case "SHA1":
		return otp.AlgorithmSHA1, nil
	case "SHA256":
		return otp.AlgorithmSHA256, nil
	case "SHA512":
		return otp.AlgorithmSHA512, nil
	}
	return 0, errors.New("algorithm must be SHA1, SHA256 or SHA512")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
