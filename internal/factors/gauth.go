package factors

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/store"
)

// maxGoogleAuthFile bounds what ParseGoogleAuthenticator reads.
const maxGoogleAuthFile = 64 << 10

// maxGoogleAuthWindow is the largest WINDOW_SIZE google-authenticator itself
// writes (-w 1..21); wider windows are refused on import.
const maxGoogleAuthWindow = 2*maxWindow + 1

// GoogleAuthFile is a parsed google-authenticator secrets file
// (~/.google_authenticator) of a time-based enrollment.
type GoogleAuthFile struct {
	Secret        store.Secret // line 1, normalised base32
	StepSize      int          // STEP_SIZE seconds; 30 when absent
	WindowSize    int          // WINDOW_SIZE codes valid at once; 3 when absent
	DisallowReuse bool         // DISALLOW_REUSE present
	UsedSteps     []int64      // time steps listed after DISALLOW_REUSE
	RateLimit     [2]int       // RATE_LIMIT attempts and seconds; zero when absent
	TimeSkew      int          // TIME_SKEW in steps, learned by the PAM module; not imported
	ScratchCodes  []store.Secret
}

// googleAuthError is a parse error. Msg is one of a fixed set of texts and
// never contains any of the file's content.
type googleAuthError struct {
	Line int // 1-based; 0 for the file as a whole
	Msg  string
}

func (e *googleAuthError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// The parse error texts. Keep them constant: a test checks that every error
// is one of these, which is how we know no file content leaks into them.
const (
	gaTooLarge     = "file is larger than 64 KiB"
	gaNUL          = "file contains a NUL byte"
	gaNoSecret     = "no secret on the first line"
	gaBadSecret    = "secret is not valid base32 of at least 80 bits"
	gaBadOption    = "malformed option line"
	gaDupOption    = "option given twice"
	gaBadRateLimit = "RATE_LIMIT wants attempts 1..100, seconds 1..3600 and time stamps"
	gaBadWindow    = "WINDOW_SIZE wants a number 1..100"
	gaBadReuse     = "DISALLOW_REUSE wants time steps"
	gaBadStep      = "STEP_SIZE wants a number 1..60"
	gaBadSkew      = "TIME_SKEW wants a number"
	gaHOTP         = "HOTP_COUNTER: this is a counter-based (HOTP) enrollment; logingate imports time-based (TOTP) ones only"
	gaNotTOTP      = "no TOTP_AUTH line: not a time-based (TOTP) enrollment; logingate imports TOTP only"
	gaBadScratch   = "not an option and not an 8-digit scratch code"
	gaTooManyCodes = "more than 100 scratch codes"
)

var gaMessages = []string{gaTooLarge, gaNUL, gaNoSecret, gaBadSecret, gaBadOption, gaDupOption,
	gaBadRateLimit, gaBadWindow, gaBadReuse, gaBadStep, gaBadSkew, gaHOTP, gaNotTOTP,
	gaBadScratch, gaTooManyCodes}

// ParseGoogleAuthenticator reads a google-authenticator secrets file: the
// base32 secret on line 1, option lines starting with `" `, and 8-digit
// scratch codes (a leading zero is fine). Blank lines and CRLF endings are
// tolerated, unknown options are ignored as the PAM module ignores them, and
// anything else is an error naming the line. Counter-based (HOTP) files are
// refused. At most 64 KiB is read.
func ParseGoogleAuthenticator(r io.Reader) (*GoogleAuthFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxGoogleAuthFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading google-authenticator file: %w", err)
	}
	if len(data) > maxGoogleAuthFile {
		return nil, &googleAuthError{Msg: gaTooLarge}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &googleAuthError{Msg: gaNUL}
	}
	f := &GoogleAuthFile{StepSize: 30, WindowSize: 3}
	seen := map[string]bool{}
	totp := false
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if n == 1 {
			if strings.TrimSpace(line) == "" {
				return nil, &googleAuthError{Line: n, Msg: gaNoSecret}
			}
			s, err := decodeSecret(line)
			if err != nil {
				return nil, &googleAuthError{Line: n, Msg: gaBadSecret}
			}
			f.Secret = store.Secret(s)
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != '"' {
			if len(line) != numericCodeLen || !allDigits(line) {
				return nil, &googleAuthError{Line: n, Msg: gaBadScratch}
			}
			if len(f.ScratchCodes) == maxBackupCodes {
				return nil, &googleAuthError{Line: n, Msg: gaTooManyCodes}
			}
			f.ScratchCodes = append(f.ScratchCodes, store.Secret(line))
			continue
		}
		fields := strings.Fields(line[1:])
		if !strings.HasPrefix(line, `" `) || len(fields) == 0 {
			return nil, &googleAuthError{Line: n, Msg: gaBadOption}
		}
		key, args := fields[0], fields[1:]
		if seen[key] {
			return nil, &googleAuthError{Line: n, Msg: gaDupOption}
		}
		seen[key] = true
		if msg := f.option(key, args, &totp); msg != "" {
			return nil, &googleAuthError{Line: n, Msg: msg}
		}
	}
	if !totp {
		return nil, &googleAuthError{Msg: gaNotTOTP}
	}
	return f, nil
}

