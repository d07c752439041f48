package filestore

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/store"
)

// errNewerFormat marks state written by a newer logingate, whose format
// this one cannot read.
var errNewerFormat = errors.New("written by a newer logingate")

// Bounds on what a state record may hold. They reject corrupt or hand-broken
// records, and a record that would make checking a code absurdly costly.
const (
	minSecretBytes = 10 // 80 bits, what old google-authenticator files hold
	maxSecretBytes = 128
	maxWindow      = 50 // google-authenticator's largest WINDOW_SIZE, 100, is 50 either side
	maxCodes       = 100
	minSalt        = 8
	maxSalt        = 64
	minHash        = 16
	maxHash        = 64
	maxSelector    = 4
	maxHashTime    = 64
	maxHashMemKiB  = 1 << 20 // 1 GiB
	maxTextLen     = 255     // last_success.from and .factor
)

// backupSchemes are the backup-code hash schemes a record may name.
var backupSchemes = []string{"argon2id", "scrypt"}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// owner is whose state a record is. The file backend writes it into every
// record and refuses a record found in another user's directory, so that
// state moved, copied or planted there (a directory another user made
// under a mode 1733 state directory) is not taken for that user's.
// Records written before it existed have none, and get one at their next
// write.
type owner struct {
	User string `json:"user,omitempty"`
	UID  *int   `json:"uid,omitempty"`
}

// record is a state file: the state and whose it is.
type record struct {
	store.UserState
	owner
}

// Decode parses one state record strictly: exactly one JSON object, no
// unknown fields, the current format version, and sane field values. Its
// errors never quote the input, which holds secrets. The record's owner is
// checked for shape and dropped; see decodeOwned.
func Decode(b []byte) (*store.UserState, error) {
	st, _, err := decodeOwned(b)
	return st, err
}

// decodeOwned is Decode that also returns whose the record says it is.
func decodeOwned(b []byte) (*store.UserState, owner, error) {
	if len(b) > MaxStateSize {
		return nil, owner{}, fmt.Errorf("state is %d bytes, over the %d-byte limit", len(b), MaxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r record
	if err := dec.Decode(&r); err != nil {
		return nil, owner{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, owner{}, errors.New("data after the state object")
	}
	if err := validate(&r.UserState); err != nil {
		return nil, owner{}, err
	}
	if err := validateOwner(r.owner); err != nil {
		return nil, owner{}, err
	}
	return &r.UserState, r.owner, nil
}

// Encode checks st and returns the record to write, with Version set to
// store.FormatVersion. It refuses what Decode would refuse, so that logingate
// never writes state it cannot read back. st itself is not changed.
func Encode(st *store.UserState) ([]byte, error) { return encodeOwned(st, owner{}) }

// encodeOwned is Encode for a record that says whose it is.
func encodeOwned(st *store.UserState, o owner) ([]byte, error) {
	if st == nil {
		return nil, errors.New("refusing to write invalid state: no state")
	}
	r := record{UserState: *st, owner: o}
	r.Version = store.FormatVersion
	if err := validate(&r.UserState); err != nil {
		return nil, fmt.Errorf("refusing to write invalid state: %w", err)
	}
	if err := validateOwner(o); err != nil {
		return nil, fmt.Errorf("refusing to write invalid state: %w", err)
	}
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("refusing to write invalid state: %w", jsonError(err))
	}
	b = append(b, '\n')
	if len(b) > MaxStateSize {
		return nil, fmt.Errorf("refusing to write state of %d bytes, over the %d-byte limit", len(b), MaxStateSize)
	}
	return b, nil
}

func validateOwner(o owner) error {
	if o.User != "" && ValidateUser(o.User) != nil {
		return errors.New("user is not a valid user name")
	}
	if o.UID != nil && *o.UID < 0 {
		return errors.New("uid must not be negative")
	}
	return nil
}

// schemaName matches the field names this format uses. An unknown field is
// named in an error only when it looks like one, so that a secret pasted in
// the wrong place is not echoed (base32 secrets are upper case).
// (Byte tests rather than regular expressions here: a regexp compiled at
// package initialisation costs every login its time, wanted or not.)
func schemaName(s string) bool {
	return len(s) >= 1 && len(s) <= 32 && isLower(s[0]) &&
		allBytes(s, func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' })
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allBytes reports whether every byte of s passes ok.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// jsonError turns an encoding/json error into one that says where the
// record is broken without quoting any of it.
func jsonError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		timeErr  *time.ParseError
		base64Er base64.CorruptInputError
	)
	switch {
	case err == io.EOF:
		return errors.New("empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Errorf("not a JSON object of state (found a JSON %s)", jsonKind(typ.Value))
		}
		// The state's fields are a record's embedded UserState's.
		field := strings.TrimPrefix(strings.TrimPrefix(typ.Field, "UserState."), "owner.")
		return fmt.Errorf("field %s has the wrong type (a JSON %s)", field, jsonKind(typ.Value))
	case errors.As(err, &timeErr):
		return errors.New("a time is not in RFC 3339 format")
	case errors.As(err, &base64Er):
		return errors.New("a salt or hash is not valid base64")
	}
	const unknown = `json: unknown field "`
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		if name := strings.TrimSuffix(msg[len(unknown):], `"`); schemaName(name) {
			return fmt.Errorf("unknown field %q", name)
		}
		return errors.New("unknown field")
	}
	return errors.New("invalid JSON value")
}

// jsonKind reduces UnmarshalTypeError.Value ("number 42", "string") to its
// kind, dropping any value.
func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	switch kind {
	case "bool", "string", "number", "array", "object", "null":
		return kind
	}
	return "value"
}

