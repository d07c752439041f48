// Package pgstore is the PostgreSQL backend of store.Store: the state of a
// whole fleet of hosts in one database, with the guarantees the file backend
// gives on one host. It owns the schema (Migrate), the row lock that
// serialises every change of a user across hosts, the encryption of TOTP
// secrets at rest (Keyring), and the mapping of database trouble onto store
// errors: an outage wraps store.ErrUnavailable, the only error failmode
// applies to; a lock wait given up wraps store.ErrLocked; the rest deny.
// Rows, transactions and timeouts: docs/FLEET.md, "How it holds across hosts".
package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
)

// Defaults of Options.
const (
	defaultTimeout  = 3 * time.Second
	defaultLockWait = filestore.DefaultLockWait
)

// Options configure a Store.
type Options struct {
	// DSN is a libpq connection string or postgres:// URL. Several hosts
	// with target_session_attrs=read-write follow a failover.
	DSN string
	// Keys encrypt and decrypt TOTP secrets. Required.
	Keys *Keyring
	// Timeout bounds connecting and each statement; 3 seconds when 0.
	Timeout time.Duration
	// LockWait bounds a wait for a user's row lock held by another login;
	// filestore.DefaultLockWait when 0. The server also ends a session that
	// sits in a transaction for this long (a login stopped while it holds a
	// lock).
	LockWait time.Duration
	// Host is recorded as updated_by_host on every write.
	Host string
}

// Store is a store.Store on PostgreSQL. It connects lazily, at the first
// call, and is safe for concurrent use. Close it when done.
type Store struct {
	dsn      string // for tests' fresh stores; never printed
	cfg      *pgx.ConnConfig
	idle     chan *pgx.Conn // connections kept for the next call
	keys     *Keyring
	timeout  time.Duration
	lockWait time.Duration
	host     string
}

var _ store.Store = (*Store)(nil)

