package session

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGetentGetsNothingOfTheCaller: a user the files do not answer is
// looked up by getent with an empty environment, the name after "--", and
// GECOS whole.
func TestGetentGetsNothingOfTheCaller(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	script := filepath.Join(dir, "getent")
	body := "#!/bin/sh\n{ echo \"args=$*\"; env; } >" + seen + "\n" +
		"echo 'lgx-getent:x:4242:4243:Ada Lovelace,Room 1,,:/home/ada:/bin/zsh'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	getentPath = script
	t.Cleanup(func() { getentPath = defaultGetent })
	t.Setenv("LGX_SECRET", "must-not-pass")

	u, err := LookupUser("lgx-getent")
	if err != nil {
		t.Fatal(err)
	}
	want := User{Name: "lgx-getent", UID: 4242, GID: 4243, Gecos: "Ada Lovelace,Room 1,,", Home: "/home/ada", Shell: "/bin/zsh"}
	if *u != want {
		t.Errorf("LookupUser = %+v, want %+v", *u, want)
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "args=passwd -- lgx-getent" {
		t.Errorf("getent ran with %q", lines[0])
	}
	for _, l := range lines[1:] {
		// sh sets PWD, SHLVL and _ itself; nothing may come from us.
		if name, _, _ := strings.Cut(l, "="); name != "PWD" && name != "SHLVL" && name != "_" {
			t.Errorf("getent's environment has %q", l)
		}
	}

	// An answer for another name (getent reads a number as an id) is no
	// answer.
	if _, err := LookupUser("lgx-other"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("LookupUser(lgx-other) answered by lgx-getent's entry: %v", err)
	}
}

// TestNamesGetentWouldMisread: a name that getent would take for an option
// or an id, or that no passwd line can hold, is no user.
func TestNamesGetentWouldMisread(t *testing.T) {
	for _, name := range []string{"0", "-s", "--help", "a:b", "a\nb"} {
		if u, err := LookupUser(name); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("LookupUser(%q) = %+v, %v; want ErrUnknownUser", name, u, err)
		}
	}
}
