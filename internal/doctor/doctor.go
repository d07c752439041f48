// Package doctor is `logingate doctor`: it audits this host for the ways
// around a ForceCommand gate that docs/logingate.1 lists under doctor, and
// for unsafe ownership of logingate's own binary, config and state.
//
// sshd decides what applies, not doctor: doctor asks sshd -T -C about root,
// an ordinary user, the caller's users and addresses, and a connection
// inside and outside each Match block (solved from its pattern-lists), and
// judges each answer. It reads the config files only to find those blocks
// and to name the line a fix must change.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// severity ranks a finding. Any high finding fails the audit.
type severity string

const (
	sevHigh   severity = "high"
	sevMedium severity = "medium"
	sevLow    severity = "low"
	sevInfo   severity = "info"
)

// finding is one problem (or, at info, one fact worth knowing). Want and
// Keys word the fix of an sshd setting: Want is the line that closes it,
// Keys the keywords (Keys[0] the one Want sets) whose lines may be at fault.
type finding struct {
	ID       string   `json:"id"`       // stable name: "tcp-forwarding", "forcecommand-missing", ...
	Severity severity `json:"severity"` // high, medium, low, info
	Setting  string   `json:"setting"`  // the effective value at fault, as sshd -T prints it
	Context  string   `json:"context"`  // the connections it applies to ("user=bob addr=..."), or the host
	Problem  string   `json:"problem"`
	Attack   string   `json:"attack"` // what someone with only a stolen key (or one past login) does with it
	Fix      string   `json:"fix"`    // the exact line or command that closes it, and where
	Want     string   `json:"-"`
	Keys     []string `json:"-"`
}

// report is the whole audit, as --json prints it.
type report struct {
	Findings []finding `json:"findings"`
	Summary  struct {
		High     int      `json:"high"`
		Medium   int      `json:"medium"`
		Low      int      `json:"low"`
		Info     int      `json:"info"`
		Contexts []string `json:"contexts"` // every connection sshd was asked about
		Pass     bool     `json:"pass"`     // no high finding
	} `json:"summary"`
}

// options says what to audit; parseFlags fills it.
type options struct {
	SSHD, SSHDConfig, PAM string   // sshd binary, its -f config, its PAM service
	Binary                string   // the logingate binary (the running executable)
	Config                string   // logingate's config; "" takes ForceCommand's -c, else config.DefaultPath
	Users, Addrs          []string // extra users and client addresses to check
	SSHDir                string   // base of relative Include paths (/etc/ssh)
	LoginDefs             string   // CHFN_RESTRICT, for send_gecos (/etc/login.defs)

	dir directory // users and groups; getent when nil
}

// hostContext is the context of findings about the host, not a connection.
const hostContext = "this host"

