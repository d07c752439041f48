package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
)

func testClient(servers ...Server) *Client {
	return &Client{Servers: servers, NASIdentifier: "gate.example", NASIPAddress: net.ParseIP("192.0.2.7")}
}

var aliceReq = Request{User: "alice", Password: "123456", Calling: "198.51.100.4"}

// Each answer a server may send, and whether it counts.
func TestVerifyAnswers(t *testing.T) {
	type script func(req []byte) [][]byte
	one := func(f func(req []byte) []byte) script {
		return func(req []byte) [][]byte { return [][]byte{f(req)} }
	}
	tests := []struct {
		name      string
		answer    script
		requireMA bool
		want      Code   // 0: no valid answer (ErrService)
		why       string // in the trace
		reply     string
		state     string
	}{
		{"accept", one(func(r []byte) []byte { return reply(r, testSecret, codeAccessAccept, true) }), true, Accept, "accept", "", ""},
		{"reject with a message", one(func(r []byte) []byte {
			return reply(r, testSecret, codeAccessReject, true, replyMessage("Wrong\r\ncode\x1b[31m"))
		}), true, Reject, "reject", "Wrong  code?[31m", ""},
		{"challenge", one(func(r []byte) []byte {
			return reply(r, testSecret, codeAccessChallenge, true, replyMessage("Enter the code"), replyMessage("sent by SMS"), state("st-1"))
		}), true, Challenge, "challenge", "Enter the code sent by SMS", "st-1"},
		{"missing Message-Authenticator", one(func(r []byte) []byte { return reply(r, testSecret, codeAccessAccept, false) }),
			true, 0, "no Message-Authenticator", "", ""},
		{"forged Message-Authenticator", one(func(r []byte) []byte {
			b := reply(r, testSecret, codeAccessAccept, true)
			b[headerLen+2] ^= 1
			sign(b, r, testSecret) // the Response Authenticator is right: only the MAC is forged
			return b
		}), true, 0, "bad Message-Authenticator", "", ""},
		{"Message-Authenticator under another secret", one(func(r []byte) []byte {
			b := reply(r, "other", codeAccessAccept, true)
			sign(b, r, testSecret)
			return b
		}), true, 0, "bad Message-Authenticator", "", ""},
		{"wrong Response Authenticator", one(func(r []byte) []byte { return reply(r, "other", codeAccessAccept, true) }),
			true, 0, "bad Response Authenticator", "", ""},
		{"wrong Response Authenticator without MA, opted out", one(func(r []byte) []byte { return reply(r, "other", codeAccessAccept, false) }),
			false, 0, "bad Response Authenticator", "", ""},
		{"mismatched identifier", one(func(r []byte) []byte {
			r2 := append([]byte(nil), r...)
			r2[1]++
			return reply(r2, testSecret, codeAccessAccept, true)
		}), true, 0, "identifier does not match", "", ""},
		{"short packet", one(func(r []byte) []byte { return reply(r, testSecret, codeAccessAccept, true)[:19] }),
			true, 0, "shorter than a RADIUS header", "", ""},
		{"length field past the datagram", one(func(r []byte) []byte {
			b := reply(r, testSecret, codeAccessAccept, true)
			b[3]++
			return b
		}), true, 0, "length field", "", ""},
		{"attribute overruns the packet", one(func(r []byte) []byte {
			b := reply(r, testSecret, codeAccessAccept, true, replyMessage("hi"))
			b[len(b)-3] = 9
			sign(b, r, testSecret)
			return b
		}), true, 0, "malformed attributes", "", ""},
		{"two Message-Authenticators", one(func(r []byte) []byte {
			return reply(r, testSecret, codeAccessAccept, true, attr{typeMessageAuthenticator, make([]byte, 16)})
		}), true, 0, "more than one Message-Authenticator", "", ""},
		{"short Message-Authenticator", one(func(r []byte) []byte {
			return reply(r, testSecret, codeAccessAccept, false, attr{typeMessageAuthenticator, make([]byte, 8)})
		}), true, 0, "malformed Message-Authenticator", "", ""},
		{"not an answer to an Access-Request", one(func(r []byte) []byte { return reply(r, testSecret, 5, true) }),
			true, 0, "unexpected code 5", "", ""},
		{"a forgery, then the real answer", func(r []byte) [][]byte {
			return [][]byte{reply(r, "guess", codeAccessAccept, true), reply(r, testSecret, codeAccessReject, true)}
		}, true, Reject, "bad Response Authenticator", "", ""},
		{"opted out: no Message-Authenticator counts", one(func(r []byte) []byte { return reply(r, testSecret, codeAccessAccept, false) }),
			false, Accept, "accept without Message-Authenticator", "", ""},
		{"opted out: a forged one still does not", one(func(r []byte) []byte {
			b := reply(r, testSecret, codeAccessAccept, true)
			b[headerLen+5] ^= 1
			sign(b, r, testSecret)
			return b
		}), false, 0, "bad Message-Authenticator", "", ""},
		{"padding past the length is ignored", one(func(r []byte) []byte {
			return append(reply(r, testSecret, codeAccessAccept, true), 0, 0, 0)
		}), true, Accept, "accept", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(req []byte, _ net.Addr) [][]byte { return tt.answer(req) })
			s := server(f.addr())
			s.RequireMessageAuthenticator = tt.requireMA
			s.Retries = 0
			res, err := testClient(s).Authenticate(context.Background(), aliceReq)
			trace := traceText(res)
			if tt.want == 0 {
				if !errors.Is(err, ErrService) {
					t.Fatalf("err = %v, want ErrService; result %+v", err, res)
				}
				if res.Code != 0 {
					t.Errorf("Code = %v with an error", res.Code)
				}
			} else if err != nil || res.Code != tt.want {
				t.Fatalf("got %v, %v; want %v\ntrace: %s", res.Code, err, tt.want, trace)
			}
			if !strings.Contains(trace, tt.why) {
				t.Errorf("trace %q lacks %q", trace, tt.why)
			}
			if res.ReplyMessage != tt.reply || string(res.State) != tt.state {
				t.Errorf("reply %q state %q, want %q %q", res.ReplyMessage, res.State, tt.reply, tt.state)
			}
			if hasWarning := len(res.Warnings) > 0; hasWarning == tt.requireMA {
				t.Errorf("warnings %q with require_message_authenticator %t", res.Warnings, tt.requireMA)
			}
			if err != nil && strings.Contains(err.Error(), aliceReq.Password) || strings.Contains(trace, testSecret) {
				t.Errorf("a secret leaked: %v / %s", err, trace)
			}
		})
	}
}

