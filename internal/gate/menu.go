package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/term"
	"github.com/logingate/logingate/internal/voice"
)

// menu runs the interactive exchange: a numbered list of the user's factors
// (or the one factor's own prompt), then up to attempts answers. An answer
// is an option number or a keyword (push, push2, phone, sms: login_duo's
// words), or a code. An option for a factor that takes codes asks for its
// code; one for an action (a push, a call) runs it. A code goes to every
// factor that accepts its shape, local ones first (TOTP, then backup
// codes), then the services' (a Duo passcode); a factor that is a
// fallback (RADIUS) sees it only when nothing else does: no other factor,
// option or keyword. Each answer is one attempt, except a request for SMS
// passcodes, which only sends them.
func (g *Gate) menu(ctx context.Context, held []factors.Factor, attempts int) Decision {
	var listed []factors.Factor
	for _, f := range held {
		if !f.Traits().Hidden {
			listed = append(listed, f)
		}
	}
	header := "logingate: second factor for " + g.User
	if g.Remote != "" {
		header += " (from " + g.Remote + ")"
	}
	g.say(header)
	prompt := "Passcode: "
	switch {
	case len(listed) == 1 && len(listed) == len(held):
		prompt = listed[0].Label() + ": "
	case len(listed) > 0:
		for i, f := range listed {
			g.say(fmt.Sprintf(" %d. %s", i+1, f.Label()))
		}
		prompt = fmt.Sprintf("Passcode or option (1-%d): ", len(listed))
	}

	var last Decision // the latest failed attempt, for the audit line
	after := func(d Decision) Decision {
		if last.Reason != "" {
			d.Factor, d.Reason = last.Factor, d.Reason+" after: "+last.Reason
		}
		return d
	}
	failed := func(err error) Decision { return after(g.inputFailed(err)) }
	tooLong := func() {
		attempts--
		g.say(fmt.Sprintf("logingate: that answer is longer than any code (%d characters at most)%s", maxAnswer, attemptsLeft(attempts)))
		last = Decision{Reason: "over-long answer"}
	}
	for blanks := 0; attempts > 0; {
		answer, err := g.ask(ctx, prompt)
		if errors.Is(err, term.ErrTooLong) {
			tooLong()
			continue
		}
		if err != nil {
			return failed(err)
		}
		if answer == "" {
			// An empty line costs no attempt, but three in a row end the
			// login: with every other answer costing one, the menu stays
			// bounded.
			if blanks++; blanks >= 3 {
				g.say(voice.Error("no answer; access denied"))
				return after(Decision{Reason: "empty answers"})
			}
			continue
		}
		blanks = 0
		candidates := accepting(held, answer)
		var chosen factors.Factor
		if n, isOption := option(answer, len(listed)); isOption && len(candidates) == 0 {
			chosen = listed[n-1]
		} else if len(candidates) == 0 {
			chosen = byKeyword(held, answer)
		}
		if chosen == nil && len(candidates) == 0 {
			candidates = fallbacks(held, answer)
		}
		if a, ok := chosen.(factors.Action); ok {
			d, again, done := g.runAction(ctx, a)
			if done {
				return after(d)
			}
			if again {
				continue // SMS passcodes sent: the next answer is one
			}
			attempts--
			last = d
			if attempts > 0 {
				g.say("logingate: " + strings.TrimPrefix(attemptsLeft(attempts), ", "))
			}
			continue
		}
		if chosen != nil {
			if answer, err = g.ask(ctx, chosen.Label()+": "); errors.Is(err, term.ErrTooLong) {
				tooLong()
				continue
			} else if err != nil {
				return failed(err)
			}
			candidates = nil
			if chosen.Accepts(answer) {
				candidates = []factors.Factor{chosen}
			}
		}
		attempts--
		if len(candidates) == 0 {
			g.say("logingate: that is not a valid code" + optionsHint(len(listed)) + attemptsLeft(attempts))
			last = Decision{Reason: "malformed answer"}
			continue
		}
		d, done := g.tryCode(ctx, answer, candidates, held)
		if done {
			return d
		}
		last = d
		if attempts > 0 {
			g.say("logingate: " + strings.TrimPrefix(attemptsLeft(attempts), ", "))
		}
	}
	g.say(voice.Error("too many failed attempts; access denied"))
	return last
}

