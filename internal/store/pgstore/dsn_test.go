package pgstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// hostileEnv sets every variable the driver reads, and a HOME whose
// ~/.pgpass, ~/.pg_service.conf and ~/.postgresql files would each change
// the connection if read (the certificates are garbage: reading one is an
// error).
func hostileEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pgpass := write(".pgpass", "*:*:*:*:from-pgpass\n")
	write(".pg_service.conf", "[svc]\nhost=evil.example\n")
	garbage := write(".postgresql/root.crt", "not a certificate\n")
	write(".postgresql/postgresql.crt", "not a certificate\n")
	write(".postgresql/postgresql.key", "not a key\n")
	for k, v := range map[string]string{
		"HOME":                 dir,
		"PGHOST":               "/caller/socket/dir",
		"PGPORT":               "6666",
		"PGDATABASE":           "callerdb",
		"PGUSER":               "caller",
		"PGPASSWORD":           "from-env",
		"PGPASSFILE":           pgpass,
		"PGAPPNAME":            "caller-app",
		"PGCONNECT_TIMEOUT":    "1",
		"PGSSLMODE":            "disable",
		"PGSSLKEY":             garbage,
		"PGSSLCERT":            garbage,
		"PGSSLCERTMODE":        "require",
		"PGSSLSNI":             "0",
		"PGSSLROOTCERT":        garbage,
		"PGSSLPASSWORD":        "from-env",
		"PGSSLNEGOTIATION":     "direct",
		"PGTARGETSESSIONATTRS": "read-write",
		"PGSERVICEFILE":        filepath.Join(dir, ".pg_service.conf"),
		"PGTZ":                 "Antarctica/Troll",
		"PGOPTIONS":            "-c search_path=caller",
		"PGMINPROTOCOLVERSION": "3.2",
		"PGMAXPROTOCOLVERSION": "3.2",
		"PGCHANNELBINDING":     "require",
		"PGREQUIREAUTH":        "password",
	} {
		t.Setenv(k, v)
	}
}

// noEnv runs fn with the process environment empty, then restores it.
func noEnv(fn func()) {
	saved := os.Environ()
	os.Clearenv()
	defer func() {
		os.Clearenv()
		for _, kv := range saved {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}()
	fn()
}

// describe prints what a connection would use: where it goes, as whom,
// with what, and how it checks the server.
func describe(cc *pgx.ConnConfig) string {
	s := fmt.Sprintf("host=%s port=%d db=%q user=%q password=%q sslneg=%q binding=%s auth=%q min=%s max=%s validate=%v certmode=%v",
		cc.Host, cc.Port, cc.Database, cc.User, cc.Password, cc.SSLNegotiation, cc.ChannelBinding, cc.RequireAuth,
		cc.MinProtocolVersion, cc.MaxProtocolVersion, cc.ValidateConnect != nil, cc.SSLCertMode)
	if cc.TLSConfig != nil {
		s += fmt.Sprintf(" tls(server=%q insecure=%v roots=%v certs=%d)", cc.TLSConfig.ServerName, cc.TLSConfig.InsecureSkipVerify, cc.TLSConfig.RootCAs != nil, len(cc.TLSConfig.Certificates))
	}
	for _, f := range cc.Fallbacks {
		s += fmt.Sprintf(" fallback(%s:%d tls=%v)", f.Host, f.Port, f.TLSConfig != nil)
	}
	for _, k := range []string{"application_name", "timezone", "options", "search_path"} {
		if v, ok := cc.RuntimeParams[k]; ok {
			s += fmt.Sprintf(" %s=%q", k, v)
		}
	}
	return s
}

// With every PG* variable and $HOME file of the caller's in place, the
// store connects exactly as the DSN alone says, with the driver's own
// defaults for what it leaves out: the same as with no environment at all.
func TestSealedDSNIgnoresEnvironment(t *testing.T) {
	keys, err := ParseKeyring([]byte(key("k1", 1) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		"user=lg password=pw dbname=lg", // reproduction 2: no host
		"dbname=lg",
		"host=db.example port=5433 user=lg sslmode=verify-full",
		"host=db.example user=lg sslmode=require application_name=mine",
		"host = 'db.example' user=lg passfile=/nonexistent options='-c x=y'",
		"postgres://lg:pw@/lg",
		"postgres:///lg?sslmode=require",
		"postgres://db.example",
		"postgresql://lg@db.example,db2.example:5433/lg?application_name=x",
		"postgresql://[::1]:5433/lg?user=other",
		"postgres://lg@db.example/lg?ssl=true",
		"postgres://db.example:5433?dbname=x&password=p",
	} {
		t.Run(dsn, func(t *testing.T) {
			var want string
			noEnv(func() {
				cc, err := pgx.ParseConfig(dsn)
				if err != nil {
					t.Fatalf("the DSN alone: %v", err)
				}
				if _, set := cc.RuntimeParams["application_name"]; !set {
					cc.RuntimeParams["application_name"] = "logingate"
				}
				want = describe(cc)
			})
			hostileEnv(t)
			s, err := Open(Options{DSN: dsn, Keys: keys})
			if err != nil {
				t.Fatalf("Open under the caller's environment: %v", err)
			}
			if got := describe(s.cfg); got != want {
				t.Errorf("under the caller's environment:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// A service the caller names in PGSERVICE is never looked up in a file the
// DSN does not name: the store refuses to open rather than connect there.
func TestSealedDSNRefusesCallersService(t *testing.T) {
	keys, err := ParseKeyring([]byte(key("k1", 1) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	if err := os.WriteFile(services, []byte("[svc]\nhost=evil.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("PGSERVICEFILE", services)
	t.Setenv("PGSERVICE", "svc")
	for _, dsn := range []string{"user=lg dbname=lg", "postgres://lg@/lg"} {
		s, err := Open(Options{DSN: dsn, Keys: keys})
		if err == nil && strings.Contains(describe(s.cfg), "evil.example") {
			t.Errorf("%q: the caller's service file chose the server: %s", dsn, describe(s.cfg))
		}
	}
}

// BenchmarkParseSealed is what sealing costs a gate, against
// BenchmarkParsePlain: one account lookup and a longer string to parse.
func BenchmarkParseSealed(b *testing.B) {
	for b.Loop() {
		dsn, err := sealDSN("user=lg password=pw dbname=lg")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pgx.ParseConfig(dsn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePlain(b *testing.B) {
	for b.Loop() {
		if _, err := pgx.ParseConfig("user=lg password=pw dbname=lg"); err != nil {
			b.Fatal(err)
		}
	}
}