func traceText(r Result) string {
	var s []string
	for _, e := range r.Trace {
		s = append(s, e.String())
	}
	return strings.Join(s, "\n")
}

// The request carries what the server needs, and a valid
// Message-Authenticator first.
func TestRequestAttributes(t *testing.T) {
	f := newFake(t, func(req []byte, _ net.Addr) [][]byte { return [][]byte{reply(req, testSecret, codeAccessAccept, true)} })
	res, err := testClient(server(f.addr())).Authenticate(context.Background(), aliceReq)
	if err != nil || res.Code != Accept {
		t.Fatalf("got %v, %v", res.Code, err)
	}
	req := f.requests()[0]
	if req[0] != codeAccessRequest {
		t.Fatalf("code %d", req[0])
	}
	attrs := attrsOf(t, req)
	if attrs[0].Type != typeMessageAuthenticator {
		t.Errorf("first attribute is %d, want Message-Authenticator", attrs[0].Type)
	}
	zeroed := append([]byte(nil), req...)
	clear(zeroed[headerLen+2 : headerLen+18])
	m := hmac.New(md5.New, []byte(testSecret))
	m.Write(zeroed)
	if !hmac.Equal(m.Sum(nil), attrs[0].Attribute) {
		t.Error("Message-Authenticator does not verify")
	}
	pw, err := radius.UserPassword(attrs.Get(typeUserPassword), []byte(testSecret), req[4:20])
	if err != nil || string(pw) != aliceReq.Password {
		t.Errorf("User-Password decodes to %q, %v", pw, err)
	}
	if bytes.Contains(req, []byte(aliceReq.Password)) {
		t.Error("the code is in the packet in clear")
	}
	for typ, want := range map[radius.Type]string{
		typeUserName: "alice", typeNASIdentifier: "gate.example", typeCallingStationID: "198.51.100.4",
		typeNASIPAddress: string(net.ParseIP("192.0.2.7").To4()),
	} {
		if got := string(attrs.Get(typ)); got != want {
			t.Errorf("attribute %d = %q, want %q", typ, got, want)
		}
	}
	if attrs.Get(typeState) != nil {
		t.Error("a first request carries a State")
	}
}

