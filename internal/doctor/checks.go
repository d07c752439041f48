package doctor

import (
	"fmt"
	"slices"
	"strings"
)

// allowedEnv is what AcceptEnv may name: the locale, and the passcode
// variables logingate reads (and removes) when accept_env_factor is on.
var allowedEnv = map[string]bool{"LANG": true, "LC_*": true, "LOGINGATE_PASSCODE": true, "DUO_PASSCODE": true}

// dangerousEnv are variables that run code or steer the gate or its shell
// before the second factor, or that sshd sets for logingate to trust.
var dangerousEnv = []string{
	"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "LOCPATH",
	"SHELLOPTS", "BASHOPTS", "PS4", "BASH_ENV", "ENV", "BASH_FUNC_x%%", "ZDOTDIR", "IFS", "PATH", "HOME", "SHELL",
	"SSH_ORIGINAL_COMMAND", "SSH_USER_AUTH", "SSH_TTY", "SSH_CONNECTION", "SSH_CLIENT", "SSH_AUTH_SOCK",
	"GODEBUG", "GOTRACEBACK",
}

// sshdSets are the variables sshd sets itself in every session, after it
// copies the client's AcceptEnv ones, so that a client's value never
// arrives. SSH_TTY, SSH_ORIGINAL_COMMAND and SSH_AUTH_SOCK are not: sshd
// sets them only with a pty, a command or an agent, and a client that asks
// for none keeps its own. TestSSHDOverridesClientEnv checks this list.
var sshdSets = map[string]bool{
	"USER": true, "LOGNAME": true, "HOME": true, "PATH": true, "SHELL": true,
	"SSH_CLIENT": true, "SSH_CONNECTION": true,
}

// sshdOverrides reports whether sshd replaces a client's value of name on
// the connection e is the config of: always for sshdSets, SSH_USER_AUTH
// with ExposeAuthInfo yes, and what SetEnv sets, which also comes after.
func sshdOverrides(name string, e effective) bool {
	return sshdSets[name] || name == "SSH_USER_AUTH" && e.get("exposeauthinfo") == "yes" ||
		slices.ContainsFunc(e["setenv"], func(kv string) bool { return strings.SplitN(kv, "=", 2)[0] == name })
}

// dangerousMatches lists the dangerous variables a pattern-list lets in.
func dangerousMatches(patterns []string) []string {
	var out []string
	for _, name := range dangerousEnv {
		if slices.ContainsFunc(patterns, func(p string) bool { return matchPatternList(name, p) }) {
			out = append(out, name)
		}
	}
	return out
}

// knob reports f when sshd's value of key is not safe. Its setting is the
// value and suffix; its keys default to key.
func knob(e effective, key, safe, suffix string, f finding) []finding {
	v := e.get(key)
	if v == safe {
		return nil
	}
	f.Setting = key + " " + v + suffix
	if f.Keys == nil {
		f.Keys = []string{key}
	}
	return []finding{f}
}

