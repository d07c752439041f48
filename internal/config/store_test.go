package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testDSNPassword = "s3cret-dsn-pw"

// TestStorePostgres: dsn_file and key_file are read, with the permission
// checks of duo.skey_file, and the DSN's password never shows.
func TestStorePostgres(t *testing.T) {
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "store.dsn")
	keyFile := filepath.Join(dir, "store.keys")
	dsn := "postgres://logingate:" + testDSNPassword + "@db.example.org/logingate"
	write := func(p, s string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(dsnFile, dsn+"\n", 0o600)
	write(keyFile, "k1:AAAA\n", 0o600)
	yaml := fmt.Sprintf("store: {backend: postgres, dsn_file: %s, key_file: %s, timeout: 500ms, host: web-1}\n", dsnFile, keyFile)
	cfg, err := Load(writeConfig(t, yaml), testHost)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Store
	if s.DSN != dsn || string(s.Keys) != "k1:AAAA\n" || s.Host != "web-1" || s.Timeout.Milliseconds() != 500 {
		t.Errorf("store section: %v", s)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", s)} {
		if strings.Contains(out, testDSNPassword) {
			t.Errorf("printed config shows the DSN's password: %s", out)
		}
	}

	// Readable by others: refused, naming the file, not the content.
	write(dsnFile, dsn+"\n", 0o644)
	_, err = Load(writeConfig(t, yaml), testHost)
	if err == nil || !strings.Contains(err.Error(), "store.dsn_file") || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable dsn_file: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), testDSNPassword) {
		t.Errorf("error quotes the DSN: %v", err)
	}
	write(dsnFile, dsn+"\n", 0o600)
	write(keyFile, "k1:AAAA\n", 0o604)
	if _, err := Load(writeConfig(t, yaml), testHost); err == nil || !strings.Contains(err.Error(), "store.key_file") {
		t.Errorf("world-readable key_file: %v", err)
	}

	// A password inline in a config others may read is refused too.
	inline := writeConfig(t, fmt.Sprintf("store: {backend: postgres, dsn: %q, key_file: %s}\n", dsn, dsnFile))
	if err := os.Chmod(inline, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(inline, testHost)
	if err == nil || !strings.Contains(err.Error(), "store.dsn_file") || strings.Contains(err.Error(), testDSNPassword) {
		t.Errorf("inline DSN password in a world-readable config: %v", err)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"host=db user=lg password=pw dbname=x": "host=db user=lg password=REDACTED dbname=x",
		"host=db user=lg":                      "host=db user=lg",
		"postgres://lg:pw@db/x":                "postgres://lg:REDACTED@db/x",
		"postgres://lg@db/x?password=pw":       "postgres://lg@db/x?password=REDACTED",
		"host=db password='p w'":               "host=db password=REDACTED",
		// Every spelling libpq (and pgx) reads as a password.
		"host=db password = hunter2":             "host=db password=REDACTED",
		"host=db password= hunter2 user=lg":      "host=db password=REDACTED user=lg",
		`host=db password=hun\ ter2 user=lg`:     "host=db password=REDACTED user=lg",
		`password='it\'s x' host=db`:             "password=REDACTED host=db",
		"host=db sslpassword=hunter2":            "host=db sslpassword=REDACTED",
		"postgres://lg@db/x?sslpassword=hunter2": "postgres://lg@db/x?sslpassword=REDACTED",
		"host='my db' user=lg":                   "host='my db' user=lg",
		"host=db password='unterminated hunter2": "REDACTED",
		"hunter2":                                "REDACTED",
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(want, "REDACTED") != dsnHasPassword(in) {
			t.Errorf("dsnHasPassword(%q) = %v", in, dsnHasPassword(in))
		}
	}
	for _, in := range []string{"host=db user=lg", "host = db  user=lg", "postgres://lg@db/x", ""} {
		if dsnHasPassword(in) {
			t.Errorf("dsnHasPassword(%q) = true for a DSN without a password", in)
		}
	}
}
