package factors_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/testutil/duotest"
)

func duoLogin(t *testing.T, s *duotest.Server, l factors.DuoLogin) factors.Service {
	t.Helper()
	c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return factors.NewDuo(c, l)
}

func plan(t *testing.T, svc factors.Service) factors.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := svc.Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// A user's devices become the menu a login_duo user knows, in Duo's order,
// with the words they type for each.
func TestDuoPlanMenu(t *testing.T) {
	s := duotest.New(t)
	tablet := duotest.Device{Device: "DPTABLET", Type: "phone", Name: "iPad", Capabilities: []string{"push"}}
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234"), tablet}})
	p := plan(t, duoLogin(t, s, factors.DuoLogin{User: "alice", IPAddr: "203.0.113.9", Hostname: "bastion"}))
	if p.Verdict != factors.Offer || p.Auto == nil {
		t.Fatalf("plan %+v, want an offer with a default action", p)
	}
	var labels, words []string
	for _, f := range p.Factors {
		if f.Traits().Hidden {
			continue
		}
		labels = append(labels, f.Label())
		words = append(words, f.Traits().Keywords...)
	}
	wantWords := []string{"push", "phone", "sms", "push2"}
	if !slices.Equal(words, wantWords) || len(labels) != 4 || labels[1] != "Phone call to XXX-XXX-1234" || labels[2] != "SMS passcodes to XXX-XXX-1234" {
		t.Errorf("menu %q with words %q, want push, phone, sms for the phone, then push2 for the tablet", labels, words)
	}
	if labels[3] != "Duo Push to iPad" {
		t.Errorf("tablet line %q", labels[3])
	}
	last := p.Factors[len(p.Factors)-1]
	if !last.Traits().Hidden || !last.Accepts("123456") || !last.Accepts("1234567") || last.Accepts("abc") {
		t.Errorf("the passcode taker should be hidden and take 6 to 12 digits")
	}
}

// A device name from Duo is one line in the menu: a line break in it
// cannot start a line of the device owner's choosing.
func TestDuoDeviceLabelsAreOneLine(t *testing.T) {
	s := duotest.New(t)
	forged := "iPad\n 9. Phone call to 555-0100\r\tx\u009b"
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{
		{Device: "DPNAME", Type: "phone", Name: forged, Capabilities: []string{"push"}},
		{Device: "DPDISPLAY", Type: "phone", DisplayName: forged, Capabilities: []string{"push"}},
		{Device: "DPNUMBER", Type: "phone", Number: "555\n0100", Capabilities: []string{"phone", "sms"}},
	}})
	p := plan(t, duoLogin(t, s, factors.DuoLogin{User: "alice", IPAddr: "203.0.113.9", Hostname: "bastion"}))
	n := 0
	for _, f := range p.Factors {
		if f.Traits().Hidden {
			continue
		}
		n++
		if l := f.Label(); strings.ContainsAny(l, "\r\n\t\u009b") {
			t.Errorf("menu label %q spans lines or holds a control", l)
		}
	}
	if n != 4 {
		t.Errorf("%d menu lines, want 4", n)
	}
}

func TestDuoPlanVerdicts(t *testing.T) {
	s := duotest.New(t)
	for result, want := range map[string]factors.Verdict{"allow": factors.Skip, "deny": factors.Refuse, "enroll": factors.NotEnrolled} {
		s.SetUser("u-"+result, duotest.User{Preauth: result})
		if p := plan(t, duoLogin(t, s, factors.DuoLogin{User: "u-" + result})); p.Verdict != want {
			t.Errorf("preauth %s: verdict %v, want %v", result, p.Verdict, want)
		}
	}
	p := plan(t, duoLogin(t, s, factors.DuoLogin{User: "nobody"}))
	if p.Verdict != factors.NotEnrolled || p.EnrollURL == "" {
		t.Errorf("unknown user: %+v, want the enrollment link", p)
	}
}

