package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/session"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/term"
)

// app carries what every subcommand needs.
type app struct {
	g       globals
	environ []string
	stdout  io.Writer
	stderr  io.Writer
}

// personalConfig is where an unprivileged gate looks, below the caller's
// home, when there is no system config and no -c: a user protecting their
// own keys with authorized_keys command="logingate".
const personalConfig = ".config/logingate/logingate.yaml"

// loadConfig reads the config. A privileged (setgid) gate first checks its
// own installation. Whatever the caller names with -c is trusted under
// privilege.For(true): from a non-root caller of a privileged gate, only a
// file root owns along a path with no link and no "..", so that nothing the
// caller controls steers a process that holds the logingate group. Such a
// caller learns nothing of why a config or secret file failed (hiddenError).
// An unprivileged gate may run in personal mode: its config below the
// caller's home, and state_dir "~/..." (home from NSS, never $HOME).
func loadConfig(g globals) (*config.Config, error) {
	if privilege.Privileged() {
		if err := privilege.CheckBinary(); err != nil {
			return nil, err
		}
	}
	cfg, err := loadTrusted(g)
	if err == nil {
		err = checkStoreSecrets(cfg)
	}
	if err != nil && hideConfigErrors() {
		return nil, hiddenError{err}
	}
	return cfg, err
}

// checkStoreSecrets parses what the shared store's secret files hold (the
// key file, the DSN) when the config is loaded, not when the store is first
// used: a file that does not parse is a config error like any other, and
// so tells a caller who may not see why nothing about what it holds.
func checkStoreSecrets(cfg *config.Config) error {
	if !cfg.LocalFactors || cfg.Store.Backend != config.BackendPostgres {
		return nil
	}
	pg, err := openPostgres(cfg)
	if err != nil {
		return err
	}
	pg.Close()
	return nil
}

// hideConfigErrors says the caller may not see why the config or a secret
// file failed: a non-root caller of a privileged gate, who can name with -c
// a file only the logingate group may read.
func hideConfigErrors() bool { return privilege.Privileged() && os.Getuid() != 0 }

// hiddenError is a config or secret-file error as a caller who may not see
// it is told: one fixed line, whatever the files hold, so that no message
// tells anything about a file the caller cannot read. The cause goes to the
// audit log, and root's check-config shows it.
type hiddenError struct{ cause error }

const hiddenText = "the second-factor configuration cannot be used; access denied (root can see why: logingate check-config, or the system log)"

func (hiddenError) Error() string { return hiddenText }