// option applies one option line and returns an error text, or "".
func (f *GoogleAuthFile) option(key string, args []string, totp *bool) string {
	switch key {
	case "TOTP_AUTH":
		*totp = true
	case "HOTP_COUNTER":
		return gaHOTP
	case "DISALLOW_REUSE":
		f.DisallowReuse = true
		for _, a := range args {
			s, err := strconv.ParseInt(a, 10, 64)
			if err != nil || s < 0 {
				return gaBadReuse
			}
			f.UsedSteps = append(f.UsedSteps, s)
		}
	case "WINDOW_SIZE":
		v, ok := oneInt(args, 1, 100)
		if !ok {
			return gaBadWindow
		}
		f.WindowSize = v
	case "STEP_SIZE":
		v, ok := oneInt(args, 1, 60)
		if !ok {
			return gaBadStep
		}
		f.StepSize = v
	case "TIME_SKEW":
		v, ok := oneInt(args, -1<<30, 1<<30)
		if !ok {
			return gaBadSkew
		}
		f.TimeSkew = v
	case "RATE_LIMIT":
		if len(args) < 2 {
			return gaBadRateLimit
		}
		a, ok1 := oneInt(args[:1], 1, 100)
		s, ok2 := oneInt(args[1:2], 1, 3600)
		if !ok1 || !ok2 {
			return gaBadRateLimit
		}
		for _, ts := range args[2:] {
			if _, err := strconv.ParseUint(ts, 10, 32); err != nil {
				return gaBadRateLimit
			}
		}
		f.RateLimit = [2]int{a, s}
	}
	// Anything else (RESETTING_TIME_SKEW, future options) is ignored, as
	// the PAM module ignores options it does not look for.
	return ""
}

func oneInt(args []string, lo, hi int) (int, bool) {
	if len(args) != 1 {
		return 0, false
	}
	v, err := strconv.Atoi(args[0])
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

// ToState turns the file into logingate state: a TOTP enrollment with
// google-authenticator's fixed SHA1 and 6 digits, its step size, a window of
// (WINDOW_SIZE-1)/2 steps either side (the default 3 gives 1), LastStep from
// the steps DISALLOW_REUSE lists as used, and the scratch codes as hashed
// single-use backup codes of kind "numeric" (nil when there are none).
// TIME_SKEW is not carried over: logingate learns no skew.
func (f *GoogleAuthFile) ToState(p store.HashParams, now time.Time) (*store.TOTP, *store.Backup, error) {
	if f.WindowSize < 1 || f.WindowSize > maxGoogleAuthWindow {
		return nil, nil, fmt.Errorf("google-authenticator WINDOW_SIZE %d is wider than logingate allows (1..%d)",
			f.WindowSize, maxGoogleAuthWindow)
	}
	secret, err := decodeSecret(string(f.Secret))
	if err != nil {
		return nil, nil, fmt.Errorf("google-authenticator secret: %w", err)
	}
	w := (f.WindowSize - 1) / 2
	t := &store.TOTP{
		Secret:    store.Secret(secret),
		Algorithm: "SHA1",
		Digits:    6,
		Period:    f.StepSize,
		Window:    &w,
		Created:   now,
	}
	for _, s := range f.UsedSteps {
		t.LastStep = max(t.LastStep, s)
	}
	if _, err := parseTOTP(t); err != nil {
		return nil, nil, fmt.Errorf("google-authenticator secret: %w", err)
	}
	if len(f.ScratchCodes) == 0 {
		return t, nil, nil
	}
	b := &store.Backup{Scheme: BackupScheme, Params: p, Created: now}
	for i, c := range f.ScratchCodes {
		h, err := HashBackupCode(BackupKindNumeric, string(c), p)
		if err != nil {
			return nil, nil, fmt.Errorf("google-authenticator scratch code %d: %w", i+1, err)
		}
		b.Codes = append(b.Codes, h)
	}
	return t, b, nil
}
