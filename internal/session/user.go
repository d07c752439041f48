package session

import "errors"

// defaultShell is used for a user whose passwd entry has an empty shell, as
// login(1), sshd and login_duo do.
const defaultShell = "/bin/sh"

// errUnknownUser means NSS answered and has no such user.
var errUnknownUser = errors.New("unknown user")

// errUnknownGroup means a user belongs to a group id that NSS cannot name.
// The gate denies on it: a group it cannot name might be one that must pass.
var errUnknownGroup = errors.New("group id has no name")

// User is a passwd entry as NSS returns it.
type User struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string // never empty: defaultShell when the entry has none
	Gecos    string // whole, as NSS returns it (users may change parts: chfn)
}
