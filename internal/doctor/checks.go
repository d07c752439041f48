package doctor

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// issue is one problem sshd's effective settings leave open for a probe,
// before its fix is worded: Want is the line that closes it, Keys the
// keywords (Keys[0] the one Want sets) whose lines may be at fault.
type issue struct {
	ID       string
	Severity Severity
	Setting  string
	Problem  string
	Attack   string
	Want     string
	Keys     []string
	Fix      string // set when the fix is not simply "make Keys[0] say Want"
}

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

// sshdSets are the variables sshd sets itself after it copies the
// client's AcceptEnv variables (do_setup_env in OpenSSH's session.c), in
// every session a client can ask for, so that a client's value never
// arrives. SSH_TTY, SSH_ORIGINAL_COMMAND and SSH_AUTH_SOCK are not among
// them: sshd sets those only with a pty, a command or agent forwarding, and
// a client that asks for none keeps its own. TestSSHDOverridesClientEnv
// checks this list against the real sshd.
var sshdSets = map[string]bool{
	"USER": true, "LOGNAME": true, "HOME": true, "PATH": true, "SHELL": true,
	"SSH_CLIENT": true, "SSH_CONNECTION": true,
}

// sshdOverrides reports whether sshd replaces a client's value of name on
// the connection e is the config of: always for sshdSets, SSH_USER_AUTH
// with ExposeAuthInfo yes, and what SetEnv sets, which also comes after.
func sshdOverrides(name string, e effective) bool {
	if sshdSets[name] || name == "SSH_USER_AUTH" && e.get("exposeauthinfo") == "yes" {
		return true
	}
	for _, kv := range e["setenv"] {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}

// dangerousMatches lists the dangerous variables a pattern-list lets in.
func dangerousMatches(patterns []string) []string {
	var out []string
	for _, name := range dangerousEnv {
		for _, p := range patterns {
			if matchPatternList(name, p) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// isGate reports whether a ForceCommand's first word runs logingate.
func isGate(word, binary string) bool {
	if word == "" {
		return false
	}
	if filepath.Base(word) == "logingate" || word == binary {
		return true
	}
	if binary != "" && filepath.IsAbs(word) {
		a, err1 := filepath.EvalSymlinks(word)
		b, err2 := filepath.EvalSymlinks(binary)
		return err1 == nil && err2 == nil && a == b
	}
	return false
}

// checkSSHD lists what e, sshd's settings for one connection, leaves open.
func (a *auditor) checkSSHD(e effective) []issue {
	var out []issue
	out = append(out, a.checkForceCommand(e)...)
	out = append(out, checkForwarding(e)...)
	out = append(out, a.checkSetEnv(e)...)

	if v := e.get("permittunnel"); v != "no" {
		out = append(out, issue{ID: "tunnel", Severity: High, Setting: "permittunnel " + v,
			Problem: "sshd sets up tun/tap devices (ssh -w) without opening a session, so logingate never runs; DisableForwarding does not cover tunnels",
			Attack:  "with the key alone, ssh -w routes IP traffic between the client and every network this host reaches",
			Want:    "PermitTunnel no", Keys: []string{"permittunnel"}})
	}
	if v := e.get("permituserrc"); v != "no" {
		out = append(out, issue{ID: "user-rc", Severity: High, Setting: "permituserrc " + v,
			Problem: "sshd runs ~/.ssh/rc as the user before the ForceCommand",
			Attack:  "whoever once writes ~/.ssh/rc (after one login with the second factor, or through a shared or writable home) runs code on every later login with the key alone, before logingate asks anything",
			Want:    "PermitUserRC no", Keys: []string{"permituserrc"}})
	}
	if v := e.raw("permituserenvironment"); strings.ToLower(v) != "no" {
		sev, which := High, "any variable"
		if strings.ToLower(v) != "yes" {
			if bad := dangerousMatches([]string{v}); len(bad) > 0 {
				which = "variables including " + strings.Join(bad, ", ")
			} else {
				sev, which = Low, "the variables "+v
			}
		}
		out = append(out, issue{ID: "user-environment", Severity: sev, Setting: "permituserenvironment " + v,
			Problem: "sshd reads ~/.ssh/environment and authorized_keys environment=\"...\" into the environment logingate starts with: " + which,
			Attack:  "put LD_PRELOAD (or BASH_ENV for the shell that runs the ForceCommand) there once, and every later login with the key alone runs code inside the gate before it asks",
			Want:    "PermitUserEnvironment no", Keys: []string{"permituserenvironment"}})
	}
	if is, ok := a.checkAcceptEnv(e); ok {
		out = append(out, is)
	}
	if v := e.get("exposeauthinfo"); v != "yes" {
		out = append(out, issue{ID: "exposeauthinfo", Severity: Medium, Setting: "exposeauthinfo " + v,
			Problem: "sshd does not tell logingate which key logged in (no SSH_USER_AUTH), so it cannot honour a key's own command=\"...\" or tie a trusted session to a key",
			Attack:  "a key restricted in authorized_keys with command=\"...\" (a backup or deploy key) gets a full shell after the second factor, since the ForceCommand replaces the key's command",
			Want:    "ExposeAuthInfo yes", Keys: []string{"exposeauthinfo"}})
	}
	return out
}

// checkForceCommand: the gate must be the ForceCommand of every connection.
func (a *auditor) checkForceCommand(e effective) []issue {
	fc := e.raw("forcecommand")
	want := "ForceCommand " + a.gatePath()
	if fc == "" || strings.EqualFold(fc, "none") {
		return []issue{{ID: "forcecommand-missing", Severity: High, Setting: "forcecommand none",
			Problem: "no ForceCommand applies: sshd runs the client's command or a login shell directly",
			Attack:  "log in, run commands, scp, sftp with the key alone: no second factor is asked",
			Want:    want, Keys: []string{"forcecommand"}}}
	}
	// The command up to any shell control operator; the rest is judged
	// below, once the first word is known to be the gate.
	head := fc
	op, at := shellControl(fc)
	if op != "" {
		head = fc[:at]
	}
	words := shellWords(head)
	first := ""
	if len(words) > 0 {
		first = words[0]
	}
	if !isGate(first, a.binary) {
		is := issue{ID: "forcecommand-other", Severity: High, Setting: "forcecommand " + fc,
			Problem: "the ForceCommand is not logingate",
			Attack:  "with the key alone the session runs " + quoteCmd(fc) + " and no second factor is asked",
			Want:    want, Keys: []string{"forcecommand"}}
		if problem, fix := a.shadowedGate(); problem != "" {
			is.Problem, is.Fix = problem, fix
		}
		return []issue{is}
	}
	if op != "" {
		want := strings.TrimSpace(head)
		return []issue{{ID: "forcecommand-chained", Severity: High, Setting: "forcecommand " + fc,
			Problem: "the ForceCommand is logingate and more: sshd runs the whole line with the user's shell, and " + quoteCmd(op) + " makes it run more than the gate, whatever the gate decides",
			Attack:  "with the key alone, answer the prompt wrongly or press Ctrl-C: the gate says no, and the rest of the line (" + quoteCmd(fc) + ") still runs, or runs first",
			Want:    "ForceCommand " + want, Keys: []string{"forcecommand"}}}
	}
	if filepath.IsAbs(first) {
		switch kind := a.gateProgram(first); kind {
		case progScript, progOther:
			what := "a script"
			if kind == progOther {
				what = "a program that is not logingate (it has no logingate build info)"
			}
			return []issue{{ID: "forcecommand-wrapper", Severity: High, Setting: "forcecommand " + fc,
				Problem: "the ForceCommand names " + first + ", which is " + what + ", not the logingate program: what it runs before, instead of, or after the gate decides, and doctor cannot tell",
				Attack:  "if it runs a shell or the command when the gate fails (or never runs the gate), the key alone logs in",
				Want:    "ForceCommand " + a.gatePath(), Keys: []string{"forcecommand"}}}
		}
	}
	if !filepath.IsAbs(first) {
		return []issue{{ID: "forcecommand-path", Severity: Low, Setting: "forcecommand " + fc,
			Problem: "the ForceCommand names logingate without a path, so the PATH of the shell sshd runs it with picks the program",
			Attack:  "a PATH set by shell start-up files or the environment runs another program named logingate instead of the gate",
			Want:    "ForceCommand " + a.gatePath() + strings.TrimPrefix(fc, first), Keys: []string{"forcecommand"}}}
	}
	a.noteGateBinary(first)
	return nil
}

// shadowedGate explains a ForceCommand that is not logingate when the
// config does name logingate on a later global line: sshd keeps the first.
func (a *auditor) shadowedGate() (problem, fix string) {
	all := a.cfg.globalAll("forcecommand")
	if len(all) < 2 {
		return "", ""
	}
	for _, s := range all[1:] {
		if len(s.Args) > 0 && isGate(s.Args[0], a.binary) {
			first := all[0]
			return fmt.Sprintf("logingate's ForceCommand at %s is shadowed: %s (%s) comes first, and sshd keeps the first ForceCommand it reads",
					s.At, first.At, quoteCmd(first.At.Text)),
				fmt.Sprintf("delete %s (%s), so that logingate's line at %s applies", quoteCmd(first.At.Text), first.At, s.At)
		}
	}
	return "", ""
}

// checkForwarding: every kind of forwarding works without a session, so
// without the gate. DisableForwarding yes overrides the others, although
// sshd -T still prints them as they are set.
func checkForwarding(e effective) []issue {
	if e.get("disableforwarding") == "yes" {
		return nil
	}
	var out []issue
	tcp := e.get("allowtcpforwarding")
	open, listen := e.get("permitopen"), e.get("permitlisten")
	local := (tcp == "yes" || tcp == "all" || tcp == "local") && open != "none"
	remote := (tcp == "yes" || tcp == "all" || tcp == "remote") && listen != "none"
	if local || remote {
		var what []string
		if local {
			what = append(what, "ssh -L, -D and -W (ProxyJump) open connections from this host (permitopen "+e.raw("permitopen")+")")
		}
		if remote {
			what = append(what, "ssh -R opens listening ports on this host (permitlisten "+e.raw("permitlisten")+")")
		}
		attack := "with the key alone, ssh -N -R makes this host listen for the attacker, also while a second-factor prompt waits"
		if local {
			attack = "with the key alone, ssh -N -D 1080 gives a SOCKS proxy into every network this host reaches; the second-factor prompt is never shown (ssh -N opens no session), and ssh -O forward adds forwards to a multiplexed connection later"
		}
		out = append(out, issue{ID: "tcp-forwarding", Severity: High,
			Setting: fmt.Sprintf("allowtcpforwarding %s, permitopen %s, permitlisten %s, disableforwarding no", tcp, e.raw("permitopen"), e.raw("permitlisten")),
			Problem: strings.Join(what, "; ") + "; sshd does this without a session, so logingate never runs",
			Attack:  attack,
			Want:    "DisableForwarding yes", Keys: []string{"disableforwarding", "allowtcpforwarding", "permitopen", "permitlisten"}})
		if gp := e.get("gatewayports"); remote && gp != "no" {
			out = append(out, issue{ID: "gateway-ports", Severity: Medium, Setting: "gatewayports " + gp,
				Problem: "remote forwards may listen on every address of this host, not only on loopback",
				Attack:  "ssh -N -R 0.0.0.0:8080:target:80 publishes a port of the attacker's choosing on this host's network address, with the key alone",
				Want:    "GatewayPorts no", Keys: []string{"gatewayports"}})
		}
	}
	if v := e.get("allowstreamlocalforwarding"); v != "no" {
		out = append(out, issue{ID: "streamlocal-forwarding", Severity: High, Setting: "allowstreamlocalforwarding " + v + ", disableforwarding no",
			Problem: "ssh -L and -R forward Unix sockets without a session, so logingate never runs",
			Attack:  "with the key alone, reach any Unix socket the user may open on this host (a database, docker.sock for a member of the docker group) through ssh -N -L /tmp/s:/run/socket",
			Want:    "AllowStreamLocalForwarding no", Keys: []string{"allowstreamlocalforwarding", "disableforwarding"}})
	}
	if v := e.get("allowagentforwarding"); v != "no" {
		out = append(out, issue{ID: "agent-forwarding", Severity: Medium, Setting: "allowagentforwarding " + v + ", disableforwarding no",
			Problem: "sshd offers the client's agent on this host (SSH_AUTH_SOCK) as soon as the session starts, while the second-factor prompt still waits",
			Attack:  "a process already running as this user (or root) uses the forwarded agent to log in elsewhere as the client, even if the second factor is never given",
			Want:    "AllowAgentForwarding no", Keys: []string{"allowagentforwarding", "disableforwarding"}})
	}
	if v := e.get("x11forwarding"); v != "no" {
		out = append(out, issue{ID: "x11-forwarding", Severity: Medium, Setting: "x11forwarding " + v + ", disableforwarding no",
			Problem: "sshd sets up an X11 listener on this host and runs xauth as the user before the ForceCommand runs",
			Attack:  "before any second factor, the client gets a display listener on this host that connects back to it, and xauth runs in an environment the user may steer",
			Want:    "X11Forwarding no", Keys: []string{"x11forwarding", "disableforwarding"}})
	}
	return out
}

// checkAcceptEnv: variables the client may send reach the shell that runs
// the gate, and the gate.
func (a *auditor) checkAcceptEnv(e effective) (issue, bool) {
	var extra []string
	for _, p := range e["acceptenv"] {
		// A plain name sshd sets itself after the client's is accepted
		// in vain: the client's value never arrives.
		if !allowedEnv[p] && (hasWildcard(p) || strings.Contains(p, ",") || !sshdOverrides(p, e)) {
			extra = append(extra, p)
		}
	}
	if len(extra) == 0 {
		return issue{}, false
	}
	is := issue{ID: "acceptenv", Setting: "acceptenv " + strings.Join(e["acceptenv"], " "), Keys: []string{"acceptenv"},
		Want: "AcceptEnv LANG LC_*"}
	var bad []string
	for _, name := range dangerousMatches(extra) {
		if !sshdOverrides(name, e) {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		is.Severity = High
		names := strings.Join(bad, ", ")
		if len(bad) > 6 {
			names = fmt.Sprintf("%s and %d more", strings.Join(bad[:6], ", "), len(bad)-6)
		}
		is.Problem = fmt.Sprintf("sshd accepts %s from the client, which lets in %s (sshd does not set these itself after the client's)", strings.Join(extra, " "), names)
		var code, spoof []string
		for _, n := range bad {
			if strings.HasPrefix(n, "SSH_") {
				spoof = append(spoof, n)
			} else {
				code = append(code, n)
			}
		}
		var attacks []string
		if len(code) > 0 {
			attacks = append(attacks, "the client sends SHELLOPTS=xtrace with PS4='$(cmd)' (or BASH_ENV, LD_PRELOAD of a file on this host) and the shell that starts logingate runs cmd before the prompt")
		}
		if len(spoof) > 0 {
			attacks = append(attacks, "the client fakes "+strings.Join(spoof, ", ")+" for the gate, which trusts sshd to set them")
		}
		is.Attack = strings.Join(attacks, "; ")
	} else {
		is.Severity = Low
		is.Problem = fmt.Sprintf("sshd accepts %s from the client, beyond LANG LC_* LOGINGATE_PASSCODE DUO_PASSCODE", strings.Join(extra, " "))
		is.Attack = "the client sets these for the gate and the session; none is known to be dangerous, but nothing needs them"
	}
	var lines []string
	for _, s := range a.cfg.globalAll("acceptenv") {
		for _, arg := range s.Args {
			if !allowedEnv[arg] {
				lines = append(lines, fmt.Sprintf("%s (%s)", quoteCmd(s.At.Text), s.At))
				break
			}
		}
	}
	if len(lines) > 0 {
		is.Fix = "delete " + strings.Join(lines, " and ") + "; AcceptEnv adds up across lines, so only `AcceptEnv LANG LC_*` (and LOGINGATE_PASSCODE if you use accept_env_factor) should remain"
	}
	return is, true
}

// shellWords splits a command line as sh would for plain words: blanks,
// single and double quotes, backslash escapes. No expansion.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// configFlag returns the -c FILE a logingate command line names, or "".
func configFlag(words []string) string {
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			return ""
		case w == "-c" && i+1 < len(words):
			return words[i+1]
		case strings.HasPrefix(w, "-c"):
			return w[2:]
		case w == "-f" || w == "-h":
			i++
		case !strings.HasPrefix(w, "-"):
			return ""
		}
	}
	return ""
}

// quoteCmd shows a config line or command in backquotes.
func quoteCmd(s string) string { return "`" + s + "`" }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
