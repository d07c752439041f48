package duo_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

const preauthPath = "/auth/v2/preauth"

func TestServiceErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(s *duotest.Server)
		opts  func(*duo.Options)
	}{
		{"401", func(s *duotest.Server) { s.Fail(preauthPath, duotest.Failure{Status: 401}) }, nil},
		{"500", func(s *duotest.Server) { s.Fail(preauthPath, duotest.Failure{Status: 500}) }, nil},
		{"503 html", func(s *duotest.Server) {
			s.Fail(preauthPath, duotest.Failure{Status: 503, Body: "<html>maintenance</html>"})
		}, nil},
		{"malformed JSON", func(s *duotest.Server) {
			s.Fail(preauthPath, duotest.Failure{Body: `{"stat":"OK","response":{"result":`})
		}, nil},
		{"wrong field type", func(s *duotest.Server) {
			s.Fail(preauthPath, duotest.Failure{Body: `{"stat":"OK","response":{"result":"auth","devices":"x"}}`})
		}, nil},
		{"unknown result", func(s *duotest.Server) {
			s.Fail(preauthPath, duotest.Failure{Body: `{"stat":"OK","response":{"result":"maybe"}}`})
		}, nil},
		{"stat OK without response", func(s *duotest.Server) {
			s.Fail(preauthPath, duotest.Failure{Body: `{"stat":"OK"}`})
		}, nil},
		{"connection closed", func(s *duotest.Server) { s.Fail(preauthPath, duotest.Failure{Close: true}) }, nil},
		{"wrong skey", nil, func(o *duo.Options) { o.SKey = "0123456789abcdef0123456789abcdef01234567" }},
		{"wrong ikey", nil, func(o *duo.Options) { o.IKey = "DIXXXXXXXXXXXXXXXXXX" }},
		{"server clock 10 minutes off", func(s *duotest.Server) {
			s.SetClock(func() time.Time { return time.Now().Add(10 * time.Minute) })
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := duotest.New(t)
			s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}})
			if tc.setup != nil {
				tc.setup(s)
			}
			var mods []func(*duo.Options)
			if tc.opts != nil {
				mods = append(mods, tc.opts)
			}
			c := newClient(t, s, mods...)
			_, err := c.Preauth(ctxT(t), "alice", "", "")
			wantService(t, s, err)
			if n := len(s.RequestsTo(preauthPath)); n != 1 {
				t.Fatalf("%d requests arrived, want 1 (no retry)", n)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestWrongSkeyIsAnswered401 shows the fake, not the client, rejected the signature.
func TestWrongSkeyIsAnswered401(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{})
	c := newClient(t, s, func(o *duo.Options) { o.SKey = "not-the-secret" })
	_, err := c.Preauth(ctxT(t), "alice", "", "")
	wantService(t, s, err)
	if r := s.Requests(); len(r) != 1 || r[0].Status != http.StatusUnauthorized {
		t.Fatalf("requests = %+v, want one answered 401", r)
	}
	if got := err.Error(); !strings.Contains(got, "40103") || strings.Contains(got, "not-the-secret") {
		t.Fatalf("error = %q", got)
	}
}

func TestTLSFailuresAreServiceErrors(t *testing.T) {
	t.Run("unknown CA", func(t *testing.T) {
		s := duotest.New(t)
		s.SetUser("alice", duotest.User{})
		// No RootCAs: the library's pinned Duo CAs do not know the fake's CA.
		c := newClient(t, s, func(o *duo.Options) { o.RootCAs = nil })
		_, err := c.Preauth(ctxT(t), "alice", "", "")
		wantService(t, s, err)
		if r := s.Requests(); len(r) != 0 {
			t.Fatalf("the fake received %d requests over an untrusted connection", len(r))
		}
	})
	t.Run("certificate for another name", func(t *testing.T) {
		s := duotest.New(t, duotest.CertNames("api-other.duosecurity.com"))
		s.SetUser("alice", duotest.User{})
		c := newClient(t, s)
		_, err := c.Preauth(ctxT(t), "alice", "", "")
		wantService(t, s, err)
		if r := s.Requests(); len(r) != 0 {
			t.Fatalf("the fake received %d requests", len(r))
		}
	})
	t.Run("cafile", func(t *testing.T) {
		s := duotest.New(t)
		s.SetUser("alice", duotest.User{Preauth: "allow"})
		c := newClient(t, s, func(o *duo.Options) { o.RootCAs = nil; o.CAFile = s.WriteCAFile(t, t.TempDir()) })
		if p, err := c.Preauth(ctxT(t), "alice", "", ""); err != nil || p.Result != duo.ResultAllow {
			t.Fatalf("with cafile: %+v, %v", p, err)
		}
	})
	t.Run("refused connection", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := duotest.New(t)
		c := newClient(t, s, func(o *duo.Options) { o.Host = addr })
		_, err = c.Preauth(ctxT(t), "alice", "", "")
		wantService(t, s, err)
	})
}

