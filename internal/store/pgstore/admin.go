package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
)

// The administrator's operations: import, rekey, check.

// ImportResult is what Import did with one user.
type ImportResult int

const (
	Imported ImportResult = iota // the database had no state for the user: copied
	Same                         // the database already holds exactly this state: nothing written
	Conflict                     // the database holds other state: kept, nothing written
	Replaced                     // the database held other state: overwritten (force)
)

func (r ImportResult) String() string {
	return [...]string{"imported", "already there", "conflict", "replaced"}[r]
}

// Import copies st, a user's state from the file backend, into the
// database, under the user's row lock. It never merges: a user the
// database does not have is copied; one it has with the same state is left
// alone (so a second run changes nothing); one it has with different state
// (the user enrolled or logged in through the fleet since) is a Conflict,
// left alone unless force, which replaces it with st.
func (s *Store) Import(ctx context.Context, user string, st *store.UserState, force bool) (ImportResult, error) {
	want, err := filestore.Encode(st)
	if err != nil {
		return 0, err
	}
	var res ImportResult
	err = s.Update(ctx, user, func(cur *store.UserState) error {
		res = Imported
		if !isEmpty(cur) {
			have, err := filestore.Encode(cur)
			switch {
			case err != nil:
				return err
			case bytes.Equal(have, want):
				res = Same
				return store.ErrUnchanged
			case !force:
				res = Conflict
				return store.ErrUnchanged
			}
			res = Replaced
		}
		*cur = *st
		return nil
	})
	return res, err
}

// isEmpty reports a state that holds nothing: a new row.
func isEmpty(st *store.UserState) bool {
	return st.TOTP == nil && st.Backup == nil && len(st.Failures) == 0 && st.LastSuccess == nil && len(st.Trusted) == 0
}

// names runs query, whose rows are one user name each, and returns them.
func (s *Store) names(ctx context.Context, what, query string, args ...any) ([]string, error) {
	var names []string
	err := s.run(ctx, what, func(ctx context.Context, c conn) error {
		names = nil // run may try again on a fresh connection
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
		}
		return rows.Err()
	})
	return names, err
}

// KeyUse counts the rows encrypted with each key id.
func (s *Store) KeyUse(ctx context.Context) (map[string]int, error) {
	use := map[string]int{}
	err := s.run(ctx, "count keys", func(ctx context.Context, c conn) error {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		rows, err := c.Query(ctx, "SELECT key_id, count(*) FROM logingate_users WHERE key_id IS NOT NULL GROUP BY key_id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			use[id] = n
		}
		return rows.Err()
	})
	return use, err
}

// CheckKeys decrypts one row for every key id in use, and reports a key id
// the key file lacks or a row that does not decrypt. It returns how many
// rows it decrypted.
func (s *Store) CheckKeys(ctx context.Context) (int, error) {
	samples, err := s.names(ctx, "sample rows", "SELECT DISTINCT ON (key_id) name FROM logingate_users WHERE key_id IS NOT NULL ORDER BY key_id, updated_at DESC")
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, n := range samples {
		if _, err := s.Load(ctx, n); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return len(samples) - len(errs), errors.Join(errs...)
}

// Rekey re-encrypts with the primary key every TOTP secret encrypted with
// another one, one user at a time under that user's row lock, and returns
// how many it re-encrypted. Run it after putting a new key first in the key
// file on every host; remove the old key once it reports none left.
func (s *Store) Rekey(ctx context.Context) (int, error) {
	names, err := s.names(ctx, "list old keys", "SELECT name FROM logingate_users WHERE key_id IS NOT NULL AND key_id <> $1 ORDER BY name", s.keys.primary())
	if err != nil {
		return 0, err
	}
	done := 0
	for _, n := range names {
		// Update decrypts with whichever key the row names and writes with
		// the primary one; nothing else changes.
		err := s.Update(ctx, n, func(st *store.UserState) error {
			if st.TOTP == nil {
				return store.ErrUnchanged // reset or re-enrolled meanwhile
			}
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("%s: %w", n, err)
		}
		done++
	}
	return done, nil
}
