package duo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

// BenchmarkPreauthPasscode is one login's Duo traffic with a passcode:
// preauth, then a synchronous passcode auth, over a kept-alive TLS
// connection to a fake that answers at once.
func BenchmarkPreauthPasscode(b *testing.B) {
	s := duotest.New(b)
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = fmt.Sprintf("%07d", i)
	}
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, Passcodes: codes})
	c := newClient(b, s)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := c.Preauth(ctx, "alice", "203.0.113.9", "web1")
		if err != nil || p.Result != duo.ResultAuth {
			b.Fatalf("preauth: %+v, %v", p, err)
		}
		_, st, err := c.Auth(ctx, duo.AuthRequest{User: "alice", Factor: "passcode", Passcode: codes[i]})
		if err != nil || st.Result != duo.ResultAllow {
			b.Fatalf("auth: %+v, %v", st, err)
		}
	}
}

// BenchmarkPushFirstConnection is a push login from a fresh process: new
// client, TLS handshake, preauth, auth, one auth_status poll.
func BenchmarkPushFirstConnection(b *testing.B) {
	s := duotest.New(b)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Preauth(ctx, "alice", "203.0.113.9", "web1"); err != nil {
			b.Fatal(err)
		}
		txid, _, err := c.Auth(ctx, duo.AuthRequest{User: "alice", Factor: "push", Device: "auto"})
		if err != nil {
			b.Fatal(err)
		}
		if st, err := c.Wait(ctx, txid, nil); err != nil || st.Result != duo.ResultAllow {
			b.Fatalf("wait: %+v, %v", st, err)
		}
		c.Close()
	}
}
