// Package config reads logingate's configuration once into a typed,
// validated Config: its own YAML file, or a login_duo INI file used as a
// drop-in (loginduo.go). Any error names the file and the key (and the line
// in a login_duo file); a config that cannot be read, parsed or validated
// must deny every login.
package config

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// DefaultPath is where the gate looks without -c.
const DefaultPath = "/etc/logingate/logingate.yaml"

// LoginDuoPath is login_duo's own default file, read without -c when
// DefaultPath does not exist (see DefaultFile).
const LoginDuoPath = "/etc/duo/login_duo.conf"

// DefaultFile is the config a command without -c reads: yamlPath, unless it
// does not exist and loginDuoPath does. So swapping the binary in
// "ForceCommand /usr/sbin/login_duo" keeps reading login_duo's file. Any
// other error on yamlPath keeps it, so that Load reports that error.
// The paths are parameters so that tests need no file in /etc.
func DefaultFile(yamlPath, loginDuoPath string) string {
	if _, err := os.Lstat(yamlPath); !errors.Is(err, os.ErrNotExist) {
		return yamlPath
	}
	if _, err := os.Lstat(loginDuoPath); err == nil {
		return loginDuoPath
	}
	return yamlPath
}

// Config is the whole, validated configuration.
type Config struct {
	Path string `mapstructure:"-"` // the file it was read from

	// DropIn is true when Path is a login_duo INI file (see loginduo.go):
	// login_duo's keys, defaults and log wording apply.
	DropIn bool `mapstructure:"-"`
	// FailmodeDefaulted is true when a login_duo file does not set
	// failmode, so that login_duo's default, safe, applies: the gate logs
	// that at each start. Always false for the YAML config, whose default
	// is secure.
	FailmodeDefaulted bool `mapstructure:"-"`
	// LocalFactors is false when only Duo is configured (a login_duo file):
	// no TOTP, no backup codes, no local rate limit, no trusted windows,
	// so no local state at all; StateDir keeps its default and must not be
	// opened. The YAML config always has them (true); Default sets true.
	LocalFactors bool `mapstructure:"-"`

	// Warnings are what a login_duo file asks that login_duo reads one way
	// and an operator may mean another ("autopush = Yes" is no, a key set
	// twice keeps the last): the gate logs each at every login.
	Warnings []string `mapstructure:"-"`
	// Motd prints /etc/motd after an interactive login that Duo let in,
	// as login_duo's motd = yes does (a login_duo file only).
	Motd bool `mapstructure:"-"`

	Failmode        Failmode      `mapstructure:"failmode"`
	Groups          []string      `mapstructure:"groups"` // login_duo pattern-lists, OR-ed
	Unenrolled      Unenrolled    `mapstructure:"unenrolled"`
	Prompts         int           `mapstructure:"prompts"` // 1..10
	PromptTimeout   time.Duration `mapstructure:"prompt_timeout"`
	LoginTimeout    time.Duration `mapstructure:"login_timeout"`
	AcceptEnvFactor bool          `mapstructure:"accept_env_factor"`
	Headless        Headless      `mapstructure:"headless"`     // push needs Duo
	GracePeriod     time.Duration `mapstructure:"grace_period"` // 0 (off) or up to 7 days
	// AuthorizedKeysFiles are sshd's AuthorizedKeysFile patterns (%h, %u,
	// %U, %%; relative to the home directory), where logingate looks up the
	// key a session used for its own command="..." option.
	AuthorizedKeysFiles []string    `mapstructure:"authorized_keys_files"`
	StateDir            string      `mapstructure:"state_dir"`
	TOTP                TOTP        `mapstructure:"totp"`
	BackupCodes         BackupCodes `mapstructure:"backup_codes"`
	RateLimit           RateLimit   `mapstructure:"rate_limit"`
	Syslog              Syslog      `mapstructure:"syslog"`
	Duo                 *Duo        `mapstructure:"duo"`    // nil when Duo is not configured
	Radius              *Radius     `mapstructure:"radius"` // nil when RADIUS is not configured
	Store               Store       `mapstructure:"store"`
}

