package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
	"golang.org/x/sys/unix"
)

func TestValidateUser(t *testing.T) {
	for _, name := range []string{"alice", "user@example.com", "DOMAIN\\bob", "émile", "a.b-c_d", strings.Repeat("x", 255)} {
		if err := ValidateUser(name); err != nil {
			t.Errorf("ValidateUser(%q): %v", name, err)
		}
	}
	for name, why := range map[string]string{
		"":                       "empty",
		".":                      "dot",
		"..":                     "dot",
		".hidden":                "dot",
		"../etc":                 "dot",
		"a/b":                    "slash",
		"a\x00b":                 "control",
		"a\nb":                   "control",
		"a\x7f":                  "control",
		"a\u0085":                "control",
		strings.Repeat("x", 256): "255 bytes",
	} {
		err := ValidateUser(name)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ValidateUser(%q): got %v, want an error saying %q", name, err, why)
		}
	}
}

func TestBadUserNameTouchesNothing(t *testing.T) {
	s, dir := newStore(t)
	for _, name := range []string{"..", "../x", "a/b", ""} {
		err := s.Update(context.Background(), name, func(*store.UserState) error {
			t.Errorf("fn ran for user %q", name)
			return nil
		})
		wantErr(t, err, "invalid user name")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("state directory not empty: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("files created beside the state directory: %v", entries)
	}
}

// TestChecks: each unsafe layout (the lock file's too) is refused by Load
// and Update, with an error naming the path and the fix, and Update changes
// nothing.
func TestChecks(t *testing.T) {
	cases := []struct {
		name     string
		root     bool                           // needs root (chown to another uid)
		setup    func(t *testing.T, dir string) // dir holds state/alice with valid state
		at       func(dir string) string        // the path the error must name
		want     []string                       // more fragments of the error
		statedir string                         // store directory if not dir/state
	}{
		{name: "state dir missing", statedir: "missing",
			setup: func(*testing.T, string) {}, at: rel("missing"),
			want: []string{"does not exist", "install -d -m 1733 -o root -g root"}},
		{name: "state dir symlink", statedir: "link",
			setup: func(t *testing.T, dir string) { symlink(t, "state", filepath.Join(dir, "link")) },
			at:    rel("link"), want: []string{"symlink"}},
		{name: "state dir is a file", statedir: "state/alice/state.json",
			setup: func(*testing.T, string) {}, at: rel("state/alice/state.json"), want: []string{"not a directory"}},
		{name: "state dir group-writable",
			setup: chmod("state", 0o775), at: rel("state"), want: []string{"mode 0775", "chmod 1733"}},
		{name: "state dir world-writable",
			setup: chmod("state", 0o777), at: rel("state"), want: []string{"writable by group or others without the sticky bit"}},
		{name: "state dir foreign owner", root: true,
			setup: chown("state", 4242), at: rel("state"), want: []string{"owned by uid 4242", "chown root:root"}},
		{name: "user dir symlink",
			setup: func(t *testing.T, dir string) {
				rename(t, filepath.Join(dir, "state/alice"), filepath.Join(dir, "elsewhere"))
				symlink(t, "../elsewhere", filepath.Join(dir, "state/alice"))
			},
			at: rel("state/alice"), want: []string{"user directory", "symlink"}},
		{name: "user dir is a file",
			setup: func(t *testing.T, dir string) {
				os.RemoveAll(filepath.Join(dir, "state/alice"))
				writeFile(t, filepath.Join(dir, "state/alice"), "", 0o600)
			},
			at: rel("state/alice"), want: []string{"not a directory"}},
		{name: "user dir group-readable",
			setup: chmod("state/alice", 0o750), at: rel("state/alice"), want: []string{"mode 0750", "chmod 0700 "}},
		{name: "user dir other-executable",
			setup: chmod("state/alice", 0o701), at: rel("state/alice"), want: []string{"chmod 0700 "}},
		{name: "user dir foreign owner", root: true,
			setup: chown("state/alice", 4242), at: rel("state/alice"), want: []string{"owned by uid 4242", "another user made it", "mv ", "do not chown"}},
		{name: "state file symlink",
			setup: func(t *testing.T, dir string) {
				rename(t, filepath.Join(dir, "state/alice/state.json"), filepath.Join(dir, "state/alice/real.json"))
				symlink(t, "real.json", filepath.Join(dir, "state/alice/state.json"))
			},
			at: rel("state/alice/state.json"), want: []string{"symlink"}},
		{name: "state file is a directory",
			setup: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "state/alice/state.json"))
				mkdir(t, filepath.Join(dir, "state/alice/state.json"))
			},
			at: rel("state/alice/state.json"), want: []string{"not a regular file"}},
		{name: "state file is a fifo",
			setup: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "state/alice/state.json"))
				if err := unix.Mkfifo(filepath.Join(dir, "state/alice/state.json"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			at: rel("state/alice/state.json"), want: []string{"not a regular file"}},
		{name: "state file group-readable",
			setup: chmod("state/alice/state.json", 0o640), at: rel("state/alice/state.json"),
			want: []string{"mode 0640", "chmod 0600 "}},
		{name: "state file foreign owner", root: true,
			setup: chown("state/alice/state.json", 4242), at: rel("state/alice/state.json"),
			want: []string{"owned by uid 4242", "want uid " + itoa(os.Getuid()) + " (alice)", "mv ", "do not chown"}},
		{name: "state file of another user",
			setup: func(t *testing.T, dir string) {
				// bob's own state, copied into alice's directory.
				put(t, New(filepath.Join(dir, "state"), selfOwner), "bob", sampleState())
				b, err := os.ReadFile(filepath.Join(dir, "state/bob/state.json"))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "state/alice/state.json"), string(b), 0o600)
			},
			at: rel("state/alice/state.json"), want: []string{"the state of bob (uid " + itoa(os.Getuid()) + "), not of alice", "mv "}},
		{name: "state file too big",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "state/alice/state.json"), strings.Repeat(" ", MaxStateSize+1), 0o600)
			},
			at: rel("state/alice/state.json"), want: []string{"larger than 1 MiB"}},
		{name: "state file corrupt",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "state/alice/state.json"), `{"version":1,"totp":{"secret":"`+testSecret, 0o600)
			},
			at: rel("state/alice/state.json"), want: []string{"not valid logingate state", "truncated", "logingate reset --user alice"}},
		{name: "state file from a newer logingate",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "state/alice/state.json"), `{"version":99}`, 0o600)
			},
			at: rel("state/alice/state.json"), want: []string{"newer logingate", "upgrade logingate"}},
		{name: "lock file symlink",
			setup: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "state/alice/lock"))
				symlink(t, "state.json", filepath.Join(dir, "state/alice/lock"))
			},
			at: rel("state/alice/lock"), want: []string{"lock file", "symlink"}},
		{name: "lock file foreign owner", root: true,
			setup: chown("state/alice/lock", 4242), at: rel("state/alice/lock"), want: []string{"lock file", "owned by uid 4242"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				need.Root(t)
			}
			dir := t.TempDir()
			stateDir := filepath.Join(dir, "state")
			mkdir(t, stateDir)
			put(t, New(stateDir, selfOwner), "alice", sampleState())
			c.setup(t, dir)
			if c.statedir != "" {
				stateDir = filepath.Join(dir, c.statedir)
			}
			s := New(stateDir, selfOwner)
			path := c.at(dir)
			before := snapshot(t, dir)

			_, err := s.Load(context.Background(), "alice")
			wantErr(t, err, append([]string{path}, c.want...)...)
			var ce *CheckError
			if !errors.As(err, &ce) || ce.Path != path {
				t.Errorf("Load: %v is not a CheckError for %s", err, path)
			}
			err = s.Update(context.Background(), "alice", func(*store.UserState) error {
				t.Error("fn ran despite a failed check")
				return nil
			})
			wantErr(t, err, append([]string{path}, c.want...)...)
			t.Logf("Update: %v", err)
			if after := snapshot(t, dir); after != before {
				t.Errorf("Update changed the tree:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// Accepted layouts: the documented shared state directory, a sticky
// world-writable one, and a plain root-only one.
func TestChecksAccept(t *testing.T) {
	for _, mode := range []os.FileMode{0o733 | os.ModeSticky, 0o777 | os.ModeSticky, 0o755, 0o700} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		s := New(dir, selfOwner)
		put(t, s, "alice", sampleState())
		if _, err := s.Load(context.Background(), "alice"); err != nil {
			t.Errorf("state dir mode %v: %v", mode, err)
		}
	}
}

// snapshot describes every path under dir: name, type, mode, owner, size,
// inode and content of small files.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		unix.Lstat(path, &st)
		b.WriteString(path + " " + fi.Mode().String() + " " + itoa(int(st.Uid)) + " " + itoa(int(st.Ino)) + " " + itoa(int(fi.Size())))
		if fi.Mode().IsRegular() && fi.Size() < 4096 {
			data, _ := os.ReadFile(path)
			b.WriteString(" " + string(data))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func rel(p string) func(string) string {
	return func(dir string) string { return filepath.Join(dir, p) }
}

func chmod(p string, mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func chown(p string, uid int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Lchown(filepath.Join(dir, p), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// CheckStateDir is the store's own check, for doctor: the protected layout
// wants root:GROUP with no access for others, and a missing directory's fix
// makes the layout asked for.
func TestCheckStateDir(t *testing.T) {
	base := t.TempDir()
	gid := 4242
	missing := filepath.Join(base, "missing")
	for _, tc := range []struct {
		group *int
		fix   string
	}{{nil, "install -d -m 1733 -o root -g root " + missing}, {&gid, "install -d -m 0770 -o root -g 4242 " + missing}} {
		var ce *CheckError
		if err := CheckStateDir(missing, tc.group); !errors.As(err, &ce) || ce.Fix != tc.fix || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing, group %v: %v, want the fix %q", tc.group, err, tc.fix)
		}
	}
	// In the per-user layout, only the owner's own store may use a
	// directory that is not root's: CheckStateDir answers for every user.
	own := filepath.Join(base, "own")
	mkdir(t, own)
	if os.Geteuid() == 0 {
		if err := os.Chown(own, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckStateDir(own, nil); err == nil || !strings.Contains(err.Error(), "want root;") {
		t.Errorf("per-user layout, not root's: %v, want refused", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the protected layout's owners need root")
	}
	for _, tc := range []struct {
		mode     os.FileMode
		uid, gid int
		want     string // "" for accepted
	}{
		{0o770, 0, gid, ""},
		{0o730, 0, gid, ""},
		{0o771, 0, gid, "gives others access"},
		{0o750, 0, gid, "does not let logingate's group create"},
		{0o770, 0, 0, "belongs to group 0"},
		{0o770, 65534, gid, "owned by uid 65534"},
		{0o733 | os.ModeSticky, 0, 0, "belongs to group 0"},
	} {
		dir := filepath.Join(base, fmt.Sprintf("p%o-%d-%d", tc.mode, tc.uid, tc.gid))
		mkdir(t, dir)
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, tc.uid, tc.gid); err != nil {
			t.Fatal(err)
		}
		err := CheckStateDir(dir, &gid)
		var ce *CheckError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("mode %v uid %d gid %d: %v, want accepted", tc.mode, tc.uid, tc.gid, err)
		case tc.want != "" && (!errors.As(err, &ce) || ce.Path != dir || !strings.Contains(ce.Problem, tc.want) || !strings.Contains(ce.Fix, "logingate migrate")):
			t.Errorf("mode %v uid %d gid %d: %v, want %q and a fix", tc.mode, tc.uid, tc.gid, err, tc.want)
		}
	}
}
