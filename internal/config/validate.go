package config

import (
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/logingate/logingate/internal/groups"
)

// Accepted values of the enum keys.
var (
	algorithms  = []string{"SHA1", "SHA256", "SHA512"}
	facilities  = []string{"auth", "authpriv", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	totpDigits  = []int{6, 8}
	maxIdentLen = 48 // RFC 5424 APP-NAME
)

// validate adds every problem of c to p.
func (c *Config) validate(p *problems) {

	oneOf(p, "failmode", c.Failmode, failmodes)
	if _, err := groups.Parse(c.Groups); err != nil {
		p.add("groups", 0, "%v", err)
	}
	oneOf(p, "unenrolled", c.Unenrolled, unenrolled)
	intRange(p, "prompts", c.Prompts, 1, 10)
	durRange(p, "prompt_timeout", c.PromptTimeout, time.Second, time.Hour)
	if durRange(p, "login_timeout", c.LoginTimeout, 5*time.Second, 24*time.Hour) && c.LoginTimeout < c.PromptTimeout {
		p.add("login_timeout", 0, "must be at least prompt_timeout, or the login ends before one prompt can")
	}
	c.validateHeadless(p)
	// "~/..." is the personal mode's: the caller's own home (from NSS, never
	// $HOME), and only an unprivileged gate accepts it (see PersonalDir).
	abs := c.StateDir
	if rest, ok := strings.CutPrefix(abs, "~/"); ok {
		abs = "/home/" + rest
	}
	switch {
	case !filepath.IsAbs(abs):
		p.add("state_dir", 0, "must be an absolute path, or ~/... for a personal gate")
	case filepath.Clean(abs) != abs:
		p.add("state_dir", 0, "must be a clean path: no trailing \"/\", \"//\", \".\" or \"..\"")
	case hasControl(c.StateDir):
		p.add("state_dir", 0, "must not contain control characters")
	}

	switch {
	case c.TOTP.Issuer == "":
		p.add("totp.issuer", 0, "must not be empty (it names this host in authenticator apps); set it")
	case strings.Contains(c.TOTP.Issuer, ":"):
		p.add("totp.issuer", 0, "must not contain \":\", which separates issuer and account in an otpauth label")
	case hasControl(c.TOTP.Issuer):
		p.add("totp.issuer", 0, "must not contain control characters")
	}
	if !slices.Contains(totpDigits, c.TOTP.Digits) {
		p.add("totp.digits", 0, "must be 6 or 8")
	}
	if c.TOTP.Period%time.Second != 0 || c.TOTP.Period < 15*time.Second || c.TOTP.Period > 120*time.Second {
		p.add("totp.period", 0, "must be whole seconds between 15s and 120s (authenticator apps assume 30s)")
	}
	oneOf(p, "totp.algorithm", c.TOTP.Algorithm, algorithms)
	intRange(p, "totp.window", c.TOTP.Window, 0, 3)

	if intRange(p, "backup_codes.count", c.BackupCodes.Count, 5, 20) {
		intRange(p, "backup_codes.warn_below", c.BackupCodes.WarnBelow, 0, c.BackupCodes.Count)
	} else if c.BackupCodes.WarnBelow < 0 {
		p.add("backup_codes.warn_below", 0, "must not be negative")
	}
	intRange(p, "rate_limit.failures", c.RateLimit.Failures, 1, 1000)
	durRange(p, "rate_limit.per", c.RateLimit.Per, time.Second, 24*time.Hour)

	oneOf(p, "syslog.facility", c.Syslog.Facility, facilities)
	switch id := c.Syslog.Ident; {
	case id == "":
		p.add("syslog.ident", 0, "must not be empty")
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		p.add("syslog.ident", 0, "must not contain spaces or control characters")
	case strings.ContainsAny(id, ":[]"):
		p.add("syslog.ident", 0, "must not contain \":\", \"[\" or \"]\", which end a syslog tag")
	case len(id) > maxIdentLen:
		p.add("syslog.ident", 0, "must be at most %d bytes", maxIdentLen)
	}
	checkPath(p, "syslog.socket", c.Syslog.Socket)
	c.validateDuo(p)
	c.validateRadius(p)
	c.validateStore(p)
}

func oneOf[T ~string](p *problems, key string, v T, allowed []T) {
	if slices.Contains(allowed, v) {
		return
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = `"` + string(a) + `"`
	}
	var list string
	if len(q) == 2 {
		list = q[0] + " or " + q[1]
	} else {
		list = "one of " + strings.Join(q, ", ")
	}
	p.add(key, 0, "must be %s", list)
}

func intRange(p *problems, key string, v, lo, hi int) bool {
	if v < lo || v > hi {
		p.add(key, 0, "must be between %d and %d", lo, hi)
		return false
	}
	return true
}

func durRange(p *problems, key string, v, lo, hi time.Duration) bool {
	if v < lo || v > hi {
		p.add(key, 0, "must be between %s and %s", shortDur(lo), shortDur(hi))
		return false
	}
	return true
}

// shortDur prints 1h, 5m, 30s instead of time's 1h0m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// normalizeAlgorithm upper-cases a known algorithm name written in any
// ASCII case ("sha256"); anything else is left for validate to refuse. At
// the same length, EqualFold can fold no non-ASCII letter into the name.
func normalizeAlgorithm(s string) string {
	for _, a := range algorithms {
		if len(s) == len(a) && strings.EqualFold(s, a) {
			return a
		}
	}
	return s
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
