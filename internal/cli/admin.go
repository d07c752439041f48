package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// statusReport is what `logingate status` shows: never a secret or a hash.
type statusReport struct {
	User        string       `json:"user"`
	Enrolled    bool         `json:"enrolled"`
	TOTP        *totpStatus  `json:"totp,omitempty"`
	BackupLeft  int          `json:"backup_codes_left"`
	Failures    int          `json:"recent_failures"`
	LockedUntil *time.Time   `json:"locked_until,omitempty"`
	LastSuccess *store.Event `json:"last_success,omitempty"`
	// TrustedWindows counts the live trusted windows (headless: trusted);
	// logingate sessions lists them.
	TrustedWindows int `json:"trusted_windows"`
}

type totpStatus struct {
	Algorithm string    `json:"algorithm"`
	Digits    int       `json:"digits"`
	Period    int       `json:"period"`
	Created   time.Time `json:"created"`
}

// status is `logingate status [--user NAME] [--json]`.
func (a *app) status(args []string) (err error) {
	fs := a.flags("status")
	user := fs.String("user", "", "show this user (root)")
	asJSON := fs.Bool("json", false, "print as JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	defer a.jsonErrors(*asJSON, &err)
	cfg, _, target, err := a.subject(*user)
	if err != nil {
		return err
	}
	ctx, stop := withSignals()
	defer stop()
	st, err := newStore(cfg).Load(ctx, target.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := time.Now()
	r := statusReport{User: target.Name, Enrolled: st.Enrolled()}
	if st != nil {
		if st.TOTP != nil {
			r.TOTP = &totpStatus{st.TOTP.Algorithm, st.TOTP.Digits, st.TOTP.Period, st.TOTP.Created}
		}
		if st.Backup != nil {
			r.BackupLeft = len(st.Backup.Codes)
		}
		r.Failures = len(gate.PruneFailures(st.Failures, cfg.RateLimit, now))
		if until := gate.LockedUntil(st, cfg.RateLimit, now); !until.IsZero() {
			r.LockedUntil = &until
		}
		r.LastSuccess = st.LastSuccess
		r.TrustedWindows = len(store.PruneTrusted(st.Trusted, now))
	}
	if *asJSON {
		return writeJSON(a.stdout, r)
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "user:\t%s\n", r.User)
	if r.TOTP != nil {
		fmt.Fprintf(w, "authenticator app:\tenrolled %s (%s, %d digits, %ds)\n", r.TOTP.Created.Format(time.DateTime), r.TOTP.Algorithm, r.TOTP.Digits, r.TOTP.Period)
	} else {
		fmt.Fprintf(w, "authenticator app:\tnot enrolled\n")
	}
	fmt.Fprintf(w, "backup codes left:\t%d\n", r.BackupLeft)
	if r.LockedUntil != nil {
		fmt.Fprintf(w, "rate limit:\tlocked until %s (%d recent failures)\n", r.LockedUntil.Format(time.DateTime), r.Failures)
	} else {
		fmt.Fprintf(w, "rate limit:\tnot locked (%d recent failures)\n", r.Failures)
	}
	if r.LastSuccess != nil {
		from := r.LastSuccess.From
		if from == "" {
			from = "local"
		}
		fmt.Fprintf(w, "last success:\t%s from %s with %s\n", r.LastSuccess.Time.Format(time.DateTime), from, r.LastSuccess.Factor)
	} else {
		fmt.Fprintf(w, "last success:\tnever\n")
	}
	fmt.Fprintf(w, "trusted windows:\t%d (logingate sessions --user %s lists them)\n", r.TrustedWindows, r.User)
	return w.Flush()
}

// unlock is `logingate unlock --user NAME`: root lifts a rate limit.
func (a *app) unlock(args []string) error {
	return a.adminChange("unlock", args, func(st store.Store, user string) error {
		return updateExisting(st, user, func(s *store.UserState) error {
			if len(s.Failures) == 0 {
				return store.ErrUnchanged
			}
			s.Failures = nil
			return nil
		})
	})
}

// reset is `logingate reset --user NAME`: root removes every factor (lost
// phone); the user enrolls again.
func (a *app) reset(args []string) error {
	return a.adminChange("reset", args, func(st store.Store, user string) error {
		ctx, stop := withSignals()
		defer stop()
		return st.Delete(ctx, user)
	})
}

func (a *app) adminChange(name string, args []string, change func(store.Store, string) error) error {
	fs := a.flags(name)
	user := fs.String("user", "", "the user (required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *user == "" {
		return usageError{name + ": --user NAME is required"}
	}
	if os.Getuid() != 0 {
		return errors.New(name + " is for root")
	}
	cfg, caller, target, err := a.subject(*user)
	if err != nil {
		return err
	}
	lg := a.audit(cfg)
	defer lg.Close()
	err = change(newStore(cfg), target.Name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s has no second-factor state", target.Name)
	}
	if err != nil {
		lg.Log(audit.Warning, audit.Event{Action: name, Result: "error", User: target.Name, By: caller.Name, Reason: err.Error()})
		return lockHint(err)
	}
	lg.Log(audit.Notice, audit.Event{Action: name, Result: "ok", User: target.Name, By: caller.Name})
	fmt.Fprintf(a.stdout, "logingate: %s: done for %s\n", name, target.Name)
	return nil
}

// lockHint adds to a wait for a user's lock that gave up the process that
// holds it and how to end it: a login stopped while it held the lock keeps
// it until it goes on or ends.
func lockHint(err error) error {
	var h interface{ Holder() int }
	if !errors.Is(err, store.ErrLocked) || !errors.As(err, &h) || h.Holder() <= 0 {
		return err
	}
	pid := h.Holder()
	return withHint(err, fmt.Sprintf("if process %d is a stopped login, let it go on (kill -CONT %d) or end it (kill -KILL %d), then run this again", pid, pid, pid))
}

// updateExisting updates a user's state only if they have some.
func updateExisting(st store.Store, user string, fn func(*store.UserState) error) error {
	ctx, stop := withSignals()
	defer stop()
	if _, err := st.Load(ctx, user); err != nil {
		return err
	}
	return st.Update(ctx, user, fn)
}

// backupCodes is `logingate backup-codes [--regenerate] [--user NAME] [--json]`.
func (a *app) backupCodes(args []string) (err error) {
	fs := a.flags("backup-codes")
	user := fs.String("user", "", "act on this user (root)")
	regen := fs.Bool("regenerate", false, "replace all backup codes with a new set")
	asJSON := fs.Bool("json", false, "print as JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	defer a.jsonErrors(*asJSON, &err)
	cfg, caller, target, err := a.subject(*user)
	if err != nil {
		return err
	}
	st := newStore(cfg)
	ctx, stop := withSignals()
	defer stop()
	cur, err := st.Load(ctx, target.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if !*regen {
		left := 0
		if cur != nil && cur.Backup != nil {
			left = len(cur.Backup.Codes)
		}
		if *asJSON {
			return writeJSON(a.stdout, map[string]int{"backup_codes_left": left})
		}
		fmt.Fprintf(a.stdout, "%d backup codes left\n", left)
		return nil
	}
	if !cur.Enrolled() {
		return withHint(fmt.Errorf("%s is not enrolled", target.Name), "enroll first: logingate enroll")
	}
	lg := a.audit(cfg)
	defer lg.Close()

	// New codes are new credentials: a user confirms with a current factor
	// in this same invocation; root acts as administrator.
	var show func(string)
	if os.Getuid() != 0 {
		tty, err := openTTY("backup-codes --regenerate")
		if err != nil {
			return err
		}
		defer tty.Close()
		if err := confirm(ctx, cfg, st, target.Name, tty, lg, "backup-codes"); err != nil {
			return err
		}
		show = func(s string) { _ = tty.Println(s) }
	} else {
		show = func(s string) { fmt.Fprintln(a.stdout, s) }
	}
	codes, b, err := factors.GenerateBackupCodes(cfg.BackupCodes.Count, time.Now())
	if err != nil {
		return err
	}
	if err := st.Update(ctx, target.Name, func(s *store.UserState) error {
		// New codes end the windows old ones may have opened.
		s.Backup, s.Trusted = b, nil
		return nil
	}); err != nil {
		return err
	}
	lg.Log(audit.Notice, audit.Event{Action: "backup-codes", Result: "ok", User: target.Name, By: by(caller, target), Reason: "regenerated"})
	if *asJSON {
		return writeJSON(a.stdout, map[string][]string{"backup_codes": codes})
	}
	show("New backup codes for " + target.Name + "; the old ones no longer work. Each is good for one login:")
	show(formatCodes(codes))
	return nil
}

// checkConfig is `logingate check-config [-c FILE]`.
func (a *app) checkConfig(args []string) error {
	fs := a.flags("check-config")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(a.g)
	var hidden hiddenError
	if errors.As(err, &hidden) {
		a.auditHidden("check-config", hidden)
	}
	if err != nil {
		return err
	}
	policy, err := groups.Parse(cfg.Groups)
	if err != nil {
		return err
	}
	for _, l := range policy.OnlyNegated() {
		fmt.Fprintln(a.stderr, voice.Warningf("%s: groups: %q has only negated patterns and matches no one", cfg.Path, l))
	}
	for _, w := range namedPathWarnings(cfg.Path) {
		fmt.Fprintln(a.stderr, voice.Warning(w))
	}
	fmt.Fprintf(a.stdout, "logingate: %s: configuration ok\n", cfg.Path)
	return nil
}

// namedPathWarnings says, to root, why a privileged gate run by a user
// would refuse the config at path if sshd's ForceCommand (or the user)
// named it with -c: the path-trust rule for a caller's -c follows no link
// and no "..", where root's own paths may be links that config management
// made. Said before an upgrade, it locks nobody out unannounced.
func namedPathWarnings(path string) []string {
	if os.Getuid() != 0 {
		return nil
	}
	if !strings.HasPrefix(path, "/") {
		// Root named it from here; a ForceCommand would name it whole.
		wd, err := os.Getwd()
		if err != nil {
			return nil
		}
		path = wd + "/" + path
	}
	probs, err := privilege.Check(path, privilege.Rule{})
	if err != nil {
		probs = append(probs, &privilege.Unsafe{Problem: err.Error()})
	}
	var out []string
	for _, p := range probs {
		out = append(out, fmt.Sprintf("%s: a privileged gate refuses this path when a user's ForceCommand names it with -c: %s; name the file by its real path, with no link and no \"..\", in a directory chain only root can change", path, p.Error()))
	}
	return out
}
