package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/radius"
	"github.com/logingate/logingate/internal/session"
	"github.com/logingate/logingate/internal/voice"
)

// radiusCmd is `logingate radius test --user NAME`: root sends one code for
// NAME to the configured servers, exactly as a login would, and is told
// what each server did. The code comes from LOGINGATE_PASSCODE, else the
// terminal (not echoed). Exit 0 on Access-Accept.
func (a *app) radiusCmd(args []string) error {
	if len(args) == 0 || args[0] != "test" {
		return usageError{"radius: the only subcommand is test: logingate radius test --user NAME"}
	}
	fs := a.flags("radius test")
	user := fs.String("user", "", "the Unix user to test (required)")
	if _, err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	if *user == "" {
		return usageError{"radius test: --user is required"}
	}
	if os.Getuid() != 0 {
		return errors.New("radius test is for root: it reads the shared secrets")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if cfg.Radius == nil {
		return withHint(fmt.Errorf("%s has no radius: section", cfg.Path), "see the radius: example in the shipped logingate.yaml")
	}
	c := newRADIUSClient(cfg)
	name := cfg.Radius.UserName(*user)

	ctx, stop := withSignals()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.LoginTimeout)
	defer cancel()

	code, fromEnv := session.PasscodeFromEnv(a.environ)
	var ask func(prompt string) (string, error)
	if !fromEnv {
		tty, err := openTTY("radius test (without LOGINGATE_PASSCODE)")
		if err != nil {
			return err
		}
		defer tty.Close()
		ask = func(prompt string) (string, error) {
			s, err := tty.ReadSecret(ctx, prompt, 128)
			return strings.TrimSpace(s), err
		}
		if code, err = ask("Code for " + name + ": "); err != nil {
			return fmt.Errorf("no code read: %w", err)
		}
	}
	fmt.Fprintf(a.stdout, "logingate: radius test: User-Name %q, NAS-Identifier %q, %d server(s)\n", name, cfg.Radius.NASIdentifier, len(c.Servers))

	req := radius.Request{User: name, Password: code, Calling: a.g.host}
	for round := 0; ; round++ {
		start := time.Now()
		res, err := c.Authenticate(ctx, req)
		a.explain(res, time.Since(start))
		if err != nil {
			if errors.Is(err, radius.ErrService) {
				return withHint(errors.New("no server gave a valid answer"), radiusHint(res))
			}
			return err
		}
		switch res.Code {
		case radius.Accept:
			fmt.Fprintf(a.stdout, "logingate: radius test: %s accepted the code\n", res.Server)
			return nil
		case radius.Reject:
			return withHint(fmt.Errorf("%s rejected the code", res.Server),
				"the server answered with a valid packet, so address and secret are right; check the user and the code on the OTP server")
		}
		fmt.Fprintf(a.stdout, "logingate: radius test: %s sent a challenge: %s\n", res.Server, res.ReplyMessage)
		if ask == nil || round+1 >= factors.MaxChallenges {
			return errors.New("the challenge was not answered (answering needs a terminal, as at login)")
		}
		if req.Password, err = ask(res.ReplyMessage + ": "); err != nil {
			return fmt.Errorf("no answer read: %w", err)
		}
		req.State, req.Server = res.State, res.Server
	}
}

// explain prints what each server did and every warning.
func (a *app) explain(res radius.Result, took time.Duration) {
	for _, e := range res.Trace {
		fmt.Fprintf(a.stdout, "logingate: radius test: %s\n", e)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.stdout, voice.Warning(w))
	}
	fmt.Fprintf(a.stdout, "logingate: radius test: %s in all\n", took.Round(time.Millisecond))
}

// radiusHint names the likely cause of no valid answer from the trace.
func radiusHint(res radius.Result) string {
	var hints []string
	seen := func(s string) bool {
		for _, e := range res.Trace {
			if strings.Contains(e.What, s) {
				return true
			}
		}
		return false
	}
	if seen("no Message-Authenticator") {
		hints = append(hints, "a server answers without Message-Authenticator: upgrade it (FreeRADIUS 3.2.5 or later; older ones send it when the reply sets Message-Authenticator := 0x00), or set require_message_authenticator: false for it, which is logged at every use")
	}
	if seen("bad Response Authenticator") || seen("bad Message-Authenticator") {
		hints = append(hints, "a server's answer does not verify: its shared secret for this host differs from secret_file")
	}
	if seen("no answer within") || seen("refused") {
		hints = append(hints, "a server did not answer: check that it lists this host as a client (NAS address and secret) and that UDP reaches it")
	}
	if len(hints) == 0 {
		return "see the lines above"
	}
	return strings.Join(hints, "; ")
}
