package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/privilege"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/voice"
)

// checkFiles checks logingate's binaries, config and state directory.
func (a *auditor) checkFiles(ref effective) {
	bins := append([]string{a.binary}, slices.Sorted(maps.Keys(a.gateBins))...)
	seen := map[string]bool{}
	for _, b := range bins {
		if b == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(b)
		if err != nil {
			a.hostFinding(missingBinary(b, err))
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		a.pathFindings("binary-perms", "logingate binary "+b, b,
			"whoever can change the binary or a directory on its path replaces the gate with one that lets everyone in, and runs code as every user who logs in")
	}

	path, from := a.o.Config, "--config"
	if path == "" {
		path, from = config.DefaultFile(config.DefaultPath, config.LoginDuoPath), "default"
		if words, _, _ := shellSplit(ref.raw("forcecommand")); len(words) > 0 && isGate(words[0], a.binary) {
			if g, err := gateFlags(words); err == nil && g.Explicit {
				path, from = g.Config, "ForceCommand -c"
			}
		}
	}
	setting := "config " + path + " (" + from + ")"
	gid := gateGroup(bins)
	if from == "ForceCommand -c" && gid >= 0 {
		a.namedConfigFinding(setting, path)
	}
	if n := a.pathFindings("config-perms", setting, path,
		"whoever can write the config, or swap a directory on its path, switches the second factor off for everyone (groups, unenrolled: allow) or points state_dir at their own files"); n > 0 {
		return // Load would refuse it too; state_dir is checked once it is fixed
	}
	host, _ := os.Hostname()
	cfg, err := config.Load(path, host)
	if err != nil {
		problem := "logingate cannot load its config: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		if os.Geteuid() != 0 {
			problem += " (doctor is not running as root)"
		}
		a.hostFinding(finding{ID: "config", Severity: sevHigh, Setting: setting, Problem: problem + "; state_dir was not checked",
			Attack: "none through the config itself: the gate denies every gated login while it cannot load it (fail closed), which locks out everyone, root included",
			Fix:    "fix what it names, then run: logingate check-config -c " + privilege.ShellQuote(path)})
		return
	}
	files := []string{path}
	if cfg.Duo != nil {
		files = append(files, cfg.Duo.SKeyFile, cfg.Duo.CAFile)
	}
	if cfg.Radius != nil {
		for _, s := range cfg.Radius.Servers {
			files = append(files, s.SecretFile)
		}
	}
	if cfg.Store.Backend == config.BackendPostgres {
		files = append(files, cfg.Store.DSNFile, cfg.Store.KeyFile)
	}
	for _, f := range files {
		if f != "" {
			a.readableByGate(f, gid)
		}
	}
	if cfg.LocalFactors {
		a.hostFinding(stateDirVerdict(cfg.StateDir, gid))
	}
	if defs, _ := readLimited(a.o.LoginDefs); cfg.Duo.GECOSUserChangeable(defs) {
		a.hostFinding(finding{ID: "duo-gecos", Severity: sevHigh, Setting: setting + ": send_gecos",
			Problem: "the GECOS field sent as the Duo username is one that users may change with chfn (CHFN_RESTRICT in " + a.o.LoginDefs + ")",
			Attack:  "a user writes another person's Duo username into their own GECOS, and approves their logins with their own phone",
			Fix:     "remove that field's letter from CHFN_RESTRICT in " + a.o.LoginDefs + " (f: full name, r: room, w: work phone, h: home phone)"})
	}
}

// readableByGate reports a file the privileged gate (running as the user,
// with group gid) cannot read: every gated login would then fail closed.
// login_duo's own config is the usual case: mode 600 for its privsep user;
// a secret file (Duo's skey, a RADIUS shared secret, the store's DSN or
// keys) left root:root 0600 is the other.
func (a *auditor) readableByGate(path string, gid int) {
	if gid < 0 {
		return // not installed privileged: the gate reads as the user, who is not root
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return // Load has read it, as root; nothing more to say here
	}
	if st.Mode&0o004 != 0 || (int(st.Gid) == gid && st.Mode&0o040 != 0) {
		return
	}
	group := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	a.hostFinding(finding{ID: "config-unreadable", Severity: sevHigh, Setting: path,
		Problem: fmt.Sprintf("%s is mode %04o, group %d: the gate, which runs as the user with logingate's group (%d), cannot read it, so every gated login is denied",
			path, st.Mode&0o7777, st.Gid, gid),
		Attack: "none: logins fail closed, which locks out everyone the gate guards",
		Fix:    fmt.Sprintf("chown root:%s %s && chmod 640 %s", group, privilege.ShellQuote(path), privilege.ShellQuote(path))})
}

// gateGroup returns the group a setgid gate binary runs with, or -1 when
// the gate is not installed privileged.
func gateGroup(bins []string) int {
	for _, b := range bins {
		var st syscall.Stat_t
		if b != "" && syscall.Stat(b, &st) == nil && st.Mode&syscall.S_ISGID != 0 {
			return int(st.Gid)
		}
	}
	return -1
}

// pathFindings reports what makes path untrusted under the one path-trust
// rule (privilege.Check: root's along the whole path, links followed
// through the same checks) as one finding, and returns how many problems
// it found.
func (a *auditor) pathFindings(id, setting, path, attack string) int {
	probs, err := privilege.Check(path, privilege.Rule{Links: true})
	if err != nil || len(probs) == 0 {
		return 0
	}
	var ps, fixes []string
	for _, p := range probs {
		ps = append(ps, p.Problem)
		if p.Fix != "" {
			fixes = append(fixes, p.Fix)
		}
	}
	a.hostFinding(finding{ID: id, Severity: sevHigh, Setting: setting,
		Problem: strings.Join(ps, "; "), Attack: attack, Fix: strings.Join(fixes, "; ")})
	return len(probs)
}

