package radius

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Authenticate sends r to the servers in order until one gives a valid
// answer: each server gets its own request (its own identifier,
// authenticator and secret), sent 1+Retries times, each try waiting up to
// Timeout. ctx bounds the whole exchange. A packet that fails verification
// is discarded and the wait goes on, so a forged answer cannot end it.
//
// It returns an error wrapping ErrService when no server answered validly
// (Result.Trace says what each did), and another error for a request that
// cannot be sent at all (an empty code, a State for an unknown server).
// The Result is filled in either way.
func (c *Client) Authenticate(ctx context.Context, r Request) (Result, error) {
	var res Result
	servers := c.Servers
	if r.Server != "" {
		servers = nil
		for _, s := range c.Servers {
			if s.Address == r.Server {
				servers = []Server{s}
				break
			}
		}
		if servers == nil {
			return res, errors.New("radius: the challenge came from a server that is not configured")
		}
	}
	if len(servers) == 0 {
		return res, errors.New("radius: no server configured")
	}
	for _, s := range servers {
		if ctx.Err() != nil {
			break
		}
		if !s.RequireMessageAuthenticator {
			res.Warnings = append(res.Warnings, "radius server "+s.Address+
				": require_message_authenticator is off, so its answers count without a Message-Authenticator; a forged Access-Accept (BlastRADIUS) cannot be told apart; upgrade the server and turn it back on")
		}
		q, err := c.newRequest(r, s.Secret)
		if err != nil {
			return res, fmt.Errorf("radius: %w", err)
		}
		a, ok, stopped := exchange(ctx, s, q, &res.Trace)
		if stopped {
			break
		}
		if ok {
			res.Code, res.Server, res.ReplyMessage = a.code, s.Address, a.reply
			if a.code == Challenge {
				res.State = a.state
			}
			return res, nil
		}
	}
	what := make([]string, len(res.Trace))
	for i, e := range res.Trace {
		what[i] = e.String()
	}
	return res, fmt.Errorf("%w (%s)", ErrService, strings.Join(what, "; "))
}

// exchange sends q to s and waits for a valid answer, recording each event.
// The socket is connected, so the kernel delivers only datagrams from the
// server's own address and port. stopped reports that ctx ended the wait.
func exchange(ctx context.Context, s Server, q *request, trace *[]Event) (a answer, ok, stopped bool) {
	note := func(format string, args ...any) {
		*trace = append(*trace, Event{Server: s.Address, What: fmt.Sprintf(format, args...)})
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", s.Address)
	if err != nil {
		if ctx.Err() != nil {
			note("stopped: %s", ctx.Err())
			return answer{}, false, true
		}
		note("cannot reach: %s", netReason(err))
		return answer{}, false, false
	}
	defer conn.Close()
	// The login's deadline or an interrupt ends a wait at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, maxPacket+1)
	for try := 0; try <= s.Retries && ctx.Err() == nil; try++ {
		if _, err := conn.Write(q.wire); err != nil {
			note("cannot send: %s", netReason(err))
			continue
		}
		deadline, last := time.Now().Add(s.Timeout), false
		if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
			deadline, last = d, true
		}
		_ = conn.SetReadDeadline(deadline)
	wait:
		for {
			n, err := conn.Read(buf)
			if err != nil {
				switch {
				case ctx.Err() != nil || last && errors.Is(err, os.ErrDeadlineExceeded):
					why := error(context.DeadlineExceeded) // the login's deadline, as the read saw it
					if ctx.Err() != nil {
						why = ctx.Err()
					}
					note("stopped waiting: %s", why)
					return answer{}, false, true
				case errors.Is(err, os.ErrDeadlineExceeded):
					note("no answer within %s (try %d of %d)", s.Timeout, try+1, s.Retries+1)
				default:
					note("%s (try %d of %d)", netReason(err), try+1, s.Retries+1)
				}
				break wait
			}
			if n > maxPacket {
				note("discarded: larger than %d bytes", maxPacket)
				continue
			}
			a, err = verify(buf[:n], q, s.Secret, s.RequireMessageAuthenticator)
			if err != nil {
				note("discarded: %s", err)
				continue
			}
			what := a.code.String()
			if !a.hasMA {
				what += " without Message-Authenticator (accepted: require_message_authenticator is off)"
			}
			note("%s", what)
			return a, true, false
		}
	}
	return answer{}, false, ctx.Err() != nil
}

// netReason is a network error without Go's "dial udp ...:" wrapping.
func netReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused (nothing listens on that port)"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "cannot resolve " + dns.Name
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
