// Package term is the only place logingate talks to a terminal. It owns the
// controlling terminal (/dev/tty, never stdin or stdout, which belong to the
// SSH protocol in sessions without a pty), writes text to it only after
// Sanitize, reads bounded lines with echo off, restores the terminal mode on
// every path, and turns the signals a user can send from the keyboard (or a
// hangup) into a cancelled context instead of a dead or stopped process.
//
// This package prints only what its callers hand it; the voice of those
// messages is package voice's.
package term

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errNoTerminal means the process has no controlling terminal: a session
// without a pty (scp, sftp, rsync, git, `ssh host cmd`).
var errNoTerminal = errors.New("no controlling terminal")

// ErrTooLong means the user typed a line longer than the caller allows. The
// whole line has been consumed, so the next read starts on a fresh line.
var ErrTooLong = errors.New("input line too long")

// writeTimeout bounds one write to the terminal. A write blocks while output
// is stopped (Ctrl-S) or the client does not drain the pty; the gate must not
// wait for that longer than this.
const writeTimeout = 10 * time.Second

// ttyPath is the controlling terminal of the calling process.
const ttyPath = "/dev/tty"

// TTY is the controlling terminal. It is not safe for concurrent use.
type TTY struct {
	f *os.File
	// saved is the mode to restore while echo is off, nil otherwise.
	saved *unix.Termios
}

// Open opens the controlling terminal for reading and writing. The
// descriptor is close-on-exec, so it never leaks into the exec'd session. A
// process without a controlling terminal gets an error wrapping
// errNoTerminal.
func Open() (*TTY, error) {
	// os.OpenFile sets O_CLOEXEC and, for a character device, registers the
	// descriptor with the runtime poller, which deadlines need. The
	// descriptor is our own open file description: the O_NONBLOCK the poller
	// sets does not reach the session's stdin.
	f, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		if isNoTerminal(err) {
			return nil, fmt.Errorf("%w: %w", errNoTerminal, err)
		}
		return nil, err
	}
	t := &TTY{f: f}
	if _, err := t.getMode(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", errNoTerminal, ttyPath, err)
	}
	// Without the poller a read could not be interrupted by a context;
	// refuse rather than risk an unbounded wait.
	if err := f.SetDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", ttyPath, err)
	}
	return t, nil
}

// isNoTerminal reports whether opening /dev/tty failed because there is no
// controlling terminal (ENXIO on Linux) or no usable /dev/tty at all.
func isNoTerminal(err error) bool {
	for _, errno := range []syscall.Errno{unix.ENXIO, unix.ENODEV, unix.ENOENT, unix.ENOTTY} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Println writes s and a newline to the terminal, after Sanitize. Line ends
// are plain "\n": the terminal is in cooked mode (OPOST|ONLCR, as sshd sets
// up a pty from the client's modes), so the line discipline turns each into
// "\r\n"; writing "\r\n" ourselves would be doubled up under OCRNL.
func (t *TTY) Println(s string) error {
	return t.write(Sanitize(s) + "\n")
}

// Printf formats like fmt.Printf and writes the result to the terminal,
// after Sanitize (the whole result, so arguments from elsewhere cannot
// smuggle control characters).
func (t *TTY) Printf(format string, args ...any) error {
	return t.write(Sanitize(fmt.Sprintf(format, args...)))
}

// write writes s to the terminal, waiting at most writeTimeout.
func (t *TTY) write(s string) error {
	if err := t.f.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := io.WriteString(t.f, s)
	return err
}

// Close restores the terminal mode if a read left it changed, and closes
// the terminal.
func (t *TTY) Close() error {
	var err error
	if t.saved != nil {
		err = t.setMode(t.saved)
		t.saved = nil
	}
	return errors.Join(err, t.f.Close())
}

// getMode reads the terminal's termios. It uses the raw descriptor through
// SyscallConn: f.Fd() would switch the file back to blocking mode and
// disable deadlines.
func (t *TTY) getMode() (*unix.Termios, error) {
	var mode *unix.Termios
	var ioErr error
	err := t.control(func(fd int) {
		mode, ioErr = unix.IoctlGetTermios(fd, ioctlGetTermios)
	})
	return mode, errors.Join(err, ioErr)
}

// setMode sets the terminal's termios at once (TCSETS: no drain, no flush,
// so a code typed ahead is not thrown away).
func (t *TTY) setMode(mode *unix.Termios) error {
	var ioErr error
	err := t.control(func(fd int) {
		ioErr = unix.IoctlSetTermios(fd, ioctlSetTermios, mode)
	})
	return errors.Join(err, ioErr)
}

// flushInput discards unread input; best effort.
func (t *TTY) flushInput() {
	t.control(func(fd int) { flushInputFd(fd) })
}

func (t *TTY) control(fn func(fd int)) error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}
