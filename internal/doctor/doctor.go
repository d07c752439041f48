// Package doctor is `logingate doctor`: it audits this host for every way
// around a ForceCommand gate (the classes docs/logingate.1 lists under
// doctor) and for unsafe ownership of
// logingate's own binary, config and state.
//
// sshd decides what applies, not doctor: it runs `sshd -T` and `sshd -T -C`
// for root, an ordinary user, the users and addresses the caller names, and
// one connection per Match block (a member of each Match Group, an address
// in each Match Address, ...), found by solving the block's pattern-lists,
// "!" patterns included (solve.go); it also asks about a user and an
// address inside each "!" pattern, which the block leaves out. It judges
// each effective config. It reads the
// config files itself only to find those Match blocks and to name the line a
// fix must change. Each finding says what is open, for which connections,
// what an attacker does with it, and the line that closes it.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Severity ranks a finding. Any High finding fails the audit.
type Severity string

// Severities, worst first.
const (
	High   Severity = "high"
	Medium Severity = "medium"
	Low    Severity = "low"
	Info   Severity = "info"
)

// Finding is one problem (or, at Info, one fact worth knowing).
type Finding struct {
	ID       string   `json:"id"`       // stable name: "tcp-forwarding", "forcecommand-missing", ...
	Severity Severity `json:"severity"` // high, medium, low, info
	Setting  string   `json:"setting"`  // the effective value at fault, as sshd -T prints it
	Context  string   `json:"context"`  // the connections it applies to ("user=bob addr=..."), or the host
	Problem  string   `json:"problem"`
	Attack   string   `json:"attack"` // what someone with only a stolen key (or one past login) does with it
	Fix      string   `json:"fix"`    // the exact line or command that closes it, and where
}

// Summary counts findings by severity and lists the connections checked.
type Summary struct {
	High     int      `json:"high"`
	Medium   int      `json:"medium"`
	Low      int      `json:"low"`
	Info     int      `json:"info"`
	Contexts []string `json:"contexts"` // every connection sshd was asked about
	Pass     bool     `json:"pass"`     // no high finding
}

// Report is the whole audit.
type Report struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// Options says what to audit. Empty fields take the defaults of Main.
type Options struct {
	SSHD       string   // sshd binary (/usr/sbin/sshd)
	SSHDConfig string   // sshd -f (/etc/ssh/sshd_config)
	PAM        string   // sshd's PAM service file (/etc/pam.d/sshd)
	Binary     string   // the logingate binary (the running executable)
	Config     string   // logingate's config; "" takes ForceCommand's -c, else config.DefaultPath
	Users      []string // extra users to check
	Addrs      []string // extra client addresses to check
	SSHDir     string   // base of relative Include paths (/etc/ssh)
	LoginDefs  string   // CHFN_RESTRICT, for send_gecos (/etc/login.defs)

	dir directory // users and groups; getent when nil
}

// hostContext is the context of findings about the host, not a connection.
const hostContext = "this host"

