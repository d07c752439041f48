package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/sshtest"
)

// limited runs the gate for u under prlimit's limit, with passcode.
func (h *host) limited(t *testing.T, u *sshtest.User, limit, passcode string) result {
	t.Helper()
	cmd := asUser(u, userEnv(u, "LOGINGATE_PASSCODE="+passcode), "prlimit", limit, "--", h.bin, "-c", h.config, "--", "echo", marker)
	return runFor(t, cmd, 30*time.Second)
}

// underLimit tries a wrong code, then a valid backup code, under limit,
// and fails t when the limit turned the gate into an oracle: the wrong code
// not counted while the right one let the user in (unlimited guessing), or
// a login let in without its backup code being used up.
func (h *host) underLimit(t *testing.T, u *sshtest.User, en *enrollment, limit string, backup int) {
	t.Helper()
	before := h.stateOf(t, u)
	wrong := h.limited(t, u, limit, en.WrongCode(t))
	mustDeny(t, "wrong code under "+limit, wrong)
	counted := len(h.stateOf(t, u).Failures) > len(before.Failures)
	right := h.limited(t, u, limit, en.Codes[backup])
	after := h.stateOf(t, u)
	used := len(after.Backup.Codes) < len(before.Backup.Codes)
	t.Logf("%s: wrong code counted %v (exit %d); right code exit %d, let in %v, used up %v", limit, counted, wrong.code, right.code, right.allowed(), used)
	if right.allowed() && !used {
		t.Errorf("%s: a backup code let the user in without being used up:\n%v", limit, right)
	}
	if right.allowed() && !counted {
		t.Errorf("%s: a wrong code was not counted, yet the right code was let in: unlimited guessing\nwrong: %v\nright: %v", limit, wrong, right)
	}
}

// Each resource limit a user can set before running the gate fails closed:
// a file-size limit of 0, a handful of descriptors, little address space,
// one second of CPU. A wrong code is counted or the gate refuses to work;
// a right code lets the user in only when it is recorded as used.
func TestResourceLimitsFailClosed(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "rlim")
	en := h.enroll(t, u)
	for i, limit := range []string{"--fsize=0", "--nofile=6", "--as=67108864", "--cpu=1"} {
		t.Run(limit, func(t *testing.T) { h.underLimit(t, u, en, limit, i) })
	}
}

// A file-size limit between the size of a failure's write and a success's
// write (issue 10's reproduction 4): recording a failure makes the state
// file bigger, a success makes it smaller, so a limit at the current size
// stops every failure write and lets every success write through. The wrong
// codes must still be counted, or the gate must refuse to run; never may
// the right code then be let in.
func TestFileSizeLimitCountsWrongCodes(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "fsize")
	en := h.enroll(t, u)
	mustAllow(t, "a backup code without limits", h.login(t, u, en.Codes[0]))
	mustDeny(t, "a wrong code without limits", h.login(t, u, en.WrongCode(t)))
	fi, err := os.Stat(h.statePath(u))
	must(t, err)
	limit := fmt.Sprintf("--fsize=%d", fi.Size())
	for range 3 {
		h.underLimit(t, u, en, limit, 1)
		if t.Failed() {
			break
		}
	}
}

