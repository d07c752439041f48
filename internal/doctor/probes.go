package doctor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A probe is one connection doctor asks sshd about: sshd -T -C with these
// values, or plain sshd -T for the default.
type probe struct {
	User, Host, Addr, LAddr, LPort, RDomain string

	Default bool        // plain sshd -T: no Match block applies
	Origin  *matchBlock // the Match block this probe was made for, or nil
	// Synthetic: no account fits Origin's conditions (a Match Group with no
	// members), so its settings are laid over the default instead of asking
	// sshd. Group names the group.
	Synthetic bool
	Group     string
}

// Defaults for the parts of a connection no Match block names: an outside
// client address (TEST-NET-3) and sshd on loopback port 22.
const (
	defaultAddr  = "203.0.113.10"
	defaultLAddr = "127.0.0.1"
	defaultLPort = "22"
	maxProbes    = 256
)

// spec is the -C argument.
func (p *probe) spec() string {
	s := "user=" + p.User + ",host=" + p.Host + ",addr=" + p.Addr + ",laddr=" + p.LAddr + ",lport=" + p.LPort
	if p.RDomain != "" {
		s += ",rdomain=" + p.RDomain
	}
	return s
}

// label names the probe for the report.
func (p *probe) label() string {
	switch {
	case p.Default:
		return "default (sshd -T, no Match)"
	case p.Synthetic:
		return "members of group " + p.Group + " (none exist now; read from " + p.Origin.At.String() + ")"
	}
	s := "user=" + p.User + " addr=" + p.Addr
	if p.Host != p.Addr {
		s += " host=" + p.Host
	}
	if p.LAddr != defaultLAddr {
		s += " laddr=" + p.LAddr
	}
	if p.LPort != defaultLPort {
		s += " lport=" + p.LPort
	}
	if p.RDomain != "" {
		s += " rdomain=" + p.RDomain
	}
	return s
}

// probes lists the connections to ask sshd about: root, an ordinary user
// and the --user names, each from the default address and every --addr and
// Match address; then one probe per Match block that meets all its
// conditions.
func probes(cfg *sshdConfig, dir directory, users, addrs []string, lport string) (out []probe, truncated bool, unsolved []unsolvedMatch) {
	seen := map[string]bool{}
	add := func(p probe) {
		key := p.spec()
		if p.Synthetic {
			key = "synthetic " + p.Origin.At.String()
		}
		if seen[key] {
			return
		}
		if len(out) >= maxProbes {
			truncated = true
			return
		}
		seen[key] = true
		out = append(out, p)
	}
	base := probe{Addr: defaultAddr, Host: defaultAddr, LAddr: defaultLAddr, LPort: lport}

	names := append([]string{"root", sampleUser(dir)}, users...)
	addrList := append([]string{defaultAddr}, addrs...)
	// Users and addresses each Match names: one it selects, and one
	// inside each of its "!" patterns, which it leaves out.
	accounts := accountNames(dir)
	var blockProbes []probe
	for _, b := range cfg.Blocks {
		for _, c := range b.Criteria {
			switch c.Attr {
			case "user":
				if u, _ := solveName(c.Patterns, accounts); u != "" {
					names = append(names, u)
				}
				for _, n := range negatives(c.Patterns) {
					if u := witnessFor(n, accounts); u != "" {
						names = append(names, u)
					}
				}
			case "group":
				for _, n := range negatives(c.Patterns) {
					if u, _, ok := memberOf(n, dir); ok {
						names = append(names, u)
					}
				}
			case "address":
				if a := solveAddr(c.Patterns); a != "" {
					addrList = append(addrList, a)
				}
				addrList = append(addrList, refusedAddrs(c.Patterns)...)
			}
		}
		p, usable, none := blockProbe(b, base, names[1], dir)
		if usable {
			blockProbes = append(blockProbes, p)
		} else {
			unsolved = append(unsolved, unsolvedMatch{Block: b, None: none})
		}
	}

	// root and the ordinary user first, then each block's own probe ahead
	// of the cross product, so that a cap keeps them.
	for _, u := range names[:2] {
		p := base
		p.User = u
		add(p)
	}
	for _, p := range blockProbes {
		if !p.Synthetic {
			add(p)
		}
	}
	for _, u := range names {
		for _, a := range addrList {
			p := base
			p.User, p.Addr, p.Host = u, a, a
			add(p)
		}
	}
	for _, p := range blockProbes {
		if p.Synthetic {
			add(p)
		}
	}
	return out, truncated, unsolved
}

