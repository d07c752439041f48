package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
)

// iniKeys3 is the three keys every login_duo file needs.
const iniKeys3 = "ikey = " + testIKey + "\nskey = " + testSKey + "\nhost = api-3ff1e4c7.duosecurity.com\n"

// writeINI writes data as a 0600 login_duo.conf in a fresh directory.
func writeINI(t testing.TB, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "login_duo.conf")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dropInDefault is what a login_duo file with only the three keys gives.
func dropInDefault(path string) Config {
	c := Default(testHost)
	c.Path = path
	c.DropIn, c.LocalFactors, c.FailmodeDefaulted = true, false, true
	c.Failmode, c.Headless, c.GracePeriod = "safe", "push", 0
	c.Syslog.Ident, c.Syslog.Facility = "login_duo", "user"
	c.Duo = &Duo{Host: "api-3ff1e4c7.duosecurity.com", IKey: testIKey, SKey: testSKey}
	return c
}

func TestLoginDuo(t *testing.T) {
	caDir := t.TempDir()
	ca := writeFile(t, caDir, "ca.pem", testPEM, 0o644)
	openDir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openDir, 0o777); err != nil {
		t.Fatal(err)
	}
	openCA := writeFile(t, openDir, "ca.pem", testPEM, 0o644)
	long := func(n int) string { return "#" + strings.Repeat("x", n-2) + "\n" } // a line of n bytes
	tests := []struct {
		name, ini string
		// For a good file: how it differs from dropInDefault.
		want func(c *Config)
		// For a bad one: the line (0: none) and key ("": none) the first
		// error names, and a part of its message.
		line     int
		key, msg string
		// For a good file: a part of each warning, in order.
		warns []string
	}{
		// The dialect.
		{name: "duo section", ini: "[duo]\n" + iniKeys3, want: func(*Config) {}},
		{name: "no section", ini: iniKeys3, want: func(*Config) {}},
		{name: "any section name", ini: "[login_duo]\n" + iniKeys3, want: func(*Config) {}},
		{name: "several sections", ini: "[a]\nikey = " + testIKey + "\n[b]\nskey = " + testSKey + "\n[c]\nhost = api-3ff1e4c7.duosecurity.com\n", want: func(*Config) {}},
		{name: "text after the section", ini: "[duo] trailing words\n" + iniKeys3, want: func(*Config) {}},
		{name: "comments", ini: "; a comment\n# another\n[duo]\n  ; indented, before any key\n" + iniKeys3 + "; last\n", want: func(*Config) {}},
		{name: "inline comment", ini: "[duo]\n" + iniKeys3 + "failmode = secure ; deny when Duo is down\n", want: func(c *Config) { c.Failmode, c.FailmodeDefaulted = "secure", false }},
		{name: "inline comment after a tab", ini: "[duo]\n" + iniKeys3 + "failmode = secure\t;x\n", want: func(c *Config) { c.Failmode, c.FailmodeDefaulted = "secure", false }},
		{name: "semicolon without space is value", ini: "[duo]\nikey = DI;x\nskey = " + testSKey + "\nhost = api-3ff1e4c7.duosecurity.com\n", want: func(c *Config) { c.Duo.IKey = "DI;x" }},
		{name: "hash inside is value", ini: "[duo]\nikey = DI#x\nskey = " + testSKey + "\nhost = api-3ff1e4c7.duosecurity.com\n", want: func(c *Config) { c.Duo.IKey = "DI#x" }},
		{name: "spaces and tabs around", ini: "[duo]\nikey\t=\t" + testIKey + "  \nskey=" + testSKey + "\nhost =api-3ff1e4c7.duosecurity.com\n", want: func(*Config) {}},
		{name: "CRLF", ini: strings.ReplaceAll("[duo]\n"+iniKeys3+"autopush = yes\n", "\n", "\r\n"), want: func(c *Config) { c.Duo.Autopush = true }},
		{name: "no final newline", ini: strings.TrimSuffix(iniKeys3, "\n"), want: func(*Config) {}},
		{name: "groups continuation", ini: iniKeys3 + "groups = users\n  admins,!wheel\n\t*ops\n", want: func(c *Config) { c.Groups = []string{"users", "admins,!wheel", "*ops"} }},
		{name: "groups continuation after a blank line", ini: iniKeys3 + "groups = users\n\n  admins\n", want: func(c *Config) { c.Groups = []string{"users", "admins"} }},
		{name: "groups several lists", ini: iniKeys3 + "groups = users,!wheel  *admin guests\n", want: func(c *Config) { c.Groups = []string{"users,!wheel", "*admin", "guests"} }},
		{name: "groups and group add up", ini: iniKeys3 + "groups = users\ngroup = staff\ngroups = ops\n", want: func(c *Config) { c.Groups = []string{"users", "staff", "ops"} }},
		{name: "a section ends continuation", ini: "groups = users\n[duo]\n  ikey = " + testIKey + "\n  skey = x\n", line: 4, key: "ikey", msg: "indented, so login_duo reads the whole line as a new value of ikey (line 3)"},
		{name: "line of 199 bytes", ini: long(199) + iniKeys3, want: func(*Config) {}},
		{name: "line of 199 bytes at the end", ini: iniKeys3 + strings.TrimSuffix(long(200), "\n"), want: func(*Config) {}},

		// Every key.
		{name: "failmode secure", ini: iniKeys3 + "failmode = secure\n", want: func(c *Config) { c.Failmode, c.FailmodeDefaulted = "secure", false }},
		{name: "failmode safe", ini: iniKeys3 + "failmode = safe\n", want: func(c *Config) { c.FailmodeDefaulted = false }},
		{name: "pushinfo", ini: iniKeys3 + "pushinfo = yes\n", want: func(c *Config) { c.Duo.Pushinfo = true }},
		{name: "autopush true", ini: iniKeys3 + "autopush = true\n", want: func(c *Config) { c.Duo.Autopush = true }},
		{name: "autopush on", ini: iniKeys3 + "autopush = on\n", want: func(c *Config) { c.Duo.Autopush = true }},
		{name: "autopush 1", ini: iniKeys3 + "autopush = 1\n", want: func(c *Config) { c.Duo.Autopush = true }},
		{name: "autopush no", ini: iniKeys3 + "autopush = no\n", want: func(*Config) {}},
		{name: "autopush off false 0", ini: iniKeys3 + "autopush = off\npushinfo = false\nnoverify = 0\n", want: func(*Config) {}},
		{name: "accept_env_factor", ini: iniKeys3 + "accept_env_factor = yes\n", want: func(c *Config) { c.AcceptEnvFactor = true }},
		{name: "noverify", ini: iniKeys3 + "noverify = yes\n", want: func(c *Config) { c.Duo.NoVerify = true }},
		{name: "cafile", ini: iniKeys3 + "cafile = " + ca + "\n", want: func(c *Config) { c.Duo.CAFile, c.Duo.CAPEM = ca, []byte(testPEM) }},
		{name: "prompts 2", ini: iniKeys3 + "prompts = 2\n", want: func(c *Config) { c.Prompts = 2 }},
		{name: "prompts clamped to 3", ini: iniKeys3 + "prompts = 10\n", want: func(c *Config) { c.Prompts = 3 }},
		{name: "prompts clamped to 1", ini: iniKeys3 + "prompts = 0\n", want: func(c *Config) { c.Prompts = 1 }},
		{name: "prompts negative", ini: iniKeys3 + "prompts = -4\n", want: func(c *Config) { c.Prompts = 1 }},
		{name: "https_timeout", ini: iniKeys3 + "https_timeout = 10\n", want: func(c *Config) { c.Duo.HTTPSTimeout = 10 * time.Second }},
		{name: "https_timeout zero", ini: iniKeys3 + "https_timeout = 0\n", want: func(*Config) {}},
		{name: "https_timeout negative is none", ini: iniKeys3 + "https_timeout = -5\n", want: func(*Config) {}},
		{name: "http_proxy without scheme", ini: iniKeys3 + "http_proxy = proxy.example.org:3128\n", want: func(c *Config) { c.Duo.HTTPProxy = "http://proxy.example.org:3128" }},
		{name: "http_proxy with user", ini: iniKeys3 + "http_proxy = http://u:p@proxy:8080\n", want: func(c *Config) { c.Duo.HTTPProxy = "http://u:p@proxy:8080" }},
		{name: "http_proxy https", ini: iniKeys3 + "http_proxy = https://proxy:8443/\n", want: func(c *Config) { c.Duo.HTTPProxy = "https://proxy:8443/" }},

		// What login_duo reads without a complaint loads, as login_duo
		// reads it; where an operator may have meant otherwise, a warning
		// that the gate logs at every login.
		{name: "byte-order mark", ini: "\ufeff[duo]\n" + iniKeys3, want: func(*Config) {}},
		{name: "byte-order mark before a key", ini: "\ufeff" + iniKeys3, want: func(*Config) {}},
		{name: "groups empty", ini: iniKeys3 + "groups =\n", want: func(*Config) {}},
		{name: "groups empty and a list", ini: iniKeys3 + "groups =\ngroups = users\n", want: func(c *Config) { c.Groups = []string{"users"} }},
		{name: "http_proxy empty", ini: iniKeys3 + "http_proxy =\n", want: func(*Config) {}},
		{name: "boolean Yes", ini: iniKeys3 + "autopush = Yes\n", want: func(*Config) {}, warns: []string{`line 4: autopush: "Yes" is read as no, as login_duo`}},
		{name: "boolean TRUE", ini: iniKeys3 + "pushinfo = TRUE\n", want: func(*Config) {}, warns: []string{`pushinfo: "TRUE" is read as no`}},
		{name: "boolean empty", ini: iniKeys3 + "pushinfo =\n", want: func(*Config) {}, warns: []string{"pushinfo: an empty value is read as no"}},
		{name: "boolean word", ini: iniKeys3 + "noverify = enabled\n", want: func(*Config) {}, warns: []string{`noverify: "enabled" is read as no`}},
		{name: "boolean long value not shown", ini: iniKeys3 + "noverify = " + testSKey + "\n", want: func(*Config) {}, warns: []string{"noverify: this value (not shown) is read as no"}},
		{name: "set twice", ini: iniKeys3 + "autopush = yes\nautopush = no\n", want: func(*Config) {}, warns: []string{"line 5: autopush: set twice (lines 4 and 5); the last value counts"}},
		{name: "set twice, last yes", ini: iniKeys3 + "autopush = no\nautopush = yes\n", want: func(c *Config) { c.Duo.Autopush = true }, warns: []string{"set twice"}},
		{name: "cafile with noverify", ini: iniKeys3 + "cafile = " + ca + "\nnoverify = yes\n", want: func(c *Config) { c.Duo.CAFile, c.Duo.NoVerify = ca, true }, warns: []string{"line 4: cafile: is ignored because noverify is set"}},
		{name: "missing cafile with noverify", ini: iniKeys3 + "cafile = " + caDir + "/none.pem\nnoverify = yes\n", want: func(c *Config) { c.Duo.CAFile, c.Duo.NoVerify = caDir+"/none.pem", true }, warns: []string{"is ignored because noverify is set"}},
		{name: "motd", ini: iniKeys3 + "motd = yes\n", want: func(c *Config) { c.Motd = true }},
		{name: "send_gecos", ini: iniKeys3 + "send_gecos = yes\n", want: func(c *Config) { c.Duo.SendGECOS, c.Duo.GECOSDelim = true, "," }},
		{name: "send_gecos with position and delimiter", ini: iniKeys3 + "send_gecos = yes\ngecos_username_pos = 3\ngecos_delim = /\n", want: func(c *Config) { c.Duo.SendGECOS, c.Duo.GECOSPos, c.Duo.GECOSDelim = true, 3, "/" }},
		{name: "gecos keys without send_gecos", ini: iniKeys3 + "gecos_delim = /\ngecos_username_pos = 2\n", want: func(c *Config) { c.Duo.GECOSPos, c.Duo.GECOSDelim = 2, "/" }},
		{name: "gecos_parsed", ini: iniKeys3 + "gecos_parsed = yes\n", want: func(*Config) {}, warns: []string{"gecos_parsed: has no effect, as in login_duo"}},
		{name: "fallback_local_ip", ini: iniKeys3 + "fallback_local_ip = yes\n", want: func(c *Config) { c.Duo.FallbackLocalIP = true }},
		{name: "verified_push", ini: iniKeys3 + "verified_push = yes\n", want: func(c *Config) { c.Duo.VerifiedPush = true }},
		{name: "login_duo booleans off", ini: iniKeys3 + "send_gecos = no\nverified_push = false\nfallback_local_ip = no\nmotd = no\ndev_fips_mode = 0\n", want: func(*Config) {}},

		// Errors.
		{name: "verified_push with autopush", ini: iniKeys3 + "autopush = yes\nverified_push = yes\n", line: 5, key: "verified_push", msg: "cannot be used with autopush"},
		{name: "dev_fips_mode", ini: iniKeys3 + "dev_fips_mode = yes\n", line: 4, key: "dev_fips_mode", msg: "not supported by logingate"},
		{name: "a line without =", ini: "[duo]\n" + iniKeys3 + "autopush\n", line: 5, msg: `not "key = value", a "[section]" or a comment`},
		{name: "colon instead of =", ini: "[duo]\nhost: api.example.com\n", line: 2, msg: `separates key and value with "=", not ":"`},
		{name: "inline comment before =", ini: iniKeys3 + "autopush ; = yes\n", line: 4, msg: `not "key = value"`},
		{name: "section without ]", ini: "[duo\n" + iniKeys3, line: 1, msg: `a "[section]" line without "]"`},
		{name: "section closed after a comment", ini: "[duo ;x]\n" + iniKeys3, line: 1, msg: `without "]"`},
		{name: "no key", ini: iniKeys3 + "= yes\n", line: 4, msg: `no key before "="`},
		{name: "value starting with a semicolon", ini: iniKeys3 + "cafile = ; none\n", line: 4, key: "cafile", msg: `the value starts with ";"`},
		{name: "line of 200 bytes", ini: iniKeys3 + long(200), line: 4, msg: "longer than 199 bytes"},
		{name: "line of 200 bytes at the end", ini: iniKeys3 + strings.TrimSuffix(long(201), "\n"), line: 4, msg: "longer than 199 bytes"},
		{name: "control character", ini: iniKeys3 + "failmode = sec\x00ure\n", line: 4, msg: "control character"},
		{name: "carriage return inside", ini: iniKeys3 + "failmode = sec\rure\n", line: 4, msg: "control character"},
		{name: "indented file", ini: "[duo]\n  ikey = " + testIKey + "\n  skey = " + testSKey + "\n", line: 3, key: "ikey", msg: "indented, so login_duo reads the whole line as a new value of ikey (line 2)"},
		{name: "indented comment after a key", ini: iniKeys3 + "  ; the host above\n", line: 4, key: "host", msg: "an indented comment after host"},
		{name: "comment on a groups continuation", ini: iniKeys3 + "groups = users\n  admins ; and admins\n", line: 5, key: "groups", msg: "a comment on a continuation line of groups"},
		{name: "indented comment after groups", ini: iniKeys3 + "groups = users\n  # admins\n", line: 5, key: "groups", msg: "a comment on a continuation line"},
		{name: "escaped space in a group", ini: iniKeys3 + `groups = domain\ users` + "\n", line: 4, key: "groups", msg: `a group name with a space ("\ ") is not supported`},
		{name: "bad group pattern", ini: iniKeys3 + "groups = users,,wheel\n", line: 4, key: "groups", msg: `pattern-list "users,,wheel": empty pattern`},
		{name: "bad group pattern in a continuation", ini: iniKeys3 + "group = users\n  !\n", line: 5, key: "group", msg: `a lone "!"`},
		{name: "failmode bad", ini: iniKeys3 + "failmode = open\n", line: 4, key: "failmode", msg: `must be "secure" or "safe"`},
		{name: "failmode upper case", ini: iniKeys3 + "failmode = Secure\n", line: 4, key: "failmode", msg: `must be "secure" or "safe"`},
		{name: "prompts word", ini: iniKeys3 + "prompts = three\n", line: 4, key: "prompts", msg: "must be a whole number"},
		{name: "prompts huge", ini: iniKeys3 + "prompts = 99999999999999999999\n", line: 4, key: "prompts", msg: "too large"},
		{name: "https_timeout with unit", ini: iniKeys3 + "https_timeout = 15s\n", line: 4, key: "https_timeout", msg: "must be a whole number"},
		{name: "https_timeout too long", ini: iniKeys3 + "https_timeout = 86401\n", line: 4, key: "https_timeout", msg: "must be at most 86400 seconds"},
		{name: "http_proxy socks", ini: iniKeys3 + "http_proxy = socks5://proxy:1080\n", line: 4, key: "http_proxy", msg: "must start with http:// or https://"},
		{name: "http_proxy bad port", ini: iniKeys3 + "http_proxy = proxy:99999\n", line: 4, key: "http_proxy", msg: "port between 1 and 65535"},
		{name: "cafile empty", ini: iniKeys3 + "cafile =\n", line: 4, key: "cafile", msg: "login_duo reads as noverify = yes"},
		{name: "cafile in a directory others may write", ini: iniKeys3 + "cafile = " + openCA + "\n", line: 4, key: "cafile", msg: "writable"},
		{name: "cafile relative", ini: iniKeys3 + "cafile = ca.pem\n", line: 4, key: "cafile", msg: "must be an absolute path"},
		{name: "cafile missing", ini: iniKeys3 + "cafile = " + caDir + "/none.pem\n", line: 4, key: "cafile", msg: caDir + "/none.pem: cannot open: no such file"},
		{name: "host bad", ini: "[duo]\nikey = " + testIKey + "\nskey = " + testSKey + "\nhost = https://api.example.com\n", line: 4, key: "host", msg: "without a scheme"},
		{name: "ikey with a space", ini: "ikey = DI X\nskey = " + testSKey + "\nhost = api.example.com\n", line: 1, key: "ikey", msg: "must not contain spaces"},
		{name: "host empty", ini: "ikey = " + testIKey + "\nskey = " + testSKey + "\nhost =\n", line: 3, key: "host", msg: "has no value"},
		{name: "host missing", ini: "ikey = " + testIKey + "\nskey = " + testSKey + "\n", key: "host", msg: "missing; a login_duo file must set host, ikey and skey"},
		{name: "empty file", ini: "", key: "host", msg: "missing"},
		{name: "only comments", ini: "; nothing\n[duo]\n", key: "host", msg: "missing"},
		{name: "unknown key", ini: iniKeys3 + "hostname = x\n", line: 4, key: "hostname", msg: "unknown key"},
		{name: "unknown key not shown", ini: iniKeys3 + "a b = x\n", line: 4, msg: "unknown key (not shown"},
		{name: "key in the wrong case", ini: iniKeys3 + "AutoPush = yes\n", line: 4, key: "AutoPush", msg: "did you mean autopush? (keys are lower case)"},
		{name: "misspelt key", ini: iniKeys3 + "pushifo = yes\n", line: 4, key: "pushifo", msg: "did you mean pushinfo?"},
		{name: "dev_fips_mode", ini: iniKeys3 + "dev_fips_mode = yes\n", line: 4, key: "dev_fips_mode", msg: "not supported by logingate"},
		{name: "offline_secrets_path", ini: iniKeys3 + "offline_secrets_path = /var/lib/duo\n", line: 4, key: "offline_secrets_path", msg: "not supported by logingate (Duo offline access"},
		{name: "min_tls", ini: iniKeys3 + "min_tls = 1.2\n", line: 4, key: "min_tls", msg: "not supported by logingate; remove it"},
		{name: "gecos_delim long", ini: iniKeys3 + "gecos_delim = ab\n", line: 4, key: "gecos_delim", msg: `one punctuation character other than ":"`},
		{name: "gecos_delim colon", ini: iniKeys3 + "gecos_delim = :\n", line: 4, key: "gecos_delim", msg: `other than ":"`},
		{name: "gecos_username_pos zero", ini: iniKeys3 + "gecos_username_pos = 0\n", line: 4, key: "gecos_username_pos", msg: "must be 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeINI(t, tt.ini)
			cfg, err := Load(path, testHost)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(cfg.Warnings) != len(tt.warns) {
					t.Fatalf("warnings %q, want %d like %q", cfg.Warnings, len(tt.warns), tt.warns)
				}
				for i, w := range tt.warns {
					if !strings.HasPrefix(cfg.Warnings[i], path+": ") || !strings.Contains(cfg.Warnings[i], w) {
						t.Errorf("warning %q, want %q", cfg.Warnings[i], w)
					}
					if strings.Contains(cfg.Warnings[i], testSKey) {
						t.Errorf("warning quotes the secret key: %q", cfg.Warnings[i])
					}
				}
				cfg.Warnings = nil
				want := dropInDefault(path)
				tt.want(&want)
				if !reflect.DeepEqual(*cfg, want) || !reflect.DeepEqual(*cfg.Duo, *want.Duo) {
					t.Fatalf("Load:\n got %+v %v\nwant %+v %v", *cfg, cfg.Duo, want, want.Duo)
				}
				if err := cfg.check(); err != nil {
					t.Fatalf("accepted config does not validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded: %+v %v", *cfg, cfg.Duo)
			}
			if cfg != nil {
				t.Error("Load returned a config with its error")
			}
			prefix := path + ": "
			if tt.line > 0 {
				prefix += "line " + strconv.Itoa(tt.line) + ": "
			}
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			first := strings.Split(err.Error(), "\n")[0]
			if !strings.HasPrefix(first, prefix) || !strings.Contains(first, tt.msg) {
				t.Fatalf("got error %q\nwant %q...%q", err, prefix, tt.msg)
			}
			if strings.Contains(err.Error(), testSKey) {
				t.Errorf("error quotes the secret key: %v", err)
			}
		})
	}
}

