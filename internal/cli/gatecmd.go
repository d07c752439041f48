package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/gate"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/session"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/term"
	"github.com/logingate/logingate/internal/voice"
)

// runGate is the ForceCommand path: decide, then exec the session or exit 1.
// Every early return denies.
func runGate(g globals, cmdArgs, environ []string, stderr *os.File) int {
	cfg, err := loadConfig(g)
	if err != nil {
		// No audit settings can be trusted from a broken file: use the
		// defaults (login_duo's for a login_duo file) so that the denial
		// is still recorded where it is looked for.
		d := config.ForLoadError(g.config)
		lg := gateAudit(&d, g, stderr)
		var hidden hiddenError
		if errors.As(err, &hidden) {
			// One fixed line, whatever the files hold: see hiddenError.
			lg.LogPrivate(audit.Warning, audit.Event{Action: "login", Result: "deny", User: callerName(),
				Reason: "config error: " + hidden.cause.Error()}, "config error: "+hiddenText)
			printError(stderr, err)
			return 1
		}
		lg.Log(audit.Warning, audit.Event{Action: "login", Result: "deny", User: callerName(), Reason: "config error: " + err.Error()})
		printError(stderr, err)
		fmt.Fprintln(stderr, voice.Error(brokenText))
		return 1
	}
	lg := gateAudit(cfg, g, stderr)
	defer lg.Close()
	deny := func(user, reason, msg string) int {
		lg.Log(audit.Notice, audit.Event{Action: "login", Result: "deny", User: user, Reason: reason})
		fmt.Fprintln(stderr, voice.Error(msg))
		return 1
	}
	// A file size limit could stop a failure's write and not a success's:
	// see privilege.HoldFileSize. Before anything reads a code.
	restoreFileSize, err := privilege.HoldFileSize(filestore.MaxStateSize)
	if err != nil {
		return deny(callerName(), "resource limit: "+err.Error(), err.Error()+"; access denied")
	}

	caller, err := session.LookupUID(os.Getuid())
	if err != nil {
		return deny(fmt.Sprint(os.Getuid()), "user lookup failed: "+err.Error(), "cannot look up your account; access denied")
	}
	sess := session.FromEnv(environ, cmdArgs, g.host, caller)
	// -f NAME is login_duo's "alternate Duo user": Duo (and RADIUS) are
	// asked about NAME, which needs no local account; the local factors,
	// rate limit, trusted windows, group check and session stay the
	// caller's. Privileged, it is root's alone, as setuid login_duo has it:
	// a user must not pick whose phone approves them.
	target := caller
	if g.forUser != "" && privilege.Privileged() && os.Getuid() != 0 {
		return deny(caller.Name, "-f refused for non-root", "only root may use -f")
	}
	duoUser, gecosFallback := cfg.Duo.DuoUsername(caller.Name, caller.Gecos, g.forUser)
	if g.forUser == "" && cfg.Duo != nil && cfg.Duo.SendGECOS {
		duoUser = term.SanitizeLine(duoUser, 256) // a user may write their GECOS
	}
	policy, err := groups.Parse(cfg.Groups)
	if err != nil {
		return deny(target.Name, "config error: "+err.Error(), brokenText)
	}
	key, err := lookupSessionKey(cfg, sess, environ, len(cmdArgs) > 0)
	if err != nil {
		return deny(target.Name, "key lookup failed: "+err.Error(), "cannot tell what your key may run ("+err.Error()+"); access denied")
	}
	duoClient, err := newDuoClient(cfg)
	if err != nil {
		return deny(target.Name, "config error: "+err.Error(), brokenText)
	}
	if duoClient != nil {
		defer duoClient.Close()
	}

	ctx, _, stopSignals := term.Interrupts(context.Background())
	defer stopSignals()
	var ui gate.UI // nil: no terminal, a non-interactive session
	tty, err := term.Open()
	if err == nil {
		ui = tty
		defer tty.Close()
	}
	var envCode string
	if cfg.AcceptEnvFactor {
		envCode, _ = session.PasscodeFromEnv(environ)
	}

	st := newStore(cfg)
	gt := &gate.Gate{
		Config:   cfg,
		Policy:   policy,
		Store:    st,
		Factors:  localFactors(cfg, st),
		Services: loginServices(cfg, duoClient, duoUser, sess, lg),
		Audit:    key.audited(lg),
		DuoUser:  duoUser,
		Key:      key.fingerprint,
		User:     target.Name,
		Remote:   sess.Remote,
		Groups:   func() ([]string, error) { return session.Groups(target) },
		UI:       ui,
		Stderr:   stderr,
		EnvCode:  envCode,
	}
	if cfg.Duo != nil {
		gt.Autopush = cfg.Duo.Autopush
	}
	if g.forUser == "" && cfg.Duo.GECOSUserChangeable(readLoginDefs()) {
		warnConfig(lg, target.Name, "send_gecos: users may change the GECOS field sent as their Duo username (chfn, CHFN_RESTRICT in "+loginDefs+"), and so choose their own Duo identity; remove those letters from CHFN_RESTRICT")
	}
	if gecosFallback {
		warnConfig(lg, target.Name, fmt.Sprintf("send_gecos: the GECOS of %s has no field %d; asking Duo about the login name, as login_duo does", target.Name, cfg.Duo.GECOSPos))
	}
	if ui != nil && cfg.LocalFactors {
		e := &enroller{cfg: cfg, store: gt.Store, user: target.Name, ui: ui, audit: lg}
		gt.Enroll = e.run
	}
	d := gt.Run(ctx)
	if !d.Allow {
		return 1
	}
	if ctx.Err() != nil {
		return deny(target.Name, "interrupted after the decision", "interrupted; access denied")
	}

	if cfg.Motd && !d.Failsafe && tty != nil && interactive(environ) {
		// login_duo's motd = yes: after a login it let in (Duo, group
		// bypass, preauth allow; never failsafe), in interactive sessions
		// only: a protocol on stdout (scp, sftp) must get nothing.
		printMotd(tty)
	}

	// Hand over. Nothing of logingate's may survive into the session:
	// the terminal and the audit socket are closed (and O_CLOEXEC anyway),
	// signal handling returns to default inside Exec.
	if tty != nil {
		tty.Close()
	}
	lg.Close()
	if duoClient != nil {
		duoClient.Close()
	}
	closeStore(st)
	stopSignals()
	restoreFileSize()
	key.apply(sess)
	err = sess.Exec(term.Caught()...)
	fmt.Fprintln(stderr, voice.Errorf("cannot start the session: %v", err))
	return 1
}

