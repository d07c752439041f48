package term

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// readChunk is how much one read(2) may return. In canonical mode a read
// never returns more than one line, so whatever follows the line stays in
// the kernel for the next reader.
const readChunk = 256

// ReadSecret shows prompt (after Sanitize) and reads one line, without its
// newline, with echo off, in canonical mode with signals on: call Interrupts
// first, or Ctrl-C kills the process. A line longer than max is discarded as
// ErrTooLong; Ctrl-D or a hang-up is io.EOF; an ended ctx returns
// context.Cause(ctx) at once. On every path the mode is restored and a newline
// written, and nothing typed at the prompt is ever echoed. Details:
// docs/DESIGN.md, "Reading a secret".
func (t *TTY) ReadSecret(ctx context.Context, prompt string, max int) (line string, err error) {
	if max < 1 {
		return "", errors.New("term: read limit must be positive")
	}
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	release := t.abortOn(ctx)
	restore, err := t.echoOff()
	if err != nil {
		release()
		return "", err
	}
	defer func() {
		release()
		if err != nil && !errors.Is(err, ErrTooLong) {
			// The read ended before Enter: drop the half-typed line (and
			// anything typed in the meantime), so it is neither echoed
			// once echo is back nor read as part of the next answer.
			t.flushInput()
		}
		t.write("\n") // best effort: the line is read, the mode is what matters
		if rerr := restore(); rerr != nil && err == nil {
			line, err = "", rerr
		}
	}()
	if err := t.write(Sanitize(prompt)); err != nil {
		return "", abortErr(ctx, err)
	}
	return t.readLine(ctx, max)
}

// readLine reads up to and including the next newline and returns the line
// without it, or ErrTooLong if it is longer than max bytes.
func (t *TTY) readLine(ctx context.Context, max int) (string, error) {
	// A canonical line holds at most 4095 bytes; only Ctrl-D splits make
	// longer ones, and those may grow the slice.
	line := make([]byte, 0, min(max, 4096))
	buf := make([]byte, readChunk)
	// Best effort: do not leave a code in memory longer than needed.
	defer clear(buf)
	defer func() { clear(line[:cap(line)]) }()
	tooLong := false
	for {
		n, err := t.f.Read(buf)
		chunk, end := buf[:n], false
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			chunk, end = chunk[:i], true
		}
		if !tooLong && len(line)+len(chunk) > max {
			tooLong = true
		}
		if !tooLong {
			line = append(line, chunk...)
		}
		switch {
		case end && tooLong:
			return "", ErrTooLong
		case end:
			return string(line), nil
		case errors.Is(err, unix.EIO):
			// The terminal hung up (the SSH client went away): to the
			// caller that is the end of input, as Ctrl-D is.
			return "", io.EOF
		case err != nil:
			// io.EOF (Ctrl-D) discards a partly typed line: an answer
			// counts only when the user pressed Enter.
			return "", abortErr(ctx, err)
		}
	}
}

// abortErr turns the deadline error caused by abortOn into the context's
// cause.
func abortErr(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// abortOn makes a pending or later read, and a pending write, fail with
// os.ErrDeadlineExceeded once ctx is done (TTY.write sets its own deadline,
// so a later write is bounded by writeTimeout instead). release undoes it, waiting for a
// firing in progress so that a stale deadline never leaks into the next
// call.
func (t *TTY) abortOn(ctx context.Context) (release func()) {
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		t.f.SetDeadline(time.Unix(1, 0)) // any time in the past
	})
	return func() {
		if !stop() {
			<-fired
		}
		t.f.SetDeadline(time.Time{})
	}
}

// echoOff turns echo off and keeps the terminal in canonical mode with
// signals; restore puts the previous mode back. Until restore succeeds,
// Close restores it too.
func (t *TTY) echoOff() (restore func() error, err error) {
	old, err := t.getMode()
	if err != nil {
		return nil, err
	}
	mode := *old
	mode.Lflag &^= unix.ECHO | unix.ECHONL // ECHONL would echo Enter; we write that newline ourselves
	mode.Lflag |= unix.ICANON | unix.ISIG
	mode.Iflag &^= unix.IGNCR | unix.INLCR // Enter must end the line
	mode.Iflag |= unix.ICRNL
	t.saved = old
	if err := t.setMode(&mode); err != nil {
		return nil, err
	}
	return func() error {
		if err := t.setMode(old); err != nil {
			return err
		}
		t.saved = nil
		return nil
	}, nil
}
