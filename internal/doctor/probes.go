package doctor

import (
	"context"
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

// userFor picks a user name that the pattern-list matches: a plain name as
// written, else an existing account, else the pattern with its wildcards
// filled in.
func userFor(list string, dir directory) string {
	for _, p := range positives(list) {
		if !hasWildcard(p) && matchPatternList(p, list) && validName(p) {
			return p
		}
	}
	for _, u := range dir.Users() {
		if matchPatternList(u.Name, list) && validName(u.Name) {
			return u.Name
		}
	}
	for _, p := range positives(list) {
		if s := fillWildcards(p, "x"); matchPatternList(s, list) && validName(s) {
			return s
		}
	}
	return ""
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

// probes lists the connections to ask sshd about: root, an ordinary user
// and the --user names, each from the default address and every --addr and
// Match address; then one probe per Match block that meets all its
// conditions.
func probes(cfg *sshdConfig, dir directory, users, addrs []string, lport string) (out []probe, truncated bool) {
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
	for _, b := range cfg.Blocks {
		for _, c := range b.Criteria {
			switch c.Attr {
			case "user":
				if u := userFor(c.Patterns, dir); u != "" {
					names = append(names, u)
				}
			case "address":
				for _, p := range positives(c.Patterns) {
					if a := addressFor(p); a != "" {
						addrList = append(addrList, a)
					}
				}
			}
		}
	}

	var blockProbes []probe
	for _, b := range cfg.Blocks {
		p := base
		p.User = names[1]
		p.Origin = b
		usable := true
		for _, c := range b.Criteria {
			switch c.Attr {
			case "all":
			case "user":
				if p.User = userFor(c.Patterns, dir); p.User == "" {
					usable = false
				}
			case "group":
				u, g, ok := memberOf(c.Patterns, dir)
				if !ok {
					p.Synthetic, p.Group = true, g
				} else {
					p.User = u
				}
			case "address":
				if a := firstAddress(c.Patterns); a != "" {
					p.Addr = a
					if p.Host == defaultAddr {
						p.Host = a
					}
				} else {
					usable = false
				}
			case "host":
				h := ""
				for _, pat := range positives(c.Patterns) {
					if s := strings.ToLower(fillWildcards(pat, "x")); validName(s) {
						h = s
						break
					}
				}
				if h == "" {
					usable = false
				}
				p.Host = h
			case "localaddress":
				if p.LAddr = firstAddress(c.Patterns); p.LAddr == "" {
					usable = false
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
				rd := ""
				for _, pat := range positives(c.Patterns) {
					if s := fillWildcards(pat, "x"); validName(s) {
						rd = s
						break
					}
				}
				if rd == "" {
					usable = false
				}
				p.RDomain = rd
			default:
				usable = false
			}
		}
		if usable {
			blockProbes = append(blockProbes, p)
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
	return out, truncated
}

// firstAddress returns an address the first usable positive pattern of an
// address pattern-list matches.
func firstAddress(list string) string {
	for _, p := range positives(list) {
		if a := addressFor(p); a != "" {
			return a
		}
	}
	return ""
}
