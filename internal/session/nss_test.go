package session

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/nssfake"
)

func TestLookupUIDSelf(t *testing.T) {
	u, err := LookupUID(os.Getuid())
	if err != nil {
		t.Fatalf("LookupUID(%d): %v", os.Getuid(), err)
	}
	if u.UID != os.Getuid() || u.GID != os.Getgid() {
		t.Errorf("LookupUID(%d) = uid %d gid %d, want gid %d", os.Getuid(), u.UID, u.GID, os.Getgid())
	}
	// The same entry by name, and as getent(1) prints it.
	byName, err := LookupUser(u.Name)
	if err != nil {
		t.Fatalf("LookupUser(%q): %v", u.Name, err)
	}
	if *byName != *u {
		t.Errorf("LookupUser(%q) = %+v, LookupUID = %+v", u.Name, *byName, *u)
	}
	if out, err := exec.Command("getent", "passwd", u.Name).Output(); err == nil {
		f := strings.Split(strings.TrimSpace(string(out)), ":")
		if len(f) != 7 {
			t.Fatalf("getent passwd %s: %q", u.Name, out)
		}
		shell := f[6]
		if shell == "" {
			shell = defaultShell
		}
		if f[0] != u.Name || f[5] != u.Home || shell != u.Shell {
			t.Errorf("getent says %q, LookupUID says %+v", out, *u)
		}
	}
}

func TestRootGroups(t *testing.T) {
	root, err := LookupUser("root")
	if err != nil {
		t.Fatal(err)
	}
	if root.UID != 0 || root.GID != 0 {
		t.Errorf("root = %+v", *root)
	}
	groups, err := Groups(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 || groups[0] != "root" {
		t.Errorf("Groups(root) = %q, want the primary group root first", groups)
	}
	out, err := exec.Command("id", "-Gn", "root").Output()
	if err != nil {
		t.Skipf("id -Gn root: %v", err)
	}
	want := strings.Fields(string(out))
	if !sameSet(groups, want) {
		t.Errorf("Groups(root) = %q, id -Gn root = %q", groups, want)
	}
}

func TestUnknownUser(t *testing.T) {
	for _, name := range []string{"lgx-no-such-user", "", "ro\x00ot"} {
		if _, err := LookupUser(name); !errors.Is(err, errUnknownUser) {
			t.Errorf("LookupUser(%q): err = %v, want errUnknownUser", name, err)
		}
	}
	for _, uid := range []int{-1, 1<<32 - 1, 1 << 40, 59999} {
		if _, err := LookupUID(uid); !errors.Is(err, errUnknownUser) {
			t.Errorf("LookupUID(%d): err = %v, want errUnknownUser", uid, err)
		}
	}
}

// TestNSSOnlyUser proves users and groups come through NSS: they exist only
// in libnss-extrausers' files, never in /etc/passwd or /etc/group.
func TestNSSOnlyUser(t *testing.T) {
	if why := nssfake.Available(); why != "" {
		need.Unavailable(t, "%s", why)
	}
	var extra []nssfake.FakeGroup
	var extraNames []string
	// More groups than Groups' first getgrouplist buffer holds.
	for i := range 70 {
		g := nssfake.FakeGroup{Name: "lgx-g" + string(rune('a'+i/26)) + string(rune('a'+i%26)), GID: 59100 + i, Members: []string{"lgx-user"}}
		extra = append(extra, g)
		extraNames = append(extraNames, g.Name)
	}
	// A group whose entry is larger than getgrgid_r's first buffer.
	var crowd []string
	for i := range 3000 {
		crowd = append(crowd, "lgx-member-"+strings.Repeat("x", 10)+string(rune('a'+i%26)))
	}
	crowd = append(crowd, "lgx-user")
	users := []nssfake.FakeUser{
		{Name: "lgx-user", UID: 59001, GID: 59001, Home: "/home/lgx-user", Shell: "/bin/sh"},
		{Name: "lgx-noshell", UID: 59003, GID: 59001, Home: "/home/lgx-noshell"},
		{Name: "lgx-orphan", UID: 59005, GID: 59006, Home: "/home/lgx-orphan", Shell: "/bin/sh"}, // gid 59006 has no group
		{Name: "lgx-long", UID: 59007, GID: 59001, Home: "/home/lgx-long", Shell: "/bin/sh", Gecos: strings.Repeat("g", 20000)},
	}
	groups := append([]nssfake.FakeGroup{
		{Name: "lgx-user", GID: 59001},
		{Name: "lgx-ops", GID: 59002, Members: []string{"lgx-user", "lgx-noshell"}},
		{Name: "lgx-crowd", GID: 59004, Members: crowd},
	}, extra...)
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("lgx-")) {
			t.Fatalf("%s already names an lgx- entry; the test needs them to exist only through NSS", f)
		}
	}
	nssfake.Install(t, users, groups)

	u, err := LookupUser("lgx-user")
	if err != nil {
		t.Fatalf("LookupUser(lgx-user): %v", err)
	}
	want := User{Name: "lgx-user", UID: 59001, GID: 59001, Home: "/home/lgx-user", Shell: "/bin/sh"}
	if *u != want {
		t.Errorf("LookupUser(lgx-user) = %+v, want %+v", *u, want)
	}
	if byUID, err := LookupUID(59001); err != nil || *byUID != want {
		t.Errorf("LookupUID(59001) = %+v, %v, want %+v", byUID, err, want)
	}
	got, err := Groups(u)
	if err != nil {
		t.Fatalf("Groups(lgx-user): %v", err)
	}
	wantGroups := append([]string{"lgx-user", "lgx-ops", "lgx-crowd"}, extraNames...)
	if len(got) == 0 || got[0] != "lgx-user" || !sameSet(got, wantGroups) {
		t.Errorf("Groups(lgx-user) = %q, want %q (primary first)", got, wantGroups)
	}

	if u, err := LookupUser("lgx-noshell"); err != nil || u.Shell != defaultShell {
		t.Errorf("LookupUser(lgx-noshell) = %+v, %v, want shell %s", u, err, defaultShell)
	}
	if u, err := LookupUser("lgx-long"); err != nil || u.UID != 59007 || u.Gecos != strings.Repeat("g", 20000) {
		t.Errorf("LookupUser(lgx-long) with a 20 kB gecos = %+v, %v; want the gecos whole", u, err)
	}

	orphan, err := LookupUser("lgx-orphan")
	if err != nil {
		t.Fatalf("LookupUser(lgx-orphan): %v", err)
	}
	if g, err := Groups(orphan); !errors.Is(err, errUnknownGroup) {
		t.Errorf("Groups(lgx-orphan) = %q, %v, want errUnknownGroup (gid 59006 has no name)", g, err)
	}
}

