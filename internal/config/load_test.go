package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testHost = "gate.example.org"

// writeConfig writes data as a 0600 config file in a fresh 0700 directory.
func writeConfig(t testing.TB, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logingate.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestValidation goes through every key with a good value, a bad value and
// a value of the wrong type, then unknown keys, reserved keys, group
// quoting and YAML features the config refuses.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// For a good config: how it differs from Default(testHost).
		want func(c *Config)
		// For a bad one: the key the error must name ("" for a line or
		// file error) and a part of the message.
		key, msg string
	}{
		{name: "empty file", yaml: "", want: func(*Config) {}},
		{name: "comments only", yaml: "# nothing\n", want: func(*Config) {}},
		{name: "document marker only", yaml: "---\n", want: func(*Config) {}},

		{name: "failmode good", yaml: "failmode: safe", want: func(c *Config) { c.Failmode = "safe" }},
		{name: "failmode bad", yaml: "failmode: open", key: "failmode", msg: `must be "secure" or "safe"`},
		{name: "failmode wrong type", yaml: "failmode: 1", key: "failmode", msg: "must be a string, not a whole number"},
		{name: "failmode empty", yaml: "failmode:", key: "failmode", msg: "has no value"},

		{name: "groups good", yaml: `groups: ["users,!wheel *admin", 'staff']`, want: func(c *Config) { c.Groups = []string{"users,!wheel *admin", "staff"} }},
		{name: "groups block list", yaml: "groups:\n  - \"users,!wheel\"\n  - '*admin'\n", want: func(c *Config) { c.Groups = []string{"users,!wheel", "*admin"} }},
		{name: "groups quoted negation", yaml: `groups: ["!wheel"]`, want: func(c *Config) { c.Groups = []string{"!wheel"} }},
		{name: "groups unquoted bang", yaml: "groups: [!wheel]", key: "", msg: `line 1: `},
		{name: "groups unquoted bang hint", yaml: "groups: [!wheel]", key: "", msg: `quote each pattern-list, e.g. groups: ["users,!wheel"]`},
		{name: "groups unquoted star", yaml: "groups: [*admin]", key: "", msg: `line 1: unknown alias *admin; YAML reads an unquoted "!" as a tag and "*" as an alias: quote each pattern-list`},
		{name: "groups unquoted lone star", yaml: "failmode: secure\ngroups: [*]", key: "", msg: `line 2: `},
		{name: "groups unquoted star in block list", yaml: "groups:\n  - \"users\"\n  - *admin\n", key: "", msg: "line 3: unknown alias *admin; YAML reads"},
		{name: "groups tag in block list", yaml: "groups:\n  - !wheel\n", key: "groups", msg: `item 1 is a YAML tag (an unquoted "!"), so its pattern is lost; quote each pattern-list`},
		{name: "groups unquoted word", yaml: "groups: [users]", key: "groups", msg: "item 1 is not quoted; quote each pattern-list"},
		{name: "groups second item unquoted", yaml: `groups: ["users", wheel]`, key: "groups", msg: "item 2 is not quoted"},
		{name: "groups anchor", yaml: `groups: [&a "users"]`, key: "groups", msg: "item 1 is a YAML anchor"},
		{name: "groups empty list", yaml: "groups: []", key: "groups", msg: `empty list; use ["*"]`},
		{name: "groups empty pattern-list", yaml: `groups: [""]`, key: "groups", msg: "item 1 is empty; quote each pattern-list"},
		{name: "groups empty pattern", yaml: `groups: ["users,,wheel"]`, key: "groups", msg: `pattern-list "users,,wheel": empty pattern`},
		{name: "groups lone bang", yaml: `groups: ["users,!"]`, key: "groups", msg: `"!" negates nothing`},
		{name: "groups a string", yaml: `groups: "*"`, key: "groups", msg: "must be a list, not a string; quote each pattern-list"},
		{name: "groups a number in the list", yaml: `groups: [1]`, key: "groups", msg: "item 1 is not quoted"},
		{name: "groups a section", yaml: `groups: {a: b}`, key: "groups", msg: "must be a list, not a section"},
		{name: "groups a list in the list", yaml: `groups: [["*"]]`, key: "groups", msg: "item 1 is a list, not a string"},
		{name: "groups empty", yaml: `groups:`, key: "groups", msg: "must be a list, not empty"},

		{name: "unenrolled good", yaml: "unenrolled: enroll", want: func(c *Config) { c.Unenrolled = "enroll" }},
		{name: "unenrolled bad", yaml: "unenrolled: ask", key: "unenrolled", msg: `must be one of "deny", "allow", "enroll"`},
		{name: "unenrolled wrong type", yaml: "unenrolled: [deny]", key: "unenrolled", msg: "must be a string, not a list"},

		{name: "prompts good", yaml: "prompts: 10", want: func(c *Config) { c.Prompts = 10 }},
		{name: "prompts zero", yaml: "prompts: 0", key: "prompts", msg: "must be between 1 and 10"},
		{name: "prompts eleven", yaml: "prompts: 11", key: "prompts", msg: "must be between 1 and 10"},
		{name: "prompts quoted", yaml: `prompts: "3"`, key: "prompts", msg: "must be a whole number, not a quoted string; remove the quotes"},
		{name: "prompts fraction", yaml: "prompts: 3.5", key: "prompts", msg: "must be a whole number, not a fraction"},
		{name: "prompts bool", yaml: "prompts: true", key: "prompts", msg: "must be a whole number, not true/false"},
		{name: "prompts huge", yaml: "prompts: 99999999999999999999", key: "prompts", msg: "too large"},

		{name: "prompt_timeout good", yaml: "prompt_timeout: 90s", want: func(c *Config) { c.PromptTimeout = 90 * time.Second }},
		{name: "prompt_timeout quoted good", yaml: `prompt_timeout: "2m"`, want: func(c *Config) { c.PromptTimeout = 2 * time.Minute }},
		{name: "prompt_timeout too short", yaml: "prompt_timeout: 500ms", key: "prompt_timeout", msg: "must be between 1s and 1h"},
		{name: "prompt_timeout too long", yaml: "prompt_timeout: 2h\nlogin_timeout: 3h", key: "prompt_timeout", msg: "must be between 1s and 1h"},
		{name: "prompt_timeout negative", yaml: "prompt_timeout: -5s", key: "prompt_timeout", msg: "must be between 1s and 1h"},
		{name: "prompt_timeout bare number", yaml: "prompt_timeout: 60", key: "prompt_timeout", msg: "needs a unit"},
		{name: "prompt_timeout quoted bare number", yaml: `prompt_timeout: "60"`, key: "prompt_timeout", msg: "needs a unit"},
		{name: "prompt_timeout zero", yaml: "prompt_timeout: 0", key: "prompt_timeout", msg: "needs a unit"},
		{name: "prompt_timeout days", yaml: "prompt_timeout: 1d", key: "prompt_timeout", msg: "not a duration"},
		{name: "prompt_timeout list", yaml: "prompt_timeout: [60s]", key: "prompt_timeout", msg: "must be a duration"},

		{name: "login_timeout good", yaml: "login_timeout: 24h", want: func(c *Config) { c.LoginTimeout = 24 * time.Hour }},
		{name: "login_timeout too short", yaml: "login_timeout: 4s\nprompt_timeout: 2s", key: "login_timeout", msg: "must be between 5s and 24h"},
		{name: "login_timeout too long", yaml: "login_timeout: 25h", key: "login_timeout", msg: "must be between 5s and 24h"},
		{name: "login_timeout below prompt_timeout", yaml: "prompt_timeout: 10m\nlogin_timeout: 5m", key: "login_timeout", msg: "must be at least prompt_timeout"},
		{name: "login_timeout bare number", yaml: "login_timeout: 180", key: "login_timeout", msg: "needs a unit"},

		{name: "accept_env_factor good", yaml: "accept_env_factor: true", want: func(c *Config) { c.AcceptEnvFactor = true }},
		{name: "accept_env_factor number", yaml: "accept_env_factor: 1", key: "accept_env_factor", msg: "must be true or false, not a whole number"},
		{name: "accept_env_factor quoted", yaml: `accept_env_factor: "true"`, key: "accept_env_factor", msg: "must be true or false, not a string"},
		{name: "accept_env_factor yes", yaml: "accept_env_factor: yes", key: "accept_env_factor", msg: "YAML 1.2 reads yes, no, on and off as strings"},

		{name: "state_dir good", yaml: "state_dir: /srv/logingate", want: func(c *Config) { c.StateDir = "/srv/logingate" }},
		{name: "state_dir relative", yaml: "state_dir: var/lib/logingate", key: "state_dir", msg: "must be an absolute path"},
		{name: "state_dir trailing slash", yaml: "state_dir: /var/lib/logingate/", key: "state_dir", msg: "must be a clean path"},
		{name: "state_dir dot dot", yaml: "state_dir: /var/lib/../logingate", key: "state_dir", msg: "must be a clean path"},
		{name: "state_dir number", yaml: "state_dir: 5", key: "state_dir", msg: "must be a string"},

		{name: "totp.issuer good", yaml: `totp: {issuer: "Example Corp"}`, want: func(c *Config) { c.TOTP.Issuer = "Example Corp" }},
		{name: "totp.issuer empty", yaml: `totp: {issuer: ""}`, key: "totp.issuer", msg: "must not be empty"},
		{name: "totp.issuer colon", yaml: `totp: {issuer: "a:b"}`, key: "totp.issuer", msg: `must not contain ":"`},
		{name: "totp.issuer control", yaml: `totp: {issuer: "a\tb"}`, key: "totp.issuer", msg: "control characters"},
		{name: "totp.issuer number", yaml: "totp: {issuer: 5}", key: "totp.issuer", msg: "must be a string"},

		{name: "totp.digits good", yaml: "totp: {digits: 8}", want: func(c *Config) { c.TOTP.Digits = 8 }},
		{name: "totp.digits bad", yaml: "totp: {digits: 7}", key: "totp.digits", msg: "must be 6 or 8"},
		{name: "totp.digits quoted", yaml: `totp: {digits: "6"}`, key: "totp.digits", msg: "must be a whole number"},

		{name: "totp.period good", yaml: "totp:\n  period: 60s\n", want: func(c *Config) { c.TOTP.Period = time.Minute }},
		{name: "totp.period short", yaml: "totp: {period: 10s}", key: "totp.period", msg: "must be whole seconds between 15s and 120s"},
		{name: "totp.period long", yaml: "totp: {period: 121s}", key: "totp.period", msg: "must be whole seconds between 15s and 120s"},
		{name: "totp.period fraction", yaml: "totp: {period: 30500ms}", key: "totp.period", msg: "must be whole seconds"},
		{name: "totp.period number", yaml: "totp: {period: 30}", key: "totp.period", msg: "needs a unit"},

		{name: "totp.algorithm lower case", yaml: "totp: {algorithm: sha256}", want: func(c *Config) { c.TOTP.Algorithm = "SHA256" }},
		{name: "totp.algorithm upper case", yaml: "totp: {algorithm: SHA512}", want: func(c *Config) { c.TOTP.Algorithm = "SHA512" }},
		{name: "totp.algorithm bad", yaml: "totp: {algorithm: MD5}", key: "totp.algorithm", msg: `must be one of "SHA1", "SHA256", "SHA512"`},
		{name: "totp.algorithm dash", yaml: "totp: {algorithm: sha-1}", key: "totp.algorithm", msg: `must be one of`},
		{name: "totp.algorithm number", yaml: "totp: {algorithm: 1}", key: "totp.algorithm", msg: "must be a string"},

		{name: "totp.window zero", yaml: "totp: {window: 0}", want: func(c *Config) { c.TOTP.Window = 0 }},
		{name: "totp.window three", yaml: "totp: {window: 3}", want: func(c *Config) { c.TOTP.Window = 3 }},
		{name: "totp.window four", yaml: "totp: {window: 4}", key: "totp.window", msg: "must be between 0 and 3"},
		{name: "totp.window negative", yaml: "totp: {window: -1}", key: "totp.window", msg: "must be between 0 and 3"},
		{name: "totp.window quoted", yaml: `totp: {window: "1"}`, key: "totp.window", msg: "must be a whole number"},
		{name: "totp a number", yaml: "totp: 3", key: "totp", msg: "must be a section of keys"},
		{name: "totp empty section", yaml: "totp: {}", want: func(*Config) {}},

		{name: "backup_codes.count good", yaml: "backup_codes: {count: 20}", want: func(c *Config) { c.BackupCodes.Count = 20 }},
		{name: "backup_codes.count low", yaml: "backup_codes: {count: 4}", key: "backup_codes.count", msg: "must be between 5 and 20"},
		{name: "backup_codes.count high", yaml: "backup_codes: {count: 21}", key: "backup_codes.count", msg: "must be between 5 and 20"},
		{name: "backup_codes.count quoted", yaml: `backup_codes: {count: "10"}`, key: "backup_codes.count", msg: "must be a whole number"},
		{name: "backup_codes.warn_below zero", yaml: "backup_codes: {warn_below: 0}", want: func(c *Config) { c.BackupCodes.WarnBelow = 0 }},
		{name: "backup_codes.warn_below equal to count", yaml: "backup_codes: {count: 5, warn_below: 5}", want: func(c *Config) { c.BackupCodes = BackupCodes{Count: 5, WarnBelow: 5} }},
		{name: "backup_codes.warn_below above count", yaml: "backup_codes: {warn_below: 11}", key: "backup_codes.warn_below", msg: "must be between 0 and 10"},
		{name: "backup_codes.warn_below negative", yaml: "backup_codes: {warn_below: -1}", key: "backup_codes.warn_below", msg: "must be between 0 and 10"},
		{name: "backup_codes.warn_below fraction", yaml: "backup_codes: {warn_below: 1.5}", key: "backup_codes.warn_below", msg: "must be a whole number"},

		{name: "rate_limit.failures good", yaml: "rate_limit: {failures: 1000}", want: func(c *Config) { c.RateLimit.Failures = 1000 }},
		{name: "rate_limit.failures zero", yaml: "rate_limit: {failures: 0}", key: "rate_limit.failures", msg: "must be between 1 and 1000"},
		{name: "rate_limit.failures high", yaml: "rate_limit: {failures: 1001}", key: "rate_limit.failures", msg: "must be between 1 and 1000"},
		{name: "rate_limit.failures quoted", yaml: `rate_limit: {failures: "5"}`, key: "rate_limit.failures", msg: "must be a whole number"},
		{name: "rate_limit.per good", yaml: "rate_limit: {per: 24h}", want: func(c *Config) { c.RateLimit.Per = 24 * time.Hour }},
		{name: "rate_limit.per short", yaml: "rate_limit: {per: 500ms}", key: "rate_limit.per", msg: "must be between 1s and 24h"},
		{name: "rate_limit.per long", yaml: "rate_limit: {per: 25h}", key: "rate_limit.per", msg: "must be between 1s and 24h"},
		{name: "rate_limit.per number", yaml: "rate_limit: {per: 300}", key: "rate_limit.per", msg: "needs a unit"},

		{name: "syslog.facility good", yaml: "syslog: {facility: local7}", want: func(c *Config) { c.Syslog.Facility = "local7" }},
		{name: "syslog.facility bad", yaml: "syslog: {facility: local8}", key: "syslog.facility", msg: `must be one of "auth", "authpriv", "daemon", "user", "local0"`},
		{name: "syslog.facility upper case", yaml: "syslog: {facility: AUTH}", key: "syslog.facility", msg: "must be one of"},
		{name: "syslog.facility number", yaml: "syslog: {facility: 4}", key: "syslog.facility", msg: "must be a string"},
		{name: "syslog.ident good", yaml: "syslog: {ident: logingate-test}", want: func(c *Config) { c.Syslog.Ident = "logingate-test" }},
		{name: "syslog.ident space", yaml: `syslog: {ident: "login gate"}`, key: "syslog.ident", msg: "must not contain spaces or control characters"},
		{name: "syslog.ident control", yaml: `syslog: {ident: "a\u0007"}`, key: "syslog.ident", msg: "must not contain spaces or control characters"},
		{name: "syslog.ident empty", yaml: `syslog: {ident: ""}`, key: "syslog.ident", msg: "must not be empty"},
		{name: "syslog.ident number", yaml: "syslog: {ident: 1}", key: "syslog.ident", msg: "must be a string"},
		{name: "syslog.socket good", yaml: "syslog: {socket: /run/systemd/journal/dev-log}", want: func(c *Config) { c.Syslog.Socket = "/run/systemd/journal/dev-log" }},
		{name: "syslog.socket relative", yaml: "syslog: {socket: dev/log}", key: "syslog.socket", msg: "must be an absolute path"},
		{name: "syslog.socket list", yaml: "syslog: {socket: [/dev/log]}", key: "syslog.socket", msg: "must be a string"},

		{name: "unknown top-level key", yaml: "fail_mode: safe", key: "fail_mode", msg: "unknown key; did you mean failmode?"},
		{name: "unknown nested key", yaml: "totp: {digit: 8}", key: "totp.digit", msg: "unknown key; did you mean digits?"},
		{name: "unknown deep key", yaml: "syslog:\n  facility: auth\n  host: loghost\n", key: "syslog.host", msg: "unknown key"},
		{name: "key in the wrong case", yaml: "Failmode: safe", key: "Failmode", msg: "did you mean failmode? (keys are lower case)"},
		{name: "dotted key", yaml: "totp.digits: 8", key: "totp.digits", msg: `a key has no "." in it`},
		{name: "merge key", yaml: "<<: {prompts: 3}", key: "<<", msg: "unknown key"},

		{name: "headless trusted", yaml: "headless: trusted", want: func(c *Config) { c.Headless = "trusted" }},
		{name: "headless bad", yaml: "headless: sometimes", key: "headless", msg: `must be one of "deny", "trusted", "push"`},
		{name: "headless push without duo", yaml: "headless: push", key: "headless", msg: `"push" needs Duo: add a duo: section`},
		{name: "headless bool", yaml: "headless: false", key: "headless", msg: "must be a string, not true/false"},
		{name: "grace_period good", yaml: "grace_period: 168h", want: func(c *Config) { c.GracePeriod = 7 * 24 * time.Hour }},
		{name: "grace_period bare zero", yaml: "grace_period: 0", want: func(c *Config) { c.GracePeriod = 0 }},
		{name: "grace_period quoted zero", yaml: `grace_period: "0"`, want: func(c *Config) { c.GracePeriod = 0 }},
		{name: "grace_period zero seconds", yaml: "grace_period: 0s", want: func(c *Config) { c.GracePeriod = 0 }},
		{name: "grace_period over a week", yaml: "grace_period: 169h", key: "grace_period", msg: "must be 0 (off) or between 1s and 168h"},
		{name: "grace_period negative", yaml: "grace_period: -1h", key: "grace_period", msg: "must be 0 (off) or between 1s and 168h"},
		{name: "grace_period tiny", yaml: "grace_period: 10ms", key: "grace_period", msg: "must be 0 (off) or between 1s and 168h"},
		{name: "grace_period bare number", yaml: "grace_period: 8", key: "grace_period", msg: "needs a unit"},
		{name: "grace_period days", yaml: "grace_period: 1d", key: "grace_period", msg: "not a duration"},
		{name: "prompt_timeout zero stays refused", yaml: "prompt_timeout: 0", key: "prompt_timeout", msg: "needs a unit"},
		{name: "authorized_keys_files good", yaml: `authorized_keys_files: [".ssh/authorized_keys", "/etc/ssh/keys/%u", '%%h']`,
			want: func(c *Config) { c.AuthorizedKeysFiles = []string{".ssh/authorized_keys", "/etc/ssh/keys/%u", "%%h"} }},
		{name: "authorized_keys_files block list", yaml: "authorized_keys_files:\n  - /etc/ssh/keys/%U\n",
			want: func(c *Config) { c.AuthorizedKeysFiles = []string{"/etc/ssh/keys/%U"} }},
		{name: "authorized_keys_files empty list", yaml: "authorized_keys_files: []", want: func(c *Config) { c.AuthorizedKeysFiles = []string{} }},
		{name: "authorized_keys_files a string", yaml: "authorized_keys_files: .ssh/authorized_keys", key: "authorized_keys_files", msg: "must be a list of strings, not a string"},
		{name: "authorized_keys_files a number", yaml: "authorized_keys_files: [5]", key: "authorized_keys_files", msg: "item 1 is a whole number, not a string"},
		{name: "authorized_keys_files bad token", yaml: `authorized_keys_files: ["%d/keys"]`, key: "authorized_keys_files", msg: `item 1 has an unknown "%" token`},
		{name: "authorized_keys_files trailing percent", yaml: `authorized_keys_files: ["keys%"]`, key: "authorized_keys_files", msg: `unknown "%" token`},
		{name: "authorized_keys_files empty item", yaml: `authorized_keys_files: ["a", ""]`, key: "authorized_keys_files", msg: "item 2 is empty"},
		{name: "authorized_keys_files unquoted percent", yaml: "authorized_keys_files: [%h/.ssh/authorized_keys]", key: "", msg: `line 1: found character that cannot start any token; a YAML value cannot start with an unquoted "%": quote each path`},
		{name: "authorized_keys_files alias", yaml: "authorized_keys_files: [*x]", key: "", msg: "unknown alias"},
		{name: "radius without servers", yaml: "radius: {}", key: "radius.servers", msg: "missing; list at least one server"},
		{name: "store backend", yaml: "store: {backend: mysql}", key: "store.backend", msg: `must be "file" or "postgres"`},
		{name: "store dsn for file", yaml: "store: {dsn: host=db}", key: "store.backend", msg: "they are for backend: postgres"},
		{name: "store timeout", yaml: "store: {timeout: 1h}", key: "store.timeout", msg: "must be between"},

		{name: "duplicate key", yaml: "prompts: 3\nprompts: 4", key: "prompts", msg: "set twice (lines 1 and 2)"},
		{name: "duplicate nested key", yaml: "totp:\n  digits: 6\n  digits: 8\n", key: "totp.digits", msg: "set twice (lines 2 and 3)"},
		{name: "explicit tag", yaml: "prompts: !!int 3", key: "prompts", msg: "YAML tags are not supported"},
		{name: "alias", yaml: "totp: &t {digits: 6}\nbackup_codes: *t", key: "totp", msg: "YAML anchors are not supported"},
		{name: "two documents", yaml: "prompts: 3\n---\nprompts: 4\n", msg: "line 2: a second YAML document"},
		{name: "a list at the top", yaml: "- prompts\n", msg: "line 1: the config must be a mapping of keys"},
		{name: "a scalar at the top", yaml: "prompts\n", msg: "line 1: the config must be a mapping of keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			cfg, err := Load(path, testHost)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Load of %q: %v", tt.yaml, err)
				}
				want := Default(testHost)
				want.Path = path
				tt.want(&want)
				if !reflect.DeepEqual(*cfg, want) {
					t.Fatalf("Load of %q:\n got %+v\nwant %+v", tt.yaml, *cfg, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load of %q succeeded: %+v", tt.yaml, *cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with its error")
			}
			prefix := path + ": "
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Load of %q:\n got error %q\nwant %q...%q", tt.yaml, err, prefix, tt.msg)
			}
		})
	}
}

