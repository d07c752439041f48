package sshtest

import (
	"fmt"
	"strings"
)

// defaultConfig is what the harness sets unless ExtraConfig sets the same
// keyword first. Authorized keys stay in ~/.ssh/authorized_keys with
// StrictModes on, as on a real server (a key file under /tmp fails
// StrictModes: /tmp is world-writable).
var defaultConfig = []string{
	"PasswordAuthentication no",
	"KbdInteractiveAuthentication no",
	"UsePAM yes",
	"ExposeAuthInfo yes",
	"Subsystem sftp " + SFTPServerPath,
	"AuthorizedKeysFile .ssh/authorized_keys",
	"StrictModes yes",
	"LogLevel VERBOSE",
	// As Debian's stock config: pam_motd already shows the motd; sshd
	// would show it a second time.
	"PrintMotd no",
	// Parallel tests open many connections at once; do not throttle them.
	"MaxStartups 100",
}

// buildConfig writes the sshd_config text: the harness-owned lines, the
// ForceCommand, ExtraConfig up to its first Match, the defaults ExtraConfig
// did not set, then ExtraConfig's Match blocks.
func buildConfig(opts Options, port int, hostKey, pidFile string) string {
	var global, match []string
	for i, l := range opts.ExtraConfig {
		if keyword(l) == "match" {
			global, match = opts.ExtraConfig[:i], opts.ExtraConfig[i:]
			break
		}
		global = opts.ExtraConfig[:i+1]
	}
	set := map[string]bool{}
	for _, l := range global {
		set[settingKey(l)] = true
	}

	var b strings.Builder
	b.WriteString("# written by sshtest for one test\n")
	fmt.Fprintf(&b, "ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nPidFile %s\n", port, hostKey, pidFile)
	if opts.ForceCommand != "" {
		fmt.Fprintf(&b, "ForceCommand %s\n", opts.ForceCommand)
	}
	for _, l := range global {
		b.WriteString(l + "\n")
	}
	for _, l := range defaultConfig {
		if !set[settingKey(l)] {
			b.WriteString(l + "\n")
		}
	}
	for _, l := range match {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// keyword returns the lower-case keyword of an sshd_config line
// ("Keyword value" or "Keyword=value"), or "" for blanks and comments.
func keyword(line string) string {
	f := fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return ""
	}
	return strings.ToLower(f[0])
}

// settingKey is keyword, except that each Subsystem name is its own
// setting.
func settingKey(line string) string {
	k := keyword(line)
	if f := fields(line); k == "subsystem" && len(f) > 1 {
		k += " " + f[1]
	}
	return k
}

func fields(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '='
	})
}
