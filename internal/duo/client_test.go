package duo_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

func TestPreauthResults(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone, {Device: "token1", Type: "token"}}})
	s.SetUser("bob", duotest.User{Preauth: "allow"})
	s.SetUser("carol", duotest.User{Preauth: "deny", Message: "Your account is disabled."})
	s.SetUser("dave", duotest.User{Preauth: "enroll"})

	p, err := c.Preauth(ctxT(t), "alice", "203.0.113.9", "web1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Result != duo.ResultAuth || len(p.Devices) != 2 {
		t.Fatalf("alice: %+v", p)
	}
	d := p.Devices[0]
	want := duo.Device{ID: "DPFZRS9FB0D46QFTM891", Type: "phone", Name: "iPhone", Number: "XXX-XXX-1234",
		DisplayName: "iOS (XXX-XXX-1234)", Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"}}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("device = %+v\nwant %+v", d, want)
	}
	if !d.Can("push") || !d.Can("sms") || p.Devices[1].Can("push") {
		t.Fatal("Can disagrees with the capabilities")
	}
	reqs := s.RequestsTo("/auth/v2/preauth")
	if got := reqs[0].Params; got.Get("username") != "alice" || got.Get("ipaddr") != "203.0.113.9" || got.Get("hostname") != "web1" {
		t.Fatalf("preauth params = %v", got)
	}

	p, err = c.Preauth(ctxT(t), "bob", "", "")
	if err != nil || p.Result != duo.ResultAllow {
		t.Fatalf("bob: %+v, %v", p, err)
	}
	if got := s.RequestsTo("/auth/v2/preauth")[1].Params; got.Has("ipaddr") || got.Has("hostname") {
		t.Fatalf("empty ipaddr/hostname were sent: %v", got)
	}
	p, err = c.Preauth(ctxT(t), "carol", "", "")
	if err != nil || p.Result != duo.ResultDeny || p.Message != "Your account is disabled." {
		t.Fatalf("carol: %+v, %v", p, err)
	}
	p, err = c.Preauth(ctxT(t), "dave", "", "")
	if err != nil || p.Result != duo.ResultEnroll || p.EnrollURL == "" {
		t.Fatalf("dave: %+v, %v", p, err)
	}
	// No ping on the way: a login costs only the calls it needs.
	if n := len(s.RequestsTo("/auth/v2/ping")); n != 0 {
		t.Fatalf("%d pings sent", n)
	}
}

func TestPushOutcomes(t *testing.T) {
	for _, tc := range []struct {
		push       string
		result     duo.Result
		status     string
		wantStatus []string
	}{
		{"allow", duo.ResultAllow, "allow", []string{"pushed", "allow"}},
		{"deny", duo.ResultDeny, "deny", []string{"pushed", "deny"}},
		{"timeout", duo.ResultDeny, "timeout", []string{"pushed", "timeout"}},
		{"fraud", duo.ResultDeny, "fraud", []string{"pushed", "fraud"}},
	} {
		t.Run(tc.push, func(t *testing.T) {
			s := duotest.New(t)
			c := newClient(t, s)
			s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, Push: tc.push, PushDelay: 3})
			txid, st, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", IPAddr: "203.0.113.9", Factor: "push", Device: iphone.Device})
			if err != nil || txid == "" || st != (duo.Status{}) {
				t.Fatalf("Auth = %q, %+v, %v", txid, st, err)
			}
			if p := s.RequestsTo("/auth/v2/auth")[0].Params; p.Get("async") != "1" || p.Get("device") != iphone.Device || p.Get("factor") != "push" {
				t.Fatalf("auth params = %v", p)
			}
			var seen []string
			final, err := c.Wait(ctxT(t), txid, func(st duo.Status) { seen = append(seen, st.Status) })
			if err != nil {
				t.Fatal(err)
			}
			if final.Result != tc.result || final.Status != tc.status || final.Message == "" {
				t.Fatalf("final = %+v", final)
			}
			// Four polls (three waiting, one final), two distinct statuses.
			if n := len(s.RequestsTo("/auth/v2/auth_status")); n != 4 {
				t.Fatalf("%d polls, want 4", n)
			}
			if !slices.Equal(seen, tc.wantStatus) {
				t.Fatalf("progress saw %q, want %q", seen, tc.wantStatus)
			}
		})
	}
}

func TestPushNeverAnsweredEndsWithContext(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, Push: "never"})
	txid, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "push", Device: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = c.Wait(ctx, txid, func(duo.Status) {
		calls++
		cancel() // the user pressed Ctrl-C after the first status line
	})
	noSecret(t, s, err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Fatalf("progress called %d times for one status", calls)
	}
}

func TestPhone(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, Phone: "allow", PushDelay: 3})
	txid, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "phone", Device: iphone.Device})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	final, err := c.Wait(ctxT(t), txid, func(st duo.Status) { seen = append(seen, st.Status) })
	if err != nil || final.Result != duo.ResultAllow {
		t.Fatalf("final = %+v, %v", final, err)
	}
	if want := []string{"calling", "answered", "allow"}; !slices.Equal(seen, want) {
		t.Fatalf("progress saw %q, want %q", seen, want)
	}
}