// Open checks the options and prepares the connection pool; it does not
// connect. Its errors never quote the DSN, which may hold a password.
func Open(o Options) (*Store, error) {
	if o.Keys == nil {
		return nil, errors.New("no key file for the TOTP secrets (store.key_file)")
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.LockWait <= 0 {
		o.LockWait = defaultLockWait
	}
	dsn, err := sealDSN(o.DSN)
	if err != nil {
		return nil, err
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("store dsn: cannot parse it as a connection string (key=value ...) or a postgres:// URL")
	}
	for _, k := range sealedRuntimeParams {
		if cc.RuntimeParams[k] == "" {
			delete(cc.RuntimeParams, k)
		}
	}
	cc.ConnectTimeout = o.Timeout
	// One round trip a statement, no prepared statement cache: a gate
	// process runs a handful of statements once each.
	cc.DefaultQueryExecMode = pgx.QueryExecModeExec
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	for k, v := range map[string]string{
		// The server's own bounds, in the startup packet: no round trip.
		"lock_timeout":                        ms(o.LockWait),
		"statement_timeout":                   ms(o.Timeout + o.LockWait),
		"idle_in_transaction_session_timeout": ms(o.LockWait),
		"client_connection_check_interval":    "1000",
		"application_name":                    "logingate",
	} {
		if _, set := cc.RuntimeParams[k]; !set {
			cc.RuntimeParams[k] = v
		}
	}
	return &Store{dsn: o.DSN, cfg: cc, idle: make(chan *pgx.Conn, maxIdle), keys: o.Keys, timeout: o.Timeout, lockWait: o.LockWait, host: o.Host}, nil
}

// maxIdle is how many connections a Store keeps between calls.
const maxIdle = 4

// PrimaryKey is the id of the key that encrypts.
func (s *Store) PrimaryKey() string { return s.keys.primary() }

// KeyIDs lists the key file's ids, the primary first.
func (s *Store) KeyIDs() []string { return s.keys.allIDs() }

// Close ends the store's idle connections; calls still running close
// theirs when they finish.
func (s *Store) Close() {
	for {
		select {
		case c := <-s.idle:
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			_ = c.Close(ctx)
			cancel()
		default:
			return
		}
	}
}

// acquire returns an idle connection (reused) or a new one, connecting
// within ctx.
func (s *Store) acquire(ctx context.Context) (c *pgx.Conn, reused bool, err error) {
	for {
		select {
		case c := <-s.idle:
			if !c.IsClosed() {
				return c, true, nil
			}
		default:
			c, err := pgx.ConnectConfig(ctx, s.cfg)
			return c, false, err
		}
	}
}

// release keeps c for the next call when it is healthy and outside any
// transaction, and closes it otherwise.
func (s *Store) release(c *pgx.Conn) {
	if !c.IsClosed() && c.PgConn().TxStatus() == 'I' {
		select {
		case s.idle <- c:
			return
		default:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	_ = c.Close(ctx)
	cancel()
}

// Load returns the user's state, or store.ErrNotFound. It takes no lock.
func (s *Store) Load(ctx context.Context, user string) (*store.UserState, error) {
	var st *store.UserState
	err := s.run(ctx, "load state", func(ctx context.Context, c conn) error {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		var r row
		err := c.QueryRow(ctx, "SELECT state, totp_secret, key_id FROM logingate_users WHERE name = $1", user).
			Scan(&r.state, &r.secret, &r.keyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		st, err = s.decode(user, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Update runs fn on the user's state while holding the user's row lock, and
// commits the result; see store.Store and the package comment.
func (s *Store) Update(ctx context.Context, user string, fn func(*store.UserState) error) error {
	return s.run(ctx, "update state", func(ctx context.Context, c conn) error {
		// A Delete between the INSERT and the SELECT of another
		// transaction leaves nothing to lock: start over, a few times.
		for range 3 {
			err := s.update(ctx, c, user, fn)
			if !errors.Is(err, errVanished) {
				return err
			}
		}
		return fmt.Errorf("state for %s: the row kept disappearing (concurrent resets)", user)
	})
}

var errVanished = errors.New("row deleted while locking it")

func (s *Store) update(ctx context.Context, c conn, user string, fn func(*store.UserState) error) error {
	sctx, cancel := context.WithTimeout(ctx, s.timeout)
	tx, err := c.Begin(sctx)
	cancel()
	if err != nil {
		return err
	}
	// A rollback after a commit is a no-op; after a broken connection the
	// server rolls back on its own.
	defer tx.Rollback(context.WithoutCancel(ctx))

	// Both statements may wait for the row lock: the server gives up after
	// LockWait (lock_timeout, ErrLocked); the context is the backstop.
	lctx, cancel := context.WithTimeout(ctx, s.timeout+s.lockWait)
	defer cancel()
	if _, err := tx.Exec(lctx, "INSERT INTO logingate_users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", user); err != nil {
		return err
	}
	var r row
	err = tx.QueryRow(lctx, "SELECT state, totp_secret, key_id FROM logingate_users WHERE name = $1 FOR UPDATE", user).
		Scan(&r.state, &r.secret, &r.keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return errVanished
	}
	if err != nil {
		return err
	}
	read, err := s.decode(user, r)
	st, err := store.Modify(read, err, func(st *store.UserState) error {
		if err := fn(st); err != nil {
			return callbackError{err} // ErrUnchanged still shows through
		}
		return nil
	})
	if err != nil {
		return err
	}
	if st == nil {
		return nil // unchanged: the deferred rollback drops a row inserted above
	}
	w, err := s.encode(user, st)
	if err != nil {
		return localError{fmt.Errorf("state for %s not written: %w", user, err)}
	}
	wctx, cancel := context.WithTimeout(ctx, 2*s.timeout)
	defer cancel()
	if _, err := tx.Exec(wctx, `UPDATE logingate_users
		SET state = $2::jsonb, totp_secret = $3, key_id = $4, updated_at = now(), updated_by_host = $5
		WHERE name = $1`, user, w.state, w.secret, w.keyID, s.host); err != nil {
		return err
	}
	return tx.Commit(wctx)
}

// callbackError carries fn's error through run untouched.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// Delete removes the user's row: store.ErrNotFound when there was none.
func (s *Store) Delete(ctx context.Context, user string) error {
	return s.run(ctx, "delete state", func(ctx context.Context, c conn) error {
		lctx, cancel := context.WithTimeout(ctx, s.timeout+s.lockWait)
		defer cancel()
		tag, err := c.Exec(lctx, "DELETE FROM logingate_users WHERE name = $1", user)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// conn is what the callbacks of run use: one connection.
type conn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// run takes a connection (connecting within Timeout) and runs fn on it,
// then maps what went wrong onto store errors. fn bounds each statement.
func (s *Store) run(ctx context.Context, what string, fn func(context.Context, conn) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		c, reused, err := s.acquire(actx)
		cancel()
		if err != nil {
			return s.classify(ctx, what, err)
		}
		err = s.attempt(ctx, c, fn)
		var cb callbackError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &cb):
			return cb.err
		case errors.Is(err, store.ErrNotFound), isLocal(err):
			return err
		}
		err = s.classify(ctx, what, err)
		if reused && errors.Is(err, store.ErrUnavailable) {
			// A kept connection the server has ended since (a restart,
			// a failover, an idle timeout): once more on a new one. An
			// Update may so run fn again, which store.Store allows; if
			// a commit did land, the rerun sees what it wrote.
			continue
		}
		return err
	}
}

// attempt runs fn on c and keeps c for the next call, or closes it when a
// statement was cut off (its state is unknown).
func (s *Store) attempt(ctx context.Context, c *pgx.Conn, fn func(context.Context, conn) error) error {
	err := fn(ctx, c)
	if err != nil && !c.IsClosed() && !isPgError(err) && !isLocal(err) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		_ = c.PgConn().Close(cctx)
		cancel()
	}
	s.release(c)
	return err
}

// localError marks errors made here, about data, never about the database.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

func isLocal(err error) bool {
	var l localError
	return errors.As(err, &l)
}

func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// classify maps an error from the database onto the store's: the caller's
// own context ending is returned as is; a lock wait given up wraps
// store.ErrLocked; a database that cannot answer wraps
// store.ErrUnavailable; anything else (refused password, no such database,
// no schema, a constraint) is returned as a plain error.
func (s *Store) classify(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "55P03": // lock_not_available: lock_timeout
			return fmt.Errorf("%s: %w (another login held the user's row for %s)", what, store.ErrLocked, s.lockWait)
		case pe.Code == "42P01": // undefined_table
			return fmt.Errorf("%s: %w", what, errNoSchema)
		case unavailableCode(pe.Code):
			return fmt.Errorf("%s: %w: %s", what, store.ErrUnavailable, pe.Error())
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if transport(err) {
		return fmt.Errorf("%s: %w: %s", what, store.ErrUnavailable, err.Error())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailableCode reports the SQLSTATEs of a database that cannot serve
// right now, as opposed to one that refuses this client.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", // admin or crash shutdown, cannot connect now (starting, recovering)
		"57014",          // query_canceled: statement_timeout
		"25006",          // read_only_sql_transaction: connected to a standby (failover)
		"40001", "40P01", // serialization failure, deadlock: not expected with row locks
		"25P03": // idle_in_transaction_session_timeout
		return true
	}
	switch code[:2] {
	case "08", // connection exception
		"53", // insufficient resources: too many connections, disk full, out of memory
		"58": // system error: I/O
		return true
	}
	return false
}

// transport reports an error of the connection itself: refused, reset,
// cut off by a deadline, closed, or a connect that failed for any reason
// other than the server's answer (which is a PgError).
func transport(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// row is a user's row as stored.
type row struct {
	state  []byte // JSON, NULL when the row holds no state
	secret []byte
	keyID  *string
}

// decode turns a row into a UserState: strict JSON (no unknown fields),
// the secret decrypted back in, then the file backend's own checks.
func (s *Store) decode(user string, r row) (*store.UserState, error) {
	if r.state == nil {
		return nil, store.ErrNotFound
	}
	bad := func(err error) error {
		return localError{fmt.Errorf("state for %s in the database: %w", user, err)}
	}
	var st store.UserState
	dec := json.NewDecoder(bytes.NewReader(r.state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		// filestore.Decode gives the same error without quoting.
		if _, ferr := filestore.Decode(r.state); ferr != nil {
			return nil, bad(ferr)
		}
		return nil, bad(errors.New("not a state object"))
	}
	switch {
	case st.TOTP == nil && r.secret != nil:
		return nil, bad(errors.New("an encrypted totp secret without a totp enrollment"))
	case st.TOTP != nil && r.secret == nil:
		return nil, bad(errors.New("a totp enrollment without its encrypted secret"))
	case st.TOTP != nil && st.TOTP.Secret != "":
		return nil, bad(errors.New("a totp secret in plain text"))
	}
	if st.TOTP != nil {
		plain, err := s.keys.open(user, *r.keyID, r.secret)
		if err != nil {
			return nil, bad(err)
		}
		st.TOTP.Secret = store.Secret(plain)
	}
	// Round trip through the file codec: one definition of a valid state.
	b, err := json.Marshal(&st)
	if err != nil {
		return nil, bad(err)
	}
	out, err := filestore.Decode(b)
	if err != nil {
		return nil, bad(err)
	}
	return out, nil
}

// written is a row ready to write.
type written struct {
	state  string
	secret []byte
	keyID  *string
}

// encode checks st with the file codec and splits off the secret,
// encrypted with the primary key.
func (s *Store) encode(user string, st *store.UserState) (written, error) {
	if _, err := filestore.Encode(st); err != nil {
		return written{}, err
	}
	c := *st
	c.Version = store.FormatVersion
	var w written
	if st.TOTP != nil {
		t := *st.TOTP
		id, box := s.keys.seal(user, []byte(t.Secret))
		w.secret, w.keyID = box, &id
		t.Secret = ""
		c.TOTP = &t
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return written{}, err
	}
	w.state = string(b)
	return w, nil
}
