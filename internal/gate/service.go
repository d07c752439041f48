package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/term"
	"github.com/logingate/logingate/internal/voice"
)

// Outside services (Duo, RADIUS) and how they combine with local factors.
// Each service is asked once per login for its Plan, after the group
// policy, the state read and the rate limit. docs/logingate.1 (DUO, RADIUS)
// specifies what each verdict and each outage does; the rule behind them:
// a local factor the user holds always stands in for an unreachable
// service, and failmode applies only where login_duo applies it, at preauth
// (at the attempt for a service with no preauth: Traits.FailmodeOnCheck).

// plan is what the services said for this login.
type plan struct {
	factors  []factors.Factor
	auto     factors.Action
	skipped  []string // services that asked nothing (Skip)
	degraded bool     // a service could not be reached and local factors stand in
}

// consult asks every service for its plan. done reports a final decision.
func (g *Gate) consult(ctx context.Context, local []factors.Factor) (p plan, d Decision, done bool) {
	for _, s := range g.Services {
		sp, err := s.Plan(ctx)
		if err != nil {
			if d, done := g.unreachable(ctx, s.Name(), err, len(local) > 0); done {
				return p, d, true
			}
			p.degraded = true
			continue
		}
		switch sp.Verdict {
		case factors.Offer:
			p.factors = append(p.factors, sp.Factors...)
			if p.auto == nil {
				p.auto = sp.Auto
			}
		case factors.Skip:
			p.skipped = append(p.skipped, s.Name())
		case factors.Refuse:
			g.say(voice.Error(nonEmpty(sanitize(sp.Message), s.Name()+" denied this login")))
			return p, Decision{Factor: s.Name(), Reason: s.Name() + " preauth deny: " + sanitize(sp.Message)}, true
		case factors.NotEnrolled:
			if sp.EnrollURL != "" {
				g.say("logingate: you are not enrolled with " + s.Name() + "; enroll at " + sanitize(sp.EnrollURL))
			} else {
				g.say("logingate: you are not enrolled with " + s.Name() + ": " + sanitize(sp.Message))
			}
			if len(local) == 0 {
				return p, Decision{Factor: s.Name(), Reason: s.Name() + " preauth enroll"}, true
			}
		}
	}
	return p, Decision{}, false
}

// unreachable applies the failure rules to a service's plan that could not
// be had. done reports a final decision; otherwise local factors stand in.
func (g *Gate) unreachable(ctx context.Context, name string, err error, hasLocal bool) (Decision, bool) {
	reason := name + " unreachable: " + err.Error()
	switch {
	case ctx.Err() != nil:
		// The login's own deadline or an interrupt: the user's doing, not
		// the service's.
		return g.inputFailed(ctx.Err()), true
	case !errors.Is(err, factors.ErrService):
		g.say(voice.Error(name + " refused the request; access denied"))
		return Decision{Factor: name, Reason: name + " error: " + err.Error()}, true
	case hasLocal:
		g.say(voice.Warning(name + " cannot be reached; use another factor"))
		return Decision{}, false
	case g.Config.Failmode == config.FailmodeSafe:
		g.say(voice.Warning(name + " cannot be reached; letting you in (failmode safe)"))
		return Decision{Allow: true, Factor: noFactor, Failsafe: true, Reason: reason + "; failmode safe"}, true
	default:
		g.say(voice.Error(name + " cannot be reached; access denied"))
		return Decision{Factor: name, Reason: reason + "; failmode secure"}, true
	}
}

// tryRemote sends a code to the services' factors that take it, in order,
// until one accepts. err is a service (failed) that could not check it, or
// errNoAnswer.
func (g *Gate) tryRemote(ctx context.Context, code string, remote []factors.Factor, reasons []string) (won factors.Outcome, by string, _ []string, failed factors.Factor, err error) {
	for _, f := range remote {
		out, err := g.check(ctx, f, code)
		if errors.Is(err, errNoAnswer) {
			return factors.Outcome{}, "", reasons, f, err
		}
		if err != nil {
			return factors.Outcome{}, "", reasons, f, fmt.Errorf("%s: %w", f.Name(), err)
		}
		if out.OK {
			return out, f.Name(), reasons, nil, nil
		}
		reasons = append(reasons, out.Reason)
	}
	return factors.Outcome{}, "", reasons, nil, nil
}

// errNoAnswer wraps a failed read of the answer to a challenge: the login
// ends as at any prompt.
var errNoAnswer = errors.New("no answer to the challenge")

// check sends code to a service's factor and follows its challenges: the
// service's text is the next prompt and the answer goes back to the same
// factor, up to factors.MaxChallenges rounds. Blank or over-long answers
// are asked again, as at the menu, up to three times.
func (g *Gate) check(ctx context.Context, f factors.Factor, code string) (factors.Outcome, error) {
	out, err := f.Check(ctx, code)
	for round := 0; err == nil && out.Challenge != ""; round++ {
		prompt := sanitize(out.Challenge)
		switch {
		case round == factors.MaxChallenges:
			return factors.Outcome{Reason: f.Name() + ": too many challenges"}, nil
		case g.UI == nil:
			g.say("logingate: " + prompt)
			g.say(voice.Error("this answer needs a terminal (ssh -t)"))
			return factors.Outcome{Reason: f.Name() + ": challenge without a terminal"}, nil
		}
		var answer string
		for tries := 0; answer == "" && tries < 3; tries++ {
			if answer, err = g.ask(ctx, strings.TrimRight(prompt, " :")+": "); errors.Is(err, term.ErrTooLong) {
				g.say(fmt.Sprintf("logingate: that answer is too long (%d characters at most)", maxAnswer))
				answer = ""
			} else if err != nil {
				return factors.Outcome{}, fmt.Errorf("%w: %w", errNoAnswer, err)
			}
		}
		if answer == "" {
			return factors.Outcome{Reason: f.Name() + ": no answer to the challenge"}, nil
		}
		out, err = f.Check(ctx, answer)
	}
	return out, err
}