func loadTrusted(g globals) (*config.Config, error) {
	path := g.config
	if !privilege.Privileged() && !g.explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if home := callerHome(); home != "" {
				p := filepath.Join(home, personalConfig)
				if _, err := os.Stat(p); err == nil {
					path = p
				}
			}
		}
	}
	host, _ := os.Hostname()
	load := config.Load
	if g.explicit {
		load = config.LoadNamed
	}
	cfg, err := load(path, host)
	if err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(cfg.StateDir, "~/"); ok {
		home := callerHome()
		switch {
		case privilege.Privileged():
			return nil, &config.Error{Path: path, Key: "state_dir", Msg: "~/... is for a personal gate; a privileged gate keeps state where users cannot reach it"}
		case home == "":
			return nil, &config.Error{Path: path, Key: "state_dir", Msg: "~/...: the caller's home directory is unknown"}
		}
		cfg.StateDir = filepath.Join(home, rest)
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func callerHome() string {
	u, err := session.LookupUID(os.Getuid())
	if err != nil {
		return ""
	}
	return u.Home
}

// newStore opens the configured state backend: the shared PostgreSQL store
// (store.backend: postgres; it connects at its first call), or the file
// backend, where a user's state must belong to that user's uid, as
// resolved through NSS.
func newStore(cfg *config.Config) store.Store {
	if !cfg.LocalFactors {
		return store.None{}
	}
	if cfg.Store.Backend == config.BackendPostgres {
		pg, err := openPostgres(cfg)
		if err != nil {
			return brokenStore{err}
		}
		return pg
	}
	return fileStore(cfg)
}

// fileStore is the file backend in state_dir.
func fileStore(cfg *config.Config) *filestore.Store {
	fs := filestore.New(cfg.StateDir, func(name string) (int, int, error) {
		u, err := session.LookupUser(name)
		if err != nil {
			return 0, 0, err
		}
		return u.UID, u.GID, nil
	})
	if privilege.Privileged() {
		fs.Protected(privilege.Group())
	}
	return fs
}

// localFactors lists a user's factors in the order a typed code tries them:
// TOTP first, then backup codes (an 8-digit TOTP and an 8-digit imported
// scratch code both work that way).
func localFactors(cfg *config.Config, st store.Store) gate.FactorSource {
	return func(user string, s *store.UserState) []factors.Factor {
		var out []factors.Factor
		if s == nil {
			return nil
		}
		if s.TOTP != nil {
			out = append(out, factors.NewTOTP(st, user, cfg.TOTP.Window, time.Now, s.TOTP))
		}
		if s.Backup != nil && len(s.Backup.Codes) > 0 {
			out = append(out, factors.NewBackup(st, user, cfg.BackupCodes.WarnBelow, s.Backup))
		}
		return out
	}
}

func (a *app) config() (*config.Config, error) {
	cfg, err := loadConfig(a.g)
	var hidden hiddenError
	switch {
	case errors.As(err, &hidden):
		a.auditHidden("config", hidden)
		return nil, err
	case err != nil:
		return nil, withHint(err, "validate it with: logingate check-config -c "+a.g.config)
	}
	return cfg, nil
}

// auditHidden sends a hidden config error's cause to the audit log, with
// the defaults a broken file leaves, and with -d shows the fixed text.
func (a *app) auditHidden(action string, h hiddenError) {
	d := config.ForLoadError(a.g.config)
	lg := audit.New(d.Syslog.Facility, d.Syslog.Ident, d.Syslog.Socket, a.g.debug, a.stderr)
	defer lg.Close()
	lg.LogPrivate(audit.Warning, audit.Event{Action: action, Result: "error", User: callerName(),
		Reason: "config error: " + h.cause.Error()}, "config error: "+hiddenText)
}

func (a *app) audit(cfg *config.Config) *audit.Logger {
	return audit.New(cfg.Syslog.Facility, cfg.Syslog.Ident, cfg.Syslog.Socket, a.g.debug, a.stderr)
}

// subject is the preamble of the subcommands that act on one user's state:
// the config, then the caller and the user --user names (see target), in
// that order, so that a broken config is reported before anything else.
func (a *app) subject(user string) (cfg *config.Config, caller, target *session.User, err error) {
	if cfg, err = a.config(); err != nil {
		return nil, nil, nil, err
	}
	if caller, target, err = a.target(user); err != nil {
		return nil, nil, nil, err
	}
	return cfg, caller, target, nil
}

// by is the audit line's administrator: the caller, when not the target.
func by(caller, target *session.User) string {
	if caller == target {
		return ""
	}
	return caller.Name
}

// jsonErrors, deferred with --json, turns *err into {"error": "..."} on
// stdout (see jsonError).
func (a *app) jsonErrors(asJSON bool, err *error) {
	if asJSON {
		*err = jsonError(a.stdout, *err)
	}
}

// errAlreadyEnrolled is the refusal to replace an enrollment without
// --force; cmd is the command that would.
func errAlreadyEnrolled(user, cmd string) error {
	return withHint(fmt.Errorf("%s is already enrolled", user), "replace the enrollment with: "+cmd)
}

// target resolves --user: the caller by default; another user only for root.
func (a *app) target(name string) (caller, target *session.User, err error) {
	if caller, err = session.LookupUID(os.Getuid()); err != nil {
		return nil, nil, fmt.Errorf("cannot look up your account: %w", err)
	}
	if name == "" || name == caller.Name {
		return caller, caller, nil
	}
	if os.Getuid() != 0 {
		return nil, nil, errors.New("only root may act on another user (--user)")
	}
	if target, err = session.LookupUser(name); err != nil {
		return nil, nil, fmt.Errorf("no such user %q", name)
	}
	return caller, target, nil
}

// flags returns a FlagSet for a subcommand; -c and -d are accepted after the
// subcommand name too (logingate check-config -c FILE).
func (a *app) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("c", "config file", func(s string) error { a.g.config, a.g.explicit = s, true; return nil })
	fs.BoolFunc("d", "log to stderr", func(string) error { a.g.debug = true; return nil })
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		return nil, usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() > positional {
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(positional))}
	}
	return fs.Args(), nil
}

// openTTY returns the controlling terminal, or an error with a hint for
// commands that need a person at a terminal.
func openTTY(what string) (*term.TTY, error) {
	t, err := term.Open()
	if err != nil {
		return nil, withHint(fmt.Errorf("%s needs a terminal", what), "run it in an interactive session (ssh -t)")
	}
	return t, nil
}

// confirm asks an enrolled user for a fresh second factor in this same
// invocation: holding the SSH key alone must never change factors.
func confirm(ctx context.Context, cfg *config.Config, st store.Store, user string, ui gate.UI, lg *audit.Logger, action string) error {
	g := &gate.Gate{
		Config:  cfg,
		Store:   st,
		Factors: localFactors(cfg, st),
		Audit:   lg,
		User:    user,
		UI:      ui,
	}
	d := g.Confirm(ctx, action)
	if !d.Allow {
		return silentError{1}
	}
	return nil
}

// withSignals gives a context that ends on Ctrl-C, Ctrl-\, Ctrl-Z, SIGHUP
// and SIGTERM, as the gate's does.
func withSignals() (context.Context, func()) {
	ctx, _, stop := term.Interrupts(context.Background())
	return ctx, stop
}
