package term

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// interruptSignals are the signals that end a login attempt: the three a
// user types (Ctrl-C, Ctrl-\, Ctrl-Z), the hangup of a vanished client, and
// a polite kill.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGHUP, syscall.SIGTERM}

// Caught is every signal Interrupts passes to signal.Notify, for the
// signal.Reset before exec (session.Exec).
func Caught() []os.Signal {
	return append(slices.Clone(interruptSignals), syscall.SIGPIPE)
}

// Interrupted is the cause of a context cancelled by Interrupts. It matches
// context.Canceled with errors.Is, as signal.NotifyContext's cause does.
type Interrupted struct {
	Signal os.Signal
}

func (e *Interrupted) Error() string {
	name := e.Signal.String()
	if s, ok := e.Signal.(syscall.Signal); ok {
		name = unix.SignalName(s)
	}
	return "interrupted by " + name
}

// Is reports whether target is context.Canceled.
func (e *Interrupted) Is(target error) bool { return target == context.Canceled }

// Interrupts catches SIGINT, SIGQUIT, SIGTSTP, SIGHUP and SIGTERM with
// signal.Notify and cancels ctx on the first one, with an *Interrupted as
// context.Cause(ctx); caught returns that signal, or nil. While in force none
// of them kills, stops or dumps the process. SIGPIPE is caught and dropped,
// so a gone client's broken pipe cannot kill the gate before its audit line.
// stop calls signal.Stop and cancels ctx. Before exec, signal.Reset every
// caught signal; never signal.Ignore: it survives exec. Why each:
// docs/DESIGN.md, "Signals".
func Interrupts(parent context.Context) (ctx context.Context, caught func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, interruptSignals...)
	pipe := make(chan os.Signal, 1) // never read: a full channel drops
	signal.Notify(pipe, syscall.SIGPIPE)

	var (
		mu  sync.Mutex
		got os.Signal
	)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			mu.Lock()
			got = sig
			mu.Unlock()
			cancel(&Interrupted{Signal: sig})
		case <-done:
		}
	}()
	caught = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	stop = sync.OnceFunc(func() {
		signal.Stop(ch)
		signal.Stop(pipe)
		close(done)
		cancel(nil)
	})
	return ctx, caught, stop
}