// Run audits the host. Its error means sshd -T could not run at all (an
// *sshdError says why); everything else is a finding.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	a := &auditor{o: o, gateBins: map[string]bool{}}
	if abs, err := filepath.Abs(o.Binary); err == nil {
		a.binary = abs
	} else {
		a.binary = o.Binary
	}
	if a.o.dir == nil {
		a.o.dir = newGetent()
	}
	a.cfg = readSSHDConfig(o.SSHDConfig, o.SSHDir, readLimited, filepath.Glob)

	runner := &sshdT{sshd: o.SSHD, config: o.SSHDConfig, timeout: 30 * time.Second}
	if os.Geteuid() != 0 {
		if err := a.useThrowawayKey(ctx, runner); err != nil {
			return nil, err
		}
	}
	defer a.cleanup()
	base, err := runner.run(ctx, "")
	var se *sshdError
	if errors.As(err, &se) && runner.hostKey == "" && strings.Contains(se.Msg, "no hostkeys available") {
		if err := a.useThrowawayKey(ctx, runner); err != nil {
			return nil, err
		}
		base, err = runner.run(ctx, "")
	}
	if err != nil && errors.As(err, &se) && strings.Contains(se.Msg, specMissing) {
		// A Match LocalPort or LocalAddress block: plain sshd -T refuses
		// to run. Every probe passes laddr and lport, so go on without it.
		a.hostFinding(Finding{ID: "default-context", Severity: Info, Setting: "sshd -T",
			Problem: "plain sshd -T refuses this config (" + se.Msg + "), so only sshd -T -C connections were checked",
			Attack:  "none", Fix: "none needed"})
		base, err = nil, nil
	}
	if err != nil {
		return nil, err
	}

	lport := defaultLPort
	if base != nil {
		if p := base.raw("port"); isPort(p) {
			lport = p
		}
	}
	list, truncated, unsolved := probes(a.cfg, a.o.dir, o.Users, o.Addrs, lport)
	for _, u := range unsolved {
		a.hostFinding(unsolvedFinding(u))
	}
	if truncated {
		a.hostFinding(Finding{ID: "probes-truncated", Severity: Info, Setting: fmt.Sprintf("%d connections", maxProbes),
			Problem: "the Match blocks name more users and addresses than doctor asks sshd about; the rest were not checked",
			Attack:  "none", Fix: "check the others with --user and --addr"})
	}
	if base != nil {
		list = append([]probe{{Default: true}}, list...)
	}
	effs := make([]effective, len(list))
	for i := range list {
		p := &list[i]
		switch {
		case p.Default:
			effs[i] = base
		case p.Synthetic:
			continue // laid over the reference below
		default:
			if effs[i], err = runner.run(ctx, p.spec()); err != nil {
				return nil, err
			}
		}
	}
	ref := base
	if ref == nil {
		ref = effs[0]
	}
	for i := range list {
		if list[i].Synthetic {
			effs[i] = overlay(ref, list[i].Origin)
		}
	}

	a.audit(list, effs, ref)
	a.checkPAM(ref)
	a.checkFiles(ref)
	for _, p := range a.cfg.Problems {
		a.hostFinding(Finding{ID: "sshd-config-unread", Severity: Info, Setting: o.SSHDConfig,
			Problem: "doctor could not follow the sshd config fully (" + p + "); sshd -T still judged it, but Match blocks there were not probed",
			Attack:  "none", Fix: "run doctor as root"})
	}
	return a.report(list), nil
}

func (o *Options) defaults() {
	if o.SSHD == "" {
		o.SSHD = "/usr/sbin/sshd"
	}
	if o.SSHDConfig == "" {
		o.SSHDConfig = "/etc/ssh/sshd_config"
	}
	if o.PAM == "" {
		o.PAM = "/etc/pam.d/sshd"
	}
	if o.Binary == "" {
		if exe, err := os.Executable(); err == nil {
			o.Binary = exe
		}
	}
	if o.SSHDir == "" {
		o.SSHDir = "/etc/ssh"
	}
	if o.LoginDefs == "" {
		o.LoginDefs = "/etc/login.defs"
	}
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// readLimited reads a config file of at most maxConfigSize bytes (one more
// tells the caller it was larger).
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxConfigSize+1))
}

// auditor collects findings during one Run.
type auditor struct {
	o        Options
	binary   string // absolute
	cfg      *sshdConfig
	keyDir   string          // throwaway host key, removed by cleanup
	gateBins map[string]bool // absolute logingate paths ForceCommand names
	found    []rawFinding
}

// rawFinding is a finding for one probe (or the host) before merging.
type rawFinding struct {
	Finding
	probe int // index into the probe list, -1 for the host
}

func (a *auditor) useThrowawayKey(ctx context.Context, r *sshdT) error {
	key, dir, err := throwawayHostKey(ctx, r.sshd)
	if err != nil {
		return &sshdError{Msg: err.Error(), Hint: "run doctor as root, or install ssh-keygen"}
	}
	a.keyDir, r.hostKey = dir, key
	return nil
}

func (a *auditor) cleanup() {
	if a.keyDir != "" {
		os.RemoveAll(a.keyDir)
	}
}

func (a *auditor) hostFinding(f Finding) {
	if f.Context == "" {
		f.Context = hostContext
	}
	a.found = append(a.found, rawFinding{f, -1})
}

// gatePath is the logingate a fix should name.
func (a *auditor) gatePath() string {
	if a.binary != "" {
		return a.binary
	}
	return "/usr/bin/logingate"
}

func (a *auditor) noteGateBinary(p string) { a.gateBins[p] = true }