var (
	totpAlgs  = map[string]bool{"SHA1": true, "SHA256": true, "SHA512": true}
	codeKinds = map[string]bool{"base32": true, "numeric": true, "selector": true}
)

// validate checks field values; messages name fields, never values.
func validate(st *store.UserState) error {
	switch {
	case st.Version == 0:
		return errors.New("no format version")
	case st.Version > store.FormatVersion:
		return fmt.Errorf("format version %d %w (this one reads version %d)", st.Version, errNewerFormat, store.FormatVersion)
	case st.Version != store.FormatVersion:
		return fmt.Errorf("unsupported format version %d", st.Version)
	}
	if t := st.TOTP; t != nil {
		if err := validateTOTP(t); err != nil {
			return err
		}
	}
	if b := st.Backup; b != nil {
		if err := validateBackup(b); err != nil {
			return err
		}
	}
	if err := validateTrusted(st.Trusted); err != nil {
		return err
	}
	if e := st.LastSuccess; e != nil {
		if !printable(e.Factor, 1) {
			return fmt.Errorf("last_success.factor must be 1 to %d printable characters", maxTextLen)
		}
		if !printable(e.From, 0) {
			return fmt.Errorf("last_success.from must be at most %d printable characters", maxTextLen)
		}
	}
	return nil
}

func validateTOTP(t *store.TOTP) error {
	secret := string(t.Secret)
	if !base32Chars(secret) {
		return errors.New("totp.secret must be base32 (A-Z, 2-7) without padding")
	}
	// Go's decoder without padding accepts any length; base32 has no
	// encoding whose last group is 1, 3 or 6 characters long.
	key, err := base32NoPad.DecodeString(secret)
	if r := len(secret) % 8; err != nil || r == 1 || r == 3 || r == 6 {
		return errors.New("totp.secret has a length that is not valid base32")
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return fmt.Errorf("totp.secret must hold %d to %d bytes", minSecretBytes, maxSecretBytes)
	}
	switch {
	case !totpAlgs[t.Algorithm]:
		return errors.New("totp.algorithm must be SHA1, SHA256 or SHA512")
	case t.Digits != 6 && t.Digits != 8:
		return errors.New("totp.digits must be 6 or 8")
	case t.Period < 1 || t.Period > 300:
		return errors.New("totp.period must be 1 to 300 seconds")
	case t.Window != nil && (*t.Window < 0 || *t.Window > maxWindow):
		return fmt.Errorf("totp.window must be 0 to %d steps", maxWindow)
	case t.LastStep < 0:
		return errors.New("totp.last_step must not be negative")
	}
	return nil
}