// A challenge's answer goes to the server that issued it, with its State.
func TestChallengeContinues(t *testing.T) {
	other := newFake(t, func(req []byte, _ net.Addr) [][]byte { return nil })
	f := newFake(t, func(req []byte, _ net.Addr) [][]byte {
		if st, _ := radius.ParseAttributes(req[headerLen:]); st.Get(typeState) != nil {
			return [][]byte{reply(req, testSecret, codeAccessAccept, true)}
		}
		return [][]byte{reply(req, testSecret, codeAccessChallenge, true, replyMessage("PIN?"), state("xyz"))}
	})
	c := testClient(server(f.addr()), server(other.addr()))
	res, err := c.Authenticate(context.Background(), aliceReq)
	if err != nil || res.Code != Challenge || res.Server != f.addr() {
		t.Fatalf("first: %+v, %v", res, err)
	}
	next := aliceReq
	next.Password, next.State, next.Server = "4321", res.State, res.Server
	res, err = c.Authenticate(context.Background(), next)
	if err != nil || res.Code != Accept {
		t.Fatalf("second: %+v, %v", res, err)
	}
	reqs := f.requests()
	sent := attrsOf(t, reqs[1])
	if got := sent.Get(typeState); string(got) != "xyz" {
		t.Errorf("State sent back %q", got)
	}
	if len(other.requests()) != 0 {
		t.Error("the other server saw the challenge's answer")
	}
	next.Server = "127.0.0.1:1"
	if _, err := c.Authenticate(context.Background(), next); err == nil || errors.Is(err, ErrService) {
		t.Errorf("a State for an unknown server: %v", err)
	}
}

// Silence on the first server fails over to the second; each try on the
// first resends the same packet.
func TestFailover(t *testing.T) {
	silent := newFake(t, func([]byte, net.Addr) [][]byte { return nil })
	good := newFake(t, func(req []byte, _ net.Addr) [][]byte { return [][]byte{reply(req, testSecret, codeAccessAccept, true)} })
	res, err := testClient(server(silent.addr()), server(good.addr())).Authenticate(context.Background(), aliceReq)
	if err != nil || res.Code != Accept || res.Server != good.addr() {
		t.Fatalf("got %+v, %v", res, err)
	}
	tries := silent.requests()
	if len(tries) != 2 || !bytes.Equal(tries[0], tries[1]) {
		t.Errorf("the silent server got %d requests, want the same one twice", len(tries))
	}
	if tr := traceText(res); !strings.Contains(tr, silent.addr()+": no answer within") || !strings.Contains(tr, good.addr()+": accept") {
		t.Errorf("trace:\n%s", tr)
	}
	if bytes.Equal(tries[0][4:20], good.requests()[0][4:20]) {
		t.Error("both servers got the same Request Authenticator")
	}
}

// No server answers: ErrService naming each; a refused port is no answer
// either. The login's deadline ends the wait.
func TestNoAnswer(t *testing.T) {
	silent := newFake(t, func([]byte, net.Addr) [][]byte { return nil })
	// A port nothing listens on: the kernel refuses it.
	c, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := c.LocalAddr().String()
	c.Close()
	_, err := testClient(server(closed), server(silent.addr())).Authenticate(context.Background(), aliceReq)
	if !errors.Is(err, ErrService) || !strings.Contains(err.Error(), closed+": refused") || !strings.Contains(err.Error(), silent.addr()+": no answer") {
		t.Fatalf("err = %v", err)
	}

	slow := server(silent.addr())
	slow.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = testClient(slow).Authenticate(ctx, aliceReq)
	if !errors.Is(err, ErrService) || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err = %v", err)
	}
}

// An answer from another address or port is not the server's: the
// connected socket never delivers it.
func TestAnswerFromAnotherPort(t *testing.T) {
	forger, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	f := newFake(t, func(req []byte, from net.Addr) [][]byte {
		_, _ = forger.WriteTo(reply(req, testSecret, codeAccessAccept, true), from)
		return nil
	})
	s := server(f.addr())
	s.Retries = 0
	_, err = testClient(s).Authenticate(context.Background(), aliceReq)
	if !errors.Is(err, ErrService) {
		t.Fatalf("err = %v: an answer from another port counted", err)
	}
}

// Requests that cannot be sent are errors of their own, not ErrService.
func TestBadRequests(t *testing.T) {
	s := server("127.0.0.1:1")
	for _, r := range []Request{
		{User: "alice"},
		{User: "alice", Password: strings.Repeat("1", 129)},
		{Password: "1"},
	} {
		if _, err := testClient(s).Authenticate(context.Background(), r); err == nil || errors.Is(err, ErrService) {
			t.Errorf("%q/%d: err = %v", r.User, len(r.Password), err)
		}
	}
	if _, err := (&Client{}).Authenticate(context.Background(), aliceReq); err == nil || errors.Is(err, ErrService) {
		t.Errorf("no servers: %v", err)
	}
}

// Secrets print as REDACTED.
func TestRedacted(t *testing.T) {
	s := server("x:1")
	r := Result{State: State("session-data")}
	for _, got := range []string{fmtV(s), fmtV(r), fmtV(Secret("k")), fmtV(State("k"))} {
		if strings.Contains(got, testSecret) || strings.Contains(got, "session-data") || strings.Contains(got, "k]") {
			t.Errorf("%s", got)
		}
	}
}

func fmtV(v any) string { return fmt.Sprintf("%v %+v %#v", v, v, v) }
