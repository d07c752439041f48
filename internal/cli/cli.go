// Package cli is logingate's command line: login_duo's flags for the gate,
// and the subcommands that enroll users and administer their state. It wires
// config, session, store, factors and gate together; the decisions live in
// those packages.
//
// Every line for the user has one voice, made by package voice
// (voice.Error, voice.Warning, voice.Hint), never typed by hand. Errors
// carry a fixed text for the user; the cause goes to the audit log.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/logingate/logingate/internal/cmdline"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/doctor"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/voice"
)

// Version is set at build time (-ldflags "-X ...cli.Version=v1.2.3").
var Version = ""

// version reports Version or, failing that, what the build recorded.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// defaultConfig and defaultLoginDuoConfig are the files read without -c
// (config.DefaultFile); tests point them elsewhere.
var defaultConfig, defaultLoginDuoConfig = config.DefaultPath, config.LoginDuoPath

// globals are login_duo's flags: they come before any subcommand.
type globals struct {
	config   string // -c
	debug    bool   // -d
	forUser  string // -f
	host     string // -h
	explicit bool   // -c was given
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// hintError carries a hint line for the user after the error line.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return hintError{err, hint} }

const usage = `usage: logingate [-c FILE] [-d] [-f USER] [-h HOST] [--] [command [args...]]
       logingate [-c FILE] [-d] SUBCOMMAND [options]
       logingate -v

subcommands:
  enroll         set up an authenticator app (and backup codes)
  import         import a google-authenticator file
  backup-codes   show how many backup codes are left, or --regenerate them
  status         show a user's second-factor state
  sessions       list trusted sessions (headless: trusted), or --revoke them
  unlock         lift a user's rate limit (root)
  reset          remove a user's second factors (root)
  check-config   validate the configuration, as sshd -t does
  migrate        move per-user state into the protected layout (root)
  store          the shared PostgreSQL store: migrate, import, check, rekey (root)
  doctor         audit sshd and this install for ways around the gate
  radius test    send one code to the RADIUS servers and explain the answer (root)
  version        print the version`

// Main runs logingate and returns the process exit status.
//
// environ is the environment the process started with. A privileged
// process empties its own before anything else (privilege.EmptyEnv): only
// the session gets environ.
func Main(args, environ []string, stdout, stderr *os.File) int {
	if err := privilege.EmptyEnv(environ); err != nil {
		return report(stderr, err)
	}
	g, rest, sub, err := parseGlobals(args[1:])
	if err != nil {
		return report(stderr, err)
	}
	switch sub {
	case "":
		return runGate(g, rest, environ, stderr)
	case "doctor":
		// doctor runs programs (sshd -T, ssh-keygen, the one --sshd
		// names) and reads what the caller points it at: it has no use
		// for the logingate group, and must not lend it to them.
		if err := privilege.Drop(); err != nil {
			return report(stderr, err)
		}
		if privilege.Privileged() {
			// The environment is empty: find the programs on a fixed PATH.
			os.Setenv("PATH", doctorPath)
		}
		return doctor.Main(rest, stdout, stderr)
	}
	// Subcommands record attempts too (a step-up before enroll --force).
	if _, err := privilege.HoldFileSize(filestore.MaxStateSize); err != nil {
		return report(stderr, err)
	}
	a := &app{g: g, environ: environ, stdout: stdout, stderr: stderr}
	return report(stderr, subcommands[sub](a, rest))
}

// doctorPath is the PATH doctor runs getent and ssh-keygen with when the
// caller's environment was emptied.
const doctorPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// subcommands are recognised only as the first non-flag argument, with no
// "--" before it; anything else is the command to run after the gate.
// doctor is Main's own: it runs without the logingate group.
var subcommands = map[string]func(*app, []string) error{
	"enroll": (*app).enroll, "import": (*app).importCmd, "backup-codes": (*app).backupCodes,
	"status": (*app).status, "unlock": (*app).unlock, "reset": (*app).reset,
	"check-config": (*app).checkConfig, "migrate": (*app).migrate, "sessions": (*app).sessions,
	"radius": (*app).radiusCmd, "store": (*app).storeCmd, "version": (*app).printVersion, "doctor": nil,
}

func (a *app) printVersion([]string) error {
	fmt.Fprintln(a.stdout, "logingate", version())
	return nil
}

// parseGlobals reads login_duo's flags (cmdline.Parse, which doctor reads
// ForceCommand lines with too), then a subcommand: the first word after
// them, unless a "--" ended them.
func parseGlobals(args []string) (g globals, rest []string, sub string, err error) {
	p, rest, ended, err := cmdline.Parse(args)
	g = globals{config: p.Config, debug: p.Debug, forUser: p.ForUser, host: p.Host, explicit: p.Explicit}
	if !p.Explicit {
		g.config = config.DefaultFile(defaultConfig, defaultLoginDuoConfig)
	}
	switch {
	case err != nil:
		return g, nil, "", usageError{err.Error()}
	case p.Version:
		return g, nil, "version", nil
	case !ended && len(rest) > 0:
		if _, ok := subcommands[rest[0]]; ok {
			return g, rest[1:], rest[0], nil
		}
	}
	return g, rest, "", nil
}

// report prints err in the user's voice and returns the exit status.
func report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var silent silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "%s\n%s\n", voice.Error(ue.msg), usage)
		return 2
	}
	printError(w, err)
	var he hintError
	if errors.As(err, &he) {
		fmt.Fprintln(w, voice.Hint(he.hint))
	}
	return 1
}

// silentError ends the program with a status after the message was shown.
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// printError writes err as one "logingate: error:" line per line of its text
// (a config error lists every problem it found).
func printError(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, voice.Error(line))
	}
}