// TestLocalUserDirectoryGroup is the case a files fast path must not get
// wrong: a user of /etc/passwd (root) whose group lives in a directory
// (here libnss-extrausers, as SSSD or LDAP would serve it). Were /etc/group
// alone read, the group would be missing, and a `groups: ["lgx-admins"]`
// policy would let that user skip the second factor.
func TestLocalUserDirectoryGroup(t *testing.T) {
	if why := nssfake.Available(); why != "" {
		need.Unavailable(t, "%s", why)
	}
	before, err := LookupUser("root")
	if err != nil {
		t.Fatal(err)
	}
	nssfake.Install(t, nil, []nssfake.FakeGroup{{Name: "lgx-admins", GID: 59200, Members: []string{"root"}}})
	root, err := LookupUser("root")
	if err != nil {
		t.Fatal(err)
	}
	if *root != *before {
		t.Errorf("LookupUser(root) = %+v with extrausers, %+v without", *root, *before)
	}
	got, err := Groups(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "lgx-admins") {
		t.Errorf("Groups(root) = %q: the directory group lgx-admins is missing", got)
	}
	if out, err := exec.Command("/usr/bin/id", "-Gn", "root").Output(); err == nil && !sameSet(got, strings.Fields(string(out))) {
		t.Errorf("Groups(root) = %q, id -Gn root = %q", got, out)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func BenchmarkLookupUser(b *testing.B) {
	for b.Loop() {
		if _, err := LookupUser("root"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupUserAndGroups(b *testing.B) {
	for b.Loop() {
		u, err := LookupUser("root")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Groups(u); err != nil {
			b.Fatal(err)
		}
	}
}