// Duo is the Duo Auth API v2 integration (login_duo's keys). Load fills
// SKey from SKeyFile and CAPEM from CAFile after checking both files.
type Duo struct {
	Host     string `mapstructure:"host"`      // API host[:port], e.g. api-XXXXXXXX.duosecurity.com
	IKey     string `mapstructure:"ikey"`      // integration key
	SKey     string `mapstructure:"skey"`      // secret key; never printed (see String)
	SKeyFile string `mapstructure:"skey_file"` // or a file holding it (exclusive with SKey)
	// Autopush pushes to the default device first and falls back to the
	// menu if that fails; Pushinfo sends the (sanitised) command with it.
	Autopush bool `mapstructure:"autopush"`
	Pushinfo bool `mapstructure:"pushinfo"`
	// HTTPSTimeout bounds each HTTP exchange; 0 means none (login_timeout
	// still bounds the whole login). Default 15s in YAML, none in a
	// login_duo file (login_duo's default).
	HTTPSTimeout time.Duration `mapstructure:"https_timeout"`
	// HTTPProxy is "" (direct) or an http:// or https:// URL with a host,
	// optional port and user info (a credential: never print it). It comes
	// from the config only, never the environment.
	HTTPProxy string `mapstructure:"http_proxy"`
	// CAFile is a PEM bundle to trust instead of the Duo CAs the client
	// pins; CAPEM is its content as read and checked by Load.
	CAFile string `mapstructure:"cafile"`
	CAPEM  []byte `mapstructure:"-"`
	// NoVerify turns certificate verification off: allowed, logged loudly
	// at every login. In YAML it contradicts CAFile; in a login_duo file it
	// wins over CAFile, as in login_duo.
	NoVerify bool `mapstructure:"noverify"`

	// The login_duo keys below are read from a login_duo file only.

	// SendGECOS sends a field of the user's GECOS as the Duo username:
	// field GECOSPos (1-based; 0 = the whole GECOS) split at GECOSDelim.
	SendGECOS  bool   `mapstructure:"-"`
	GECOSPos   int    `mapstructure:"-"`
	GECOSDelim string `mapstructure:"-"` // one character, "," by default
	// FallbackLocalIP sends this server's address as ipaddr when the
	// session's client address is not an IP address.
	FallbackLocalIP bool `mapstructure:"-"`
	// VerifiedPush asks Duo for Verified Push: the user types the number
	// shown on the terminal into Duo Mobile. Not with Autopush.
	VerifiedPush bool `mapstructure:"-"`
}

// String prints d without its secret key, so that %v and %+v are safe.
func (d Duo) String() string {
	skey := ""
	if d.SKey != "" {
		skey = "REDACTED"
	}
	return fmt.Sprintf("{Host:%s IKey:%s SKey:%s SKeyFile:%s Autopush:%t Pushinfo:%t HTTPSTimeout:%s HTTPProxy:%s CAFile:%s CAPEM:%d bytes NoVerify:%t SendGECOS:%t GECOSPos:%d GECOSDelim:%q FallbackLocalIP:%t VerifiedPush:%t}",
		d.Host, d.IKey, skey, d.SKeyFile, d.Autopush, d.Pushinfo, d.HTTPSTimeout, redactProxy(d.HTTPProxy), d.CAFile, len(d.CAPEM), d.NoVerify,
		d.SendGECOS, d.GECOSPos, d.GECOSDelim, d.FallbackLocalIP, d.VerifiedPush)
}

// GoString is String, for %#v.
func (d Duo) GoString() string { return "config.Duo" + d.String() }

// TOTP configures new enrollments and verification.
type TOTP struct {
	Issuer    string        `mapstructure:"issuer"` // default: the host name
	Digits    int           `mapstructure:"digits"` // 6 | 8
	Period    time.Duration `mapstructure:"period"` // whole seconds, 15s..120s
	Algorithm string        `mapstructure:"algorithm"`
	Window    int           `mapstructure:"window"` // steps accepted either side, 0..3
}

// BackupCodes configures single-use backup codes.
type BackupCodes struct {
	Count     int `mapstructure:"count"`      // codes per set, 5..20
	WarnBelow int `mapstructure:"warn_below"` // warn when fewer remain
}

// RateLimit bounds failed attempts per user.
type RateLimit struct {
	Failures int           `mapstructure:"failures"` // failures allowed within Per
	Per      time.Duration `mapstructure:"per"`
}

// Syslog is where audit lines go.
type Syslog struct {
	Facility string `mapstructure:"facility"`
	Ident    string `mapstructure:"ident"`
	Socket   string `mapstructure:"socket"`
}

// Default returns the built-in defaults, the values of the shipped
// etc/logingate.yaml. hostname fills totp.issuer.
func Default(hostname string) Config {
	return Config{
		Failmode:            FailmodeSecure,
		Groups:              []string{"*"},
		Unenrolled:          UnenrolledDeny,
		Prompts:             3,
		PromptTimeout:       60 * time.Second,
		LoginTimeout:        3 * time.Minute,
		Headless:            HeadlessDeny,
		GracePeriod:         8 * time.Hour,
		AuthorizedKeysFiles: []string{"%h/.ssh/authorized_keys", "%h/.ssh/authorized_keys2"},
		StateDir:            "/var/lib/logingate",
		TOTP:                TOTP{Issuer: hostname, Digits: 6, Period: 30 * time.Second, Algorithm: "SHA1", Window: 1},
		BackupCodes:         BackupCodes{Count: 10, WarnBelow: 3},
		RateLimit:           RateLimit{Failures: 5, Per: 5 * time.Minute},
		Syslog:              Syslog{Facility: "authpriv", Ident: "logingate", Socket: "/dev/log"},
		LocalFactors:        true,
		Store:               defaultStore(hostname),
	}
}

// defaultDuo returns the defaults of a duo: section in the YAML config.
func defaultDuo() Duo {
	return Duo{HTTPSTimeout: 15 * time.Second}
}
