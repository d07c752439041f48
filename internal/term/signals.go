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
// context.Cause(ctx). caught returns that signal, or nil. While it is in
// force none of these signals kills, stops or dumps the process, also after
// the first: Ctrl-\ never prints goroutine stacks and Ctrl-Z never stops the
// gate (its process group is orphaned, so the kernel would drop a default
// SIGTSTP, leaving the user waiting).
//
// SIGPIPE is caught too, and dropped: a client that has gone leaves stdout
// and stderr as broken pipes, and Go's default would kill the gate on its
// first message there, before its audit line records the denial. Writes
// then fail with EPIPE instead.
//
// stop calls signal.Stop and cancels ctx. Keep it in force until the process
// exits or is about to exec; before exec, call signal.Reset for every
// signal in Caught. Never signal.Ignore: an ignored disposition survives exec.
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
