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

// TestStoreDSNFilesTrusted: the files a DSN names (sslrootcert, sslcert,
// sslkey, passfile, servicefile), which the driver reads by name, pass the
// path-trust rule as the config's own secret files do: one in a directory
// others may write is refused, and so is a relative one, which would be
// found from the caller's working directory.
func TestStoreDSNFilesTrusted(t *testing.T) {
	dir := t.TempDir()
	safe := filepath.Join(dir, "safe")
	open := filepath.Join(dir, "open")
	for _, d := range []string{safe, open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{safe, open} {
		if err := os.WriteFile(filepath.Join(d, "ca.pem"), []byte("not read here\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keyFile := filepath.Join(safe, "store.keys")
	if err := os.WriteFile(keyFile, []byte("k1:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(dsn string) error {
		t.Helper()
		dsnFile := filepath.Join(safe, "store.dsn")
		if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(writeConfig(t, fmt.Sprintf("store: {backend: postgres, dsn_file: %s, key_file: %s}\n", dsnFile, keyFile)), testHost)
		return err
	}
	good := filepath.Join(safe, "ca.pem")
	bad := filepath.Join(open, "ca.pem")
	for _, dsn := range []string{
		"host=db.example.org sslmode=verify-full sslrootcert=" + good,
		"host=db.example.org sslmode=verify-full sslrootcert='" + good + "'",
		"postgres://db.example.org/logingate?sslmode=verify-full&sslrootcert=" + good,
		"host=db.example.org sslmode=verify-full sslrootcert=system",
	} {
		if err := load(dsn); err != nil {
			t.Errorf("%s: %v", dsn, err)
		}
	}
	for _, tc := range []struct{ dsn, want string }{
		{"host=db.example.org sslmode=verify-full sslrootcert=" + bad, "writable by group or others"},
		{"host=db.example.org sslmode=verify-full sslrootcert = '" + bad + "'", "writable by group or others"},
		{"postgres://db.example.org/logingate?sslmode=verify-full&sslrootcert=" + bad, "writable by group or others"},
		{"host=db.example.org sslcert=" + bad + " sslkey=" + good, "sslcert"},
		{"host=db.example.org sslkey=" + bad, "sslkey"},
		{"host=db.example.org passfile=" + bad, "passfile"},
		{"host=db.example.org service=x servicefile=" + bad, "servicefile"},
		{"host=db.example.org sslmode=verify-full sslrootcert=ca.pem", "must be an absolute path"},
	} {
		err := load(tc.dsn)
		if err == nil || !strings.Contains(err.Error(), "store.dsn_file") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error about store.dsn_file with %q", tc.dsn, err, tc.want)
		}
	}
}

// TestStoreDSNSocketDirs: a DSN whose host is a socket directory where
// others can bind the socket (or make the directory) is refused, and so is
// one naming no host when the driver would fall back to such a directory;
// a server's own socket directory passes.
func TestStoreDSNSocketDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the socket directory belongs to another user")
	}
	dir := t.TempDir()
	server := filepath.Join(dir, "postgresql")
	tmp := filepath.Join(dir, "tmp")
	for d, mode := range map[string]os.FileMode{server: os.ModeSetgid | 0o775, tmp: os.ModeSticky | 0o777} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(server, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "store.keys")
	if err := os.WriteFile(keyFile, []byte("k1:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(dsn string) error {
		t.Helper()
		_, err := Load(writeConfig(t, fmt.Sprintf("store: {backend: postgres, dsn: %q, key_file: %s}\n", dsn, keyFile)), testHost)
		return err
	}
	defaults := pgDefaultSocketDirs
	t.Cleanup(func() { pgDefaultSocketDirs = defaults })
	pgDefaultSocketDirs = []string{server}
	for _, dsn := range []string{
		"host=" + server + " dbname=logingate",
		"host=db.example.org dbname=logingate",
		"postgres:///logingate?host=" + server,
		"dbname=logingate",
	} {
		if err := load(dsn); err != nil {
			t.Errorf("%s: %v", dsn, err)
		}
	}
	for _, dsn := range []string{
		"host=" + tmp + " dbname=logingate",
		"host='db.example.org," + tmp + "' dbname=logingate",
		"host=" + filepath.Join(tmp, "pg") + " dbname=logingate",
		"postgres:///logingate?host=" + tmp,
	} {
		if err := load(dsn); err == nil || !strings.Contains(err.Error(), "store.dsn") || !strings.Contains(err.Error(), tmp) {
			t.Errorf("%s: got %v, want the socket directory refused", dsn, err)
		}
	}
	pgDefaultSocketDirs = []string{filepath.Join(dir, "none"), tmp}
	if err := load("dbname=logingate"); err == nil || !strings.Contains(err.Error(), "names no host") {
		t.Errorf("no host, driver falls back to a sticky directory: got %v", err)
	}
}
