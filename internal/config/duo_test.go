package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
)

// testSKey is a secret key as Duo issues them: 40 characters. No error
// may ever contain it.
const testSKey = "Zq9sEcReTkEy0123456789abcdefghijKLMNOPQR"

const testIKey = "DIWJ8X6AEYOR5OMC6TQ1"

// duoYAML is a minimal duo: section plus extra lines inside it.
func duoYAML(extra ...string) string {
	s := "duo:\n  host: api-3ff1e4c7.duosecurity.com\n  ikey: " + testIKey + "\n  skey: " + testSKey + "\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

// testPEM is a syntactically valid PEM certificate block; the config only
// checks that one is there (the Duo client parses it).
const testPEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydA==\n-----END CERTIFICATE-----\n"

func writeFile(t testing.TB, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode)
	return path
}

func TestDuoValidation(t *testing.T) {
	caDir := t.TempDir()
	ca := writeFile(t, caDir, "ca.pem", testPEM, 0o644)
	notPEM := writeFile(t, caDir, "not.pem", "hello\n", 0o644)
	base := func(c *Config) {
		d := defaultDuo()
		d.Host, d.IKey, d.SKey = "api-3ff1e4c7.duosecurity.com", testIKey, testSKey
		c.Duo = &d
	}
	with := func(f func(d *Duo)) func(c *Config) {
		return func(c *Config) { base(c); f(c.Duo) }
	}
	tests := []struct {
		name, yaml string
		want       func(c *Config)
		key, msg   string
	}{
		{name: "minimal", yaml: duoYAML(), want: base},
		{name: "every key", yaml: duoYAML("autopush: true", "pushinfo: true", "https_timeout: 30s", `http_proxy: "http://proxy.example.org:3128"`, "cafile: "+ca),
			want: with(func(d *Duo) {
				d.Autopush, d.Pushinfo, d.HTTPSTimeout, d.HTTPProxy, d.CAFile, d.CAPEM = true, true, 30*time.Second, "http://proxy.example.org:3128", ca, []byte(testPEM)
			})},
		{name: "headless push with duo", yaml: duoYAML() + "headless: push\n", want: func(c *Config) { base(c); c.Headless = "push" }},
		{name: "noverify", yaml: duoYAML("noverify: true"), want: with(func(d *Duo) { d.NoVerify = true })},
		{name: "host with port", yaml: strings.Replace(duoYAML(), "duosecurity.com", "duosecurity.com:8443", 1), want: with(func(d *Duo) { d.Host += ":8443" })},
		{name: "host IPv4 and port", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7.duosecurity.com", "127.0.0.1:4443", 1), want: with(func(d *Duo) { d.Host = "127.0.0.1:4443" })},
		{name: "host IPv6 and port", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7.duosecurity.com", `"[::1]:4443"`, 1), want: with(func(d *Duo) { d.Host = "[::1]:4443" })},
		{name: "https_timeout bare zero", yaml: duoYAML("https_timeout: 0"), want: with(func(d *Duo) { d.HTTPSTimeout = 0 })},
		{name: "https_timeout zero seconds", yaml: duoYAML("https_timeout: 0s"), want: with(func(d *Duo) { d.HTTPSTimeout = 0 })},
		{name: "http_proxy https with user", yaml: duoYAML(`http_proxy: "https://user:pw@proxy:8080/"`), want: with(func(d *Duo) { d.HTTPProxy = "https://user:pw@proxy:8080/" })},

		{name: "a number", yaml: "duo: 5", key: "duo", msg: "must be a section of keys"},
		{name: "no value", yaml: "duo:", key: "duo", msg: "has no value"},
		{name: "empty section", yaml: "duo: {}", key: "duo.host", msg: "missing; set the API hostname"},
		{name: "host missing", yaml: "duo: {ikey: x, skey: y}", key: "duo.host", msg: "missing"},
		{name: "host with scheme", yaml: strings.Replace(duoYAML(), "api-", "https://api-", 1), key: "duo.host", msg: "without a scheme"},
		{name: "host with path", yaml: strings.Replace(duoYAML(), "duosecurity.com", "duosecurity.com/auth", 1), key: "duo.host", msg: "nothing else"},
		{name: "host bad port", yaml: strings.Replace(duoYAML(), "duosecurity.com", "duosecurity.com:99999", 1), key: "duo.host", msg: "port between 1 and 65535"},
		{name: "host empty port", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7.duosecurity.com", `"api.duosecurity.com:"`, 1), key: "duo.host", msg: "no port"},
		{name: "host bad name", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7", "api_3ff1e4c7", 1), key: "duo.host", msg: "not a valid host name"},
		{name: "host bare IPv6", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7.duosecurity.com", `"::1"`, 1), key: "duo.host", msg: "IPv6 address as [ADDRESS]:PORT"},
		{name: "host number", yaml: strings.Replace(duoYAML(), "api-3ff1e4c7.duosecurity.com", "5", 1), key: "duo.host", msg: "must be a string"},
		{name: "ikey missing", yaml: "duo: {host: api.example.com, skey: " + testSKey + "}", key: "duo.ikey", msg: "missing"},
		{name: "ikey space", yaml: strings.Replace(duoYAML(), testIKey, `"DI X"`, 1), key: "duo.ikey", msg: "must not contain spaces"},
		{name: "skey missing", yaml: "duo: {host: api.example.com, ikey: DI}", key: "duo.skey", msg: "missing; set skey or skey_file"},
		{name: "skey space", yaml: strings.Replace(duoYAML(), testSKey, `"`+testSKey+` x"`, 1), key: "duo.skey", msg: "must not contain spaces"},
		{name: "skey and skey_file", yaml: duoYAML("skey_file: /etc/duo.skey"), key: "duo.skey_file", msg: "set together with duo.skey; keep one"},
		{name: "skey_file relative", yaml: "duo: {host: api.example.com, ikey: DI, skey_file: duo.skey}", key: "duo.skey_file", msg: "must be an absolute path"},
		{name: "skey_file missing file", yaml: "duo: {host: api.example.com, ikey: DI, skey_file: " + caDir + "/none}", key: "duo.skey_file", msg: caDir + "/none: cannot open: no such file"},
		{name: "autopush yes", yaml: duoYAML("autopush: yes"), key: "duo.autopush", msg: "must be true or false (YAML 1.2"},
		{name: "https_timeout negative", yaml: duoYAML("https_timeout: -1s"), key: "duo.https_timeout", msg: "must be 0 (none) or up to 24h"},
		{name: "https_timeout too long", yaml: duoYAML("https_timeout: 25h"), key: "duo.https_timeout", msg: "must be 0 (none) or up to 24h"},
		{name: "https_timeout bare number", yaml: duoYAML("https_timeout: 15"), key: "duo.https_timeout", msg: "needs a unit"},
		{name: "http_proxy no scheme", yaml: duoYAML("http_proxy: proxy:3128"), key: "duo.http_proxy", msg: "must start with http:// or https://"},
		{name: "http_proxy socks", yaml: duoYAML(`http_proxy: "socks5://proxy:1080"`), key: "duo.http_proxy", msg: "must start with http:// or https://"},
		{name: "http_proxy path", yaml: duoYAML(`http_proxy: "http://proxy:3128/x"`), key: "duo.http_proxy", msg: "no path, query or fragment"},
		{name: "http_proxy bad port", yaml: duoYAML(`http_proxy: "http://proxy:0"`), key: "duo.http_proxy", msg: "port between 1 and 65535"},
		{name: "http_proxy no host", yaml: duoYAML(`http_proxy: "http://:3128"`), key: "duo.http_proxy", msg: "has no host"},
		{name: "cafile relative", yaml: duoYAML("cafile: ca.pem"), key: "duo.cafile", msg: "must be an absolute path"},
		{name: "cafile missing", yaml: duoYAML("cafile: " + caDir + "/none.pem"), key: "duo.cafile", msg: "no such file"},
		{name: "cafile not PEM", yaml: duoYAML("cafile: " + notPEM), key: "duo.cafile", msg: "no PEM certificate"},
		{name: "cafile and noverify", yaml: duoYAML("cafile: "+ca, "noverify: true"), key: "duo.noverify", msg: "contradicts cafile"},
		{name: "motd", yaml: duoYAML("motd: true"), key: "duo.motd", msg: "a login_duo key that logingate does not support"},
		{name: "send_gecos", yaml: duoYAML("send_gecos: false"), key: "duo.send_gecos", msg: "does not support (read from a login_duo file only)"},
		{name: "verified_push", yaml: duoYAML("verified_push: true"), key: "duo.verified_push", msg: "does not support"},
		{name: "failmode inside duo", yaml: duoYAML("failmode: safe"), key: "duo.failmode", msg: "belongs at the top level"},
		{name: "unknown key", yaml: duoYAML("hostname: x"), key: "duo.hostname", msg: "unknown key"},
		{name: "misspelt key", yaml: duoYAML("ikye: x"), key: "duo.ikye", msg: "did you mean ikey?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			cfg, err := Load(path, testHost)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				want := Default(testHost)
				want.Path = path
				tt.want(&want)
				if !reflect.DeepEqual(*cfg, want) || !reflect.DeepEqual(*cfg.Duo, *want.Duo) {
					t.Fatalf("Load:\n got %+v %v\nwant %+v %v", *cfg, cfg.Duo, want, want.Duo)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded: %v", cfg.Duo)
			}
			prefix := path + ": " + tt.key + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got error %q\nwant %q...%q", err, prefix, tt.msg)
			}
			if strings.Contains(err.Error(), testSKey) {
				t.Errorf("error quotes the secret key: %v", err)
			}
		})
	}
}

// The secret key never reaches an error or %v, whatever is wrong around it.
func TestSKeyNeverPrinted(t *testing.T) {
	for _, y := range []string{
		"duo: {skey: " + testSKey + "}",
		"duo: {host: -x, ikey: " + testSKey + ", skey: " + testSKey + "}",
		"duo:\n  skey: " + testSKey + "\n  skey: " + testSKey + "\n",
		"duo:\n  skey: [" + testSKey + "]\n",
		"duo:\n  skey: " + testSKey + " x\n",
		"duo:\n  skey: \"" + testSKey + "\n",
		"duo:\n  skey: " + testSKey + "\n  skey_file: /nonexistent\n",
		"duo:\n  skey: " + testSKey + "\n  http_proxy: " + testSKey + "\n",
		"duo:\n  skey: " + testSKey + "\n  host: " + testSKey + "/x\n",
		"duo:\n  skey: " + testSKey + "\n  cafile: /" + testSKey + "\n",
	} {
		_, err := Load(writeConfig(t, y), testHost)
		if err == nil {
			t.Errorf("Load of %q succeeded", y)
			continue
		}
		// cafile names its own path, which the admin chose to make a secret here.
		if strings.Contains(strings.ReplaceAll(err.Error(), "/"+testSKey+":", ""), testSKey) {
			t.Errorf("error for %q quotes the secret key: %v", y, err)
		}
	}

	d := Duo{Host: "h", IKey: "i", SKey: testSKey, HTTPProxy: "http://user:pw-" + testSKey + "@proxy:3128"}
	for _, s := range []string{fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s", d, &d, d, &d), fmt.Sprintf("%+v", []*Duo{&d})} {
		if strings.Contains(s, testSKey) {
			t.Errorf("printed Duo holds the secret: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("printed Duo does not say REDACTED: %s", s)
		}
	}
}

func TestSKeyFile(t *testing.T) {
	dir := secureDir(t)
	conf := func(keyFile string) string {
		return "duo: {host: api-3ff1e4c7.duosecurity.com, ikey: " + testIKey + ", skey_file: " + keyFile + "}\n"
	}
	good := writeFile(t, dir, "duo.skey", testSKey+"\n", 0o640)
	cfg, err := Load(writeConfig(t, conf(good)), testHost)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Duo.SKey != testSKey || cfg.Duo.SKeyFile != good {
		t.Fatalf("skey_file not read into skey: %v", cfg.Duo)
	}

	// The config itself may then be world-readable: it holds no secret.
	path := writeConfig(t, conf(good))
	chmod(t, path, 0o644)
	if _, err := Load(path, testHost); err != nil {
		t.Errorf("0644 config with skey_file: %v", err)
	}

	for _, tt := range []struct {
		name, data string
		mode       os.FileMode
		msg        []string
	}{
		{"world-readable", testSKey, 0o644, []string{"readable by others (mode 0644) and holds duo.skey", "fix: chgrp logingate "}},
		{"group-writable", testSKey, 0o660, []string{"writable by group or others", "chmod go-w"}},
		{"empty", "\n", 0o600, []string{"is empty"}},
		{"two words", testSKey + " x\n", 0o600, []string{"must hold the secret key alone, on one line"}},
		{"two lines", testSKey + "\n" + testSKey + "\n", 0o600, []string{"must hold the secret key alone, on one line"}},
		{"too large", strings.Repeat("k", maxSKeyFile+1), 0o600, []string{"larger than 4096 bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, dir, tt.name, tt.data, tt.mode)
			path := writeConfig(t, conf(f))
			_, err := Load(path, testHost)
			if err == nil {
				t.Fatal("accepted")
			}
			want := append([]string{path + ": duo.skey_file: " + f + ": "}, tt.msg...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testSKey) || strings.Contains(err.Error(), "kkkkkkkk") {
				t.Errorf("error quotes the key file's content: %v", err)
			}
		})
	}
}

// A config holding an inline secret must not be readable by others.
func TestInlineSKeyPermissions(t *testing.T) {
	path := writeConfig(t, duoYAML())
	for _, mode := range []os.FileMode{0o600, 0o640} {
		chmod(t, path, mode)
		if _, err := Load(path, testHost); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	chmod(t, path, 0o644)
	wantRefused(t, path, "readable by others (mode 0644) and holds duo.skey",
		"fix: chgrp logingate "+path+" && chmod 640 "+path, "duo.skey_file")

	// Without a secret, 0644 stays fine.
	if _, err := Load(writeConfig(t, "prompts: 3\n"), testHost); err != nil {
		t.Fatal(err)
	}
}

// Group-readable is fine for root's group and logingate's, not another.
func TestInlineSKeyOtherGroupRefused(t *testing.T) {
	need.Root(t)
	const nogroup = 65534
	path := writeConfig(t, duoYAML())
	chmod(t, path, 0o640)
	if err := os.Chown(path, 0, nogroup); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, path, "readable by group 65534 (mode 0640) and holds duo.skey", "chgrp logingate")
	chmod(t, path, 0o600)
	if _, err := Load(path, testHost); err != nil {
		t.Errorf("0600 in another group: %v", err)
	}
}
