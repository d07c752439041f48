package term

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestInterruptsCause(t *testing.T) {
	ctx, caught, stop := Interrupts(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(hang):
		t.Fatal("SIGHUP did not cancel the context")
	}
	cause := context.Cause(ctx)
	var intr *Interrupted
	if !errors.As(cause, &intr) || intr.Signal != syscall.SIGHUP {
		t.Fatalf("cause %v, want *Interrupted for SIGHUP", cause)
	}
	if !errors.Is(cause, context.Canceled) {
		t.Errorf("cause %v does not match context.Canceled", cause)
	}
	if got, want := cause.Error(), "interrupted by SIGHUP"; got != want {
		t.Errorf("cause text %q, want %q", got, want)
	}
	if got := caught(); got != syscall.SIGHUP {
		t.Errorf("caught() = %v, want SIGHUP", got)
	}
}

func TestInterruptsStop(t *testing.T) {
	ctx, caught, stop := Interrupts(context.Background())
	stop()
	stop() // a second call is harmless
	if ctx.Err() == nil {
		t.Fatal("stop did not cancel the context")
	}
	var intr *Interrupted
	if errors.As(context.Cause(ctx), &intr) {
		t.Errorf("cause %v after stop, want no signal", context.Cause(ctx))
	}
	if got := caught(); got != nil {
		t.Errorf("caught() = %v after stop without a signal, want nil", got)
	}
}
