package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// Trusted windows (headless: trusted). A successful interactive login opens
// one for the key sshd accepted (Gate.Key) from the client's address, in the
// same store update that records the success. Until it ends, a session
// without a terminal with the same user, key and address passes without a
// prompt, with factor "trusted". It is tried before a passcode from the
// environment, since it needs no secret on the wire. It never counts for
// Confirm: changing factors always takes a fresh one.
//
// A window counts only while the configuration still allows it: headless
// trusted, grace_period not 0, and the window no longer than grace_period
// from its start, nor ending more than grace_period from now (a clock set
// back cannot stretch it). A rate-limited user is refused before windows are
// looked at, as for every other way in.

// windowWanted reports whether a success in this login opens a window, and
// if not, why not (for the audit line; the user is not told).
func (g *Gate) windowWanted() (bool, string) {
	switch {
	case !g.login || g.UI == nil || g.Config.Headless != config.HeadlessTrusted || g.Config.GracePeriod <= 0:
		return false, ""
	case g.Key == "":
		return false, "no trusted window: sshd did not name the key (ExposeAuthInfo)"
	case g.Remote == "":
		return false, "no trusted window: no client address"
	}
	return true, ""
}

// openWindow adds a window to st, inside the store update of a successful
// login. The store update may run its function again: each run replaces
// g.opened.
func (g *Gate) openWindow(st *store.UserState, now time.Time) {
	g.opened = nil
	if ok, _ := g.windowWanted(); !ok {
		return
	}
	var w store.TrustedSession
	st.Trusted, w = store.OpenTrusted(st.Trusted, g.Key, g.Remote, now, g.Config.GracePeriod)
	g.opened = &w
}

// windowNote is what the audit reason says about the window after a
// success, and tells the user about a window that opened.
func (g *Gate) windowNote() string {
	if g.opened != nil {
		w := g.opened
		g.say(fmt.Sprintf("logingate: sessions without a terminal with this key from %s need no code until %s (logingate sessions lists them)",
			w.From, w.Until.Local().Format("Jan 2 15:04 MST")))
		return fmt.Sprintf("; trusted window %s opened for %s", w.ID, shortDuration(w.Until.Sub(w.Created)))
	}
	if _, why := g.windowWanted(); why != "" {
		return "; " + why
	}
	return ""
}

// openWindowAfter opens a window after a success whose store update the
// gate does not own (an in-session enrollment) or that has none (a Duo
// push): one more write, and a failure costs only the window.
func (g *Gate) openWindowAfter(ctx context.Context) string {
	if ok, _ := g.windowWanted(); !ok {
		return g.windowNote()
	}
	now := g.now()
	err := g.Store.Update(ctx, g.User, func(st *store.UserState) error {
		g.openWindow(st, now)
		return nil
	})
	if err != nil {
		g.opened = nil
		return "; no trusted window: " + err.Error()
	}
	return g.windowNote()
}

// window finds the user's window for this key and address: live is open
// now; ended is the latest one that is over (for the hint), when none is.
func (g *Gate) window(st *store.UserState) (live, ended *store.TrustedSession) {
	if st == nil || g.Key == "" || g.Remote == "" {
		return nil, nil
	}
	now, grace := g.now(), g.Config.GracePeriod
	for i := range st.Trusted {
		w := &st.Trusted[i]
		if w.KeyFingerprint != g.Key || w.From != g.Remote {
			continue
		}
		end := w.Until
		if limit := w.Created.Add(grace); limit.Before(end) {
			end = limit
		}
		if now.Before(end) && end.Sub(now) <= grace {
			if live == nil || w.Until.After(live.Until) {
				live = w
			}
		} else if !now.Before(end) && (ended == nil || end.After(ended.Until)) {
			e := *w
			e.Until = end
			ended = &e
		}
	}
	if live != nil {
		ended = nil
	}
	return live, ended
}

// trustedWindow lets a session without a terminal in through a live window.
func (g *Gate) trustedWindow(st *store.UserState) (Decision, bool) {
	if g.UI != nil || g.Config.Headless != config.HeadlessTrusted || g.Config.GracePeriod <= 0 {
		return Decision{}, false
	}
	w, _ := g.window(st)
	if w == nil {
		return Decision{}, false
	}
	return Decision{Allow: true, Factor: "trusted",
		Reason: fmt.Sprintf("trusted window %s (key %s, until %s)", w.ID, w.KeyFingerprint, w.Until.UTC().Format(time.RFC3339))}, true
}

// noTerminal denies a session without a terminal that has no other way in,
// and tells the user, on stderr, what would have let them in.
func (g *Gate) noTerminal(st *store.UserState) Decision {
	g.say(voice.Error("a second factor is required and this session has no terminal to ask for it"))
	if g.Config.Headless != config.HeadlessTrusted || g.Config.GracePeriod <= 0 {
		if g.Config.AcceptEnvFactor {
			g.say(voice.Hint("log in with a terminal (ssh -t), or send a code: LOGINGATE_PASSCODE=<code> ssh -o SendEnv=LOGINGATE_PASSCODE ..."))
		} else {
			g.say(voice.Hint("log in with a terminal (ssh -t) first; non-interactive sessions need accept_env_factor on this host"))
		}
		return Decision{Reason: "no terminal"}
	}
	grace := shortDuration(g.Config.GracePeriod)
	reason := "no terminal, no trusted window"
	switch _, ended := g.window(st); {
	case g.Key == "":
		g.say(voice.Hint("sshd does not tell logingate which key you used (ExposeAuthInfo), so no trusted window can open; ask an administrator"))
		reason += ": key unknown (no SSH_USER_AUTH)"
	case g.Remote == "":
		g.say(voice.Hint("your address is unknown, so no trusted window can open; log in with a terminal (ssh -t)"))
		reason += ": no client address"
	case ended != nil:
		g.say(voice.Hintf("the trusted window for this key from this address ended at %s; log in once with a terminal (ssh -t) to open a new one (%s)",
			ended.Until.Local().Format("Jan 2 15:04 MST"), grace))
		reason += fmt.Sprintf(" for key %s (window %s ended)", g.Key, ended.ID)
	default:
		g.say(voice.Hint("log in once with a terminal (ssh -t) to open a trusted window (" + grace + ") for this key from this address"))
		reason += " for key " + g.Key
	}
	if g.Config.AcceptEnvFactor {
		g.say(voice.Hint("or send a code: LOGINGATE_PASSCODE=<code> ssh -o SendEnv=LOGINGATE_PASSCODE ..."))
	}
	return Decision{Reason: reason}
}

// shortDuration prints 8h, 90m, 3s rather than 8h0m0s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	for _, z := range []string{"0s", "0m"} {
		if strings.HasSuffix(s, "m"+z) || strings.HasSuffix(s, "h"+z) {
			s = strings.TrimSuffix(s, z)
		}
	}
	return s
}
