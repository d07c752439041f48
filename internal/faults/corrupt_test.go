package faults

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Corrupt and hand-edited state: every login with a right code is denied,
// the user is told their state cannot be read and who can check it, the
// audit line and `logingate status --user` name the problem, and the code
// is not consumed: once the state is put back, the same code logs in.
func TestCorruptOrHandEditedState(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := newAccount(t)
	en := e.enroll(t, a)
	good, err := os.ReadFile(e.statePath(a))
	must(t, err)
	dir, path, lock := e.userDir(a), e.statePath(a), filepath.Join(e.userDir(a), "lock")

	// edit rewrites one JSON field of the good state.
	edit := func(change func(m map[string]any)) []byte {
		var m map[string]any
		must(t, json.Unmarshal(good, &m))
		change(m)
		b, err := json.Marshal(m)
		must(t, err)
		return b
	}
	secret := string(e.stateOf(t, a).TOTP.Secret)
	writeState := func(b []byte) func(t *testing.T) {
		return func(t *testing.T) { must(t, os.WriteFile(path, b, 0o600)) }
	}
	elsewhere := filepath.Join(e.dir, "copy.json") // a valid copy, outside the user's directory
	must(t, os.WriteFile(elsewhere, good, 0o600))
	must(t, os.Chown(elsewhere, a.UID, a.GID))

	cases := []struct {
		name    string
		corrupt func(t *testing.T)
		problem []string // what the audit line and status must say
	}{
		{"truncated", writeState(good[:len(good)/2]), []string{path, "not valid logingate state", "truncated JSON"}},
		{"empty", writeState(nil), []string{path, "not valid logingate state", "empty"}},
		{"binary garbage", writeState([]byte("\x00\x01\x02\xff")), []string{path, "malformed JSON"}},
		{"newer format version", writeState(edit(func(m map[string]any) { m["version"] = 2 })),
			[]string{path, "format version 2 written by a newer logingate", "upgrade logingate"}},
		{"no format version", writeState(edit(func(m map[string]any) { delete(m, "version") })),
			[]string{path, "no format version"}},
		{"secret character flipped out of base32", writeState(bytes.Replace(good, []byte(secret), []byte("1"+secret[1:]), 1)),
			[]string{path, "totp.secret must be base32"}},
		{"unknown field", writeState(edit(func(m map[string]any) { m["allow_all"] = true })),
			[]string{path, `unknown field \"allow_all\"`}},
		{"over the size limit", writeState(append(good, bytes.Repeat([]byte(" "), 1<<20)...)),
			[]string{path, "larger than 1 MiB"}},
		{"state file a symlink", func(t *testing.T) {
			must(t, os.Remove(path))
			must(t, os.Symlink(elsewhere, path))
		}, []string{path, "is a symlink"}},
		{"state file a directory", func(t *testing.T) {
			must(t, os.Remove(path))
			must(t, os.Mkdir(path, 0o700))
			must(t, os.Chown(path, a.UID, a.GID))
		}, []string{path, "not a regular file"}},
		{"state file a FIFO", func(t *testing.T) {
			must(t, os.Remove(path))
			must(t, syscall.Mkfifo(path, 0o600))
			must(t, os.Chown(path, a.UID, a.GID))
		}, []string{path, "not a regular file"}},
		{"state file owned by root", func(t *testing.T) { must(t, os.Chown(path, 0, 0)) },
			[]string{path, "owned by uid 0, want uid " + strconv.Itoa(a.UID)}},
		{"state file readable by others", func(t *testing.T) { must(t, os.Chmod(path, 0o644)) },
			[]string{path, "mode 0644, want no group or other access"}},
		{"user directory owned by someone else", func(t *testing.T) { must(t, os.Chown(dir, 0, 0)) },
			[]string{dir, "owned by uid 0"}},
		{"user directory open to others", func(t *testing.T) { must(t, os.Chmod(dir, 0o755)) },
			[]string{dir, "mode 0755"}},
		{"user directory a symlink", func(t *testing.T) {
			must(t, os.Rename(dir, dir+".real"))
			must(t, os.Symlink(dir+".real", dir))
		}, []string{dir, "is a symlink"}},
		{"lock file a symlink", func(t *testing.T) {
			must(t, os.Remove(lock))
			must(t, os.Symlink(elsewhere, lock))
		}, []string{lock, "is a symlink"}},
		{"lock file owned by root", func(t *testing.T) { must(t, os.Chown(lock, 0, 0)) },
			[]string{lock, "owned by uid 0"}},
		{"state directory writable by all without the sticky bit", func(t *testing.T) { must(t, os.Chmod(e.state, 0o777)) },
			[]string{e.state, "writable by group or others without the sticky bit"}},
	}
	code := en.Code(t, 0)
	for _, c := range cases {
		c.corrupt(t)
		l := e.login(t, a, code)
		mustDeny(t, c.name, l,
			"logingate: error: your second-factor state cannot be read; access denied",
			"logingate: hint: an administrator can check it with: logingate status --user "+a.Name)
		e.audit.WaitFor(t, append([]string{"result=deny", "user=" + a.Name, "state unreadable"}, c.problem...)...)
		out, errOut, exit := e.admin(t, "status", "--user", a.Name)
		if exit == 0 {
			t.Errorf("%s: status exited 0:\n%s", c.name, out)
		}
		for _, p := range c.problem {
			if p = strings.ReplaceAll(p, `\"`, `"`); !strings.Contains(errOut, p) {
				t.Errorf("%s: status does not say %q:\n%s%s", c.name, p, out, errOut)
			}
		}
		if !strings.Contains(errOut, "fix: ") {
			t.Errorf("%s: status gives no fix:\n%s", c.name, errOut)
		}
		restore(t, e, a, good)
	}
	// None of the denials consumed the code.
	mustAllow(t, "the same code once the state is put back", e.login(t, a, code))
}

// A character of the secret flipped to another base32 character still
// decodes: nothing can tell it from a real secret, but the codes the user's
// app computes are then wrong, so the login is denied as a wrong code, not
// let in. (The fix is a new enrollment.)
func TestFlippedSecretStillDenies(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := newAccount(t)
	en := e.enroll(t, a)
	good, err := os.ReadFile(e.statePath(a))
	must(t, err)
	secret := string(e.stateOf(t, a).TOTP.Secret)
	flip := "A"
	if secret[0] == 'A' {
		flip = "B"
	}
	must(t, os.WriteFile(e.statePath(a), bytes.Replace(good, []byte(secret), []byte(flip+secret[1:]), 1), 0o600))
	mustDeny(t, "a right code against a flipped secret", e.login(t, a, en.Code(t, 0)), "wrong code")
}

// restore puts the good state back: state directory mode, user directory,
// lock file and state file as enrollment left them.
func restore(t *testing.T, e *env, a *account, good []byte) {
	t.Helper()
	dir := e.userDir(a)
	must(t, os.Chmod(e.state, 0o733|os.ModeSticky))
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		must(t, os.Remove(dir))
		must(t, os.Rename(dir+".real", dir))
	}
	must(t, os.Chown(dir, a.UID, a.GID))
	must(t, os.Chmod(dir, 0o700))
	for _, name := range []string{"state.json", "lock"} {
		p := filepath.Join(dir, name)
		must(t, os.RemoveAll(p))
		data := good
		if name == "lock" {
			data = nil
		}
		must(t, os.WriteFile(p, data, 0o600))
		must(t, os.Chown(p, a.UID, a.GID))
	}
}