const brokenText = "the second-factor configuration is broken; access denied"

// gateAudit is a login's audit logger, in login_duo's words for a
// login_duo file.
func gateAudit(c *config.Config, g globals, stderr io.Writer) *audit.Logger {
	lg := audit.New(c.Syslog.Facility, c.Syslog.Ident, c.Syslog.Socket, g.debug, stderr)
	if c.DropIn {
		lg.LoginDuoWording()
	}
	return lg
}

func callerName() string {
	if u, err := session.LookupUID(os.Getuid()); err == nil {
		return u.Name
	}
	return fmt.Sprint(os.Getuid())
}

// loginDefs is where CHFN_RESTRICT says which GECOS fields users may change.
var loginDefs = "/etc/login.defs"

// readLoginDefs reads loginDefs, bounded; a missing file says nothing.
func readLoginDefs() []byte {
	f, err := os.Open(loginDefs)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return b
}

// motdPath is the message of the day login_duo's motd = yes prints.
var motdPath = "/etc/motd"

// maxMotd bounds the message of the day shown.
const maxMotd = 64 << 10

// printMotd shows motdPath on the terminal, sanitised; a missing file
// shows nothing.
func printMotd(tty *term.TTY) {
	f, err := os.Open(motdPath)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxMotd))
	_ = tty.Printf("%s", b)
}

// interactive is login_duo's test for a session that is not headless: no
// SSH_ORIGINAL_COMMAND, and stdin a terminal.
func interactive(environ []string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "SSH_ORIGINAL_COMMAND=") {
			return false
		}
	}
	_, err := unix.IoctlGetTermios(0, unix.TCGETS)
	return err == nil
}