// checkSSHD lists what e, sshd's settings for one connection, leaves open.
func (a *auditor) checkSSHD(e effective) []finding {
	out := a.checkForceCommand(e)
	out = append(out, checkForwarding(e)...)
	out = append(out, a.checkSetEnv(e)...)
	out = append(out, knob(e, "permittunnel", "no", "", finding{ID: "tunnel", Severity: sevHigh,
		Problem: "sshd sets up tun/tap devices (ssh -w) without opening a session, so logingate never runs; DisableForwarding does not cover tunnels",
		Attack:  "with the key alone, ssh -w routes IP traffic between the client and every network this host reaches",
		Want:    "PermitTunnel no"})...)
	out = append(out, knob(e, "permituserrc", "no", "", finding{ID: "user-rc", Severity: sevHigh,
		Problem: "sshd runs ~/.ssh/rc as the user before the ForceCommand",
		Attack:  "whoever once writes ~/.ssh/rc (after one login with the second factor, or through a shared or writable home) runs code on every later login with the key alone, before logingate asks anything",
		Want:    "PermitUserRC no"})...)
	if v := e.raw("permituserenvironment"); strings.ToLower(v) != "no" {
		sev, which := sevHigh, "any variable"
		if bad := dangerousMatches([]string{v}); strings.ToLower(v) != "yes" && len(bad) > 0 {
			which = "variables including " + strings.Join(bad, ", ")
		} else if strings.ToLower(v) != "yes" {
			sev, which = sevLow, "the variables "+v
		}
		out = append(out, finding{ID: "user-environment", Severity: sev, Setting: "permituserenvironment " + v,
			Problem: "sshd reads ~/.ssh/environment and authorized_keys environment=\"...\" into the environment logingate starts with: " + which,
			Attack:  "put LD_PRELOAD (or BASH_ENV for the shell that runs the ForceCommand) there once, and every later login with the key alone runs code inside the gate before it asks",
			Want:    "PermitUserEnvironment no", Keys: []string{"permituserenvironment"}})
	}
	out = append(out, a.checkAcceptEnv(e)...)
	return append(out, knob(e, "exposeauthinfo", "yes", "", finding{ID: "exposeauthinfo", Severity: sevMedium,
		Problem: "sshd does not tell logingate which key logged in (no SSH_USER_AUTH), so it cannot honour a key's own command=\"...\" or tie a trusted session to a key",
		Attack:  "a key restricted in authorized_keys with command=\"...\" (a backup or deploy key) gets a full shell after the second factor, since the ForceCommand replaces the key's command",
		Want:    "ExposeAuthInfo yes"})...)
}

// checkForwarding: every kind of forwarding works without a session, so
// without the gate. DisableForwarding yes overrides the others, although
// sshd -T still prints them as they are set.
func checkForwarding(e effective) []finding {
	if e.get("disableforwarding") == "yes" {
		return nil
	}
	var out []finding
	tcp := e.get("allowtcpforwarding")
	local := (tcp == "yes" || tcp == "all" || tcp == "local") && e.get("permitopen") != "none"
	remote := (tcp == "yes" || tcp == "all" || tcp == "remote") && e.get("permitlisten") != "none"
	if local || remote {
		var what []string
		attack := "with the key alone, ssh -N -R makes this host listen for the attacker, also while a second-factor prompt waits"
		if local {
			what = append(what, "ssh -L, -D and -W (ProxyJump) open connections from this host (permitopen "+e.raw("permitopen")+")")
			attack = "with the key alone, ssh -N -D 1080 gives a SOCKS proxy into every network this host reaches; the second-factor prompt is never shown (ssh -N opens no session), and ssh -O forward adds forwards to a multiplexed connection later"
		}
		if remote {
			what = append(what, "ssh -R opens listening ports on this host (permitlisten "+e.raw("permitlisten")+")")
		}
		out = append(out, finding{ID: "tcp-forwarding", Severity: sevHigh,
			Setting: fmt.Sprintf("allowtcpforwarding %s, permitopen %s, permitlisten %s, disableforwarding no", tcp, e.raw("permitopen"), e.raw("permitlisten")),
			Problem: strings.Join(what, "; ") + "; sshd does this without a session, so logingate never runs",
			Attack:  attack,
			Want:    "DisableForwarding yes", Keys: []string{"disableforwarding", "allowtcpforwarding", "permitopen", "permitlisten"}})
		if remote {
			out = append(out, knob(e, "gatewayports", "no", "", finding{ID: "gateway-ports", Severity: sevMedium,
				Problem: "remote forwards may listen on every address of this host, not only on loopback",
				Attack:  "ssh -N -R 0.0.0.0:8080:target:80 publishes a port of the attacker's choosing on this host's network address, with the key alone",
				Want:    "GatewayPorts no"})...)
		}
	}
	const dfNo = ", disableforwarding no"
	out = append(out, knob(e, "allowstreamlocalforwarding", "no", dfNo, finding{ID: "streamlocal-forwarding", Severity: sevHigh,
		Problem: "ssh -L and -R forward Unix sockets without a session, so logingate never runs",
		Attack:  "with the key alone, reach any Unix socket the user may open on this host (a database, docker.sock for a member of the docker group) through ssh -N -L /tmp/s:/run/socket",
		Want:    "AllowStreamLocalForwarding no", Keys: []string{"allowstreamlocalforwarding", "disableforwarding"}})...)
	out = append(out, knob(e, "allowagentforwarding", "no", dfNo, finding{ID: "agent-forwarding", Severity: sevMedium,
		Problem: "sshd offers the client's agent on this host (SSH_AUTH_SOCK) as soon as the session starts, while the second-factor prompt still waits",
		Attack:  "a process already running as this user (or root) uses the forwarded agent to log in elsewhere as the client, even if the second factor is never given",
		Want:    "AllowAgentForwarding no", Keys: []string{"allowagentforwarding", "disableforwarding"}})...)
	return append(out, knob(e, "x11forwarding", "no", dfNo, finding{ID: "x11-forwarding", Severity: sevMedium,
		Problem: "sshd sets up an X11 listener on this host and runs xauth as the user before the ForceCommand runs",
		Attack:  "before any second factor, the client gets a display listener on this host that connects back to it, and xauth runs in an environment the user may steer",
		Want:    "X11Forwarding no", Keys: []string{"x11forwarding", "disableforwarding"}})...)
}