// envAction is the action a passcode from the environment names as
// login_duo reads it: a keyword (push, push2, phone, sms) or the number of
// a menu option that is an action, when no factor takes it as a code. nil
// otherwise.
func envAction(held []factors.Factor, answer string) factors.Action {
	if len(accepting(held, answer)) > 0 {
		return nil
	}
	var listed []factors.Factor
	for _, f := range held {
		if !f.Traits().Hidden {
			listed = append(listed, f)
		}
	}
	chosen := byKeyword(held, answer)
	if n, ok := option(answer, len(listed)); ok {
		chosen = listed[n-1]
	}
	a, _ := chosen.(factors.Action)
	return a
}

// byKeyword finds the factor a typed word names ("push", "push2", "sms").
func byKeyword(held []factors.Factor, answer string) factors.Factor {
	answer = strings.ToLower(answer)
	for _, f := range held {
		if slices.Contains(f.Traits().Keywords, answer) {
			return f
		}
	}
	return nil
}

// ask reads one answer within prompt_timeout (and the login deadline).
func (g *Gate) ask(ctx context.Context, prompt string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.Config.PromptTimeout)
	defer cancel()
	s, err := g.UI.ReadSecret(ctx, prompt, maxAnswer)
	return strings.TrimSpace(s), err
}

// inputFailed turns a failed read into a denial with a reason a user and an
// auditor can tell apart.
func (g *Gate) inputFailed(err error) Decision {
	reason := "input error"
	switch {
	case errors.Is(err, io.EOF):
		reason = "aborted (end of input)"
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timed out"
		g.say(voice.Error("timed out waiting for an answer; access denied"))
		return Decision{Reason: reason}
	case errors.Is(err, context.Canceled):
		reason = "interrupted"
	}
	g.say(voice.Error("access denied"))
	return Decision{Reason: reason}
}

// tryCode checks one code against its candidate factors as a single
// attempt. One store update, under the user's lock, first applies the rate
// limit (admit), then verifies the local factors, and records the success
// or the failure (and any resulting lockout), so the attempt costs one
// durable write. A code no local factor takes then goes to the services'
// factors (a Duo passcode, RADIUS): where their refusal counts against the
// rate limit, the failure is recorded in that same write, before the code
// leaves the host, and taken back only when no service could answer. So no
// lock is held across a network call, yet parallel logins cannot send more
// codes than the rate limit allows. held are all the user's factors, for
// the outage rule of a service without preauth (see service.go). done
// reports a final decision.
func (g *Gate) tryCode(ctx context.Context, code string, candidates, held []factors.Factor) (d Decision, done bool) {
	var local, remote []factors.Factor
	for _, f := range candidates {
		if _, ok := f.(factors.Local); ok {
			local = append(local, f)
		} else {
			remote = append(remote, f)
		}
	}
	// A refusal is counted unless only Duo passcodes saw the code: Duo
	// keeps its own count of those.
	counted := len(local) > 0 || slices.ContainsFunc(remote, func(f factors.Factor) bool { return f.Traits().FailmodeOnCheck })
	now := g.now()
	rl := g.Config.RateLimit
	var (
		won      factors.Outcome
		by       string
		reasons  []string
		locked   time.Time
		reserved bool // a failure is on record for the services' verdict
	)
	err := g.Store.Update(ctx, g.User, func(st *store.UserState) error {
		// A backend may run fn again after a write conflict: only the
		// run that is written may decide.
		won, by, reasons, locked, reserved = factors.Outcome{}, "", nil, time.Time{}, false
		g.opened = nil
		if err := admit(st, rl, now); err != nil {
			return err
		}
		for _, f := range local {
			out, err := f.(factors.Local).Verify(st, code, now)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name(), err)
			}
			if out.OK {
				won, by = out, f.Name()
				st.Failures = nil
				st.LastSuccess = &store.Event{Time: now, From: g.Remote, Factor: by}
				g.openWindow(st, now) // headless: trusted; same write
				return nil
			}
			reasons = append(reasons, out.Reason)
		}
		if !counted {
			return store.ErrUnchanged
		}
		st.Failures = PruneFailures(append(st.Failures, now), rl, now)
		locked = LockedUntil(st, rl, now)
		reserved = len(remote) > 0
		return nil
	})
	if !counted && (errors.Is(err, store.ErrNoLocalState) || errors.Is(err, store.ErrUnavailable)) {
		// No local state (only Duo), or none to be had: Duo counts its
		// passcodes itself, as before the store was asked.
		err = nil
	}
	var lo *lockedOut
	if errors.As(err, &lo) {
		// Locked by another login of the user since this one began.
		g.sayLocked(lo.until)
		return Decision{Factor: candidates[0].Name(), Reason: "rate limited"}, true
	}
	if len(local) > 0 {
		// No code could be checked without the store: failmode. A code
		// only a service checks is not sent uncounted, nor let in unchecked.
		if d, ok := g.storeUnavailable(err, "update"); ok {
			return d, true
		}
	}
	if err != nil {
		g.sayUpdateFailed(err)
		return Decision{Factor: candidates[0].Name(), Reason: "state update failed: " + err.Error()}, true
	}
	note := ""
	if by == "" && len(remote) > 0 {
		var serr error
		var failed factors.Factor
		won, by, reasons, failed, serr = g.tryRemote(ctx, code, remote, reasons)
		if serr != nil && !errors.Is(serr, errNoAnswer) && reserved {
			// No service could give a verdict: the code was not checked.
			// A failure that cannot be taken back stays counted.
			g.unrecordFailure(ctx, now)
			locked = time.Time{}
		}
		switch {
		case errors.Is(serr, errNoAnswer):
			return g.inputFailed(serr), true
		case serr != nil && failed.Traits().FailmodeOnCheck:
			return g.unreachableAtCheck(ctx, failed, serr, held)
		case serr != nil:
			return g.serviceFailed(ctx, failed, serr)
		case by != "" && counted:
			// The failure put on record is cleared with the others, as
			// after a local factor's success.
			note = g.recordSuccess(ctx, now, by)
		case by != "":
			note = g.openWindowAfter(ctx)
		}
	} else if by != "" {
		note = g.windowNote()
	}
	if by != "" {
		if won.Notice != "" {
			if won.Warn {
				g.say(voice.Warning(won.Notice))
			} else {
				g.say("logingate: " + sanitize(won.Notice))
			}
		}
		return Decision{Allow: true, Factor: by, Reason: "code accepted" + note}, true
	}

	reason := strings.Join(dedupe(reasons), "; ")
	factor := candidates[0].Name()
	if contains(reasons, factors.ReasonReplayed) {
		g.say("logingate: that code was already used; wait for the next one")
	} else {
		g.say("logingate: wrong code")
	}
	if !locked.IsZero() {
		g.sayLocked(locked)
		return Decision{Factor: factor, Reason: reason + "; rate limit reached"}, true
	}
	return Decision{Factor: factor, Reason: reason}, false
}

