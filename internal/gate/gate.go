// Package gate owns the whole second-factor decision: who must pass (group
// policy), what the user is offered (the menu), how many tries they get and
// how long they may take, what an outage does (failmode), and the audit line
// that records the outcome. It talks to the user only through UI and to
// state only through store.Store; it never execs (the session package does).
//
// The rule for every path: only an outside service that cannot answer
// follows failmode. Everything else that goes wrong denies: broken config or
// state, a failed write, a panic, a timeout, EOF, a signal.
//
// Errors, warnings and hints for the user are made by package voice
// (voice.Error, voice.Warning, voice.Hint), never typed by hand.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// UI is the conversation with a person at a terminal. The gate is its only
// user; factors never see it.
type UI interface {
	Println(s string) error
	ReadSecret(ctx context.Context, prompt string, max int) (string, error)
}

// Auditor records decisions.
type Auditor interface {
	Log(sev audit.Severity, e audit.Event)
}

// FactorSource builds the factors a user holds from their state snapshot.
type FactorSource func(user string, st *store.UserState) []factors.Factor

// Gate decides one login.
type Gate struct {
	Config  *config.Config
	Policy  *groups.Policy
	Store   store.Store
	Factors FactorSource
	Audit   Auditor
	// Services are the outside services asked once per login (Duo), in
	// order; see service.go for how they combine with local factors.
	Services []factors.Service
	// Autopush runs the services' default action (a push to the default
	// device) before the menu, which follows if it fails (duo autopush).
	Autopush bool

	User string // whose factors are checked: the session's user
	// DuoUser is the name the services are asked about (-f, send_gecos);
	// the audit line names it when it differs from User.
	DuoUser string
	Remote  string                   // client address, may be empty
	Groups  func() ([]string, error) // the user's group names, through NSS

	UI      UI        // nil when the session has no terminal
	Stderr  io.Writer // messages when there is no UI
	EnvCode string    // a passcode from the environment, already gated by accept_env_factor
	// Key is the SHA256 fingerprint of the key sshd accepted for this
	// login (SSH_USER_AUTH), "" when sshd does not say. With headless:
	// trusted it ties trusted windows to the key (headless.go).
	Key string

	// Enroll runs enrollment for an unenrolled user in this session and
	// returns once a code from the new device was verified and saved. Nil
	// when enrollment is not possible here.
	Enroll func(ctx context.Context) error

	Now func() time.Time

	login  bool                  // deciding a login (Run), not a Confirm
	opened *store.TrustedSession // the window this login opened
}

// noFactor is Decision.Factor when the gate lets a user in without one
// (not gated, preauth allow, unenrolled: allow, failmode safe); the audit
// line says "skip" for it.
const noFactor = "none"

// Decision is the gate's verdict.
type Decision struct {
	Allow  bool
	Factor string // the factor that passed, "none" (noFactor) when no factor was needed
	Reason string // for the audit line
	// Failsafe: let in without a factor because a service could not be
	// reached and failmode is safe.
	Failsafe bool
}

// maxAnswer bounds what the user may type at a prompt.
const maxAnswer = 64

// Run decides the login. It never panics: a panic inside denies.
func (g *Gate) Run(ctx context.Context) Decision {
	return g.guarded(ctx, "login", g.decide)
}

// Confirm asks an enrolled user for a fresh second factor, for a change that
// must not ride on the SSH key alone (replacing an enrollment, new backup
// codes). No group policy, no passcode from the environment, no enrollment:
// a person at a terminal proves presence with a factor they already hold.
func (g *Gate) Confirm(ctx context.Context, action string) Decision {
	return g.guarded(ctx, action, g.confirm)
}

func (g *Gate) guarded(ctx context.Context, action string, decide func(context.Context) Decision) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = Decision{Reason: "internal error"}
			g.sayAfterPanic(voice.Error("internal error; access denied"))
		}
		g.record(action, d)
	}()
	ctx, cancel := context.WithTimeout(ctx, g.Config.LoginTimeout)
	defer cancel()
	return decide(ctx)
}

// sayAfterPanic tells the user about a panic without letting a second one
// (the terminal may be what failed) escape Run before the audit line.
func (g *Gate) sayAfterPanic(s string) {
	defer func() { _ = recover() }()
	g.say(s)
}

