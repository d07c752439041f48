package term

import "golang.org/x/sys/unix"

// The terminal ioctls. logingate runs on Linux only; another system needs
// its own copy of this file (BSD: TIOCGETA, TIOCSETA, TIOCFLUSH).
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS // at once: no output drain, which could block
)

// flushInputFd discards input the terminal received but nobody read.
func flushInputFd(fd int) error {
	return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH)
}
