package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SchemaVersion is the schema this logingate reads and writes. Migrate
// brings a database up to it; a database at a newer version is refused.
const SchemaVersion = 1

// ErrNewerSchema marks a database migrated by a newer logingate.
var ErrNewerSchema = errors.New("the database schema is newer than this logingate")

// errNoSchema marks a database that Migrate has not prepared.
var errNoSchema = errors.New("the database has no logingate schema; run: logingate store migrate")

// migrations[i] takes the schema from version i to i+1. Append only.
var migrations = []string{
	// 1: one row per user. state is the user's UserState as JSON, with
	// totp.secret empty; the secret is in totp_secret, AES-256-GCM under
	// the key key_id, the user name as associated data. A row whose state
	// is NULL holds no state (it only exists inside an Update that had
	// nothing to write, and is never committed so).
	`CREATE TABLE logingate_users (
		name            text PRIMARY KEY CHECK (name <> '' AND octet_length(name) <= 256),
		state           jsonb,
		totp_secret     bytea,
		key_id          text,
		updated_at      timestamptz NOT NULL DEFAULT now(),
		updated_by_host text NOT NULL DEFAULT '',
		CHECK ((totp_secret IS NULL) = (key_id IS NULL))
	)`,
}

// migrateLock is the advisory lock id that serialises concurrent Migrate
// calls (two hosts running it at once): "logingat" in ASCII.
const migrateLock = 0x6c6f67696e676174

// Migrate creates or upgrades the schema to SchemaVersion and returns the
// version found before and the version now.
func (s *Store) Migrate(ctx context.Context) (from, to int, err error) {
	err = s.run(ctx, "migrate", func(ctx context.Context, c conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS logingate_schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		if from, err = currentVersion(ctx, tx); err != nil {
			return err
		}
		if from > SchemaVersion {
			return fmt.Errorf("version %d: %w (it reads version %d); upgrade logingate", from, ErrNewerSchema, SchemaVersion)
		}
		for v := from; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO logingate_schema_version (version) VALUES ($1)", v+1); err != nil {
				return err
			}
		}
		to = SchemaVersion
		return tx.Commit(ctx)
	})
	return from, to, err
}

// Version returns the database's schema version: 0 when Migrate never ran.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.run(ctx, "read schema version", func(ctx context.Context, c conn) error {
		var err error
		v, err = currentVersion(ctx, c)
		if isUndefinedTable(err) {
			v, err = 0, nil
		}
		return err
	})
	return v, err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func currentVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM logingate_schema_version").Scan(&v)
	return v, err
}

// isUndefinedTable reports SQLSTATE 42P01: the schema is not there.
func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