// Unlike login_duo, which stops at the first bad line, every bad line is
// reported, and keys read before one do not take effect.
func TestLoginDuoReportsEveryBadLine(t *testing.T) {
	path := writeINI(t, "[duo]\nfailmode = safe\nbogus line\n"+iniKeys3+"prompts = many\nfoo = 1\n")
	_, err := Load(path, testHost)
	var got []string
	for _, p := range problemList(err) {
		got = append(got, strconv.Itoa(p.Line)+" "+p.Key)
	}
	if want := []string{"3 ", "7 prompts", "8 foo"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("problems %q (from %v), want %q", got, err, want)
	}
}

// The secret key never reaches an error, whatever is wrong on its line or
// around it.
func TestLoginDuoNeverQuotesSKey(t *testing.T) {
	k := testSKey
	for _, ini := range []string{
		"skey " + k + "\n",
		"skey: " + k + "\n",
		"[duo]\nikey = x\n  skey = " + k + "\n",
		"skey = " + k + " x\nhost = h\nikey = i\n",
		"skey = " + k + "\nskey = " + k + "\n",
		"skey = ;" + k + "\n",
		"skey = " + k + strings.Repeat("k", 200) + "\n",
		"skey = " + k + "\x01\n",
		"[" + k + "\n",
		k + "\n",
		"= " + k + "\n",
		k + " = 1\n",
		"skey = " + k + "\nhttp_proxy = " + k + ":1/x\n",
		"skey = " + k + "\nhost = " + k + "/\n",
		"skey = " + k + "\nautopush = " + k + "\n",
		"skey = " + k + "\nprompts = " + k + "\n",
		"skey = " + k + "\nfailmode = " + k + "\n",
		"skey = " + k + "\ngecos_delim = " + k + "\n",
	} {
		_, err := Load(writeINI(t, ini), testHost)
		if err == nil {
			t.Errorf("Load of %q succeeded", ini)
			continue
		}
		if strings.Contains(err.Error(), k) {
			t.Errorf("error for %q quotes the secret key: %v", ini, err)
		}
	}
}

