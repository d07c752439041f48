package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/logingate/logingate/internal/store/pgstore"
	"github.com/logingate/logingate/internal/testutil/pgtest"
)

// pgBench is the PostgreSQL the stress run's second half goes against:
// Debian's server, started by the driver on loopback (initdb in a temp
// directory, a private port, fsync and synchronous_commit on, password
// authentication over TCP), stopped by its pid when the bench ends.
type pgBench struct {
	srv     *pgtest.Server
	dsn     string
	keys    *pgstore.Keyring
	block   string // the store: block of the gate's config
	version string // of PostgreSQL
}

// newPGBench starts PostgreSQL with a fresh database, and writes the DSN
// and key files the gate reads, or says why it cannot (not installed). A
// server that is installed and does not start is an error.
func newPGBench(ctx context.Context, dir string) (*pgBench, string, error) {
	bin := pgtest.BinDir()
	if bin == "" {
		return nil, "PostgreSQL is not installed (Debian package postgresql)", nil
	}
	srv, err := pgtest.Launch(bin)
	if err != nil {
		return nil, "", err
	}
	p := &pgBench{srv: srv, version: "PostgreSQL"}
	fail := func(err error) (*pgBench, string, error) {
		srv.Close()
		return nil, "", err
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
		// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
		if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), "(PostgreSQL) "); ok {
			v, _, _ = strings.Cut(v, " ")
			p.version = "PostgreSQL " + v
		}
	}
	if p.dsn, err = srv.CreateDB(ctx); err != nil {
		return fail(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fail(err)
	}
	keyLine := "bench:" + base64.StdEncoding.EncodeToString(key) + "\n"
	if p.keys, err = pgstore.ParseKeyring([]byte(keyLine)); err != nil {
		return fail(err)
	}
	// The DSN (with its password) and the keys in files of root's, mode
	// 0600, as a host of the fleet keeps them.
	dsnFile, keyFile := filepath.Join(dir, "store.dsn"), filepath.Join(dir, "store.keys")
	for path, body := range map[string]string{dsnFile: p.dsn + "\n", keyFile: keyLine} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return fail(err)
		}
	}
	p.block = fmt.Sprintf("store: {backend: postgres, dsn_file: %s, key_file: %s}\n", dsnFile, keyFile)
	return p, "", nil
}

func (p *pgBench) close() { p.srv.Close() }

// view creates the schema through the CLI, as an operator does, and reads
// the user's row back with the store's own decoder, as a gate on another
// host would. A transaction leaves nothing behind to count.
func (p *pgBench) view(ctx context.Context, gate, cfg string) (backendView, error) {
	if out, err := exec.CommandContext(ctx, gate, "-c", cfg, "store", "migrate").CombinedOutput(); err != nil {
		return backendView{}, fmt.Errorf("logingate store migrate: %v: %s", err, out)
	}
	pg, err := pgstore.Open(pgstore.Options{DSN: p.dsn, Keys: p.keys, Host: "bench-reader"})
	if err != nil {
		return backendView{}, err
	}
	return backendView{
		read:   func(ctx context.Context) error { _, err := pg.Load(ctx, stressUser); return err },
		strays: func() int { return -1 },
		close:  func() { pg.Close() },
	}, nil
}
