package doctor

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
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

// account and group are what NSS says about users and groups.
type account struct {
	Name  string
	UID   int
	GID   int
	Shell string
}

type group struct {
	Name    string
	GID     int
	Members []string
}

// directory answers user and group questions; getent in production.
type directory interface {
	Users() []account
	Groups() []group
	Group(name string) (group, bool)
}

// getent asks NSS through getent(1), so that users and groups from any NSS
// module (extrausers, LDAP, ...) count. Enumeration may be partial (LDAP
// often does not enumerate); lookups by name are not.
type getent struct {
	path   string
	users  []account
	groups []group
	done   map[string]bool
}

func newGetent() *getent {
	p, err := exec.LookPath("getent")
	if err != nil {
		p = "/usr/bin/getent"
	}
	return &getent{path: p, done: map[string]bool{}}
}

func (g *getent) query(args ...string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.path, args...)
	var out limitedBuffer
	out.max = 16 << 20
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func (g *getent) Users() []account {
	if !g.done["passwd"] {
		g.done["passwd"] = true
		for _, l := range g.query("passwd") {
			f := strings.Split(l, ":")
			if len(f) < 7 {
				continue
			}
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil || f[0] == "" {
				continue
			}
			g.users = append(g.users, account{Name: f[0], UID: uid, GID: gid, Shell: f[6]})
		}
	}
	return g.users
}

func parseGroupLine(l string) (group, bool) {
	f := strings.Split(l, ":")
	if len(f) < 4 || f[0] == "" {
		return group{}, false
	}
	gid, err := strconv.Atoi(f[2])
	if err != nil {
		return group{}, false
	}
	gr := group{Name: f[0], GID: gid}
	for _, m := range strings.Split(f[3], ",") {
		if m != "" {
			gr.Members = append(gr.Members, m)
		}
	}
	return gr, true
}

func (g *getent) Groups() []group {
	if !g.done["group"] {
		g.done["group"] = true
		for _, l := range g.query("group") {
			if gr, ok := parseGroupLine(l); ok {
				g.groups = append(g.groups, gr)
			}
		}
	}
	return g.groups
}

func (g *getent) Group(name string) (group, bool) {
	for _, l := range g.query("group", "--", name) {
		if gr, ok := parseGroupLine(l); ok && gr.Name == name {
			return gr, true
		}
	}
	return group{}, false
}

// sampleUser picks an ordinary login account, or a made-up name when there
// is none (sshd -T evaluates Match User for names that do not exist).
func sampleUser(dir directory) string {
	for _, u := range dir.Users() {
		if u.UID >= 1000 && u.UID != 65534 && u.Name != "root" &&
			!strings.HasSuffix(u.Shell, "/nologin") && !strings.HasSuffix(u.Shell, "/false") && validName(u.Name) {
			return u.Name
		}
	}
	return "logingate-doctor-probe"
}

// validName reports whether s can go into a -C spec: no comma, blank or
// control character, not empty.
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ',' || c == 0x7f {
			return false
		}
	}
	return true
}

// accountNames are the login names that exist, in directory order.
func accountNames(dir directory) []string {
	var out []string
	for _, u := range dir.Users() {
		if validName(u.Name) {
			out = append(out, u.Name)
		}
	}
	return out
}

// groupsOf returns the names of a user's groups: the primary one and
// every group that lists the user as a member.
func groupsOf(name string, dir directory) []string {
	gid := -1
	for _, u := range dir.Users() {
		if u.Name == name {
			gid = u.GID
			break
		}
	}
	var out []string
	for _, g := range dir.Groups() {
		member := g.GID == gid
		for _, m := range g.Members {
			member = member || m == name
		}
		if member {
			out = append(out, g.Name)
		}
	}
	return out
}

// inGroupList is sshd's Match Group for an existing user: one of the
// user's groups matches list, and none matches a "!" pattern of it.
func inGroupList(name, list string, dir directory) bool {
	found := false
	for _, g := range groupsOf(name, dir) {
		if negated(g, list) {
			return false
		}
		found = found || matchPatternList(g, list)
	}
	return found
}

// userForBlock picks a user name that satisfies every User and Group list
// of a Match block. With a Group list the user must exist (sshd looks up
// the groups); otherwise any name will do, and one is made from the
// patterns when no account fits. none reports that no name can match.
func userForBlock(userLists, groupLists []string, dir directory) (name string, none bool) {
	fits := func(n string) bool {
		for _, l := range userLists {
			if !matchPatternList(n, l) {
				return false
			}
		}
		for _, l := range groupLists {
			if !inGroupList(n, l, dir) {
				return false
			}
		}
		return true
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
	}

	var blockProbes []probe
	for _, b := range cfg.Blocks {
		p := base
		p.User = names[1]
		p.Origin = b
		usable, none := true, false
		var userLists, groupLists []string
		for _, c := range b.Criteria {
			switch c.Attr {
			case "all":
			case "user":
				userLists = append(userLists, c.Patterns)
			case "group":
				groupLists = append(groupLists, c.Patterns)
			case "address":
				if a := solveAddr(c.Patterns); a != "" {
					p.Addr = a
					if p.Host == defaultAddr {
						p.Host = a
					}
				} else {
					usable, none = false, none || len(positives(c.Patterns)) == 0
				}
			case "host":
				h, empty := solveName(strings.ToLower(c.Patterns), nil)
				if h == "" {
					usable, none = false, none || empty
				}
				p.Host = h
			case "localaddress":
				if p.LAddr = solveAddr(c.Patterns); p.LAddr == "" {
					usable, none = false, none || len(positives(c.Patterns)) == 0
				}
			case "localport":
				port := ""
				for _, pat := range positives(c.Patterns) {
					if _, err := strconv.Atoi(pat); err == nil {
						port = pat
						break
					}
				}
				if port == "" {
					usable = false
				}
				p.LPort = port
			case "rdomain":
				rd, empty := solveName(c.Patterns, nil)
				if rd == "" {
					usable, none = false, none || empty
				}
				p.RDomain = rd
			default:
				usable = false
			}
		}
		for _, l := range groupLists {
			if len(positives(l)) == 0 { // "!" patterns alone: no group matches
				usable, none = false, true
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
