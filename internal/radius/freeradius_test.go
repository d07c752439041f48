package radius_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/radius"
	"github.com/logingate/logingate/internal/testutil/radiustest"
)

func freeRADIUSClient(srv *radiustest.Server) *radius.Client {
	return &radius.Client{
		NASIdentifier: "logingate-test",
		NASIPAddress:  net.ParseIP("127.0.0.1"),
		Servers: []radius.Server{{Address: srv.Addr, Secret: radius.Secret(radiustest.Secret),
			Timeout: 2 * time.Second, Retries: 1, RequireMessageAuthenticator: true}},
	}
}

// Against a real FreeRADIUS 3.2, which requires a Message-Authenticator
// from us and sends one back: alice's code is accepted, a wrong one
// rejected, bob is challenged and his second code accepted with the State.
func TestFreeRADIUS(t *testing.T) {
	srv := radiustest.Start(t)
	c := freeRADIUSClient(srv)
	ctx := context.Background()
	check := func(r radius.Request, want radius.Code) radius.Result {
		t.Helper()
		res, err := c.Authenticate(ctx, r)
		if err != nil || res.Code != want {
			t.Fatalf("%s: got %v, %v; want %v\ntrace: %v\nserver:\n%s", r.User, res.Code, err, want, res.Trace, srv.Output())
		}
		return res
	}
	check(radius.Request{User: "alice", Password: radiustest.AliceCode, Calling: "192.0.2.1"}, radius.Accept)
	check(radius.Request{User: "alice", Password: "000000", Calling: "192.0.2.1"}, radius.Reject)
	check(radius.Request{User: "mallory", Password: radiustest.AliceCode}, radius.Reject)

	res := check(radius.Request{User: "bob", Password: "1234"}, radius.Challenge)
	if res.ReplyMessage != radiustest.BobChallenge || len(res.State) == 0 || res.Server != srv.Addr {
		t.Fatalf("challenge %q, state %d bytes, from %s", res.ReplyMessage, len(res.State), res.Server)
	}
	check(radius.Request{User: "bob", Password: radiustest.BobCode, State: res.State, Server: res.Server}, radius.Accept)
	check(radius.Request{User: "bob", Password: "999999", State: res.State, Server: res.Server}, radius.Reject)

	// A wrong shared secret: FreeRADIUS answers, nothing verifies.
	c.Servers[0].Secret = radius.Secret("not-the-secret")
	c.Servers[0].Timeout, c.Servers[0].Retries = 500*time.Millisecond, 0
	_, err := c.Authenticate(ctx, radius.Request{User: "alice", Password: radiustest.AliceCode})
	if !errors.Is(err, radius.ErrService) {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), radiustest.AliceCode) {
		t.Errorf("error leaks a secret: %v", err)
	}
}

// BenchmarkFreeRADIUSAccept is one Access-Request answered with an
// Access-Accept by the local FreeRADIUS, verified: the RADIUS share of a
// login.
func BenchmarkFreeRADIUSAccept(b *testing.B) {
	srv := radiustest.Start(b)
	c := freeRADIUSClient(srv)
	r := radius.Request{User: "alice", Password: radiustest.AliceCode, Calling: "192.0.2.1"}
	ctx := context.Background()
	for b.Loop() {
		if res, err := c.Authenticate(ctx, r); err != nil || res.Code != radius.Accept {
			b.Fatalf("%v %v", res.Code, err)
		}
	}
}