// TestErrorsDoNotQuoteValues: only enum values and group patterns may appear
// in messages, never what the admin wrote elsewhere (one day, a secret).
func TestErrorsDoNotQuoteValues(t *testing.T) {
	const v = "Zq9sEcReT"
	for _, y := range []string{
		"failmode: " + v,
		"unenrolled: " + v,
		"prompts: " + v,
		`prompts: "` + v + `"`,
		"prompt_timeout: " + v,
		"accept_env_factor: " + v,
		"state_dir: " + v,
		"totp: {issuer: \"" + v + ":x\"}",
		"totp: {algorithm: " + v + "}",
		"syslog: {facility: " + v + ", ident: \"" + v + " x\", socket: " + v + "}",
		"unknown: " + v,
		"duo: {skey: " + v + "}",
		"radius: {secret: " + v + "}",
		"totp:\n  issuer: " + v + "\n  digits: [\n",
		"prompts: 3\nprompts: " + v,
		// A secret written without the space after its colon is one key.
		"duo: {host: api-x.duosecurity.com, ikey: DIXXXXXXXXXXXXXXXXXX, skey:" + v + "}",
		"store: {backend: postgres, dsn:postgres://lg:" + v + "@db/x}",
		"skey:" + v + ": 1",
	} {
		_, err := Load(writeConfig(t, y), testHost)
		if err == nil {
			t.Errorf("Load of %q succeeded", y)
			continue
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("error for %q quotes the value: %v", y, err)
		}
	}
}

