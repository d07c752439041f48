package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fill writes a file into dir until the file system is full, and returns a
// function that removes it.
func fill(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	must(t, err)
	chunk := make([]byte, 4096)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want no space left on device", dir, err)
	}
	return func() { must(t, os.Remove(path)) }
}

// remount remounts the state file system with opts (ro or rw).
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -o remount,%s %s: %v: %s", opts, dir, err, out)
	}
}

// A state file system that cannot take a write: a login with a right code
// is denied (its use cannot be recorded, so it must not count), the user is
// told why, the state is untouched; once the file system takes writes
// again the same code works, exactly once. Wrong and right codes get the
// same words, so a full disk is no oracle for guessing. Backup codes alike.
func TestStateFileSystemFullOrReadOnly(t *testing.T) {
	e := newEnv(t, envOptions{tmpfs: "256k"})
	a := newAccount(t)
	en := e.enroll(t, a)
	before := e.stateOf(t, a)

	breakages := []struct {
		name, told string
		breakFS    func() (repair func())
	}{
		{"full", "the state file system is full", func() func() { return fill(t, e.state) }},
		{"read-only", "the state file system is read-only", func() func() {
			remount(t, e.state, "ro")
			return func() { remount(t, e.state, "rw") }
		}},
	}
	for i, b := range breakages {
		totp := en.Code(t, i) // a step no login has used yet
		backup := en.Codes[i]
		for _, c := range []struct{ factor, code string }{{"totp", totp}, {"backup", backup}} {
			repair := b.breakFS()
			right := e.login(t, a, c.code)
			mustDeny(t, b.name+", right "+c.factor+" code", right,
				"logingate: error: your second-factor state could not be updated; access denied",
				b.told, "the code is not used up")
			wrongCode := strings.Repeat("9", len(c.code)-1) + "8"
			if c.factor == "backup" {
				wrongCode = wrongBackupCode // a code must take a factor's shape to be tried at all
			}
			wrong := e.login(t, a, wrongCode)
			mustDeny(t, b.name+", wrong code", wrong)
			if wrong.stderr != right.stderr {
				t.Errorf("%s: a right and a wrong code get different words:\nright: %q\nwrong: %q", b.name, right.stderr, wrong.stderr)
			}
			e.audit.WaitFor(t, "result=deny", "user="+a.Name, "state update failed")
			if st := e.stateOf(t, a); st.TOTP.LastStep != before.TOTP.LastStep || len(st.Backup.Codes) != len(before.Backup.Codes) || len(st.Failures) != len(before.Failures) {
				t.Fatalf("%s: the state changed although nothing could be written: last step %d -> %d, codes %d -> %d, failures %d -> %d",
					b.name, before.TOTP.LastStep, st.TOTP.LastStep, len(before.Backup.Codes), len(st.Backup.Codes), len(before.Failures), len(st.Failures))
			}
			if names := e.tempFiles(t, a); len(names) != 0 {
				t.Errorf("%s: temp files left behind: %v", b.name, names)
			}
			repair()

			mustAllow(t, b.name+" repaired, the same "+c.factor+" code", e.login(t, a, c.code))
			mustDeny(t, b.name+" repaired, the same "+c.factor+" code again", e.login(t, a, c.code))
			before = e.stateOf(t, a)
		}
	}

	// Replacing an enrollment on a full disk fails and keeps the old one.
	free := fill(t, e.state)
	out, errOut, code := e.admin(t, "enroll", "--user", a.Name, "--no-verify", "--force", "--json")
	if code == 0 {
		t.Fatalf("enroll --force on a full disk succeeded: %s", out)
	}
	if !strings.Contains(out+errOut, "no space left on device") {
		t.Errorf("enroll --force on a full disk did not say why: %s %s", out, errOut)
	}
	free()
	mustAllow(t, "the old enrollment after a failed re-enrollment", e.login(t, a, en.Codes[len(en.Codes)-1]))
}
