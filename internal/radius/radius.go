// Package radius is logingate's RADIUS client: one PAP Access-Request per
// code to the configured servers in order, with a per-server timeout,
// retries and failover, and the answer verified before it counts (source
// address and port, identifier, Response Authenticator, and the RFC 3579
// Message-Authenticator, required by default since BlastRADIUS). It knows
// nothing of menus or failmode: the factors package turns its Result into
// a factor's Outcome.
//
// Nothing secret leaves this package in an error, a log line or %v: not
// the shared secret, not the code, not the State attribute.
package radius

import (
	"errors"
	"net"
	"time"
)

// ErrService marks an exchange that got no valid answer from any server
// within its budget: the service could not decide.
var ErrService = errors.New("radius: no server answered")

// Secret is a shared secret. It prints as REDACTED.
type Secret []byte

func (Secret) String() string   { return "REDACTED" }
func (Secret) GoString() string { return "REDACTED" }

// State is the State attribute of an Access-Challenge, sent back with the
// next answer. It prints as REDACTED: OTP servers may carry session data in
// it.
type State []byte

func (State) String() string   { return "REDACTED" }
func (State) GoString() string { return "REDACTED" }

// Server is one RADIUS server.
type Server struct {
	Address string // host:port
	Secret  Secret
	Timeout time.Duration // for each try
	Retries int           // tries after the first
	// RequireMessageAuthenticator refuses answers without a valid
	// Message-Authenticator. Turning it off is for old servers only: every
	// exchange with such a server then carries a warning (Result.Warnings).
	RequireMessageAuthenticator bool
}

// Client sends Access-Requests. Its zero value has no servers; fill it in.
type Client struct {
	Servers       []Server
	NASIdentifier string // sent when not empty
	NASIPAddress  net.IP // sent when not nil: NAS-IP-Address, or NAS-IPv6-Address
}

// Request is one code to check.
type Request struct {
	User     string // User-Name
	Password string // the code: User-Password, hidden with the secret
	Calling  string // Calling-Station-Id: the SSH client's address; "" to leave out
	// State and Server continue a challenge: the State from its
	// Access-Challenge, sent to the server that issued it (Result.Server)
	// alone.
	State  State
	Server string
}

// Code is the kind of answer that counted.
type Code int

// Codes.
const (
	Accept Code = iota + 1
	Reject
	Challenge
)

func (c Code) String() string {
	switch c {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Challenge:
		return "challenge"
	}
	return "none"
}

// Result is what an exchange came to.
type Result struct {
	Code Code // 0 when no server answered validly
	// Server is the address of the server whose answer counted.
	Server string
	// ReplyMessage is the answer's Reply-Message attributes, joined by a
	// newline, sanitised and bounded: safe to show and log.
	ReplyMessage string
	// State is a Challenge's State, to send back with the next answer.
	State State
	// Trace says what happened at each server tried, in order, for logs
	// and `logingate radius test`. It never holds a secret, a code or a
	// State.
	Trace []Event
	// Warnings are to be logged loudly: a server was used with
	// require_message_authenticator off.
	Warnings []string
}

// Event is one thing that happened at one server.
type Event struct {
	Server string
	What   string // "sent", "timeout", "accept", "discarded: bad Response Authenticator"...
}

func (e Event) String() string { return e.Server + ": " + e.What }