func TestSyntaxErrorsCarryALineNumber(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"failmode: secure\nprompts: [3\n", "line 2: "},
		{"failmode: secure\nprompts: [3,\n  4,\n  5\nfailmode: x\n", "line 2: "},
		{"failmode: secure\nsyslog:\n  ident: x\n  facility: auth\n socket: /dev/log\n", "line 5: "},
		{"failmode: secure\n\n\nprompts: {a: 1\n", "line 4: "},
		{"\ufefffailmode: secure\nprompts: 'x\n", "line 2: "},
		{"failmode: \"a\\qb\"\n", "line 1: "},
		{"failmode: secure\nprompts: 3\nprompts: 4: 5\n", "line 3: "},
		{"failmode: secure\n\tprompts: 3\n", "line 2: "},
		{"prompts: 3\ntotp:\n  digits: 6\n period: 30s\n", "line 4: "},
		{"failmode: 'secure\n", "line 1: "},
		{"prompts: 3\nfailmode: \"secure\n", "line 2: "},
		{"{", "line 1: "},
		{"prompts: 3\nfailmode: *x\n", "line 2: unknown alias *x"},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.yaml)
		_, err := Load(path, testHost)
		if err == nil {
			t.Errorf("Load of %q succeeded", tt.yaml)
			continue
		}
		if want := path + ": " + tt.want; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Load of %q: error %q, want prefix %q", tt.yaml, err, want)
		}
		if strings.Contains(err.Error(), "quote each pattern-list") {
			t.Errorf("Load of %q: groups hint on an error outside groups: %v", tt.yaml, err)
		}
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	path := writeConfig(t, "failmode: open\nprompts: 0\ntotp: {digits: 7}\n")
	_, err := Load(path, testHost)
	probs := problemList(err)
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Key)
		if p.Path != path {
			t.Errorf("problem %v names %q, not the file", p, p.Path)
		}
	}
	if want := []string{"failmode", "prompts", "totp.digits"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("problemList = %v (from %v), want keys %v", keys, err, want)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("want one line per problem, got %q", err)
	}
}