// A login_duo.conf with each supported key gives the same configuration as
// its YAML equivalent, apart from the drop-in's own defaults.
func TestLoginDuoMatchesYAML(t *testing.T) {
	caDir := t.TempDir()
	ca := writeFile(t, caDir, "ca.pem", testPEM, 0o644)
	ini := writeINI(t, "[duo]\n"+iniKeys3+`groups = users,!wheel *admin
failmode = secure
pushinfo = yes
autopush = yes
prompts = 2
accept_env_factor = yes
https_timeout = 20
http_proxy = http://proxy.example.org:3128
cafile = `+ca+"\n")
	yml := writeConfig(t, `failmode: secure
groups: ["users,!wheel", "*admin"]
prompts: 2
accept_env_factor: true
headless: push
grace_period: 0
syslog: {facility: user, ident: login_duo}
duo:
  host: api-3ff1e4c7.duosecurity.com
  ikey: `+testIKey+`
  skey: `+testSKey+`
  pushinfo: true
  autopush: true
  https_timeout: 20s
  http_proxy: "http://proxy.example.org:3128"
  cafile: `+ca+"\n")
	a, err := Load(ini, testHost)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(yml, testHost)
	if err != nil {
		t.Fatal(err)
	}
	if !a.DropIn || a.LocalFactors || a.FailmodeDefaulted || b.DropIn || !b.LocalFactors {
		t.Errorf("DropIn/LocalFactors/FailmodeDefaulted: ini %t/%t/%t, yaml %t/%t", a.DropIn, a.LocalFactors, a.FailmodeDefaulted, b.DropIn, b.LocalFactors)
	}
	a.Path, a.DropIn, a.LocalFactors = b.Path, b.DropIn, b.LocalFactors
	if !reflect.DeepEqual(*a, *b) || !reflect.DeepEqual(*a.Duo, *b.Duo) {
		t.Errorf("login_duo.conf and YAML differ:\n ini %+v %v\nyaml %+v %v", *a, a.Duo, *b, b.Duo)
	}
}

