package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/store/pgstore"
	"github.com/logingate/logingate/internal/voice"
)

// storeTimeout bounds a whole store subcommand (import and rekey go
// through every user).
const storeTimeout = 10 * time.Minute

// storeCmd is `logingate store migrate | import [--force] | check | rekey`
// (root): the shared PostgreSQL store's schema, the import of this host's
// file-backend state, a health check, and key rotation.
func (a *app) storeCmd(args []string) error {
	const use = "store: logingate store migrate | import [--force] | check | rekey"
	if len(args) == 0 {
		return usageError{use}
	}
	sub := args[0]
	fs := a.flags("store " + sub)
	force := false
	if sub == "import" {
		fs.BoolVar(&force, "force", false, "replace a user's state in the database that differs from this host's")
	}
	if _, err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	switch sub {
	case "migrate", "import", "check", "rekey":
	default:
		return usageError{use}
	}
	if os.Getuid() != 0 {
		return errors.New("store " + sub + " is for root")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if cfg.Store.Backend != config.BackendPostgres {
		return withHint(fmt.Errorf("store %s needs store.backend: postgres (this config uses %q)", sub, cfg.Store.Backend),
			"set store: {backend: postgres, dsn_file: ..., key_file: ...} in "+cfg.Path+"; see docs/FLEET.md")
	}
	pg, err := openPostgres(cfg)
	if err != nil {
		return err
	}
	defer pg.Close()
	ctx, stop := withSignals()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	switch sub {
	case "migrate":
		from, to, err := pg.Migrate(ctx)
		if err != nil {
			return err
		}
		if from == to {
			fmt.Fprintf(a.stdout, "logingate: schema already at version %d\n", to)
		} else {
			fmt.Fprintf(a.stdout, "logingate: schema migrated from version %d to %d\n", from, to)
		}
		return nil
	case "import":
		return a.storeImport(ctx, cfg, pg, force)
	case "check":
		return a.storeCheck(ctx, cfg, pg)
	default:
		n, err := pg.Rekey(ctx)
		fmt.Fprintf(a.stdout, "logingate: re-encrypted %d TOTP secrets with key %s\n", n, pg.PrimaryKey())
		return err
	}
}

// storeImport copies every user's state from state_dir into the database.
// The rule (pgstore.Import): a user the database lacks is copied; one it
// holds with the same state is left alone, so a second run changes
// nothing; one it holds with other state is a conflict, reported and kept,
// unless --force, which replaces it with this host's.
func (a *app) storeImport(ctx context.Context, cfg *config.Config, pg *pgstore.Store, force bool) error {
	ents, err := os.ReadDir(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	fs := fileStore(cfg)
	counts := map[pgstore.ImportResult]int{}
	failed := 0
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || filestore.ValidateUser(name) != nil {
			continue
		}
		st, err := fs.Load(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err == nil {
			var r pgstore.ImportResult
			if r, err = pg.Import(ctx, name, st, force); err == nil {
				counts[r]++
				fmt.Fprintf(a.stdout, "%s: %s\n", name, r)
				continue
			}
		}
		if ctx.Err() != nil {
			return err
		}
		failed++
		fmt.Fprintln(a.stderr, voice.Errorf("%s: %v", name, err))
	}
	fmt.Fprintf(a.stdout, "logingate: %d imported, %d already there, %d replaced, %d conflicts, %d failed\n",
		counts[pgstore.Imported], counts[pgstore.Same], counts[pgstore.Replaced], counts[pgstore.Conflict], failed)
	if counts[pgstore.Conflict] > 0 {
		fmt.Fprintln(a.stderr, voice.Hint("a conflict is a user whose state in the database differs from this host's; it was kept. Compare with logingate status --user NAME, then run with --force to replace it with this host's (which also brings back this host's record of used codes)"))
	}
	if failed > 0 || counts[pgstore.Conflict] > 0 {
		return silentError{1}
	}
	return nil
}

// storeCheck reports reachability, the schema version and whether the key
// file opens the rows.
func (a *app) storeCheck(ctx context.Context, cfg *config.Config, pg *pgstore.Store) error {
	out := a.stdout
	fmt.Fprintf(out, "database: %s\n", config.RedactDSN(cfg.Store.DSN))
	v, err := pg.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "reachable: yes")
	fmt.Fprintf(out, "schema: version %d (this logingate: %d)\n", v, pgstore.SchemaVersion)
	switch {
	case v == 0:
		return withHint(errors.New("the database has no logingate schema"), "run: logingate store migrate")
	case v < pgstore.SchemaVersion:
		return withHint(errors.New("the schema is older than this logingate"), "run: logingate store migrate")
	case v > pgstore.SchemaVersion:
		return withHint(pgstore.ErrNewerSchema, "upgrade logingate on this host")
	}
	use, err := pg.KeyUse(ctx)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(use))
	for id, n := range use {
		ids = append(ids, fmt.Sprintf("%s=%d", id, n))
	}
	sort.Strings(ids)
	fmt.Fprintf(out, "keys: %s (first encrypts); secrets by key: %s\n", strings.Join(pg.KeyIDs(), ", "), nonEmptyList(ids))
	n, err := pg.CheckKeys(ctx)
	if err != nil {
		return withHint(err, "every host's key file must hold every key a row names; see docs/FLEET.md on rotation")
	}
	fmt.Fprintf(out, "decrypted: %d sample secrets (one per key in use)\n", n)
	if _, old := use[pg.PrimaryKey()]; len(use) > 1 || (len(use) == 1 && !old) {
		fmt.Fprintln(out, voice.Hint("some secrets use an older key; run: logingate store rekey"))
	}
	return nil
}

func nonEmptyList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// openPostgres opens the shared store the config names. It does not
// connect.
func openPostgres(cfg *config.Config) (*pgstore.Store, error) {
	keys, err := pgstore.ParseKeyring(cfg.Store.Keys)
	if err != nil {
		return nil, fmt.Errorf("store.key_file %s: %w", cfg.Store.KeyFile, err)
	}
	host := cfg.Store.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	return pgstore.Open(pgstore.Options{DSN: cfg.Store.DSN, Keys: keys, Timeout: cfg.Store.Timeout, Host: host})
}

// brokenStore is the store of a config whose database settings cannot be
// used (a key file that does not parse): every call fails with why, and
// the gate denies.
type brokenStore struct{ err error }

func (b brokenStore) Load(context.Context, string) (*store.UserState, error) { return nil, b.err }
func (b brokenStore) Update(context.Context, string, func(*store.UserState) error) error {
	return b.err
}
func (b brokenStore) Delete(context.Context, string) error { return b.err }

// closeStore ends a store's connections, if it has any.
func closeStore(s store.Store) {
	if c, ok := s.(interface{ Close() }); ok {
		c.Close()
	}
}
