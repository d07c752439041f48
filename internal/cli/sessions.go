package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// trustedJSON is one trusted window as `sessions --json` prints it.
type trustedJSON struct {
	ID             string    `json:"id"`
	KeyFingerprint string    `json:"key_fingerprint"`
	From           string    `json:"from"`
	Created        time.Time `json:"created"`
	Expires        time.Time `json:"expires"`
}

// revokeArg reports whether s is a window id (8 to 32 lower-case hex
// digits) or "all". (Not a regexp: one compiled at package initialisation
// would cost every login its time.)
func revokeArg(s string) bool {
	if s == "all" {
		return true
	}
	return len(s) >= 8 && len(s) <= 32 && strings.Trim(s, "0123456789abcdef") == ""
}

// sessions is `logingate sessions [--user NAME] [--json]` and
// `logingate sessions --revoke ID|all [--user NAME] [--json]`: the trusted
// windows (headless: trusted) that interactive logins opened, and ending
// them. Revoking only takes access away, so a user may revoke their own
// without a second factor; root may act on anyone.
func (a *app) sessions(args []string) (err error) {
	fs := a.flags("sessions")
	user := fs.String("user", "", "act on this user (root)")
	revoke := fs.String("revoke", "", "end the trusted session ID, or all of them")
	asJSON := fs.Bool("json", false, "print as JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	defer a.jsonErrors(*asJSON, &err)
	if *revoke != "" && !revokeArg(*revoke) {
		return usageError{"sessions: --revoke takes a session id (hex digits, as listed) or all"}
	}
	cfg, caller, target, err := a.subject(*user)
	if err != nil {
		return err
	}
	st := newStore(cfg)
	now := time.Now()

	if *revoke == "" {
		ctx, stop := withSignals()
		defer stop()
		cur, err := st.Load(ctx, target.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var live []store.TrustedSession
		if cur != nil {
			live = store.PruneTrusted(cur.Trusted, now)
		}
		if cfg.Headless != config.HeadlessTrusted || cfg.GracePeriod <= 0 {
			fmt.Fprintln(a.stderr, voice.Warningf("%s: headless is not trusted (or grace_period is 0): trusted sessions are not used on this host", cfg.Path))
		}
		if *asJSON {
			out := []trustedJSON{}
			for _, w := range live {
				out = append(out, trustedJSON{w.ID, w.KeyFingerprint, w.From, w.Created, w.Until})
			}
			return writeJSON(a.stdout, map[string]any{"user": target.Name, "sessions": out})
		}
		if len(live) == 0 {
			fmt.Fprintf(a.stdout, "no trusted sessions for %s\n", target.Name)
			return nil
		}
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tKEY\tFROM\tCREATED\tEXPIRES")
		for _, t := range live {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s (in %s)\n", t.ID, t.KeyFingerprint, t.From,
				t.Created.Local().Format(time.DateTime), t.Until.Local().Format(time.DateTime), t.Until.Sub(now).Round(time.Minute))
		}
		return w.Flush()
	}

	var removed []string
	err = updateExisting(st, target.Name, func(s *store.UserState) error {
		s.Trusted, removed = store.RevokeTrusted(s.Trusted, *revoke)
		if len(removed) == 0 {
			return store.ErrUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return lockHint(err)
	}
	if len(removed) == 0 && *revoke != "all" {
		return withHint(fmt.Errorf("%s has no trusted session %s", target.Name, *revoke), "list them with: logingate sessions")
	}
	if len(removed) > 0 {
		lg := a.audit(cfg)
		defer lg.Close()
		lg.Log(audit.Notice, audit.Event{Action: "sessions", Result: "ok", User: target.Name, By: by(caller, target),
			Reason: "revoked trusted " + strings.Join(removed, ",")})
	}
	if *asJSON {
		return writeJSON(a.stdout, map[string]any{"user": target.Name, "revoked": append([]string{}, removed...)})
	}
	switch len(removed) {
	case 0:
		fmt.Fprintf(a.stdout, "logingate: %s has no trusted sessions\n", target.Name)
	case 1:
		fmt.Fprintf(a.stdout, "logingate: revoked trusted session %s of %s\n", removed[0], target.Name)
	default:
		fmt.Fprintf(a.stdout, "logingate: revoked %d trusted sessions of %s\n", len(removed), target.Name)
	}
	return nil
}