// run audits the host. Its error means sshd -T could not run at all (an
// *sshdError says why); everything else is a finding.
func run(ctx context.Context, o options) (*report, error) {
	if o.dir == nil {
		o.dir = newGetent()
	}
	a := &auditor{o: o, binary: o.Binary, gateBins: map[string]bool{}}
	if abs, err := filepath.Abs(o.Binary); err == nil {
		a.binary = abs
	}
	a.cfg = readSSHDConfig(o.SSHDConfig, o.SSHDir, readLimited, filepath.Glob)

	runner := &sshdT{sshd: o.SSHD, config: o.SSHDConfig, timeout: 30 * time.Second}
	defer func() { os.RemoveAll(a.keyDir) }()
	var base effective
	var err error
	if os.Geteuid() == 0 {
		base, err = runner.run(ctx, "")
	}
	var se *sshdError
	if os.Geteuid() != 0 || errors.As(err, &se) && strings.Contains(se.Msg, "no hostkeys available") {
		// sshd -T needs a host key it can read: give it one of its own.
		key, dir, kerr := throwawayHostKey(ctx, o.SSHD)
		if kerr != nil {
			return nil, &sshdError{Msg: kerr.Error(), Hint: "run doctor as root, or install ssh-keygen"}
		}
		a.keyDir, runner.hostKey = dir, key
		base, err = runner.run(ctx, "")
	}
	if errors.As(err, &se) && strings.Contains(se.Msg, specMissing) {
		// A Match LocalPort or LocalAddress block: plain sshd -T refuses
		// to run. Every probe passes laddr and lport, so go on without it.
		a.hostFinding(finding{ID: "default-context", Severity: sevInfo, Setting: "sshd -T",
			Problem: "plain sshd -T refuses this config (" + se.Msg + "), so only sshd -T -C connections were checked",
			Attack:  "none", Fix: "none needed"})
		base, err = nil, nil
	}
	if err != nil {
		return nil, err
	}

	lport := defaultLPort
	if _, err := strconv.ParseUint(base.raw("port"), 10, 16); err == nil {
		lport = base.raw("port")
	}
	list, truncated, unsolved := probes(a.cfg, o.dir, o.Users, o.Addrs, lport)
	for _, u := range unsolved {
		a.hostFinding(unsolvedFinding(u))
	}
	if truncated {
		a.hostFinding(finding{ID: "probes-truncated", Severity: sevInfo, Setting: fmt.Sprintf("%d connections", maxProbes),
			Problem: "the Match blocks name more users and addresses than doctor asks sshd about; the rest were not checked",
			Attack:  "none", Fix: "check the others with --user and --addr"})
	}
	if base != nil {
		list = append([]probe{{Default: true}}, list...)
	}
	// The first probe is the default or root, never a synthetic one, so
	// the reference is known before any block is laid over it.
	effs := make([]effective, len(list))
	ref := base
	for i, p := range list {
		switch {
		case p.Default:
			effs[i] = base
		case p.Synthetic:
			effs[i] = overlay(ref, p.Origin)
		default:
			if effs[i], err = runner.run(ctx, p.spec()); err != nil {
				return nil, err
			}
		}
		if ref == nil {
			ref = effs[i]
		}
	}

	a.audit(list, effs, ref)
	a.checkPAM(ref)
	a.checkFiles(ref)
	for _, p := range a.cfg.Problems {
		a.hostFinding(finding{ID: "sshd-config-unread", Severity: sevInfo, Setting: o.SSHDConfig,
			Problem: "doctor could not follow the sshd config fully (" + p + "); sshd -T still judged it, but Match blocks there were not probed",
			Attack:  "none", Fix: "run doctor as root"})
	}
	return a.merge(list), nil
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

// auditor collects findings during one run.
type auditor struct {
	o        options
	binary   string // absolute
	cfg      *sshdConfig
	keyDir   string          // throwaway host key, removed at the end
	gateBins map[string]bool // absolute logingate paths ForceCommand names
	found    []rawFinding
}

// rawFinding is a finding for one probe (or the host) before merging.
type rawFinding struct {
	finding
	probe int // index into the probe list, -1 for the host
}

func (a *auditor) hostFinding(f finding) {
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

// audit judges each probe's settings. An issue the reference connection
// (the default) does not have comes from a Match block, and its fix names
// that block.
func (a *auditor) audit(list []probe, effs []effective, ref effective) {
	refIssues := map[string]bool{}
	for _, f := range a.checkSSHD(ref) {
		refIssues[f.ID+"\x00"+f.Setting] = true
	}
	for i := range list {
		p := &list[i]
		for _, f := range a.checkSSHD(effs[i]) {
			fromMatch := !p.Default && !refIssues[f.ID+"\x00"+f.Setting]
			f.Fix = a.wordFix(f, p, fromMatch)
			if fromMatch && p.Origin != nil && p.Synthetic {
				f.Problem += " (a Match Group block: evaluated from its lines, since the group has no members now)"
			}
			a.found = append(a.found, rawFinding{f, i})
		}
	}
}

// wordFix says which line to change, and where.
func (a *auditor) wordFix(f finding, p *probe, fromMatch bool) string {
	if fromMatch {
		if fix := a.matchFix(f, p); fix != "" {
			return fix
		}
	}
	if f.Fix != "" {
		return f.Fix
	}
	want := quoteCmd(f.Want)
	s := a.cfg.firstGlobal(f.Keys[0])
	if s == nil {
		return "add " + want + " to " + a.dropinWhere()
	}
	fix := fmt.Sprintf("change %s (%s) to %s", quoteCmd(s.At.Text), s.At, want)
	// A line of the main config after the Include (Debian's
	// X11Forwarding yes) also yields to the drop-in.
	if path, inc, ok := a.cfg.dropin(); ok && inc.File == s.At.File && inc.Seq < s.At.Seq {
		fix += fmt.Sprintf(", or put %s in %s, which sshd reads first", want, path)
	}
	return fix
}

// dropinWhere names the file a new global line belongs in.
func (a *auditor) dropinWhere() string {
	if path, _, ok := a.cfg.dropin(); ok {
		return path
	}
	return "the top of " + a.o.SSHDConfig + ", before any Include or Match line"
}

// matchFix names the Match block line behind a finding, or "".
func (a *auditor) matchFix(f finding, p *probe) string {
	blocks := a.cfg.blocksSetting(f.Keys...)
	if len(blocks) == 0 {
		return ""
	}
	b := blocks[0]
	for _, c := range blocks {
		if c == p.Origin {
			b = c
		}
	}
	for _, k := range f.Keys {
		s := b.first(k)
		if s == nil {
			continue
		}
		alt := ", or change it to " + quoteCmd(f.Want)
		switch {
		case f.Want == "": // nothing to keep
			alt = ""
		case k != f.Keys[0]:
			alt = ", or add " + quoteCmd(f.Want) + " to that block"
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
		switch {
		case s.Key == "acceptenv":
			if !set[s.Key] {
				e[s.Key] = nil
			}
			e[s.Key] = append(e[s.Key], s.Args...)
		case set[s.Key]:
		case s.Key == "setenv":
			e[s.Key] = append([]string(nil), s.Args...) // one value a variable, as sshd -T prints them
		case s.Key == "forcecommand":
			e[s.Key] = []string{rawValue(s.At.Text)} // sshd keeps ForceCommand's text as written
		default:
			e[s.Key] = []string{strings.Join(s.Args, " ")}
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
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimLeft(text[i:], " \t"), "="))
}
