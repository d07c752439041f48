// Package privilege owns logingate's one privilege: membership of the
// logingate group, gained by installing the binary setgid (root:logingate,
// mode 2755). With it the gate can reach the protected state directory
// (root:logingate, mode 0770) that the users it protects cannot enter, not
// even from the shell they get after login. This package says whether the
// process holds the privilege, lends the caller's own rights for opening
// files the caller names, and drops the privilege for good before exec. It
// is also the one home of the path-trust rule (trust.go): which files the
// gate may trust, opened by a checked walk of descriptors.
//
// Go cannot fork without exec, so there is no privilege-separated child as
// in login_duo: the whole gate runs with the privilege and drops it, on every
// thread and for the real, effective and saved group ids, right before it
// hands the session over. See docs/SECURITY.md.
package privilege

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// GroupName is the group a privileged install makes the binary setgid to.
const GroupName = "logingate"

// groupIDs are the process's group ids when it started.
type groupIDs struct {
	Real, Effective, Saved int
}

var start = current()

func current() groupIDs {
	r, e, s := unix.Getresgid()
	return groupIDs{Real: r, Effective: e, Saved: s}
}

// Privileged reports whether the process started with a group that is not
// its caller's: a setgid binary. Privileged processes refuse anything the
// caller's environment would steer (HOME-relative paths, a config the
// caller owns) and check their own installation before use.
func Privileged() bool { return start.Effective != start.Real }

// Group is the privileged group id (the effective gid at start).
func Group() int { return start.Effective }

// AsCaller runs fn with the caller's own group as the effective group, so
// that a file the caller names (an image to write, a file to import) is
// opened with the caller's rights and never the gate's. Unprivileged, fn
// just runs. The privilege is restored afterwards; if that fails the
// process cannot go on safely and an error is returned.
func AsCaller(fn func() error) error {
	if !Privileged() {
		return fn()
	}
	// syscall.Setresgid changes every thread of the process (Go 1.16+; with
	// cgo, through the C library's setxid broadcast), so no goroutine keeps
	// the privilege while fn runs on another thread.
	if err := syscall.Setresgid(-1, start.Real, -1); err != nil {
		return fmt.Errorf("cannot take the caller's group: %w", err)
	}
	ferr := fn()
	if err := syscall.Setresgid(-1, start.Effective, -1); err != nil {
		return fmt.Errorf("cannot restore logingate's group: %w", err)
	}
	return ferr
}

// errNotDropped means the privilege is still held after Drop.
var errNotDropped = errors.New("the logingate group is still held")

// Drop gives up the privilege for good: real, effective and saved group ids
// all become the caller's, on every thread, and it checks that they did.
// Exec calls it last before exec; nothing privileged may happen after it.
//
// Must not change: the order (drop, verify, then exec), the saved id (a
// saved logingate gid would let the session regain the group), and the
// verification. Proven by internal/privilege TestDropInSetgidBinary and
// internal/e2e TestPrivilegedSessionHoldsNothing.
func Drop() error {
	if !Privileged() {
		return nil
	}
	rg := start.Real
	if err := syscall.Setresgid(rg, rg, rg); err != nil {
		return fmt.Errorf("cannot drop the logingate group: %w", err)
	}
	if now := current(); now.Real != rg || now.Effective != rg || now.Saved != rg {
		return errNotDropped
	}
	// Supplementary groups are the caller's own (setgid adds none): an
	// administrator who is a member of the logingate group keeps it.
	return nil
}