func TestIsLoginDuo(t *testing.T) {
	for _, tt := range []struct {
		path, data string
		want       bool
	}{
		{"/etc/duo/login_duo.conf", "failmode: secure\n", true},
		{"/etc/duo/login_duo.ini", "", true},
		{"/etc/logingate/logingate.yaml", "[duo]\nikey = x\n", true},
		{"/etc/logingate/logingate.yaml", "\n; comment\n# comment\n  [duo]  \n", true},
		{"/etc/logingate/logingate.yaml", "\ufeff[duo]\n", true},
		{"/etc/logingate/logingate.yaml", "[duo] trailing\n", true},
		{"/etc/logingate/logingate.yaml", "[]\n", true},
		{"/etc/logingate/logingate.yaml", "failmode: secure\n[duo]\n", false},
		{"/etc/logingate/logingate.yaml", "# [duo]\nfailmode: secure\n", false},
		{"/etc/logingate/logingate.yaml", "", false},
		{"/etc/logingate/logingate.yaml", `["*"]` + "\n", false},
		{"/etc/logingate/logingate.yaml", "[a, b]\n", false},
		{"/etc/logingate/logingate.yaml", "[duo\n", false},
		{"/etc/logingate/logingate.yaml", "{a: b}\n", false},
		{"/etc/logingate/logingate.conf.yaml", "failmode: secure\n", false},
		{"/etc/logingate/login_duo.config", "failmode: secure\n", false},
	} {
		if got := isLoginDuo(tt.path, []byte(tt.data)); got != tt.want {
			t.Errorf("isLoginDuo(%q, %q) = %t, want %t", tt.path, tt.data, got, tt.want)
		}
	}

	// Through Load: a YAML-named file with a section header is read as INI.
	path := writeConfig(t, "[duo]\n"+iniKeys3)
	cfg, err := Load(path, testHost)
	if err != nil || !cfg.DropIn {
		t.Fatalf("Load of an INI file named .yaml: %v, %+v", err, cfg)
	}
}

