package factors

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/logingate/logingate/internal/radius"
)

// scriptedRADIUS answers each request with the next result.
type scriptedRADIUS struct {
	results []radius.Result
	err     error
	reqs    []radius.Request
}

func (c *scriptedRADIUS) Authenticate(_ context.Context, r radius.Request) (radius.Result, error) {
	c.reqs = append(c.reqs, r)
	if c.err != nil {
		return radius.Result{Warnings: []string{"w"}}, c.err
	}
	res := c.results[0]
	c.results = c.results[1:]
	return res, nil
}

func radiusFactor(t *testing.T, c RADIUSClient, warned *[]string) Factor {
	t.Helper()
	p, err := NewRADIUS(c, RADIUSLogin{User: "corp\\alice", Remote: "192.0.2.9", Label: "Corp",
		Warn: func(s string) { *warned = append(*warned, s) }}).Plan(context.Background())
	if err != nil || p.Verdict != Offer || len(p.Factors) != 1 || p.Auto != nil {
		t.Fatalf("plan %+v, %v", p, err)
	}
	return p.Factors[0]
}

// The one factor RADIUS offers: its label, the shapes it takes, and that
// it is a fallback judged at the attempt.
func TestRADIUSFactor(t *testing.T) {
	var warned []string
	f := radiusFactor(t, &scriptedRADIUS{}, &warned)
	if f.Name() != "radius" || f.Label() != "OTP from Corp" || f.Traits().Hidden {
		t.Errorf("name %q label %q", f.Name(), f.Label())
	}
	if !f.Traits().Fallback {
		t.Error("not a fallback")
	}
	if !f.Traits().FailmodeOnCheck {
		t.Error("failmode not applied at the check")
	}
	for code, want := range map[string]bool{
		"123456": true, "1234": true, "pin123456": true, "cccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded": true,
		"123": false, "12 34": false, "": false, "abc\x1bdef": false, string(make([]byte, 129)): false,
	} {
		if f.Accepts(code) != want {
			t.Errorf("Accepts(%q) = %t", code, !want)
		}
	}
}

// Accept, reject, a challenge and its answer with the State, an outage.
func TestRADIUSCheck(t *testing.T) {
	c := &scriptedRADIUS{results: []radius.Result{
		{Code: radius.Accept, Server: "a:1812", ReplyMessage: "Welcome", Warnings: []string{"opt-out"}},
		{Code: radius.Reject, Server: "a:1812"},
		{Code: radius.Challenge, Server: "b:1812", ReplyMessage: "Enter the SMS code", State: radius.State("st")},
		{Code: radius.Accept, Server: "b:1812"},
		{Code: radius.Challenge, Server: "a:1812"},
	}}
	var warned []string
	f := radiusFactor(t, c, &warned)
	ctx := context.Background()
	for i, want := range []Outcome{
		{OK: true, Notice: "Welcome"},
		{Reason: ReasonWrong},
		{Challenge: "Enter the SMS code"},
		{OK: true},
		{Challenge: "Enter the next code"},
	} {
		out, err := f.Check(ctx, fmt.Sprint("code", i))
		if err != nil || out != want {
			t.Errorf("check %d: %+v, %v; want %+v", i, out, err, want)
		}
	}
	r := c.reqs
	if r[0].User != `corp\alice` || r[0].Calling != "192.0.2.9" || r[0].Password != "code0" || r[0].State != nil {
		t.Errorf("first request %+v", r[0])
	}
	if string(r[3].State) != "st" || r[3].Server != "b:1812" || r[2].State != nil {
		t.Errorf("the challenge's answer went %+v", r[3])
	}
	if len(warned) != 1 || warned[0] != "opt-out" {
		t.Errorf("warnings %q", warned)
	}

	c.err = fmt.Errorf("%w (a:1812: no answer)", radius.ErrService)
	if _, err := f.Check(ctx, "code9"); !errors.Is(err, ErrService) {
		t.Errorf("outage: %v, want ErrService", err)
	}
	if c.reqs[len(c.reqs)-1].State != nil {
		t.Error("an outage answered the last challenge's State again")
	}
}

// More than MaxChallenges challenges in a row fail the attempt and forget
// the State.
func TestRADIUSChallengeBound(t *testing.T) {
	c := &scriptedRADIUS{}
	for range MaxChallenges + 2 {
		c.results = append(c.results, radius.Result{Code: radius.Challenge, State: radius.State("s")})
	}
	var warned []string
	f := radiusFactor(t, c, &warned)
	for i := range MaxChallenges + 1 {
		out, _ := f.Check(context.Background(), "x")
		if (out.Challenge != "") != (i < MaxChallenges) {
			t.Fatalf("check %d: %+v", i, out)
		}
	}
	_, _ = f.Check(context.Background(), "fresh")
	if c.reqs[len(c.reqs)-1].State != nil {
		t.Error("a fresh code after the bound carried the old State")
	}
}