// noverify (allowed, logged loudly by the caller) skips the certificate
// checks that otherwise stop the exchange before any request is sent.
func TestNoVerify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		names   []string // the fake's certificate names; nil = its own address
		trustCA bool     // the client trusts the fake's CA
	}{
		{"unknown CA", nil, false},
		{"certificate for another name", []string{"api-other.duosecurity.com"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []duotest.Option
			if tc.names != nil {
				opts = append(opts, duotest.CertNames(tc.names...))
			}
			s := duotest.New(t, opts...)
			s.SetUser("alice", duotest.User{Preauth: "allow"})
			roots := func(o *duo.Options) {
				if !tc.trustCA {
					o.RootCAs = nil
				}
			}

			// Without noverify: a certificate error, a service error, and
			// nothing reaches the fake.
			strict := newClient(t, s, roots)
			_, err := strict.Preauth(ctxT(t), "alice", "", "")
			wantService(t, s, err)
			if !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("err = %v, want a certificate error", err)
			}
			if r := s.Requests(); len(r) != 0 {
				t.Fatalf("without noverify the fake received %d requests", len(r))
			}
			t.Logf("without noverify: %v", err)

			// The same client with noverify completes the exchange.
			c := newClient(t, s, roots, func(o *duo.Options) { o.NoVerify = true })
			p, err := c.Preauth(ctxT(t), "alice", "", "")
			if err != nil || p.Result != duo.ResultAllow {
				t.Fatalf("with noverify: %+v, %v", p, err)
			}
			if r := s.RequestsTo(preauthPath); len(r) != 1 || r[0].Status != http.StatusOK {
				t.Fatalf("with noverify: requests = %+v, want one answered 200", r)
			}
		})
	}
}

func TestOther4xxIsPlainError(t *testing.T) {
	for _, status := range []int{400, 403, 404} {
		s := duotest.New(t)
		s.SetUser("alice", duotest.User{})
		s.Fail(preauthPath, duotest.Failure{Status: status})
		c := newClient(t, s)
		_, err := c.Preauth(ctxT(t), "alice", "", "")
		wantDenial(t, s, err)
	}
	// A real 400 from the fake's checks: a device the user does not have.
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}})
	c := newClient(t, s)
	_, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "push", Device: "DPNOSUCHDEVICE"})
	wantDenial(t, s, err)
	if r := s.RequestsTo("/auth/v2/auth"); len(r) != 1 || r[0].Status != 400 {
		t.Fatalf("requests = %+v", r)
	}
	// stat FAIL with a non-401 code in a 200 answer.
	s.Fail(preauthPath, duotest.Failure{Body: `{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`})
	_, err = c.Preauth(ctxT(t), "alice", "", "")
	wantDenial(t, s, err)
}

func TestRateLimitRetryAfter(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Preauth: "allow"})
	s.Fail(preauthPath, duotest.Failure{Status: 429, RetryAfter: "1"})
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.Preauth(ctx, "alice", "", "")
	if err != nil || p.Result != duo.ResultAllow {
		t.Fatalf("after a 429: %+v, %v", p, err)
	}
	r := s.RequestsTo(preauthPath)
	if len(r) != 2 || r[0].Status != 429 || r[1].Status != 200 {
		t.Fatalf("requests = %+v, want a 429 then a 200", r)
	}
	// The retry is a fresh signed request, not a replay.
	if r[0].Header.Get("Authorization") == "" || r[1].Header.Get("Authorization") == "" {
		t.Fatal("unsigned retry")
	}
}

func TestRateLimitBeyondDeadline(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Preauth: "allow"})
	s.Fail(preauthPath, duotest.Failure{Status: 429, RetryAfter: "120"})
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.Preauth(ctx, "alice", "", "")
	if ctx.Err() != nil {
		t.Fatal("returned only after the deadline")
	}
	wantService(t, s, err)
	if n := len(s.RequestsTo(preauthPath)); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestHangingServerEndsWithContext(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{})
	s.Fail(preauthPath, duotest.Failure{Hang: true})
	c := newClient(t, s) // no HTTPSTimeout: only ctx bounds the call
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Preauth(ctx, "alice", "", "")
	noSecret(t, s, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context deadline", err)
	}
	if errors.Is(err, duo.ErrService) {
		t.Fatalf("err = %v is a service error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestHTTPSTimeoutIsServiceError(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{})
	s.Fail(preauthPath, duotest.Failure{Hang: true})
	c := newClient(t, s, func(o *duo.Options) { o.HTTPSTimeout = 200 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Preauth(ctx, "alice", "", "")
	if ctx.Err() != nil {
		t.Fatal("returned only after the overall deadline")
	}
	wantService(t, s, err)
}

// connectProxy is an HTTP CONNECT proxy that counts the tunnels it opens.
type connectProxy struct {
	mu      sync.Mutex
	targets []string
	wg      sync.WaitGroup
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.mu.Unlock()
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	p.wg.Add(2)
	go func() { defer p.wg.Done(); io.Copy(up, bufio.NewReader(buf)); up.Close() }()
	go func() { defer p.wg.Done(); io.Copy(conn, up); conn.Close() }()
}

func TestProxyFromConfigOnly(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Preauth: "allow"})

	p := &connectProxy{}
	ps := httptest.NewServer(p)
	defer func() { ps.Close(); p.wg.Wait() }()

	c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, Proxy: ps.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Preauth(ctxT(t), "alice", "", ""); err != nil {
		t.Fatal(err)
	}
	c.Close() // ends the tunnel so the proxy's goroutines finish
	p.mu.Lock()
	targets := append([]string(nil), p.targets...)
	p.mu.Unlock()
	if len(targets) != 1 || targets[0] != s.Host {
		t.Fatalf("proxy tunnels = %q, want one to %s", targets, s.Host)
	}

	// With no http_proxy configured, a proxy in the environment is ignored.
	// (Go's ProxyFromEnvironment would skip a loopback host anyway; the
	// package's internal test shows the transport has no proxy at all.)
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("https_proxy", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("NO_PROXY", "")
	c2 := newClient(t, s)
	if _, err := c2.Preauth(ctxT(t), "alice", "", ""); err != nil {
		t.Fatalf("with HTTPS_PROXY in the environment: %v", err)
	}
}