// A Duo outage reaches the gate as factors.ErrService; a refused request
// does not.
func TestDuoErrorsKeepTheirKind(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}})
	svc := duoLogin(t, s, factors.DuoLogin{User: "alice"})
	s.Fail("/auth/v2/preauth", duotest.Failure{Status: 503})
	if _, err := svc.Plan(context.Background()); !errors.Is(err, factors.ErrService) {
		t.Errorf("503: %v, want a service error", err)
	}
	s.Fail("/auth/v2/preauth", duotest.Failure{Status: 400})
	if _, err := svc.Plan(context.Background()); err == nil || errors.Is(err, factors.ErrService) {
		t.Errorf("400: %v, want a plain error", err)
	}
	p := plan(t, svc)
	s.Fail("/auth/v2/auth", duotest.Failure{Status: 500})
	if _, err := p.Factors[len(p.Factors)-1].Check(context.Background(), "123456"); !errors.Is(err, factors.ErrService) {
		t.Errorf("passcode check during an outage: %v, want a service error", err)
	}
}

func TestDuoActions(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")},
		Push: "allow", PushDelay: 2, Phone: "deny", Passcodes: []string{"7654321"}})
	svc := duoLogin(t, s, factors.DuoLogin{User: "alice", IPAddr: "203.0.113.9", Hostname: "bastion", ServerIP: "192.0.2.10",
		Command: "git-upload-pack 'repo'\x1b[2J", Pushinfo: true})
	p := plan(t, svc)
	byWord := map[string]factors.Action{}
	for _, f := range p.Factors {
		if a, ok := f.(factors.Action); ok {
			byWord[f.Traits().Keywords[0]] = a
		}
	}
	ctx := context.Background()

	var lines []string
	out, err := byWord["push"].Run(ctx, func(s string) { lines = append(lines, s) })
	if err != nil || !out.OK {
		t.Fatalf("push: %+v %v, want approved", out, err)
	}
	if len(lines) == 0 {
		t.Errorf("no status line while the push waited")
	}
	auth := s.RequestsTo("/auth/v2/auth")
	info, _ := url.ParseQuery(auth[len(auth)-1].Params.Get("pushinfo"))
	if info.Get("Server IP") != "192.0.2.10" || info.Get("Command") != "git-upload-pack 'repo'?[2J" || len(info) != 2 {
		t.Errorf("pushinfo %v, want login_duo's: the server's address and the sanitised command", info)
	}

	if out, err := byWord["phone"].Run(ctx, func(string) {}); err != nil || out.OK {
		t.Errorf("a call the user denied: %+v %v", out, err)
	}
	if out, err := byWord["sms"].Run(ctx, func(string) {}); err != nil || !out.Again || out.OK {
		t.Errorf("SMS request: %+v %v, want passcodes sent and nothing decided", out, err)
	}
	code := p.Factors[len(p.Factors)-1]
	if out, err := code.Check(ctx, "7654321"); err != nil || !out.OK {
		t.Errorf("a valid passcode: %+v %v", out, err)
	}
	if out, err := code.Check(ctx, "7654321"); err != nil || out.OK || out.Reason != factors.ReasonWrong {
		t.Errorf("the same passcode again: %+v %v, want a wrong code", out, err)
	}
}

// What Duo receives, as login_duo sends it: failmode on every preauth,
// the server's address in every push and the command only with pushinfo,
// the host name looked up only when Duo is asked.
func TestDuoSendsWhatLoginDuoSends(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}})
	for _, tc := range []struct {
		failmode string
		pushinfo bool
	}{{"open", false}, {"closed", true}} {
		s.Reset()
		s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}})
		lookups := 0
		svc := duoLogin(t, s, factors.DuoLogin{User: "alice", IPAddr: "203.0.113.9", ServerIP: "192.0.2.10",
			LookupHost: func(context.Context) string { lookups++; return "bastion.example.org" },
			Command:    "ls", Pushinfo: tc.pushinfo, Failmode: tc.failmode})
		if lookups != 0 {
			t.Fatalf("host name looked up before Duo was asked")
		}
		p := plan(t, svc)
		pre := s.RequestsTo("/auth/v2/preauth")
		if len(pre) != 1 || pre[0].Params.Get("failmode") != tc.failmode || pre[0].Params.Get("hostname") != "bastion.example.org" ||
			pre[0].Params.Get("ipaddr") != "203.0.113.9" || pre[0].Params.Has("client_supports_verified_push") || lookups != 1 {
			t.Errorf("preauth %v after %d lookups, want failmode=%s, the looked-up host name, the client address, no verified push", pre, lookups, tc.failmode)
		}
		if out, err := p.Auto.Run(context.Background(), nil); err != nil || !out.OK {
			t.Fatalf("auto push: %+v %v", out, err)
		}
		auth := s.RequestsTo("/auth/v2/auth")
		info, _ := url.ParseQuery(auth[0].Params.Get("pushinfo"))
		want := url.Values{"Server IP": {"192.0.2.10"}}
		if tc.pushinfo {
			want.Set("Command", "ls")
		}
		if !reflect.DeepEqual(info, want) || auth[0].Params.Get("hostname") != "bastion.example.org" {
			t.Errorf("pushinfo=%t: auth sent pushinfo %v hostname %q, want %v", tc.pushinfo, info, auth[0].Params.Get("hostname"), want)
		}
	}
}

