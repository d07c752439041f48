package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// effective is sshd -T's answer: every keyword, lower-case, with its values
// in the order printed (acceptenv, setenv and a few more print several).
type effective map[string][]string

// get returns the keyword's first value, lower-cased for comparisons, or
// "" when sshd did not print it.
func (e effective) get(key string) string { return strings.ToLower(e.raw(key)) }

// raw returns the keyword's first value as printed.
func (e effective) raw(key string) string {
	if v := e[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxSSHDOutput bounds what doctor reads from one sshd -T (a full dump is
// about 10 KiB).
const maxSSHDOutput = 4 << 20

// parseEffective reads sshd -T output: "keyword value" lines, the keyword
// lower-case letters and digits, the value the rest of the line. Any other
// line means the output is not sshd -T's.
func parseEffective(out []byte) (effective, error) {
	if len(out) > maxSSHDOutput {
		return nil, errors.New("output larger than 4 MiB")
	}
	e := effective{}
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		if !isKeyword(key) {
			return nil, fmt.Errorf("line %d: not a keyword and value", i+1)
		}
		e[key] = append(e[key], val)
	}
	if len(e) == 0 {
		return nil, errors.New("no settings printed")
	}
	return e, nil
}

func isKeyword(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// sshdT runs sshd in extended test mode against one config.
type sshdT struct {
	sshd    string
	config  string
	hostKey string // a readable host key to add, or ""
	timeout time.Duration
}

// sshdError is sshd -T failing; Msg is what sshd said, Hint what to do.
type sshdError struct {
	Msg, Hint string
}

func (e *sshdError) Error() string { return e.Msg }

const specMissing = "not in connection test specification"

// run runs sshd -T, with -C spec when spec is not empty.
func (s *sshdT) run(ctx context.Context, spec string) (effective, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	args := []string{"-T", "-f", s.config}
	if spec != "" {
		args = append(args, "-C", spec)
	}
	if s.hostKey != "" {
		args = append(args, "-o", "HostKey="+s.hostKey)
	}
	cmd := exec.CommandContext(ctx, s.sshd, args...)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxSSHDOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound):
			return nil, &sshdError{Msg: "cannot run " + s.sshd + ": no such file",
				Hint: "install openssh-server, or name sshd with --sshd PATH"}
		case errors.Is(err, fs.ErrPermission):
			return nil, &sshdError{Msg: "cannot run " + s.sshd + ": permission denied"}
		case ctx.Err() != nil:
			return nil, &sshdError{Msg: fmt.Sprintf("%s -T did not finish within %s", s.sshd, s.timeout)}
		case errors.As(err, &ee):
			return nil, s.explain(stderr.String(), ee.ExitCode())
		default:
			return nil, &sshdError{Msg: "cannot run " + s.sshd + ": " + err.Error()}
		}
	}
	if stdout.over {
		return nil, &sshdError{Msg: s.sshd + " -T printed more than 4 MiB"}
	}
	e, err := parseEffective(stdout.Bytes())
	if err != nil {
		return nil, &sshdError{Msg: s.sshd + " -T printed something unexpected: " + err.Error()}
	}
	return e, nil
}

// explain turns a failed sshd -T into a message that says why.
func (s *sshdT) explain(stderr string, code int) *sshdError {
	msg := strings.TrimSpace(stderr)
	lines := strings.Split(msg, "\n")
	if len(lines) > 5 {
		lines = append(lines[:5], "...")
	}
	for i, l := range lines {
		lines[i] = strings.Map(printable, l)
	}
	msg = strings.Join(lines, "; ")
	if msg == "" {
		msg = fmt.Sprintf("exit status %d and no message", code)
	}
	e := &sshdError{Msg: fmt.Sprintf("%s -T -f %s failed: %s", s.sshd, s.config, msg)}
	switch {
	case strings.Contains(stderr, "Missing privilege separation directory"):
		e.Hint = "sshd -T needs its privilege separation directory even to print its config; create it: install -d -m 0755 /run/sshd"
	case strings.Contains(stderr, "no hostkeys available"):
		e.Hint = "sshd -T needs a host key it can read"
	default:
		e.Hint = "run sshd -t -f " + s.config + " and fix what it reports"
	}
	return e
}

func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return '?'
	}
	return r
}

// throwawayHostKey makes an ed25519 key in a new temporary directory for
// sshd -T to load when the real host keys are not readable. The caller
// removes the directory.
func throwawayHostKey(ctx context.Context, sshd string) (key, dir string, err error) {
	keygen := filepath.Join(filepath.Dir(filepath.Dir(sshd)), "bin", "ssh-keygen")
	if _, err := os.Stat(keygen); err != nil {
		if keygen, err = exec.LookPath("ssh-keygen"); err != nil {
			return "", "", errors.New("ssh-keygen not found: sshd -T needs a readable host key")
		}
	}
	dir, err = os.MkdirTemp("", "logingate-doctor-")
	if err != nil {
		return "", "", err
	}
	key = filepath.Join(dir, "hostkey")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, keygen, "-q", "-t", "ed25519", "-N", "", "-C", "logingate-doctor", "-f", key).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("ssh-keygen failed: %s", strings.TrimSpace(strings.Map(printable, string(out))))
	}
	return key, dir, nil
}

// limitedBuffer keeps the first max bytes written and notes any more.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
