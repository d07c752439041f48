package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/voice"
)

var errEnrolled = errors.New("already enrolled")

// saveFactors gives user the factors t and b, refusing to replace an
// enrollment unless force; replace is the command that would.
func saveFactors(ctx context.Context, st store.Store, user string, t *store.TOTP, b *store.Backup, force bool, replace string) error {
	err := st.Update(ctx, user, func(s *store.UserState) error {
		if s.TOTP != nil && !force {
			return errEnrolled
		}
		s.SetFactors(t, b)
		return nil
	})
	if errors.Is(err, errEnrolled) {
		return errAlreadyEnrolled(user, replace)
	}
	return err
}

// enroller sets up an authenticator app for one user: a new secret shown as
// a QR code and an otpauth:// URI, a code from the app typed back before
// anything is saved, then a new set of backup codes shown once.
type enroller struct {
	cfg   *config.Config
	store store.Store
	user  string
	ui    gate.UI
	audit *audit.Logger
	force bool   // replace an existing enrollment
	by    string // the administrator, when not the user
	qrPNG string // also write the QR code here
}

// run is the whole interactive enrollment.
func (e *enroller) run(ctx context.Context) error {
	t, uri, err := e.newSecret()
	if err != nil {
		return err
	}
	if err := e.writePNG(uri); err != nil {
		return err
	}
	qr, err := factors.QRText(uri)
	if err != nil {
		return err
	}
	e.say("Scan this QR code with your authenticator app:")
	e.say(qr)
	e.say("Or add this key by hand: " + uri)
	if err := e.verify(ctx, t); err != nil {
		return err
	}
	codes, err := e.save(ctx, t)
	if err != nil {
		return err
	}
	e.say("Enrolled. Backup codes, each good for one login. Keep them safe; they are not shown again:")
	e.say(formatCodes(codes))
	return nil
}

func (e *enroller) say(s string) { _ = e.ui.Println(s) }

func (e *enroller) newSecret() (*store.TOTP, string, error) {
	c := e.cfg.TOTP
	return factors.NewTOTPEnrollment(c.Issuer, e.user, c.Algorithm, c.Digits, c.Period, time.Now())
}

// verify asks for a code from the new app, up to three times. The accepted
// step is recorded so that the same code cannot be used again to log in.
func (e *enroller) verify(ctx context.Context, t *store.TOTP) error {
	for try := 0; try < 3; try++ {
		pctx, cancel := context.WithTimeout(ctx, e.cfg.PromptTimeout)
		code, err := e.ui.ReadSecret(pctx, "Code from the app: ", 16)
		cancel()
		if err != nil {
			return fmt.Errorf("no code entered: %w", err)
		}
		if step, ok := factors.VerifyTOTP(t, strings.TrimSpace(code), e.cfg.TOTP.Window, time.Now()); ok {
			t.LastStep = step
			return nil
		}
		e.say("logingate: that code does not match; check the app's entry and the phone's clock")
	}
	return errors.New("the app's codes did not match; nothing was saved")
}

// save stores the enrollment with a new set of backup codes, refusing to
// replace an existing one unless forced.
func (e *enroller) save(ctx context.Context, t *store.TOTP) ([]string, error) {
	codes, b, err := factors.GenerateBackupCodes(e.cfg.BackupCodes.Count, time.Now())
	if err != nil {
		return nil, err
	}
	if err := saveFactors(ctx, e.store, e.user, t, b, e.force, "logingate enroll --force"); err != nil {
		return nil, err
	}
	e.audit.Log(audit.Info, audit.Event{Action: "enroll", Result: "ok", User: e.user, Factor: "totp", By: e.by})
	return codes, nil
}

func (e *enroller) writePNG(uri string) error {
	if e.qrPNG == "" {
		return nil
	}
	// The image holds the secret: a new file, private to the caller, created
	// (and removed again on failure) with the caller's own rights, so that
	// a privileged gate never writes where only its group may.
	var f *os.File
	err := privilege.AsCaller(func() (err error) {
		f, err = os.OpenFile(e.qrPNG, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot create the QR image: %w", err)
	}
	if err := factors.WriteQRPNG(f, uri, 320); err != nil {
		f.Close()
		_ = privilege.AsCaller(func() error { return os.Remove(e.qrPNG) })
		return err
	}
	return f.Close()
}

func formatCodes(codes []string) string {
	var b strings.Builder
	for i, c := range codes {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %s", c)
	}
	return b.String()
}

// enroll is `logingate enroll [--user NAME] [--force] [--no-verify] [--json] [--qr-png FILE]`.
func (a *app) enroll(args []string) (err error) {
	fs := a.flags("enroll")
	user := fs.String("user", "", "enroll this user (root)")
	force := fs.Bool("force", false, "replace an existing enrollment")
	noVerify := fs.Bool("no-verify", false, "save without a code from the app (root provisioning)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	qrPNG := fs.String("qr-png", "", "also write the QR code as a PNG image")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	defer a.jsonErrors(*asJSON, &err)
	if *asJSON && !*noVerify {
		return usageError{"enroll: --json needs --no-verify (provisioning without a terminal)"}
	}
	cfg, caller, target, err := a.subject(*user)
	if err != nil {
		return err
	}
	if *noVerify && os.Getuid() != 0 {
		return errors.New("--no-verify is for root provisioning a user")
	}
	st := newStore(cfg)
	lg := a.audit(cfg)
	defer lg.Close()
	ctx, stop := withSignals()
	defer stop()

	cur, err := st.Load(ctx, target.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if cur != nil && cur.TOTP != nil && !*force {
		return errAlreadyEnrolled(target.Name, "logingate enroll --force")
	}
	e := &enroller{cfg: cfg, store: st, user: target.Name, audit: lg, force: *force, qrPNG: *qrPNG, by: by(caller, target)}

	if *noVerify {
		t, uri, err := e.newSecret()
		if err != nil {
			return err
		}
		if err := e.writePNG(uri); err != nil {
			return err
		}
		codes, err := e.save(ctx, t)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(a.stdout, struct {
				URI   string   `json:"otpauth_uri"`
				Codes []string `json:"backup_codes"`
			}{uri, codes})
		}
		fmt.Fprintf(a.stdout, "otpauth URI: %s\nbackup codes:\n%s\n", uri, formatCodes(codes))
		return nil
	}

	tty, err := openTTY("enroll")
	if err != nil {
		return err
	}
	defer tty.Close()
	e.ui = tty
	// Replacing a factor is a change of credentials: the user proves
	// presence with the current one first. Root acts as administrator.
	if cur.Enrolled() && os.Getuid() != 0 {
		if err := confirm(ctx, cfg, st, target.Name, tty, lg, "enroll"); err != nil {
			return err
		}
	}
	return e.run(ctx)
}

// jsonError turns an error into {"error": "..."} on stdout, keeping the
// exit status: 2 for a usage error, 1 otherwise.
func jsonError(w io.Writer, err error) error {
	if err == nil {
		return nil
	}
	var s silentError
	if errors.As(err, &s) {
		return err
	}
	_ = writeJSON(w, map[string]string{"error": voice.OneLine(err.Error())})
	var ue usageError
	if errors.As(err, &ue) {
		return silentError{2}
	}
	return silentError{1}
}

// writeJSON prints v as one line of JSON, without HTML escaping (an
// otpauth URI keeps its '&').
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