func (g *Gate) confirm(ctx context.Context) Decision {
	st, err := g.Store.Load(ctx, g.User)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.say(voice.Error("your second-factor state cannot be read"))
		return Decision{Reason: "state unreadable: " + err.Error()}
	}
	if until := LockedUntil(st, g.Config.RateLimit, g.now()); !until.IsZero() {
		g.sayLocked(until)
		return Decision{Reason: "rate limited"}
	}
	held := g.Factors(g.User, st)
	if len(held) == 0 {
		g.say(voice.Error(g.User + " has no second factor to confirm with"))
		return Decision{Reason: "not enrolled"}
	}
	if g.UI == nil {
		g.say(voice.Error("confirming with a second factor needs a terminal"))
		return Decision{Reason: "no terminal"}
	}
	g.say("logingate: confirm this change with a current second factor")
	return g.menu(ctx, held, g.Config.Prompts)
}

func (g *Gate) decide(ctx context.Context) Decision {
	g.login = true
	if !g.Policy.MatchesEveryone() {
		names, err := g.Groups()
		if err != nil {
			g.say(voice.Error("cannot resolve your groups; access denied"))
			return Decision{Reason: "group lookup failed: " + err.Error()}
		}
		if !g.Policy.Matches(names) {
			return Decision{Allow: true, Factor: noFactor, Reason: "not in a gated group"}
		}
	}

	st, err := g.Store.Load(ctx, g.User)
	if errors.Is(err, store.ErrNotFound) {
		st = nil
	} else if d, ok := g.storeUnavailable(err, "load"); ok {
		return d
	} else if err != nil {
		g.say(voice.Error("your second-factor state cannot be read; access denied"))
		g.say(voice.Hint("an administrator can check it with: logingate status --user " + g.User))
		return Decision{Reason: "state unreadable: " + err.Error()}
	}

	if until := LockedUntil(st, g.Config.RateLimit, g.now()); !until.IsZero() {
		g.clampFutureFailures(ctx, st)
		g.sayLocked(until)
		return Decision{Reason: "rate limited"}
	}

	held := g.Factors(g.User, st)
	// The services first: a user their administrator refuses (Duo preauth
	// deny) is refused through a trusted window too.
	p, d, done := g.consult(ctx, held)
	if done {
		return d
	}
	if d, ok := g.trustedWindow(st); ok {
		return d
	}
	if len(held) == 0 && len(p.factors) == 0 {
		if len(p.skipped) > 0 && !p.degraded {
			return Decision{Allow: true, Factor: noFactor, Reason: strings.Join(p.skipped, ", ") + " preauth allow"}
		}
		return g.unenrolled(ctx)
	}
	held = append(held[:len(held):len(held)], p.factors...)

	attempts := g.Config.Prompts
	if g.EnvCode != "" {
		attempts--
		// As at the prompt: only the factors whose codes take this shape
		// see it, and an answer no factor takes is malformed, not a
		// failure on record.
		d, done := Decision{Reason: "malformed answer"}, false
		if a := envAction(held, g.EnvCode); a != nil && g.UI == nil && g.unseeablePush(a) {
			return g.denyUnseeablePush()
		} else if a != nil {
			// login_duo's DUO_PASSCODE=push (push2, phone, sms, or a menu
			// option number): the factor it names, as if typed at the menu.
			var again bool
			if d, again, done = g.runAction(ctx, a); again {
				d.Reason = "sms passcodes sent"
			}
		} else if candidates := route(held, g.EnvCode); len(candidates) > 0 {
			d, done = g.tryCode(ctx, g.EnvCode, candidates, held)
		} else {
			g.say("logingate: the passcode from the environment is not a valid code")
		}
		if done || attempts == 0 || g.UI == nil {
			if !done {
				d.Reason = "passcode from the environment: " + d.Reason
			}
			return d
		}
	}
	if g.UI == nil {
		if g.Config.Headless == config.HeadlessPush && p.auto != nil && g.unseeablePush(p.auto) {
			return g.denyUnseeablePush()
		}
		if g.Config.Headless == config.HeadlessPush && p.auto != nil {
			d, _, _ := g.runAction(ctx, p.auto)
			return d
		}
		return g.noTerminal(st)
	}
	if g.Autopush && p.auto != nil {
		d, _, done := g.runAction(ctx, p.auto)
		if d.Allow || done {
			return d
		}
		// A push that failed (denied, timed out, no answer) falls back to
		// the menu with one attempt fewer.
		if attempts--; attempts == 0 {
			return d
		}
	}
	return g.menu(ctx, held, attempts)
}