func TestSMSThenPasscode(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, Passcodes: []string{"1234567"}})
	txid, st, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "sms", Device: iphone.Device})
	if err != nil {
		t.Fatal(err)
	}
	if txid != "" || st.Result != duo.ResultDeny || st.Status != "sent" || st.Message != "New SMS passcodes sent" {
		t.Fatalf("sms = %q, %+v", txid, st)
	}
	if p := s.RequestsTo("/auth/v2/auth")[0].Params; p.Has("async") {
		t.Fatalf("sms was sent async: %v", p)
	}
	_, st, err = c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "passcode", Passcode: "1234567"})
	if err != nil || st.Result != duo.ResultAllow {
		t.Fatalf("passcode = %+v, %v", st, err)
	}
}

func TestPasscodeWorksOnce(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Passcodes: []string{"123456", "654321"}})
	auth := func(code string) duo.Status {
		t.Helper()
		txid, st, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "passcode", Passcode: code})
		if err != nil || txid != "" {
			t.Fatalf("Auth(%s) = %q, %v", code, txid, err)
		}
		return st
	}
	if st := auth("123456"); st.Result != duo.ResultAllow {
		t.Fatalf("first use: %+v", st)
	}
	if st := auth("123456"); st.Result != duo.ResultDeny {
		t.Fatalf("second use: %+v", st)
	}
	if st := auth("000000"); st.Result != duo.ResultDeny {
		t.Fatalf("wrong code: %+v", st)
	}
	if p := s.RequestsTo("/auth/v2/auth")[0].Params; p.Get("passcode") != "123456" || p.Has("device") || p.Has("async") {
		t.Fatalf("passcode params = %v", p)
	}
}

func TestPushinfoIsURLEncoded(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}})
	info := url.Values{"Server": {"web1"}, "From": {"203.0.113.9"}, "Command": {"rsync -a a&b=c /tmp/x y"}}
	_, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "push", Device: "auto", Pushinfo: info})
	if err != nil {
		t.Fatal(err)
	}
	raw := s.RequestsTo("/auth/v2/auth")[0].Params.Get("pushinfo")
	if raw != info.Encode() {
		t.Fatalf("pushinfo = %q, want %q", raw, info.Encode())
	}
	back, err := url.ParseQuery(raw)
	if err != nil || !reflect.DeepEqual(back, info) {
		t.Fatalf("pushinfo decodes to %v (%v), want %v", back, err, info)
	}
}

func TestServerStringsSanitised(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	evil := duotest.Phone("phone1", "XXX-XXX-\x1b[2J1234")
	evil.Name = "i\x07Phone\x7f"
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{evil}, Message: "Hi\x1b]0;owned\x07\r\n\tok\u009b"})
	p, err := c.Preauth(ctxT(t), "alice", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hi?]0;owned??\n\tok?"; p.Message != want {
		t.Fatalf("message = %q, want %q", p.Message, want)
	}
	d := p.Devices[0]
	if d.Name != "i?Phone?" || d.Number != "XXX-XXX-?[2J1234" || d.DisplayName != "iOS (XXX-XXX-?[2J1234)" {
		t.Fatalf("device = %+v", d)
	}
	txid, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "push", Device: "phone1"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait(ctxT(t), txid, nil)
	if err != nil || st.Message != "Hi?]0;owned??\n\tok?" {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":          "plain text",
		"tab\tand\nnewline":   "tab\tand\nnewline",
		"\x00\x01\x1f\x7f":    "????",
		"cr\r":                "cr?",
		"caf\u00e9 \u2713":    "caf\u00e9 \u2713",
		"c1 \u0085 \u009b":    "c1 ? ?",
		"bad utf8 \xff\xfe x": "bad utf8 ?? x",
	} {
		if got := duo.Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// Verified Push as Duo documents it: preauth with
// client_supports_verified_push=1 answers a txid and the number to show;
// the push sends that txid back, and only a push may carry one.
func TestVerifiedPushTxid(t *testing.T) {
	s := duotest.New(t)
	c := newClient(t, s)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{iphone}, VerifiedPush: "417"})

	p, err := c.PreauthFor(ctxT(t), duo.PreauthRequest{User: "alice", VerifiedPush: true})
	if err != nil || p.Txid == "" || p.VerificationCode != "417" {
		t.Fatalf("preauth: %+v, %v, want a txid and the number", p, err)
	}
	if _, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "phone", Device: iphone.Device, Txid: p.Txid}); err == nil {
		t.Error("a txid with a phone call was accepted")
	}
	txid, _, err := c.Auth(ctxT(t), duo.AuthRequest{User: "alice", Factor: "push", Device: iphone.Device, Txid: p.Txid})
	if err != nil {
		t.Fatal(err)
	}
	if auth := s.RequestsTo("/auth/v2/auth"); len(auth) != 1 || auth[0].Params.Get("txid") != p.Txid {
		t.Fatalf("auth requests %+v, want one push with preauth's txid", auth)
	}
	s.Type("alice", "417")
	if st, err := c.Wait(ctxT(t), txid, nil); err != nil || st.Result != duo.ResultAllow {
		t.Fatalf("verified push: %+v, %v, want allow", st, err)
	}

	// Without client_supports_verified_push preauth answers no txid.
	p, err = c.PreauthFor(ctxT(t), duo.PreauthRequest{User: "alice"})
	if err != nil || p.Txid != "" || p.VerificationCode != "" {
		t.Fatalf("preauth without verified push: %+v, %v", p, err)
	}
}
