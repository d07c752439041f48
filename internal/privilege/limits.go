package privilege

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Resource limits are the caller's to set before exec, and the gate
// inherits them. Each must fail closed, and none may tell a right code from
// a wrong one:
//
//   - RLIMIT_FSIZE: a failure on record makes the state file bigger, a
//     success smaller. A limit between the two sizes stopped every failure's
//     write (Go ignores SIGXFSZ, so the write gets EFBIG and nothing is
//     recorded) while the right code's write landed: unlimited guesses.
//     HoldFileSize raises the soft limit to the hard one, and refuses to
//     run when the hard limit is below the largest write the state needs.
//   - RLIMIT_CPU: past the soft limit Go ignores SIGXCPU; at the hard one
//     the kernel kills the gate. Wherever that falls the login is denied,
//     and no verdict was shown: the gate shows one only after its record
//     landed.
//   - RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK: an allocation that fails is a
//     fatal runtime error, not a panic: the gate dies and the login is
//     denied. Right and wrong codes need the same memory.
//   - RLIMIT_NOFILE: Go raises the soft limit to the hard one itself (and
//     restores it for the session). A file that cannot be opened is an
//     error that denies, and right and wrong codes open the same files.

// HoldFileSize makes sure that this process can write a file of need bytes
// despite RLIMIT_FSIZE: it raises the soft limit to the hard one, or
// returns an error when the hard limit is lower than need. restore puts the
// caller's soft limit back, for the session exec'd after the gate.
func HoldFileSize(need int64) (restore func(), err error) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &l); err != nil {
		return nil, fmt.Errorf("cannot read the file size limit: %w", err)
	}
	if l.Max != unix.RLIM_INFINITY && l.Max < uint64(need) {
		return nil, fmt.Errorf("the file size limit (ulimit -f) is %d bytes, below the %d logingate may need to record an attempt", l.Max, need)
	}
	if l.Cur == l.Max {
		return func() {}, nil
	}
	raised := unix.Rlimit{Cur: l.Max, Max: l.Max}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &raised); err != nil {
		return nil, fmt.Errorf("cannot raise the file size limit (ulimit -f) to its hard limit: %w", err)
	}
	return func() { _ = unix.Setrlimit(unix.RLIMIT_FSIZE, &l) }, nil
}
