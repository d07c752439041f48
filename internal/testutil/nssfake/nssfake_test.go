package nssfake

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWithExtrausers(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"debian",
			"# comment passwd: x\npasswd:         files systemd\ngroup:          files systemd\nshadow:         files\nhosts: files dns\n",
			"# comment passwd: x\npasswd:         files systemd extrausers\ngroup:          files systemd extrausers\nshadow:         files\nhosts: files dns\n"},
		{"already there", "passwd: files extrausers\ngroup: compat extrausers\n", "passwd: files extrausers\ngroup: compat extrausers\n"},
		{"trailing comment", "passwd: files # local\ngroup: files\n", "passwd: files extrausers # local\ngroup: files extrausers\n"},
		{"missing lines", "hosts: files\n", "hosts: files\npasswd: files extrausers\ngroup: files extrausers\n"},
		{"no final newline", "passwd: files\ngroup: files", "passwd: files extrausers\ngroup: files extrausers\n"},
		{"empty", "", "passwd: files extrausers\ngroup: files extrausers\n"},
		{"extrausers as part of a word", "passwd: files notextrausers\ngroup: files\n", "passwd: files notextrausers extrausers\ngroup: files extrausers\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withExtrausers([]byte(tt.in))); got != tt.want {
				t.Errorf("withExtrausers(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	p, g, err := render(
		[]FakeUser{{Name: "lgx-a", UID: 59001, GID: 59002, Shell: "/bin/sh"}},
		[]FakeGroup{{Name: "lgx-g", GID: 59002, Members: []string{"lgx-a", "lgx-b"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if want := marker + "lgx-a:x:59001:59002::/nonexistent:/bin/sh\n"; string(p) != want {
		t.Errorf("passwd = %q, want %q", p, want)
	}
	if want := marker + "lgx-g:x:59002:lgx-a,lgx-b\n"; string(g) != want {
		t.Errorf("group = %q, want %q", g, want)
	}
	for _, bad := range []struct {
		u []FakeUser
		g []FakeGroup
	}{
		{u: []FakeUser{{Name: "", UID: 59001, GID: 59001}}},
		{u: []FakeUser{{Name: "a:b", UID: 59001, GID: 59001}}},
		{u: []FakeUser{{Name: "root2", UID: 0, GID: 59001}}},
		{u: []FakeUser{{Name: "x", UID: 59001, GID: 59001, Gecos: "line\nbreak"}}},
		{g: []FakeGroup{{Name: "wheel2", GID: 10}}},
		{g: []FakeGroup{{Name: "g", GID: 59001, Members: []string{"a,b"}}}},
	} {
		if _, _, err := render(bad.u, bad.g); err == nil {
			t.Errorf("render(%+v, %+v): no error", bad.u, bad.g)
		}
	}
}

// TestBackupRestore checks the round trip on temp files: content, mode and a
// file that did not exist before.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "nsswitch.conf")
	orig := []byte("passwd: files\n")
	if err := os.WriteFile(existing, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "passwd")
	for _, f := range []string{existing, absent} {
		if err := backup(f); err != nil {
			t.Fatal(err)
		}
		if err := writeAtomic(f, []byte("changed\n")); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(existing); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("writeAtomic changed the mode: %v %v", fi.Mode(), err)
	}
	for _, f := range []string{existing, absent} {
		if err := restore(f); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(existing); err != nil || !bytes.Equal(got, orig) {
		t.Errorf("restored %q, %v, want %q", got, err, orig)
	}
	if fi, err := os.Stat(existing); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("restored mode %v, %v, want 0640", fi.Mode(), err)
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Errorf("a file that did not exist was left behind: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "nssfake") || strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// Nothing to restore is fine (no backup was taken).
	if err := restore(existing); err != nil {
		t.Errorf("restore without a backup: %v", err)
	}
}
