package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

// importCmd is `logingate import google-authenticator [--user NAME] [--force] FILE`:
// the secret, step size, window and scratch codes of a google-authenticator
// file, so that users keep the entry on their phone.
func (a *app) importCmd(args []string) error {
	if len(args) == 0 || args[0] != "google-authenticator" {
		return usageError{"import: the only source is google-authenticator: logingate import google-authenticator [--user NAME] [--force] FILE"}
	}
	fs := a.flags("import google-authenticator")
	user := fs.String("user", "", "import for this user (root)")
	force := fs.Bool("force", false, "replace an existing enrollment")
	rest, err := parseFlags(fs, args[1:], 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{"import google-authenticator: name the file to import"}
	}
	cfg, caller, target, err := a.subject(*user)
	if err != nil {
		return err
	}

	// The file is opened with the caller's own rights, never the gate's: a
	// caller must not read protected state by naming it here.
	var f *os.File
	err = privilege.AsCaller(func() (err error) { f, err = os.Open(rest[0]); return err })
	if err != nil {
		return fmt.Errorf("cannot open the file to import: %w", err)
	}
	gf, err := factors.ParseGoogleAuthenticator(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	t, b, err := gf.ToState(factors.DefaultBackupParams, time.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}

	st := newStore(cfg)
	ctx, stop := withSignals()
	defer stop()
	cur, err := st.Load(ctx, target.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	const replace = "logingate import google-authenticator --force FILE"
	if cur.Enrolled() && os.Getuid() != 0 {
		if !*force {
			return errAlreadyEnrolled(target.Name, replace)
		}
		tty, err := openTTY("replacing an enrollment")
		if err != nil {
			return err
		}
		defer tty.Close()
		lg := a.audit(cfg)
		err = confirm(ctx, cfg, st, target.Name, tty, lg, "import")
		lg.Close()
		if err != nil {
			return err
		}
	}
	if err := saveFactors(ctx, st, target.Name, t, b, *force, replace); err != nil {
		return err
	}
	lg := a.audit(cfg)
	lg.Log(audit.Notice, audit.Event{Action: "import", Result: "ok", User: target.Name, By: by(caller, target), Factor: "totp"})
	lg.Close()

	window := cfg.TOTP.Window
	if t.Window != nil {
		window = *t.Window
	}
	n := 0
	if b != nil {
		n = len(b.Codes)
	}
	fmt.Fprintf(a.stdout, "logingate: imported %s's authenticator (%s, %d digits, %ds steps, window %d) and %d scratch codes as backup codes\n",
		target.Name, t.Algorithm, t.Digits, t.Period, window, n)
	if n > 0 {
		fmt.Fprintln(a.stdout, voice.Hint("8-digit scratch codes are weaker than logingate's own; replace them with: logingate backup-codes --regenerate"))
	}
	return nil
}