// login_duo's file holds the secret key: readable by others is refused with
// the command that fixes it; root's group and 0640 are fine.
func TestLoginDuoPermissions(t *testing.T) {
	path := writeINI(t, iniKeys3)
	chmod(t, path, 0o640)
	if _, err := Load(path, testHost); err != nil {
		t.Fatalf("0640: %v", err)
	}
	chmod(t, path, 0o644)
	wantRefused(t, path, "readable by others (mode 0644) and holds skey", "fix: chgrp logingate "+path+" && chmod 640 "+path)
	chmod(t, path, 0o604)
	wantRefused(t, path, "readable by others (mode 0604)")
	if _, err := Load(path, testHost); err != nil && strings.Contains(err.Error(), "skey_file") {
		t.Errorf("a login_duo file has no skey_file to suggest: %v", err)
	}
}

// login_duo's own install: owned by its privilege-separation user, mode
// 600. The error hands it to root and the logingate group in one command.
func TestLoginDuoOwnedByPrivsepUser(t *testing.T) {
	need.Root(t)
	path := writeINI(t, iniKeys3)
	if err := os.Chown(path, 65534, 0); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, path, "owned by uid 65534, not root; fix: chown root:logingate "+path+" && chmod 640 "+path)
}

// The gate reads the file with the logging-in user's rights plus the
// logingate group: a root-owned 0600 file is unreadable, and the error says
// the one command that fixes it. Run as nobody in a child process.
func TestLoginDuoUnreadable(t *testing.T) {
	if path := os.Getenv("LOGINGATE_TEST_UNREADABLE"); path != "" {
		_, err := Load(path, testHost)
		if err == nil {
			t.Fatal("Load of an unreadable file succeeded")
		}
		os.Stdout.WriteString(err.Error())
		return
	}
	need.Root(t)
	// A tree nobody may traverse, holding a copy of this test binary.
	top := t.TempDir()
	chmod(t, filepath.Dir(top), 0o755)
	chmod(t, top, 0o755)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "config.test")
	if err := os.Link(exe, bin); err != nil {
		data, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chmod(t, bin, 0o755)
	path := writeFile(t, top, "login_duo.conf", iniKeys3, 0o600)

	cmd := exec.Command(bin, "-test.run=^TestLoginDuoUnreadable$")
	cmd.Env = append(os.Environ(), "LOGINGATE_TEST_UNREADABLE="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := path + ": cannot open: permission denied; logingate reads it with the logingate group's rights; fix: chgrp logingate " + path + " && chmod 640 " + path
	if !strings.Contains(string(out), want) {
		t.Errorf("child said %q\nwant %q", out, want)
	}
}

func BenchmarkLoadLoginDuo(b *testing.B) {
	path := writeINI(b, "[duo]\n"+iniKeys3+"groups = users,!wheel *admin\nfailmode = secure\nautopush = yes\npushinfo = yes\nhttps_timeout = 15\n")
	for b.Loop() {
		if _, err := Load(path, testHost); err != nil {
			b.Fatal(err)
		}
	}
}

// A login_duo file that does not load is still logged where login_duo's
// alerts look: its ident and facility, in its wording.
func TestForLoadError(t *testing.T) {
	for _, tc := range []struct {
		path, ident, facility string
		dropIn                bool
	}{
		{"/etc/duo/login_duo.conf", "login_duo", "user", true},
		{"/etc/duo/pam_duo.ini", "login_duo", "user", true},
		{"/etc/logingate/logingate.yaml", "logingate", "authpriv", false},
	} {
		d := ForLoadError(tc.path)
		if d.Syslog.Ident != tc.ident || d.Syslog.Facility != tc.facility || d.DropIn != tc.dropIn {
			t.Errorf("%s: ident %q facility %q drop-in %v, want %q %q %v",
				tc.path, d.Syslog.Ident, d.Syslog.Facility, d.DropIn, tc.ident, tc.facility, tc.dropIn)
		}
	}
}
