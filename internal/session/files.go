package session

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The files fast path: users and groups are read from /etc/passwd and
// /etc/group here when that is what NSS would answer, so a login runs no
// getent (nss.go). A user is the file's when NSS asks `files` first; groups
// only when the files are complete (complete), since a local user with a
// directory group missed here could skip the second factor. When in doubt,
// go to NSS. The rules and why: docs/DESIGN.md, "Users, groups and getent".
// Proven by TestFilesFastPath* and TestLocalUserDirectoryGroup (nss_test.go).
type filesDB struct {
	nsswitch, passwd, group string
	userdbDirs              []string // userdb record directories
	userdbSockets           string   // where userdb services listen
}

var localFiles = filesDB{
	nsswitch: "/etc/nsswitch.conf",
	passwd:   "/etc/passwd",
	group:    "/etc/group",
	userdbDirs: []string{"/etc/userdb", "/run/userdb", "/run/host/userdb",
		"/usr/local/lib/userdb", "/usr/lib/userdb"},
	userdbSockets: "/run/systemd/userdb",
}

// userdbRelays are userdb services that add no users or memberships of their
// own: dynamic users (no members), the multiplexer, and NSS's own records.
var userdbRelays = []string{"io.systemd.DynamicUser", "io.systemd.Multiplexer", "io.systemd.NameServiceSwitch"}

// maxFileSize bounds what the fast path reads; a larger file goes to NSS.
const maxFileSize = 4 << 20

// complete reports whether /etc/passwd and /etc/group are the whole answer.
func (db filesDB) complete() bool {
	passwd, group, initgroups, ok := db.sources()
	if !ok || initgroups {
		return false // getgrouplist asks initgroups' sources instead of group's
	}
	systemd := false
	for _, srcs := range [][]string{passwd, group} {
		switch {
		case slices.Equal(srcs, []string{"files"}):
		case slices.Equal(srcs, []string{"files", "systemd"}):
			systemd = true
		default:
			return false // missing, another source, or an [action]
		}
	}
	return !systemd || db.userdbEmpty()
}

// usersFirst reports whether NSS asks /etc/passwd first and stops at a user
// it finds there: that user is then NSS's answer, whatever sources follow,
// so only a user the file lacks needs them. Groups are another matter: a
// user's memberships are gathered from every source (complete).
func (db filesDB) usersFirst() bool {
	passwd, _, _, ok := db.sources()
	return ok && len(passwd) > 0 && passwd[0] == "files" &&
		(len(passwd) == 1 || !strings.HasPrefix(passwd[1], "["))
}

// sources returns the passwd and group lines of nsswitch.conf and whether
// it has an initgroups line; ok is false when it cannot be read or names a
// database twice (which line glibc follows is not ours to guess).
func (db filesDB) sources() (passwd, group []string, initgroups, ok bool) {
	conf, err := readSmall(db.nsswitch)
	if err != nil {
		return nil, nil, false, false
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(conf), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		key, val, found := strings.Cut(line, ":")
		key = strings.TrimSpace(key)
		if !found || (key != "passwd" && key != "group" && key != "initgroups") {
			continue
		}
		if seen[key] {
			return nil, nil, false, false
		}
		seen[key] = true
		switch key {
		case "passwd":
			passwd = strings.Fields(val)
		case "group":
			group = strings.Fields(val)
		default:
			initgroups = true
		}
	}
	return passwd, group, initgroups, true
}

// userdbEmpty reports whether systemd's userdb has nothing that could add a
// user or a membership.
func (db filesDB) userdbEmpty() bool {
	for _, d := range db.userdbDirs {
		if names, err := readDirNames(d); err != nil || len(names) > 0 {
			return false
		}
	}
	names, err := readDirNames(db.userdbSockets)
	if err != nil {
		return false
	}
	for _, n := range names {
		if !slices.Contains(userdbRelays, n) {
			return false
		}
	}
	return true
}

// readDirNames lists dir; a missing directory is empty.
func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		err = errors.New("too large for the files fast path")
	}
	return b, err
}

// entries splits a colon file into its lines' fields, each line with want
// fields and numbers in the fields ids names; ok is false when any line is
// malformed or a NIS +/- line.
func entries(data []byte, want int, ids ...int) (lines [][]string, ok bool) {
	for _, l := range bytes.Split(data, []byte("\n")) {
		s := string(l)
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Split(s, ":")
		if len(f) != want || f[0] == "" || f[0][0] == '+' || f[0][0] == '-' {
			return nil, false
		}
		for _, i := range ids {
			if _, err := strconv.ParseUint(f[i], 10, 32); err != nil {
				return nil, false
			}
		}
		lines = append(lines, f)
	}
	return lines, true
}

// user finds the first /etc/passwd entry that match accepts. ok is false
// when the fast path cannot answer (incomplete files, no such entry).
func (db filesDB) user(match func(f []string) bool) (u *User, ok bool) {
	if !db.usersFirst() {
		return nil, false
	}
	data, err := readSmall(db.passwd)
	if err != nil {
		return nil, false
	}
	lines, ok := entries(data, 7, 2, 3)
	if !ok {
		return nil, false
	}
	for _, f := range lines {
		if !match(f) {
			continue
		}
		uid, _ := strconv.Atoi(f[2])
		gid, _ := strconv.Atoi(f[3])
		u := &User{Name: f[0], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]}
		if u.Shell == "" {
			u.Shell = defaultShell
		}
		return u, true
	}
	return nil, false
}

func (db filesDB) lookupUser(name string) (*User, bool) {
	return db.user(func(f []string) bool { return f[0] == name })
}

func (db filesDB) lookupUID(uid int) (*User, bool) {
	s := strconv.Itoa(uid)
	return db.user(func(f []string) bool { return f[2] == s })
}

// groups is Groups from /etc/group: the primary group, then every group that
// lists u by name, without duplicates. ok is false when the fast path
// cannot answer, including a group id with no name (NSS then decides).
func (db filesDB) groups(u *User) (names []string, ok bool) {
	if !db.complete() {
		return nil, false
	}
	data, err := readSmall(db.group)
	if err != nil {
		return nil, false
	}
	lines, ok := entries(data, 4, 2)
	if !ok {
		return nil, false
	}
	gids := []string{strconv.Itoa(u.GID)}
	for _, f := range lines {
		if f[3] != "" && slices.Contains(strings.Split(f[3], ","), u.Name) && !slices.Contains(gids, f[2]) {
			gids = append(gids, f[2])
		}
	}
	for _, gid := range gids {
		i := slices.IndexFunc(lines, func(f []string) bool { return f[2] == gid })
		if i < 0 {
			return nil, false
		}
		if !slices.Contains(names, lines[i][0]) {
			names = append(names, lines[i][0])
		}
	}
	return names, true
}