// unseeablePush reports a push that, with Verified Push, shows a number
// the user must type into Duo Mobile: without a terminal nobody sees it.
func (g *Gate) unseeablePush(a factors.Action) bool {
	return g.Config.Duo != nil && g.Config.Duo.VerifiedPush && (a.Name() == "duo-push" || a.Name() == "duo-auto")
}

// denyUnseeablePush refuses to send a push nobody could complete.
func (g *Gate) denyUnseeablePush() Decision {
	g.say(voice.Error("verified push needs a terminal to show its number; use ssh -t, or a Duo passcode in DUO_PASSCODE"))
	return Decision{Factor: "duo", Reason: "verified push without a terminal"}
}

// unenrolled applies the unenrolled policy to a gated user with no factor.
func (g *Gate) unenrolled(ctx context.Context) Decision {
	switch g.Config.Unenrolled {
	case config.UnenrolledAllow:
		return Decision{Allow: true, Factor: noFactor, Reason: "not enrolled (unenrolled: allow)"}
	case config.UnenrolledEnroll:
		if g.UI == nil || g.Enroll == nil {
			g.say(voice.Error("you have no second factor yet and this session has no terminal to enroll one"))
			g.say(voice.Hint("log in once with a terminal (ssh -t) to enroll"))
			return Decision{Reason: "not enrolled, no terminal"}
		}
		if err := g.Enroll(ctx); err != nil {
			g.say(voice.Error("enrollment did not complete; access denied"))
			return Decision{Reason: "enrollment failed: " + err.Error()}
		}
		// Enrollment verified a fresh code from the new device and consumed
		// it durably: that code is this login's second factor.
		return Decision{Allow: true, Factor: "totp", Reason: "enrolled in session" + g.openWindowAfter(ctx)}
	default:
		g.say(voice.Error("no second factor is set up for " + g.User + "; access denied"))
		g.say(voice.Hint("an administrator can enroll you with: logingate enroll --user " + g.User))
		return Decision{Reason: "not enrolled"}
	}
}

func (g *Gate) record(action string, d Decision) {
	if g.Audit == nil {
		return
	}
	e := audit.Event{Action: action, User: g.User, From: g.Remote, Factor: d.Factor, Reason: d.Reason}
	if g.DuoUser != g.User && len(g.Services) > 0 {
		e.DuoUser = g.DuoUser
	}
	sev := audit.Info
	switch {
	case d.Failsafe:
		e.Result = "failsafe"
		sev = audit.Warning
	case d.Allow && d.Factor == noFactor:
		e.Result = "skip"
	case d.Allow:
		e.Result = "allow"
	default:
		e.Result = "deny"
		sev = audit.Notice
	}
	g.Audit.Log(sev, e)
}

// say shows one line to the user: on the terminal when there is one, else on
// stderr. Never on stdout, which belongs to the session's protocol.
func (g *Gate) say(s string) {
	if g.UI != nil {
		_ = g.UI.Println(s) // a terminal that is gone fails the next read
		return
	}
	if g.Stderr != nil {
		fmt.Fprintln(g.Stderr, s)
	}
}

func (g *Gate) sayLocked(until time.Time) {
	wait := until.Sub(g.now()).Round(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	g.say(voice.Errorf("too many failed attempts for %s; try again in %s (at %s)",
		g.User, wait, until.Format("15:04:05 MST")))
	g.say(voice.Hint("an administrator can lift this with: logingate unlock --user " + g.User))
}

// clampFutureFailures rewrites failures dated after now (the clock went
// back) to now, so that a lockout ends rate_limit.per after the jump
// instead of when the clock catches up with the old dates. Only a locked
// user pays for this write; if it fails the login is denied anyway.
func (g *Gate) clampFutureFailures(ctx context.Context, snapshot *store.UserState) {
	now := g.now()
	if !slices.ContainsFunc(snapshot.Failures, func(t time.Time) bool { return t.After(now) }) {
		return
	}
	_ = g.Store.Update(ctx, g.User, func(st *store.UserState) error {
		changed := false
		for i, t := range st.Failures {
			if t.After(now) {
				st.Failures[i], changed = now, true
			}
		}
		if !changed {
			return store.ErrUnchanged
		}
		return nil
	})
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}
