package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pamMarker starts every PAM service file the bench writes, so that a file
// left by a killed run is recognised and replaced, and no one else's is.
const pamMarker = "# written by logingate's make bench (scripts/bench); removed when it ends\n"

// The PAM services the bench installs for the length of the run.
const pamServiceGA, pamServicePermit = "logingate-bench-ga", "logingate-bench-permit"

// pamPeer is google-authenticator's PAM module driven by pamtester.
type pamPeer struct {
	pamtester       string
	secrets         string // the secrets file the real google-authenticator tool made
	pristine        []byte
	secret, scratch string
	stdin           *os.File // the answer to the code prompt, rewritten for each run
	services        []string
}

// pamRows sets up the peer rows, or says why it cannot (not installed).
func pamRows(ctx context.Context, dir string) (peer, error) {
	pamtester, err := exec.LookPath("pamtester")
	if err != nil {
		return peer{why: "the google-authenticator rows: pamtester is not installed"}, nil
	}
	tool, err := exec.LookPath("google-authenticator")
	if err != nil {
		return peer{why: "the google-authenticator rows: google-authenticator (libpam-google-authenticator) is not installed"}, nil
	}
	module := ""
	for _, pat := range []string{"/lib/*/security/pam_google_authenticator.so", "/usr/lib/*/security/pam_google_authenticator.so", "/usr/lib/security/pam_google_authenticator.so"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			module = m[0]
			break
		}
	}
	if module == "" {
		return peer{why: "the google-authenticator rows: pam_google_authenticator.so is not installed"}, nil
	}

	p := &pamPeer{pamtester: pamtester, secrets: filepath.Join(dir, "ga", "secrets")}
	if err := os.Mkdir(filepath.Dir(p.secrets), 0o700); err != nil {
		return peer{}, err
	}
	// The tool's own defaults for a TOTP file (-t -d -r 3 -R 30 -w 3: reuse
	// refused, rate limit on, one step either side), as a user gets when
	// answering yes to its questions; -f -q -C write it without asking.
	out, err := exec.CommandContext(ctx, tool, "-t", "-d", "-r", "3", "-R", "30", "-w", "3", "-e", "5", "-f", "-q", "-C", "-Q", "NONE", "-s", p.secrets).CombinedOutput()
	if err != nil {
		return peer{}, fmt.Errorf("google-authenticator: %v: %s", err, out)
	}
	if p.pristine, err = os.ReadFile(p.secrets); err != nil {
		return peer{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(p.pristine)), "\n")
	p.secret = lines[0]
	p.scratch = lines[len(lines)-1]
	if len(p.scratch) != 8 || strings.HasPrefix(p.scratch, "\"") {
		return peer{}, errors.New("google-authenticator wrote no scratch codes")
	}
	if p.stdin, err = os.Create(filepath.Join(dir, "ga", "stdin")); err != nil {
		return peer{}, err
	}
	err = p.install(pamServiceGA, fmt.Sprintf("auth required %s secret=%s user=root\n", module, p.secrets))
	if err == nil {
		err = p.install(pamServicePermit, "auth required pam_permit.so\n")
	}
	if err != nil {
		p.cleanup()
		return peer{}, err
	}
	return peer{cases: p.cases(), close: p.cleanup}, nil
}

// install writes /etc/pam.d/NAME, refusing to replace a file the bench did
// not write.
func (p *pamPeer) install(name, stack string) error {
	path := filepath.Join("/etc/pam.d", name)
	if old, err := os.ReadFile(path); err == nil && !strings.HasPrefix(string(old), pamMarker) {
		return fmt.Errorf("%s exists and was not written by the bench; not touching it", path)
	}
	if err := os.WriteFile(path, []byte(pamMarker+stack), 0o644); err != nil {
		return err
	}
	p.services = append(p.services, path)
	return nil
}

// cleanup removes the PAM service files.
func (p *pamPeer) cleanup() {
	if p.stdin != nil {
		p.stdin.Close()
	}
	for _, path := range p.services {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			say("warning: could not remove %s: %v", path, err)
		}
	}
	p.services = nil
}

// cmd runs pamtester against service with answer typed at the code prompt.
// Like the gate's rows, the secrets file is first put back to the fresh
// one: DISALLOW_REUSE and RATE_LIMIT stay on and are written on every
// login, as the gate writes its used step.
func (p *pamPeer) cmd(service, answer string) (*exec.Cmd, error) {
	if err := restore(p.secrets, p.pristine, 0o400, nobody); err != nil {
		return nil, err
	}
	if err := p.stdin.Truncate(0); err != nil {
		return nil, err
	}
	if _, err := p.stdin.WriteAt([]byte(answer+"\n"), 0); err != nil {
		return nil, err
	}
	if _, err := p.stdin.Seek(0, 0); err != nil { // the child reads from our offset
		return nil, err
	}
	cmd := exec.Command(p.pamtester, service, "root", "authenticate")
	cmd.Env = baseEnv()
	cmd.Stdin = p.stdin
	return cmd, nil
}

func (p *pamPeer) cases() []kase {
	want := func(ok bool) func(int, string) error {
		return func(status int, stderr string) error {
			if (status == 0) != ok {
				return fmt.Errorf("pamtester exit %d: %q", status, stderr)
			}
			return nil
		}
	}
	return []kase{
		{id: "pam-permit", label: "E0: pamtester, `pam_permit` only",
			prep: func() (*exec.Cmd, error) { return p.cmd(pamServicePermit, "") }, check: want(true)},
		{id: "pam-totp", label: "E1: pamtester, google-authenticator TOTP code",
			prep: func() (*exec.Cmd, error) { return p.cmd(pamServiceGA, totpCode(p.secret, time.Now(), 6)) }, check: want(true)},
		{id: "pam-wrong", label: "E2: pamtester, google-authenticator wrong code",
			prep: func() (*exec.Cmd, error) { return p.cmd(pamServiceGA, wrongCode(p.secret)) }, check: want(false)},
		{id: "pam-scratch", label: "E3: pamtester, google-authenticator scratch code",
			prep: func() (*exec.Cmd, error) { return p.cmd(pamServiceGA, p.scratch) }, check: want(true)},
	}
}