// checkAcceptEnv: variables the client may send reach the shell that runs
// the gate, and the gate.
func (a *auditor) checkAcceptEnv(e effective) []finding {
	var extra, bad, code, spoof []string
	for _, p := range e["acceptenv"] {
		// A plain name sshd sets itself after the client's is accepted
		// in vain: the client's value never arrives.
		if !allowedEnv[p] && (hasWildcard(p) || strings.Contains(p, ",") || !sshdOverrides(p, e)) {
			extra = append(extra, p)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	f := finding{ID: "acceptenv", Severity: sevLow, Setting: "acceptenv " + strings.Join(e["acceptenv"], " "), Keys: []string{"acceptenv"},
		Want:    "AcceptEnv LANG LC_*",
		Problem: fmt.Sprintf("sshd accepts %s from the client, beyond LANG LC_* LOGINGATE_PASSCODE DUO_PASSCODE", strings.Join(extra, " ")),
		Attack:  "the client sets these for the gate and the session; none is known to be dangerous, but nothing needs them"}
	for _, name := range dangerousMatches(extra) {
		if sshdOverrides(name, e) {
			continue
		}
		bad = append(bad, name)
		if strings.HasPrefix(name, "SSH_") {
			spoof = append(spoof, name)
		} else {
			code = append(code, name)
		}
	}
	if len(bad) > 0 {
		names := strings.Join(bad, ", ")
		if len(bad) > 6 {
			names = fmt.Sprintf("%s and %d more", strings.Join(bad[:6], ", "), len(bad)-6)
		}
		f.Severity = sevHigh
		f.Problem = fmt.Sprintf("sshd accepts %s from the client, which lets in %s (sshd does not set these itself after the client's)", strings.Join(extra, " "), names)
		var attacks []string
		if len(code) > 0 {
			attacks = append(attacks, "the client sends SHELLOPTS=xtrace with PS4='$(cmd)' (or BASH_ENV, LD_PRELOAD of a file on this host) and the shell that starts logingate runs cmd before the prompt")
		}
		if len(spoof) > 0 {
			attacks = append(attacks, "the client fakes "+strings.Join(spoof, ", ")+" for the gate, which trusts sshd to set them")
		}
		f.Attack = strings.Join(attacks, "; ")
	}
	var lines []string
	for _, s := range a.cfg.globalAll("acceptenv") {
		if slices.ContainsFunc(s.Args, func(arg string) bool { return !allowedEnv[arg] }) {
			lines = append(lines, fmt.Sprintf("%s (%s)", quoteCmd(s.At.Text), s.At))
		}
	}
	if len(lines) > 0 {
		f.Fix = "delete " + strings.Join(lines, " and ") + "; AcceptEnv adds up across lines, so only `AcceptEnv LANG LC_*` (and LOGINGATE_PASSCODE if you use accept_env_factor) should remain"
	}
	return []finding{f}
}

// quoteCmd shows a config line or command in backquotes.
func quoteCmd(s string) string { return "`" + s + "`" }
