package doctor

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// account and group are what NSS says about users and groups.
type account struct {
	Name     string
	UID, GID int
	Shell    string
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
	users  []account // nil until read
	groups []group
}

func newGetent() *getent {
	p, err := exec.LookPath("getent")
	if err != nil {
		p = "/usr/bin/getent"
	}
	return &getent{path: p}
}

func (g *getent) query(args ...string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.path, args...)
	out := limitedBuffer{max: 16 << 20}
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func (g *getent) Users() []account {
	if g.users != nil {
		return g.users
	}
	g.users = []account{}
	for _, l := range g.query("passwd") {
		f := strings.Split(l, ":")
		if len(f) < 7 || f[0] == "" {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			g.users = append(g.users, account{Name: f[0], UID: uid, GID: gid, Shell: f[6]})
		}
	}
	return g.users
}

func (g *getent) Groups() []group {
	if g.groups == nil {
		g.groups = parseGroups(g.query("group"))
	}
	return g.groups
}

func (g *getent) Group(name string) (group, bool) {
	for _, gr := range parseGroups(g.query("group", "--", name)) {
		if gr.Name == name {
			return gr, true
		}
	}
	return group{}, false
}

// parseGroups reads getent group lines, skipping any it cannot.
func parseGroups(lines []string) []group {
	out := []group{}
	for _, l := range lines {
		f := strings.Split(l, ":")
		if len(f) < 4 || f[0] == "" {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		gr := group{Name: f[0], GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m != "" {
				gr.Members = append(gr.Members, m)
			}
		}
		out = append(out, gr)
	}
	return out
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

// inGroupList is sshd's Match Group for an existing user: one of the
// user's groups (the primary one, or one that lists the user) matches
// list, and none matches a "!" pattern of it.
func inGroupList(name, list string, dir directory) bool {
	gid := -1
	if i := slices.IndexFunc(dir.Users(), func(u account) bool { return u.Name == name }); i >= 0 {
		gid = dir.Users()[i].GID
	}
	found := false
	for _, g := range dir.Groups() {
		if g.GID != gid && !slices.Contains(g.Members, name) {
			continue
		}
		if negated(g.Name, list) {
			return false
		}
		found = found || matchPatternList(g.Name, list)
	}
	return found
}