// unreachableAtCheck applies the outage rules to a factor whose service has
// no preauth (FailmodeOnCheck), at the attempt: held says whether the user
// has another factor to fall back on.
func (g *Gate) unreachableAtCheck(ctx context.Context, f factors.Factor, err error, held []factors.Factor) (Decision, bool) {
	if !errors.Is(err, factors.ErrService) {
		return g.serviceFailed(ctx, f, err)
	}
	others := slices.ContainsFunc(held, func(h factors.Factor) bool { return h != f })
	d, done := g.unreachable(ctx, serviceOf(f), err, others)
	if !done {
		d = Decision{Factor: f.Name(), Reason: "service error: " + err.Error() + "; other factors remain"}
	}
	return d, done
}

// serviceFailed ends an attempt whose service could not answer. The
// attempt is used up; a login deadline or an interrupt ends the login.
func (g *Gate) serviceFailed(ctx context.Context, f factors.Factor, err error) (Decision, bool) {
	if ctx.Err() != nil {
		return g.inputFailed(ctx.Err()), true
	}
	g.say(voice.Error(serviceOf(f) + " could not complete the request"))
	return Decision{Factor: f.Name(), Reason: "service error: " + err.Error()}, false
}

// unrecordFailure takes back the failure tryCode put on record at now for
// a code that no service could give a verdict on (none answered), so that
// an outage alone locks nobody out. If the write fails the failure stays
// counted: the safe side.
func (g *Gate) unrecordFailure(ctx context.Context, now time.Time) {
	_ = g.Store.Update(ctx, g.User, func(st *store.UserState) error {
		i := slices.IndexFunc(st.Failures, now.Equal)
		if i < 0 {
			return store.ErrUnchanged // a success cleared it meanwhile
		}
		st.Failures = slices.Delete(st.Failures, i, i+1)
		return nil
	})
}

// recordSuccess records a service factor's success in the user's state,
// as a local factor's success is: failures cleared, the last success set,
// and a trusted window opened when one is due, in one write. The user has
// proven presence, so a failed write costs only the record.
func (g *Gate) recordSuccess(ctx context.Context, now time.Time, by string) string {
	err := g.Store.Update(ctx, g.User, func(st *store.UserState) error {
		st.Failures = nil
		st.LastSuccess = &store.Event{Time: now, From: g.Remote, Factor: by}
		g.openWindow(st, now)
		return nil
	})
	if err != nil {
		g.opened = nil
		return "; success not recorded: " + err.Error()
	}
	return g.windowNote()
}

// runAction runs a push, a phone call or a request for SMS passcodes,
// showing the service's status lines with the time since the start. again
// reports SMS passcodes sent: no attempt is used. done reports a final
// decision (success, the login's deadline, an interrupt).
//
// Without a terminal (headless: push) the push is silent, as login_duo's
// is: no status lines and no success notice, so that scp, rsync and git
// see nothing of the gate on stderr either; only a refusal is said.
func (g *Gate) runAction(ctx context.Context, a factors.Action) (d Decision, again, done bool) {
	start := g.now()
	out, err := a.Run(ctx, func(msg string) {
		if g.UI != nil {
			g.say(fmt.Sprintf("logingate: %s (%s)", sanitize(msg), g.now().Sub(start).Round(time.Second)))
		}
	})
	if err != nil {
		d, done := g.serviceFailed(ctx, a, err)
		return d, false, done
	}
	if out.Again {
		g.say("logingate: " + nonEmpty(sanitize(out.Notice), "passcodes sent") + "; enter one")
		return Decision{}, true, false
	}
	if out.OK {
		if out.Notice != "" && g.UI != nil {
			g.say("logingate: " + sanitize(out.Notice))
		}
		return Decision{Allow: true, Factor: a.Name(), Reason: "approved" + g.openWindowAfter(ctx)}, false, true
	}
	msg := sanitize(out.Notice)
	if msg == "" {
		msg = "the request was denied"
	}
	g.say("logingate: " + msg)
	return Decision{Factor: a.Name(), Reason: out.Reason}, false, false
}

// serviceOf names the service behind a factor for messages: "duo" for
// "duo-push".
func serviceOf(f factors.Factor) string {
	name, _, _ := strings.Cut(f.Name(), "-")
	if name == "duo" {
		return "Duo"
	}
	return name
}

// sanitize makes a service's text safe to show and log on one line.
func sanitize(s string) string { return term.SanitizeLine(s, 512) }

func nonEmpty(s, dflt string) string {
	if s != "" {
		return s
	}
	return dflt
}