// blockProbe solves a connection that meets every condition of block b,
// starting from base as user. none reports that no connection can.
func blockProbe(b *matchBlock, base probe, user string, dir directory) (p probe, usable, none bool) {
	p, usable = base, true
	p.User, p.Origin = user, b
	fail := func(never bool) { usable, none = false, none || never }
	var userLists, groupLists []string
	for _, c := range b.Criteria {
		switch c.Attr {
		case "all":
		case "user":
			userLists = append(userLists, c.Patterns)
		case "group":
			groupLists = append(groupLists, c.Patterns)
			if len(positives(c.Patterns)) == 0 { // "!" patterns alone: no group matches
				fail(true)
			}
		case "address", "localaddress":
			a := solveAddr(c.Patterns)
			switch {
			case a == "":
				fail(len(positives(c.Patterns)) == 0)
			case c.Attr == "localaddress":
				p.LAddr = a
			default:
				p.Addr = a
				if p.Host == defaultAddr {
					p.Host = a
				}
			}
		case "host", "rdomain":
			pats := c.Patterns
			if c.Attr == "host" {
				pats = strings.ToLower(pats)
			}
			v, empty := solveName(pats, nil)
			if v == "" {
				fail(empty)
			}
			if c.Attr == "host" {
				p.Host = v
			} else {
				p.RDomain = v
			}
		case "localport":
			p.LPort = ""
			for _, pat := range positives(c.Patterns) {
				if _, err := strconv.Atoi(pat); err == nil {
					p.LPort = pat
					break
				}
			}
			if p.LPort == "" {
				fail(false)
			}
		default:
			fail(false)
		}
	}
	if usable && (len(userLists) > 0 || len(groupLists) > 0) {
		u, empty := userForBlock(userLists, groupLists, dir)
		switch {
		case u != "":
			p.User = u
		case len(groupLists) > 0 && !empty:
			// No account fits now: lay the block over the default.
			_, g, _ := memberOf(groupLists[0], dir)
			p.Synthetic, p.Group = true, g
		default:
			usable, none = false, empty
		}
	}
	return p, usable, none
}

// userForBlock picks a user name that satisfies every User and Group list
// of a Match block. With a Group list the user must exist (sshd looks up
// the groups); otherwise any name will do, and one is made from the
// patterns when no account fits. none reports that no name can match.
func userForBlock(userLists, groupLists []string, dir directory) (name string, none bool) {
	fits := func(n string) bool {
		return !slices.ContainsFunc(userLists, func(l string) bool { return !matchPatternList(n, l) }) &&
			!slices.ContainsFunc(groupLists, func(l string) bool { return !inGroupList(n, l, dir) })
	}
	cands := accountNames(dir)
	for _, g := range dir.Groups() {
		cands = append(cands, g.Members...)
	}
	if len(groupLists) == 0 {
		for _, l := range userLists {
			w, empty := solveName(l, nil)
			if empty {
				return "", true
			}
			cands = append([]string{w}, cands...)
		}
	}
	for _, n := range cands {
		if validName(n) && fits(n) {
			return n, false
		}
	}
	return "", false
}

// memberOf finds a user in a group the pattern-list matches: a listed
// member or one whose primary group it is. It returns the group it tried
// when there is no member.
func memberOf(list string, dir directory) (user, grp string, ok bool) {
	var cands []group
	for _, p := range positives(list) {
		if hasWildcard(p) {
			for _, g := range dir.Groups() {
				if matchPatternList(g.Name, list) {
					cands = append(cands, g)
				}
			}
		} else if g, found := dir.Group(p); found {
			cands = append(cands, g)
		} else if grp == "" {
			grp = p
		}
	}
	for _, g := range cands {
		for _, m := range g.Members {
			if validName(m) {
				return m, g.Name, true
			}
		}
		for _, u := range dir.Users() {
			if u.GID == g.GID && validName(u.Name) {
				return u.Name, g.Name, true
			}
		}
	}
	if grp == "" && len(cands) > 0 {
		grp = cands[0].Name
	}
	if grp == "" {
		grp = strings.Join(positives(list), ",")
	}
	return "", grp, false
}

// unsolvedMatch is a Match block doctor found no connection for: None
// when no connection can match it (a list of "!" patterns alone, say),
// else doctor could not find one.
type unsolvedMatch struct {
	Block *matchBlock
	None  bool
}

// unsolvedFinding says what doctor could not check about a Match block.
func unsolvedFinding(u unsolvedMatch) finding {
	b := u.Block
	if u.None {
		return finding{ID: "match-never", Severity: sevInfo, Setting: b.At.Text,
			Problem: fmt.Sprintf("the Match block at %s (%s) applies to no connection: sshd matches a pattern-list only when one of its patterns matches, and a list of \"!\" patterns alone never does", b.At, quoteCmd(b.At.Text)),
			Attack:  "none through this block; if it was meant to apply to everyone but those named, it does not",
			Fix:     "write the list as `*,!name`, or delete the block"}
	}
	return finding{ID: "match-unprobed", Severity: sevMedium, Setting: b.At.Text,
		Problem: fmt.Sprintf("doctor found no user and address that the Match block at %s (%s) applies to, so sshd was not asked about its settings", b.At, quoteCmd(b.At.Text)),
		Attack:  "whatever that block opens (ForceCommand none, forwarding) stays unchecked",
		Fix:     "check a connection it applies to with --user NAME --addr ADDRESS"}
}
