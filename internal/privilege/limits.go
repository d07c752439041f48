package privilege

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Resource limits are the caller's to set before exec, and the gate
// inherits them. Each must fail closed, and none may tell a right code from
// a wrong one. RLIMIT_FSIZE could (a failure's record is bigger than a
// success's, so a limit between them let only the right code's write land),
// hence HoldFileSize; the CPU, memory and descriptor limits only kill the
// gate or fail a call, the same for right and wrong codes, and that denies.
// Limit by limit: docs/DESIGN.md, "Resource limits".

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