func TestIssuerDefaultsToHostname(t *testing.T) {
	cfg, err := Load(writeConfig(t, ""), "bastion-1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TOTP.Issuer != "bastion-1" {
		t.Errorf("issuer = %q, want the host name", cfg.TOTP.Issuer)
	}
	// No host name and no issuer: the admin must set one.
	_, err = Load(writeConfig(t, ""), "")
	if err == nil || !strings.Contains(err.Error(), "totp.issuer: must not be empty") {
		t.Errorf("no host name, no issuer: err = %v", err)
	}
	cfg, err = Load(writeConfig(t, `totp: {issuer: "Corp SSH"}`), "")
	if err != nil || cfg.TOTP.Issuer != "Corp SSH" {
		t.Errorf("explicit issuer without host name: %v, %v", cfg, err)
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	c := Default(testHost)
	if err := c.check(); err != nil {
		t.Fatalf("Default does not validate: %v", err)
	}
	c.Groups = nil
	if err := c.check(); err == nil || !strings.HasPrefix(err.Error(), "config: groups: ") {
		t.Errorf("no groups: err = %v", err)
	}
}

// The shipped etc/logingate.yaml is the defaults, every key present.
func TestShippedConfigIsTheDefault(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "etc", "logingate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, string(data))
	cfg, err := Load(path, testHost)
	if err != nil {
		t.Fatal(err)
	}
	want := Default(testHost)
	want.Path = path
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("shipped config:\n got %+v\nwant %+v", *cfg, want)
	}
	if cfg.TOTP.Issuer != testHost {
		t.Errorf("issuer = %q, want the host name", cfg.TOTP.Issuer)
	}
	var names []string
	var collect func(prefix string, fs []field)
	collect = func(prefix string, fs []field) {
		for _, f := range fs {
			names = append(names, f.name)
			collect(prefix+f.name+".", f.fields)
		}
	}
	collect("", schema)
	for _, n := range names {
		if !strings.Contains(string(data), n+":") {
			t.Errorf("shipped config does not show key %s", n)
		}
	}
	for _, n := range reserved {
		if !strings.Contains(string(data), n) {
			t.Errorf("shipped config does not mention reserved key %s", n)
		}
	}
}

// The environment must never steer the config: the gate runs with the
// logging-in user's environment (and later, with privileges).
func TestEnvironmentIsIgnored(t *testing.T) {
	for k, v := range map[string]string{
		"PROMPTS": "7", "FAILMODE": "safe", "TOTP_DIGITS": "8", "TOTP.DIGITS": "8",
		"LOGINGATE_PROMPTS": "7", "LOGINGATE_FAILMODE": "safe", "STATE_DIR": "/tmp/evil",
	} {
		t.Setenv(k, v)
	}
	path := writeConfig(t, "prompts: 3\nfailmode: secure\ntotp: {digits: 6}\nstate_dir: /var/lib/logingate\n")
	cfg, err := Load(path, testHost)
	if err != nil {
		t.Fatal(err)
	}
	want := Default(testHost)
	want.Path = path
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("environment changed the config:\n got %+v\nwant %+v", *cfg, want)
	}
}
