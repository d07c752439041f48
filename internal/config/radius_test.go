package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const testRadiusSecret = "radius-shared-secret-xyz"

func radiusYAML(secretFile string, extra ...string) string {
	s := "radius:\n  servers:\n    - address: \"otp1.example.org:1812\"\n      secret_file: " + secretFile + "\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

// A radius: section with one server gets every default; a second server's
// own keys are its own.
func TestRadiusDefaults(t *testing.T) {
	dir := secureDir(t)
	secret := writeFile(t, dir, "radius.secret", testRadiusSecret+"\n", 0o640)
	yaml := radiusYAML(secret) + "    - {address: \"[2001:db8::1]:1645\", secret_file: " + secret +
		", timeout: 500ms, retries: 0, require_message_authenticator: false}\n"
	cfg, err := Load(writeConfig(t, yaml), testHost)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Radius
	want := []RadiusServer{
		{Address: "otp1.example.org:1812", SecretFile: secret, Secret: []byte(testRadiusSecret), Timeout: 3 * time.Second, Retries: 2, RequireMessageAuthenticator: true},
		{Address: "[2001:db8::1]:1645", SecretFile: secret, Secret: []byte(testRadiusSecret), Timeout: 500 * time.Millisecond, Retries: 0},
	}
	if fmt.Sprintf("%#v", r.Servers) != fmt.Sprintf("%#v", want) || string(r.Servers[0].Secret) != testRadiusSecret {
		t.Errorf("servers:\n got %#v\nwant %#v", r.Servers, want)
	}
	if r.NASIdentifier != testHost || r.Label != "RADIUS" || r.Username != "%u" || r.NASIPAddress != "" {
		t.Errorf("section defaults: %+v", *r)
	}
	if got := fmt.Sprintf("%v %+v %#v", *r, r.Servers, r.Servers[0]); strings.Contains(got, testRadiusSecret) {
		t.Errorf("printing the config shows the secret: %s", got)
	}
	if cfg, err := Load(writeConfig(t, "failmode: secure\n"), testHost); err != nil || cfg.Radius != nil {
		t.Errorf("no radius: section: %v, %v", cfg, err)
	}
}

// Each bad value is named by its key; no error quotes the secret.
func TestRadiusValidation(t *testing.T) {
	dir := secureDir(t)
	secret := writeFile(t, dir, "radius.secret", testRadiusSecret, 0o600)
	server := func(s string) string { return "radius: {servers: [{" + s + "}]}" }
	good := "address: \"otp:1812\", secret_file: " + secret
	for _, tt := range []struct{ name, yaml, key, msg string }{
		{"servers not a list", "radius: {servers: otp:1812}", "radius.servers", "must be a list of sections"},
		{"server not a section", "radius: {servers: [otp]}", "radius.servers[1]", "must be a section of keys, not a string"},
		{"empty list", "radius: {servers: []}", "radius.servers", "missing; list at least one server"},
		{"unknown server key", server(good + ", port: 1812"), "radius.servers[1].port", "unknown key"},
		{"inline secret", server(good + ", secret: " + testRadiusSecret), "radius.servers[1].secret", "never written in the config"},
		{"no address", server("secret_file: " + secret), "radius.servers[1].address", "missing"},
		{"bad address", server("address: \"otp example:1812\", secret_file: " + secret), "radius.servers[1].address", "not a valid host name"},
		{"bad port", server("address: \"otp:99999\", secret_file: " + secret), "radius.servers[1].address", "port between 1 and 65535"},
		{"bare IPv6", server("address: \"2001:db8::1\", secret_file: " + secret), "radius.servers[1].address", "in brackets"},
		{"twice", "radius: {servers: [{" + good + "}, {" + good + "}]}", "radius.servers[2].address", "the same server twice"},
		{"no secret_file", server("address: otp"), "radius.servers[1].secret_file", "missing"},
		{"relative secret_file", server("address: otp, secret_file: radius.secret"), "radius.servers[1].secret_file", "absolute path"},
		{"missing secret_file", server("address: otp, secret_file: " + dir + "/none"), "radius.servers[1].secret_file", "cannot open"},
		{"timeout too short", server(good + ", timeout: 10ms"), "radius.servers[1].timeout", "between 100ms and 1m"},
		{"timeout without unit", server(good + ", timeout: 3"), "radius.servers[1].timeout", "needs a unit"},
		{"retries", server(good + ", retries: 11"), "radius.servers[1].retries", "between 0 and 10"},
		{"require as a string", server(good + ", require_message_authenticator: no"), "radius.servers[1].require_message_authenticator", "must be true or false"},
		{"nas_ip_address", "radius: {servers: [{" + good + "}], nas_ip_address: host}", "radius.nas_ip_address", "IPv4 or IPv6"},
		{"nas_identifier empty", "radius: {servers: [{" + good + "}], nas_identifier: \"\"}", "radius.nas_identifier", "must not be empty"},
		{"label empty", "radius: {servers: [{" + good + "}], label: \" \"}", "radius.label", "must not be empty"},
		{"username without %u", "radius: {servers: [{" + good + "}], username: admin}", "radius.username", "must contain %u"},
		{"username bad escape", "radius: {servers: [{" + good + "}], username: \"%u@%d\"}", "radius.username", "%u (the Unix user) and %% only"},
		{"unknown section key", "radius: {servers: [{" + good + "}], username_attribute: 1}", "radius.username_attribute", "unknown key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := Load(path, testHost)
			if err == nil {
				t.Fatal("accepted")
			}
			want := path + ": " + tt.key + ": "
			found := false
			for _, e := range problemList(err) {
				found = found || strings.HasPrefix(e.Error(), want) && strings.Contains(e.Msg, tt.msg)
			}
			if !found {
				t.Errorf("error %q lacks %q...%q", err, want, tt.msg)
			}
			if strings.Contains(err.Error(), testRadiusSecret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

// The secret file is checked as duo.skey_file is.
func TestRadiusSecretFile(t *testing.T) {
	dir := secureDir(t)
	for _, tt := range []struct {
		name, data string
		mode       os.FileMode
		msg        string
	}{
		{"world-readable", testRadiusSecret, 0o644, "readable by others (mode 0644) and holds a RADIUS shared secret"},
		{"group-writable", testRadiusSecret, 0o660, "writable by group or others"},
		{"empty", "\n", 0o600, "is empty"},
		{"two lines", testRadiusSecret + "\n" + testRadiusSecret + "\n", 0o600, "must hold the shared secret alone, on one line"},
		{"too large", strings.Repeat("k", maxRadiusSecretFile+1), 0o600, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, dir, tt.name, tt.data, tt.mode)
			path := writeConfig(t, radiusYAML(f))
			_, err := Load(path, testHost)
			if err == nil {
				t.Fatal("accepted")
			}
			if want := path + ": radius.servers[1].secret_file: " + f + ": "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q...%q", err, want, tt.msg)
			}
			if strings.Contains(err.Error(), testRadiusSecret) || strings.Contains(err.Error(), "kkkkkkkk") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestRadiusUserName(t *testing.T) {
	for tmpl, want := range map[string]string{"%u": "alice", "%u@corp": "alice@corp", "corp\\%u": "corp\\alice", "100%%-%u": "100%-alice"} {
		r := Radius{Username: tmpl}
		if got := r.UserName("alice"); got != want {
			t.Errorf("%q: %q, want %q", tmpl, got, want)
		}
	}
}
