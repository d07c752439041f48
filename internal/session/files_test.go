package session

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testFiles is a filesDB over files in a temp directory.
func testFiles(t *testing.T, nsswitch, passwd, group string) filesDB {
	t.Helper()
	dir := t.TempDir()
	db := filesDB{
		nsswitch:      filepath.Join(dir, "nsswitch.conf"),
		passwd:        filepath.Join(dir, "passwd"),
		group:         filepath.Join(dir, "group"),
		userdbDirs:    []string{filepath.Join(dir, "userdb")},
		userdbSockets: filepath.Join(dir, "userdb-sockets"),
	}
	for path, data := range map[string]string{db.nsswitch: nsswitch, db.passwd: passwd, db.group: group} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

const (
	testPasswd = "root:x:0:0:root:/root:/bin/bash\n" +
		"# a comment\n" +
		"alice:x:1000:1000:Alice Doe,Room 1,555-0100,555-0101,alice@example.org:/home/alice:\n"
	testGroup = "root:x:0:\nalice:x:1000:\nadmins:x:1001:bob,alice\nops:x:1002:alice\nother:x:1003:bob\n"
)

// The fast path answers only when nsswitch.conf makes the files the whole
// answer; every other configuration goes to NSS.
func TestFilesFastPathComplete(t *testing.T) {
	for _, c := range []struct {
		name, conf string
		userdb     []string // entries in the userdb directory
		sockets    []string // userdb services
		want       bool
	}{
		{"files", "passwd: files\ngroup: files\n", nil, nil, true},
		{"debian: files systemd, no userdb", "passwd:         files systemd\ngroup:          files systemd # local\n", nil, nil, true},
		{"systemd with dynamic users only", "passwd: files systemd\ngroup: files systemd\n", nil, []string{"io.systemd.DynamicUser", "io.systemd.Multiplexer"}, true},
		{"systemd with a membership record", "passwd: files systemd\ngroup: files systemd\n", []string{"alice:admins.membership"}, nil, false},
		{"systemd with homed", "passwd: files systemd\ngroup: files systemd\n", nil, []string{"io.systemd.Home"}, false},
		{"a local user's groups in sssd", "passwd: files\ngroup: files sss\n", nil, nil, false},
		{"ldap users", "passwd: files ldap\ngroup: files ldap\n", nil, nil, false},
		{"extrausers", "passwd: files systemd extrausers\ngroup: files systemd extrausers\n", nil, nil, false},
		{"an action", "passwd: files\ngroup: files [NOTFOUND=return]\n", nil, nil, false},
		{"compat", "passwd: compat\ngroup: compat\n", nil, nil, false},
		{"sss first", "passwd: sss files\ngroup: sss files\n", nil, nil, false},
		{"no group line", "passwd: files\n", nil, nil, false},
		{"initgroups from a directory", "passwd: files\ngroup: files\ninitgroups: files sss\n", nil, nil, false},
		{"group named twice", "passwd: files\ngroup: files\ngroup: files ldap\n", nil, nil, false},
		{"empty", "", nil, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := testFiles(t, c.conf, testPasswd, testGroup)
			for _, d := range []struct {
				dir   string
				names []string
			}{{db.userdbDirs[0], c.userdb}, {db.userdbSockets, c.sockets}} {
				if len(d.names) == 0 {
					continue
				}
				if err := os.Mkdir(d.dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range d.names {
					if err := os.WriteFile(filepath.Join(d.dir, n), nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := db.complete(); got != c.want {
				t.Errorf("complete() = %v, want %v", got, c.want)
			}
			_, ok := db.groups(&User{Name: "alice", GID: 1000})
			if ok != c.want {
				t.Errorf("groups answered %v, want %v", ok, c.want)
			}
		})
	}
}

func TestFilesFastPathLookups(t *testing.T) {
	db := testFiles(t, "passwd: files\ngroup: files\n", testPasswd, testGroup)
	alice := User{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: defaultShell,
		Gecos: "Alice Doe,Room 1,555-0100,555-0101,alice@example.org"} // whole
	if u, ok := db.lookupUser("alice"); !ok || *u != alice {
		t.Errorf("lookupUser(alice) = %+v, %v, want %+v", u, ok, alice)
	}
	if u, ok := db.lookupUID(1000); !ok || *u != alice {
		t.Errorf("lookupUID(1000) = %+v, %v, want %+v", u, ok, alice)
	}
	if u, ok := db.lookupUser("carol"); ok {
		t.Errorf("lookupUser(carol) = %+v: a user not in the files must go to NSS", u)
	}
	if g, ok := db.groups(&alice); !ok || !slices.Equal(g, []string{"alice", "admins", "ops"}) {
		t.Errorf("groups(alice) = %q, %v, want primary first, then admins and ops", g, ok)
	}
	// A group id /etc/group cannot name: NSS decides (and denies on it).
	if g, ok := db.groups(&User{Name: "alice", GID: 4242}); ok {
		t.Errorf("groups with an unnamed primary gid = %q: want NSS to answer", g)
	}
	for name, broken := range map[string]string{
		"NIS line":         testGroup + "+:::\n",
		"short line":       testGroup + "wheel:x:10\n",
		"gid not a number": testGroup + "wheel:x:ten:alice\n",
	} {
		db := testFiles(t, "passwd: files\ngroup: files\n", testPasswd, broken)
		if g, ok := db.groups(&alice); ok {
			t.Errorf("%s: groups = %q: a file the fast path cannot parse must go to NSS", name, g)
		}
	}
	db = testFiles(t, "passwd: files\ngroup: files\n", testPasswd+"-bob:::::\n", testGroup)
	if u, ok := db.lookupUser("alice"); ok {
		t.Errorf("a NIS line in passwd: lookupUser = %+v, want NSS to answer", u)
	}
}

// A user found in /etc/passwd is NSS's answer whenever NSS asks the file
// first and stops there, even with directory sources after it (glibc's
// lookups by name or id return the first source's match). Memberships are
// gathered from every source, so groups still need the whole answer.
func TestFilesFirstAnswersUsers(t *testing.T) {
	for _, c := range []struct {
		conf  string
		users bool
	}{
		{"passwd: files ldap\ngroup: files ldap\n", true},
		{"passwd: files systemd extrausers\ngroup: files systemd extrausers\n", true},
		{"passwd: files [NOTFOUND=return] sss\ngroup: files sss\n", false},
		{"passwd: files [SUCCESS=continue] sss\ngroup: files sss\n", false},
		{"passwd: sss files\ngroup: files\n", false},
		{"passwd: compat\ngroup: compat\n", false},
		{"passwd: files\npasswd: sss\ngroup: files\n", false},
		{"group: files\n", false},
	} {
		db := testFiles(t, c.conf, testPasswd, testGroup)
		if _, ok := db.lookupUser("alice"); ok != c.users {
			t.Errorf("%q: lookupUser answered %v, want %v", c.conf, ok, c.users)
		}
		if _, ok := db.lookupUID(1000); ok != c.users {
			t.Errorf("%q: lookupUID answered %v, want %v", c.conf, ok, c.users)
		}
		if _, ok := db.lookupUser("carol"); ok {
			t.Errorf("%q: a user the file lacks was answered from it", c.conf)
		}
		if g, ok := db.groups(&User{Name: "alice", GID: 1000}); ok {
			t.Errorf("%q: groups = %q from the files, want NSS to gather them", c.conf, g)
		}
	}
}
