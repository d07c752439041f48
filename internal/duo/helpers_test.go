package duo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

// newClient returns a client for s that trusts its CA and polls quickly.
func newClient(t testing.TB, s *duotest.Server, mod ...func(*duo.Options)) *duo.Client {
	t.Helper()
	o := duo.Options{
		Host:         s.Host,
		IKey:         s.IKey,
		SKey:         s.SKey,
		RootCAs:      s.CA,
		PollInterval: time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := duo.New(o)
	if err != nil {
		t.Fatalf("duo.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// ctxT is a generous overall bound so that a broken test fails instead of hanging.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noSecret fails when an error string shows the secret key.
func noSecret(t testing.TB, s *duotest.Server, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), s.SKey) {
		t.Fatalf("error shows the skey: %v", err)
	}
}

// wantService checks that err is a service error and not the context ending.
func wantService(t testing.TB, s *duotest.Server, err error) {
	t.Helper()
	noSecret(t, s, err)
	if !errors.Is(err, duo.ErrService) {
		t.Fatalf("err = %v, want a service error", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v wraps a context error", err)
	}
}

// wantDenial checks that err is a plain error: neither a service error nor the context ending.
func wantDenial(t testing.TB, s *duotest.Server, err error) {
	t.Helper()
	noSecret(t, s, err)
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if errors.Is(err, duo.ErrService) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a plain error", err)
	}
}

var iphone = duotest.Phone("DPFZRS9FB0D46QFTM891", "XXX-XXX-1234")