// stateDirVerdict judges the state directory by the store's own rule
// (filestore.CheckStateDir): a setgid gate (gid >= 0) expects the protected
// layout, root:GROUP with no access for others; without one, each user owns
// their own state in a directory of root's. What the store refuses, the
// gate refuses, denying every login that needs state. Of what it accepts,
// doctor still says who can list the enrolled, and that in the per-user
// layout users can reach their own secrets.
func stateDirVerdict(dir string, gid int) finding {
	f := finding{ID: "state-dir", Setting: "state_dir " + dir, Context: hostContext, Severity: sevHigh}
	var group *int
	who, attack := "logingate", "none while it refuses (fail closed), but gated users cannot log in; loosened by hand, users could remove or replace each other's state (secrets, used codes, failure counts)"
	if gid >= 0 {
		group, who = &gid, "the gate"
		attack = "none while it refuses (fail closed), but nobody gated can log in; loosened by hand, users could reach their own secrets"
	}
	err := filestore.CheckStateDir(dir, group)
	var ce *filestore.CheckError
	var st syscall.Stat_t
	if errors.Is(err, fs.ErrNotExist) || syscall.Lstat(dir, &st) != nil {
		if gid < 0 {
			f.Severity = sevLow
		}
		f.Problem = "the state directory cannot be checked: " + voice.ErrnoText(err) + "; " + who + " denies every login that needs state"
		f.Fix = "make it a directory root can examine, and run doctor as root"
		if errors.As(err, &ce) {
			f.Problem, f.Fix = ce.Problem+"; "+who+" denies every login that needs state", ce.Fix
		}
		f.Attack = "none: logingate fails closed, but gated users cannot log in"
		return f
	}
	mode := st.Mode & 0o7777
	f.Setting = fmt.Sprintf("state_dir %s (mode %04o, uid %d, gid %d)", dir, mode, st.Uid, st.Gid)
	if gid < 0 {
		mode &= 0o1777
		f.Setting = fmt.Sprintf("state_dir %s (mode %04o, uid %d)", dir, mode, st.Uid)
	}
	switch {
	case errors.As(err, &ce):
		f.Problem, f.Fix, f.Attack = ce.Problem+"; "+who+" refuses it, so it denies every login that needs state", ce.Fix, attack
	case err != nil:
		f.Problem, f.Attack = "the state directory cannot be checked: "+voice.ErrnoText(err)+"; "+who+" denies every login that needs state", attack
		f.Fix = "make it a directory root can examine, and run doctor as root"
	case gid >= 0:
		f.Severity, f.Fix = sevInfo, "none needed"
		f.Problem = fmt.Sprintf("%s is the protected layout: root:%d, mode %04o; the users it protects cannot enter it", dir, gid, mode)
		f.Attack = "none: secrets and counters are out of the users' reach"
	case mode&0o004 != 0 && mode&0o002 != 0:
		f.Severity, f.Fix = sevLow, "chmod 1733 "+privilege.ShellQuote(dir)
		f.Problem = fmt.Sprintf("%s (mode %04o) lets every user list who has enrolled", dir, mode)
		f.Attack = "learn which accounts have a second factor, and which do not yet"
	default:
		f.Severity = sevMedium
		f.Problem = fmt.Sprintf("%s has mode %04o and belongs to root, as the unprivileged per-user layout expects; in that layout each user owns their own state and can read and change it, secret included, from their own shell", dir, mode)
		f.Attack = "a user who has passed the gate once can copy their own TOTP secret or reset their own counters; other users' state is out of reach"
		f.Fix = "install the gate privileged: make install (a setgid binary, and logingate migrate moves this state where users cannot reach it)"
	}
	return f
}

// namedConfigFinding reports a ForceCommand -c path that the setgid gate,
// run by each user who logs in, refuses under the rule for a caller's -c
// (privilege.For(true): no symbolic link, no "..", absolute), beyond what
// config-perms reports: every gated login would be denied.
func (a *auditor) namedConfigFinding(setting, path string) {
	strict, err := privilege.Check(path, privilege.Rule{})
	if err != nil {
		return // config-perms or config says why it cannot be read
	}
	root, _ := privilege.Check(path, privilege.Rule{Links: true})
	known := map[string]bool{}
	for _, p := range root {
		known[p.Problem] = true
	}
	var ps []string
	for _, p := range strict {
		if !known[p.Problem] {
			ps = append(ps, p.Problem)
		}
	}
	if len(ps) == 0 {
		return
	}
	fix := "name the config by its real path in ForceCommand (-c), with no link and no \"..\""
	if real, err := filepath.EvalSymlinks(path); err == nil && filepath.IsAbs(path) {
		fix = "ForceCommand ... -c " + privilege.ShellQuote(real)
	}
	a.hostFinding(finding{ID: "config-path-refused", Severity: sevHigh, Setting: setting,
		Problem: "the setgid gate, run as each user who logs in, refuses this -c path: " + strings.Join(ps, "; "),
		Attack:  "none: every gated login is denied (fail closed), which locks out everyone the gate guards",
		Fix:     fix})
}