// Verified Push: preauth says this client shows the number and answers
// it with a txid; the push carries that txid, reports the number as
// progress (the gate puts it on the terminal), and succeeds only once the
// user types it into the app. A second push takes a fresh preauth's txid
// (a txid starts one push).
func TestDuoVerifiedPush(t *testing.T) {
	s := duotest.New(t)
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}, VerifiedPush: "417"})
	c, err := duo.New(duo.Options{Host: s.Host, IKey: s.IKey, SKey: s.SKey, RootCAs: s.CA, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	rec := &preauthRecorder{DuoClient: c}
	p := plan(t, factors.NewDuo(rec, factors.DuoLogin{User: "alice", VerifiedPush: true}))
	if pre := s.RequestsTo("/auth/v2/preauth"); pre[0].Params.Get("client_supports_verified_push") != "1" {
		t.Fatalf("preauth %v, want client_supports_verified_push=1", pre[0].Params)
	}
	var push factors.Action
	for _, f := range p.Factors {
		if a, ok := f.(factors.Action); ok && f.Name() == "duo-push" {
			push = a
		}
	}
	for i, typed := range []string{"999", "417"} {
		var shown []string
		out, err := push.Run(context.Background(), func(line string) {
			shown = append(shown, line)
			if strings.HasPrefix(line, "Verification code: 417") {
				s.Type("alice", typed)
			}
		})
		if err != nil || out.OK != (typed == "417") || (!out.OK && out.Reason != "duo: deny") {
			t.Errorf("typed %s: %+v %v", typed, out, err)
		}
		if len(shown) == 0 || !strings.HasPrefix(shown[0], "Verification code: 417") {
			t.Errorf("typed %s: shown %q, want the number first", typed, shown)
		}
		var sent []string // the txid each push carried
		for _, r := range s.RequestsTo("/auth/v2/auth") {
			sent = append(sent, r.Params.Get("txid"))
		}
		if len(rec.txids) != i+1 || rec.txids[i] == "" || len(sent) != i+1 || sent[i] != rec.txids[i] {
			t.Fatalf("typed %s: preauth txids %q, pushes carried %q, want push %d with preauth %d's txid", typed, rec.txids, sent, i+1, i+1)
		}
	}
	if rec.txids[0] == rec.txids[1] {
		t.Errorf("both pushes carried txid %q", rec.txids[0])
	}

	// A client that did not say it shows the number gets no push Duo
	// would accept.
	s.Reset()
	s.SetUser("alice", duotest.User{Devices: []duotest.Device{duotest.Phone("DPPHONE", "XXX-XXX-1234")}, VerifiedPush: "417"})
	p = plan(t, duoLogin(t, s, factors.DuoLogin{User: "alice"}))
	if out, err := p.Auto.Run(context.Background(), nil); err != nil || out.OK {
		t.Errorf("verified push without saying so: %+v %v, want denied", out, err)
	}
}

// preauthRecorder keeps the Verified Push txid of every preauth answer.
type preauthRecorder struct {
	factors.DuoClient
	txids []string
}

func (r *preauthRecorder) PreauthFor(ctx context.Context, req duo.PreauthRequest) (*duo.Preauth, error) {
	p, err := r.DuoClient.PreauthFor(ctx, req)
	if err == nil {
		r.txids = append(r.txids, p.Txid)
	}
	return p, err
}
