package store

import (
	"errors"
	"time"
)

// Modify is the part of Update that every backend shares, between reading
// the user's state under its lock and writing it back; the locking and the
// durable write stay the backend's own. read and readErr are what the
// backend read: ErrNotFound means the user has no state yet, and fn starts
// from an empty one of the current format version. Modify returns the
// state to write, or nil and no error when fn returned ErrUnchanged, and
// then the backend writes nothing. Any other error (reading, or fn's
// own) comes back as it is. Every write drops the trusted windows that
// have ended.
func Modify(read *UserState, readErr error, fn func(*UserState) error) (*UserState, error) {
	st, err := read, readErr
	if errors.Is(err, ErrNotFound) {
		st, err = &UserState{Version: FormatVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := fn(st); err != nil {
		if errors.Is(err, ErrUnchanged) {
			return nil, nil
		}
		return nil, err
	}
	st.Trusted = PruneTrusted(st.Trusted, time.Now())
	return st, nil
}
