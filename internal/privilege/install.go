package privilege

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// CheckBinary checks the running executable of a privileged gate under the
// path-trust rule (see trust.go): root's, writable by nobody else, in a
// directory chain only root can change, reached with no link, and the very
// file the kernel runs. A binary the caller could replace would hand them
// the group. It must not be setuid: logingate needs only its group.
func CheckBinary() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the running binary: %w", err)
	}
	fix := fmt.Sprintf("chown root:%s %s && chmod 2755 %s", GroupName, ShellQuote(exe), ShellQuote(exe))
	f, st, err := Open(exe, Rule{})
	if err != nil {
		var u *Unsafe
		if errors.As(err, &u) && u.File {
			u.Fix = fix
		}
		return fmt.Errorf("the logingate binary: %w", err)
	}
	defer f.Close()
	var run unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &run); err != nil {
		return fmt.Errorf("cannot check the running binary: %w", err)
	}
	if run.Dev != st.Dev || run.Ino != st.Ino {
		return &Unsafe{Path: exe, Problem: exe + " is not the file this process runs (replaced while it started?)", Fix: fix, File: true}
	}
	if perm := st.Mode & 0o7777; perm&unix.S_ISUID != 0 {
		return &Unsafe{Path: exe, Problem: fmt.Sprintf("%s is setuid (mode %04o); logingate needs only its group", exe, perm), Fix: fix, File: true}
	}
	return nil
}
