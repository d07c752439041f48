package doctor

// Lines for the user about doctor itself (bad flags, sshd -T failing) have
// logingate's one voice, made by package voice (voice.Error, voice.Hint),
// never typed by hand. The audit is the command's output.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/logingate/logingate/internal/voice"
)

const usage = `usage: logingate doctor [--json] [--sshd PATH] [-f SSHD_CONFIG] [--pam FILE]
                        [--binary PATH] [--config FILE] [--user NAME]... [--addr ADDRESS]...

Audits sshd's effective config (sshd -T, and sshd -T -C for root, an
ordinary user, every Match block's users, groups and addresses, and each
--user and --addr) for ways around the logingate ForceCommand, and checks
the PAM service and logingate's own binary, config and state directory.
Exit status 0 when nothing is high, 1 on any high finding, 2 when the
audit could not run.

options:
  --json          print {"findings": [...], "summary": {...}}
  --sshd PATH     sshd binary (default /usr/sbin/sshd)
  -f FILE         sshd config (default /etc/ssh/sshd_config)
  --pam FILE      sshd's PAM service (default /etc/pam.d/sshd)
  --binary PATH   logingate binary (default: this program)
  --config FILE   logingate config (default: ForceCommand's -c, else /etc/logingate/logingate.yaml)
  --user NAME     also check connections as NAME (repeatable)
  --addr ADDRESS  also check connections from ADDRESS (repeatable)`

// Main runs `logingate doctor`; args are the arguments after "doctor". It
// returns the exit status: 0 passed, 1 a high finding, 2 a usage error or
// sshd -T could not run.
func Main(args []string, stdout, stderr io.Writer) int {
	o, jsonOut, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s\n%s\n", voice.Errorf("%s", err), usage)
		return 2
	}
	rep, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(stderr, voice.Error(voice.OneLine(err.Error())))
		var se *sshdError
		if errors.As(err, &se) && se.Hint != "" {
			fmt.Fprintln(stderr, voice.Hint(se.Hint))
		}
		return 2
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, voice.Errorf("%s", err))
			return 2
		}
	} else {
		writeText(stdout, o, rep)
	}
	if !rep.Summary.Pass {
		return 1
	}
	return 0
}

func parseFlags(args []string) (options, bool, error) {
	o := options{SSHDir: "/etc/ssh", LoginDefs: "/etc/login.defs"}
	var jsonOut bool
	var addrs []string
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&jsonOut, "json", false, "")
	fs.StringVar(&o.SSHD, "sshd", "/usr/sbin/sshd", "")
	fs.StringVar(&o.SSHDConfig, "f", "/etc/ssh/sshd_config", "")
	fs.StringVar(&o.PAM, "pam", "/etc/pam.d/sshd", "")
	fs.StringVar(&o.Binary, "binary", "", "")
	fs.StringVar(&o.Config, "config", "", "")
	fs.Func("user", "", func(s string) error { o.Users = append(o.Users, s); return nil })
	fs.Func("addr", "", func(s string) error { addrs = append(addrs, s); return nil })
	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for name, v := range map[string]string{"--sshd": o.SSHD, "-f": o.SSHDConfig, "--pam": o.PAM} {
		if v == "" {
			return o, false, fmt.Errorf("%s needs a path", name)
		}
	}
	for _, u := range o.Users {
		if !validName(u) {
			return o, false, fmt.Errorf("--user %q: not a user name sshd -C can take (no blanks or commas)", u)
		}
	}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return o, false, fmt.Errorf("--addr %q: not an IP address", a)
		}
		o.Addrs = append(o.Addrs, ip.String())
	}
	if o.Binary == "" {
		o.Binary, _ = os.Executable()
	}
	return o, jsonOut, nil
}
