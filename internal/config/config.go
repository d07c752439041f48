// Package config reads logingate's YAML configuration once into a typed,
// validated Config. Any error names the file and the key; a config that
// cannot be read, parsed or validated must deny every login.
package config

import "time"

// DefaultPath is where the gate looks without -c.
const DefaultPath = "/etc/logingate/logingate.yaml"

// Config is the whole, validated configuration.
type Config struct {
	Path string `mapstructure:"-"` // the file it was read from

	Failmode        string        `mapstructure:"failmode"`   // "secure" | "safe"
	Groups          []string      `mapstructure:"groups"`     // login_duo pattern-lists, OR-ed
	Unenrolled      string        `mapstructure:"unenrolled"` // "deny" | "allow" | "enroll"
	Prompts         int           `mapstructure:"prompts"`    // 1..10
	PromptTimeout   time.Duration `mapstructure:"prompt_timeout"`
	LoginTimeout    time.Duration `mapstructure:"login_timeout"`
	AcceptEnvFactor bool          `mapstructure:"accept_env_factor"`
	Headless        string        `mapstructure:"headless"`     // "deny" | "trusted"
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
}

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
		Failmode:            "secure",
		Groups:              []string{"*"},
		Unenrolled:          "deny",
		Prompts:             3,
		PromptTimeout:       60 * time.Second,
		LoginTimeout:        3 * time.Minute,
		Headless:            "deny",
		GracePeriod:         8 * time.Hour,
		AuthorizedKeysFiles: []string{"%h/.ssh/authorized_keys", "%h/.ssh/authorized_keys2"},
		StateDir:            "/var/lib/logingate",
		TOTP:                TOTP{Issuer: hostname, Digits: 6, Period: 30 * time.Second, Algorithm: "SHA1", Window: 1},
		BackupCodes:         BackupCodes{Count: 10, WarnBelow: 3},
		RateLimit:           RateLimit{Failures: 5, Per: 5 * time.Minute},
		Syslog:              Syslog{Facility: "authpriv", Ident: "logingate", Socket: "/dev/log"},
	}
}