func validateBackup(b *store.Backup) error {
	known := false
	for _, s := range backupSchemes {
		known = known || b.Scheme == s
	}
	p := b.Params
	switch {
	case !known:
		return fmt.Errorf("backup.scheme must be one of %s", strings.Join(backupSchemes, ", "))
	case p.Time < 1 || p.Time > maxHashTime:
		return fmt.Errorf("backup.params.time must be 1 to %d", maxHashTime)
	case p.MemKiB < 1 || p.MemKiB > maxHashMemKiB:
		return fmt.Errorf("backup.params.mem_kib must be 1 to %d", maxHashMemKiB)
	case p.Threads < 1:
		return errors.New("backup.params.threads must be at least 1")
	case len(b.Codes) > maxCodes:
		return fmt.Errorf("backup.codes holds more than %d codes", maxCodes)
	}
	for i, c := range b.Codes {
		switch {
		case !codeKinds[c.Kind]:
			return fmt.Errorf("backup.codes[%d].kind must be base32, numeric or selector", i)
		case (c.Kind == "selector") != (c.Selector != ""):
			return fmt.Errorf("backup.codes[%d].selector is set for kind selector, and only for it", i)
		case len(c.Selector) > maxSelector || !allBytes(c.Selector, isCrockford):
			return fmt.Errorf("backup.codes[%d].selector must be up to %d characters of Crockford's base32", i, maxSelector)
		case len(c.Salt) < minSalt || len(c.Salt) > maxSalt:
			return fmt.Errorf("backup.codes[%d].salt must be %d to %d bytes", i, minSalt, maxSalt)
		case len(c.Hash) < minHash || len(c.Hash) > maxHash:
			return fmt.Errorf("backup.codes[%d].hash must be %d to %d bytes", i, minHash, maxHash)
		}
	}
	return nil
}

// printable reports whether s has minLen to maxTextLen bytes and no control
// characters.
func printable(s string, minLen int) bool {
	if len(s) < minLen || len(s) > maxTextLen {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return false
		}
	}
	return true
}

// isCrockford: a character of Crockford's base32 alphabet, upper case.
func isCrockford(c byte) bool {
	return (c >= '0' && c <= '9') || (isUpper(c) && c != 'I' && c != 'L' && c != 'O' && c != 'U')
}

// base32Chars: a non-empty run of the base32 alphabet, unpadded.
func base32Chars(s string) bool {
	return s != "" && allBytes(s, func(c byte) bool { return isUpper(c) || (c >= '2' && c <= '7') })
}

// trustedID: 8 to 32 lower-case hex digits.
func trustedID(s string) bool {
	return len(s) >= 8 && len(s) <= 32 && allBytes(s, func(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') })
}

// fingerprint: "SHA256:" and 43 characters of unpadded base64.
func fingerprint(s string) bool {
	b64, ok := strings.CutPrefix(s, "SHA256:")
	return ok && len(b64) == 43 &&
		allBytes(b64, func(c byte) bool { return isUpper(c) || isLower(c) || isDigit(c) || c == '+' || c == '/' })
}

// validateTrusted checks the trusted windows: bounded in number, unique
// ids, a SHA256 key fingerprint, a canonical IP address, and a window no
// longer than store.MaxGrace.
func validateTrusted(list []store.TrustedSession) error {
	if len(list) > store.MaxTrusted {
		return fmt.Errorf("trusted holds more than %d sessions", store.MaxTrusted)
	}
	seen := map[string]bool{}
	for i, t := range list {
		addr, err := netip.ParseAddr(t.From)
		switch {
		case !trustedID(t.ID):
			return fmt.Errorf("trusted[%d].id must be 8 to 32 lower-case hex digits", i)
		case seen[t.ID]:
			return fmt.Errorf("trusted[%d].id is used twice", i)
		case !fingerprint(t.KeyFingerprint):
			return fmt.Errorf("trusted[%d].key_fingerprint must be SHA256: and 43 base64 characters", i)
		case err != nil || addr.Zone() != "" || addr.Is4In6() || addr.String() != t.From:
			return fmt.Errorf("trusted[%d].from must be an IP address in canonical form", i)
		case t.Created.IsZero() || t.Until.IsZero():
			return fmt.Errorf("trusted[%d] needs created and until", i)
		case !t.Until.After(t.Created) || t.Until.Sub(t.Created) > store.MaxGrace:
			return fmt.Errorf("trusted[%d].until must be after created, by at most %s", i, store.MaxGrace)
		}
		seen[t.ID] = true
	}
	return nil
}