// Closed standard descriptors: a user starts the gate with 0, 1 and 2
// closed, hoping that a file the gate opens lands on one of them and so
// becomes the session's stdout. After a login made that way, no state file
// holds what the session wrote, the state still decodes, and the session's
// own 0, 1 and 2 are no file of the gate's.
func TestClosedStandardFds(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "fds")
	en := h.enroll(t, u)
	// The gate runs its arguments, joined, with the user's shell.
	session := `ls -l /proc/self/fd/ > ~/fds 2>&1; echo CORRUPT-OUT; echo CORRUPT-ERR >&2; echo ran > ~/ran`
	script := fmt.Sprintf("exec %s -c %s -- '%s' <&- >&- 2>&-", h.bin, h.config, session)
	r := runFor(t, shell(u, userEnv(u, "LOGINGATE_PASSCODE="+en.Codes[0]), script), 30*time.Second)
	st := h.stateOf(t, u)
	filepath.Walk(filepath.Join(h.state, u.Name), func(path string, fi os.FileInfo, err error) error {
		must(t, err)
		if b, _ := os.ReadFile(path); !fi.IsDir() && strings.Contains(string(b), "CORRUPT") {
			t.Errorf("the session's output landed in the gate's file %s", path)
		}
		return nil
	})
	ran, _ := os.ReadFile(filepath.Join(u.Home, "ran"))
	fds, _ := os.ReadFile(filepath.Join(u.Home, "fds"))
	used := len(st.Backup.Codes) == len(en.Codes)-1
	t.Logf("session ran %v, backup code used %v, exit %d; the session's descriptors:\n%s", len(ran) > 0, used, r.code, fds)
	if len(ran) > 0 && !used {
		t.Errorf("a session opened without its code being recorded")
	}
	for _, line := range strings.Split(string(fds), "\n") {
		if strings.Contains(line, h.state) || strings.Contains(line, h.etc) || strings.Contains(line, "socket:") {
			t.Errorf("a descriptor of the gate's reached the session: %s", line)
		}
	}
}

// A huge argument or input is refused cleanly (arguments and variables at
// 100 kB, under the kernel's 128 kB limit for one string): a denial (no session), no
// crash, no echo of the megabyte back at the user, the state unchanged.
func TestHugeInputRefused(t *testing.T) {
	h := newHost(t, "")
	u := h.user(t, "huge")
	en := h.enroll(t, u)
	huge := strings.Repeat("A", 100_000)
	stdin := strings.Repeat("A", 8<<20)
	cases := []struct {
		name string
		cmd  func(t *testing.T) result
	}{
		{"-c", func(t *testing.T) result {
			return runFor(t, asUser(u, userEnv(u), h.bin, "-c", "/"+huge, "--", "echo", marker), 30*time.Second)
		}},
		{"-h", func(t *testing.T) result { return h.login(t, u, en.WrongCode(t), "-h", huge) }},
		{"-f", func(t *testing.T) result { return h.login(t, u, en.WrongCode(t), "-f", huge) }},
		{"LOGINGATE_PASSCODE", func(t *testing.T) result { return h.login(t, u, huge) }},
		{"SSH_ORIGINAL_COMMAND", func(t *testing.T) result {
			cmd := h.gate(u, en.WrongCode(t))
			cmd.Env = append(cmd.Env, "SSH_ORIGINAL_COMMAND="+huge)
			return runFor(t, cmd, 30*time.Second)
		}},
		{"SSH_USER_AUTH=/dev/zero", func(t *testing.T) result {
			cmd := h.gate(u, en.WrongCode(t))
			cmd.Env = append(cmd.Env, "SSH_USER_AUTH=/dev/zero")
			return runFor(t, cmd, 30*time.Second)
		}},
		{"stdin", func(t *testing.T) result {
			cmd := h.gate(u, "")
			cmd.Stdin = strings.NewReader(stdin)
			return runFor(t, cmd, 30*time.Second)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := digest(t, h.statePath(u))
			st := h.stateOf(t, u)
			r := c.cmd(t)
			mustDeny(t, c.name, r)
			if r.code == -1 || r.code > 1 || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("%s: not a clean refusal:\n%v", c.name, r)
			}
			if len(r.stderr) > 64<<10 {
				t.Errorf("%s: %d bytes on stderr: the input was echoed back", c.name, len(r.stderr))
			}
			if after := h.stateOf(t, u); digest(t, h.statePath(u)) != before && len(after.Failures) != len(st.Failures)+1 {
				t.Errorf("%s: the state changed by more than one recorded failure", c.name)
			}
		})
	}
}
