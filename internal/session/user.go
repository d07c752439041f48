package session

import "errors"

// DefaultShell is used for a user whose passwd entry has an empty shell, as
// login(1), sshd and login_duo do.
const DefaultShell = "/bin/sh"

// ErrUnknownUser means NSS answered and has no such user.
var ErrUnknownUser = errors.New("unknown user")

// ErrUnknownGroup means a user belongs to a group id that NSS cannot name.
// The gate denies on it: a group it cannot name might be one that must pass.
var ErrUnknownGroup = errors.New("group id has no name")

// User is a passwd entry as NSS returns it.
type User struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string // never empty: DefaultShell when the entry has none
	Gecos    string // whole, as NSS returns it (users may change parts: chfn)
}