// sayUpdateFailed explains a failed state update: the same words whether
// the code was right or wrong, so that a full or read-only disk tells an
// attacker nothing.
func (g *Gate) sayUpdateFailed(err error) {
	if errors.Is(err, store.ErrLocked) {
		g.say(voice.Error("another login for " + g.User + " holds your second-factor state locked; access denied"))
		g.say(voice.Hint("finish that login (or end it if it is stopped), then try again"))
		return
	}
	g.say(voice.Error("your second-factor state could not be updated; access denied"))
	cause := ""
	switch {
	case errors.Is(err, syscall.ENOSPC):
		cause = " (the state file system is full)"
	case errors.Is(err, syscall.EROFS):
		cause = " (the state file system is read-only)"
	case errors.Is(err, syscall.EDQUOT):
		cause = " (over the disk quota)"
	}
	g.say(voice.Hint("nothing was recorded" + cause + ", so the code is not used up; tell an administrator"))
}

// accepting returns the factors that take code's shape, but fallbacks.
func accepting(held []factors.Factor, code string) []factors.Factor {
	var out []factors.Factor
	for _, f := range held {
		if f.Accepts(code) && !f.Traits().Fallback {
			out = append(out, f)
		}
	}
	return out
}

// fallbacks returns the fallbacks (RADIUS) that take code's shape: where a
// code goes when nothing else takes it.
func fallbacks(held []factors.Factor, code string) []factors.Factor {
	var out []factors.Factor
	for _, f := range held {
		if f.Accepts(code) && f.Traits().Fallback {
			out = append(out, f)
		}
	}
	return out
}

// route is where a code from outside the menu goes (a passcode from the
// environment): the factors that take its shape, else the fallbacks.
func route(held []factors.Factor, code string) []factors.Factor {
	if c := accepting(held, code); len(c) > 0 {
		return c
	}
	return fallbacks(held, code)
}

// option reads answer as a menu option number.
func option(answer string, n int) (int, bool) {
	if len(answer) > 2 {
		return 0, false
	}
	i, err := strconv.Atoi(answer)
	if err != nil || i < 1 || i > n {
		return 0, false
	}
	return i, true
}

func optionsHint(n int) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(" or option (1-%d)", n)
}

func attemptsLeft(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", 1 attempt left"
	default:
		return fmt.Sprintf(", %d attempts left", n)
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
