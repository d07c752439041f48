package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/logingate/logingate/internal/testutil/pgtest"
)

// TestStoreScripts runs the scripts in testdata/store: `logingate store`
// and the postgres backend as root uses them, against a real PostgreSQL
// started for the test. They live apart from testdata/script because each
// needs a database. A script's environment holds:
//
//	DSN                   a fresh database's postgres:// URL, with the password
//	PGPASS                that password
//	BADDSN, BADPASS       the same URL with a wrong password, and that password
//	KEY1, KEY2, KEY3      key-file lines "k1:BASE64" ... (random per script)
//	KEY1BAD               k1's id with other key bytes
//
// In these scripts `exits` also fails when the command's stdout or stderr
// holds PGPASS, BADPASS or the base64 of any of those keys.
func TestStoreScripts(t *testing.T) {
	requireRoot(t)
	srv := pgtest.Start(t)
	cmds := maps.Clone(scriptCommands)
	cmds["exits"] = cmdExitsNoSecrets
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/store",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Values[auditKey{}] = &auditHolder{}
			dsn, err := newDatabase(srv)
			if err != nil {
				return err
			}
			env.Setenv("DSN", dsn)
			env.Setenv("PGPASS", srv.Password)
			bad, err := url.Parse(dsn)
			if err != nil {
				return err
			}
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			env.Setenv("BADPASS", hex.EncodeToString(b))
			bad.User = url.UserPassword(pgtest.Superuser, hex.EncodeToString(b))
			env.Setenv("BADDSN", bad.String())
			for _, id := range []string{"1", "2", "3", "1BAD"} {
				b := make([]byte, 32)
				_, _ = rand.Read(b)
				env.Setenv("KEY"+id, "k"+strings.TrimSuffix(id, "BAD")+":"+base64.StdEncoding.EncodeToString(b))
			}
			return os.Chmod(env.WorkDir, 0o755)
		},
		Cmds:      cmds,
		Condition: scriptCondition,
	})
}

// newDatabase creates a database on srv and returns its DSN.
func newDatabase(srv *pgtest.Server) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "s_" + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return srv.DSN(name), nil
}

// cmdExitsNoSecrets is exits, then a check that nothing the command printed
// holds the database password or a key.
func cmdExitsNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	cmdExits(ts, neg, args)
	secrets := map[string]string{"the database password": ts.Getenv("PGPASS"), "the wrong password": ts.Getenv("BADPASS")}
	for _, id := range []string{"KEY1", "KEY2", "KEY3", "KEY1BAD"} {
		_, b64, _ := strings.Cut(ts.Getenv(id), ":")
		secrets[id+"'s key"] = b64
	}
	for _, stream := range []string{"stdout", "stderr"} {
		out := ts.ReadFile(stream)
		for what, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				ts.Fatalf("%s shows %s", stream, what)
			}
		}
	}
}