// audit judges each probe's settings. An issue the reference connection
// (the default) does not have comes from a Match block, and its fix names
// that block.
func (a *auditor) audit(list []probe, effs []effective, ref effective) {
	refIssues := map[string]bool{}
	for _, is := range a.checkSSHD(ref) {
		refIssues[is.ID+"\x00"+is.Setting] = true
	}
	for i := range list {
		p := &list[i]
		for _, is := range a.checkSSHD(effs[i]) {
			fromMatch := !p.Default && !refIssues[is.ID+"\x00"+is.Setting]
			f := Finding{ID: is.ID, Severity: is.Severity, Setting: is.Setting, Problem: is.Problem, Attack: is.Attack}
			f.Fix = a.wordFix(is, p, fromMatch)
			if fromMatch && p.Origin != nil && p.Synthetic {
				f.Problem += " (a Match Group block: evaluated from its lines, since the group has no members now)"
			}
			a.found = append(a.found, rawFinding{f, i})
		}
	}
}

// wordFix says which line to change, and where.
func (a *auditor) wordFix(is issue, p *probe, fromMatch bool) string {
	if fromMatch {
		if fix := a.matchFix(is, p); fix != "" {
			return fix
		}
	}
	if is.Fix != "" {
		return is.Fix
	}
	want := quoteCmd(is.Want)
	if s := a.cfg.firstGlobal(is.Keys[0]); s != nil {
		fix := fmt.Sprintf("change %s (%s) to %s", quoteCmd(s.At.Text), s.At, want)
		// A line of the main config after the Include (Debian's
		// X11Forwarding yes) also yields to the drop-in.
		if path, inc, ok := a.cfg.dropin(); ok && inc.File == s.At.File && inc.Seq < s.At.Seq {
			fix += fmt.Sprintf(", or put %s in %s, which sshd reads first", want, path)
		}
		return fix
	}
	return "add " + want + " to " + a.dropinWhere()
}

// dropinWhere names the file a new global line belongs in.
func (a *auditor) dropinWhere() string {
	if path, _, ok := a.cfg.dropin(); ok {
		return path
	}
	return "the top of " + a.o.SSHDConfig + ", before any Include or Match line"
}

// matchFix names the Match block line behind an issue, or "".
func (a *auditor) matchFix(is issue, p *probe) string {
	blocks := a.cfg.blocksSetting(is.Keys...)
	if len(blocks) == 0 {
		return ""
	}
	b := blocks[0]
	for _, c := range blocks {
		if c == p.Origin {
			b = c
		}
	}
	for _, k := range is.Keys {
		s := b.first(k)
		if s == nil {
			continue
		}
		alt := ", or change it to " + quoteCmd(is.Want)
		switch {
		case is.Want == "": // nothing to keep
			alt = ""
		case k != is.Keys[0]:
			alt = ", or add " + quoteCmd(is.Want) + " to that block"
		}
		return fmt.Sprintf("delete %s (%s) from the Match block at %s (%s), so that the global setting applies%s",
			quoteCmd(s.At.Text), s.At, b.At, quoteCmd(b.At.Text), alt)
	}
	return ""
}

// overlay lays a Match block's lines over ref, as sshd would for a
// connection the block matches: a block's first value for a keyword wins
// (its first SetEnv line, whole), and AcceptEnv lines in a block replace
// the global list.
func overlay(ref effective, b *matchBlock) effective {
	e := effective{}
	for k, v := range ref {
		e[k] = v
	}
	set := map[string]bool{}
	for _, s := range b.Lines {
		val := strings.Join(s.Args, " ")
		if s.Key == "forcecommand" {
			val = rawValue(s.At.Text) // sshd keeps ForceCommand's text as written
		}
		switch {
		case s.Key == "acceptenv":
			if !set[s.Key] {
				e[s.Key] = nil
			}
			e[s.Key] = append(e[s.Key], s.Args...)
		case s.Key == "setenv" && !set[s.Key]:
			e[s.Key] = append([]string(nil), s.Args...) // one value a variable, as sshd -T prints them
		case !set[s.Key]:
			e[s.Key] = []string{val}
		}
		set[s.Key] = true
	}
	return e
}

// rawValue is a config line's text after its keyword (and any "=").
func rawValue(text string) string {
	i := strings.IndexAny(text, " \t=")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(text[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return strings.TrimSpace(rest)
}
