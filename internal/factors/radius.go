package factors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/logingate/logingate/internal/radius"
)

// RADIUSClient is what the RADIUS factor needs of a RADIUS client
// (*radius.Client).
type RADIUSClient interface {
	Authenticate(ctx context.Context, r radius.Request) (radius.Result, error)
}

// RADIUSLogin is the login the RADIUS factor acts for.
type RADIUSLogin struct {
	User   string // User-Name, as the configured template made it
	Remote string // the client address, sent as Calling-Station-Id; "" when unknown
	Label  string // the menu line is "OTP from <Label>"
	// Warn receives what an operator must not miss, at every exchange that
	// causes it (a server used with require_message_authenticator off).
	// Never a secret. Nil drops them.
	Warn func(string)
}

// NewRADIUS returns RADIUS as a Service for one login.
//
// RADIUS has no preauth: Plan asks the servers nothing and always offers
// one factor, "OTP from <label>", so that whether the user exists and what
// code is right is the server's call at the first code. Its Traits
// (Fallback, FailmodeOnCheck) tell the gate the rest; docs/logingate.1
// (RADIUS) says what a user sees. An Access-Challenge comes back as
// Outcome.Challenge (the sanitised Reply-Message); the next Check answers
// it, with the challenge's State, to the server that issued it.
func NewRADIUS(c RADIUSClient, l RADIUSLogin) Service {
	return &radiusService{f: &radiusCode{c: c, l: l}}
}

type radiusService struct{ f *radiusCode }

func (s *radiusService) Name() string { return "radius" }

func (s *radiusService) Plan(context.Context) (Plan, error) {
	return Plan{Verdict: Offer, Factors: []Factor{s.f}}, nil
}

// radiusCode sends a typed code to the RADIUS servers.
type radiusCode struct {
	c RADIUSClient
	l RADIUSLogin

	// The challenge being answered: what the next Check sends back.
	state  radius.State
	server string
	rounds int // challenges in a row
}

func (r *radiusCode) Name() string   { return "radius" }
func (r *radiusCode) Label() string  { return "OTP from " + r.l.Label }
func (r *radiusCode) Traits() Traits { return Traits{Fallback: true, FailmodeOnCheck: true} }

// Minimum and maximum length of a code typed at the menu for RADIUS. OTP
// servers take codes of many shapes (digits, a PIN followed by a token
// code, a YubiKey OTP), so any printable word will do, but a word shorter
// than any OTP is a typo, not a code worth a round trip and a failure.
const (
	minRADIUSCode = 4
	maxRADIUSCode = 128 // RFC 2865's limit for User-Password
)

// Accepts takes a printable word of 4 to 128 bytes: no spaces, no control
// characters.
func (r *radiusCode) Accepts(code string) bool {
	return len(code) >= minRADIUSCode && len(code) <= maxRADIUSCode && utf8.ValidString(code) &&
		!strings.ContainsFunc(code, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) })
}

// Check sends code, with the pending challenge's State if the last Check
// returned a Challenge.
func (r *radiusCode) Check(ctx context.Context, code string) (Outcome, error) {
	req := radius.Request{User: r.l.User, Password: code, Calling: r.l.Remote,
		State: r.state, Server: r.server}
	r.state, r.server = nil, ""
	res, err := r.c.Authenticate(ctx, req)
	if r.l.Warn != nil {
		for _, w := range res.Warnings {
			r.l.Warn(w)
		}
	}
	if err != nil {
		r.rounds = 0
		if errors.Is(err, radius.ErrService) {
			return Outcome{}, serviceError{err}
		}
		return Outcome{}, err
	}
	switch res.Code {
	case radius.Accept:
		r.rounds = 0
		return Outcome{OK: true, Notice: res.ReplyMessage}, nil
	case radius.Challenge:
		if r.rounds >= MaxChallenges {
			r.rounds = 0
			return Outcome{Reason: fmt.Sprintf("radius: more than %d challenges in a row", MaxChallenges)}, nil
		}
		r.rounds++
		r.state, r.server = res.State, res.Server
		return Outcome{Challenge: nonEmpty(res.ReplyMessage, "Enter the next code")}, nil
	}
	r.rounds = 0
	return Outcome{Reason: ReasonWrong, Notice: res.ReplyMessage}, nil
}
