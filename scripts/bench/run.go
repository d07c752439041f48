package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries are the programs the bench runs.
type binaries struct {
	gate      string // logingate, built as `make build` does
	nopStatic string // a Go program with an empty main, CGO_ENABLED=0
	nopCgo    string // the same with cgo: dynamically linked against glibc
	launcher  string // times and measures each run (launcher.go)
	floor     string // the floor of a TOTP login (floor/main.go), static
	duoBare   string // a bare duo_api_golang push login (duobare/main.go)
	base      string // -base: another logingate binary timed beside this one
}

func build(ctx context.Context, dir string) (binaries, error) {
	b := binaries{
		gate:      filepath.Join(dir, "logingate"),
		nopStatic: filepath.Join(dir, "nop-static"),
		nopCgo:    filepath.Join(dir, "nop-cgo"),
	}
	if out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.gate+".built", "./cmd/logingate").CombinedOutput(); err != nil {
		return b, fmt.Errorf("go build logingate: %v\n%s", err, out)
	}
	if err := installCopy(b.gate+".built", b.gate); err != nil {
		return b, err
	}
	var err error
	if b.launcher, err = buildLauncher(ctx, dir); err != nil {
		return b, err
	}
	b.floor, b.duoBare = filepath.Join(dir, "floor"), filepath.Join(dir, "duobare")
	for _, p := range []struct{ out, pkg, cgo string }{
		{b.floor, "./scripts/bench/floor", "0"},
		{b.duoBare, "./scripts/bench/duobare", "1"}, // built as the gate is
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", p.out, p.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+p.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", p.pkg, err, out)
		}
	}
	for _, p := range []struct{ out, src, cgo string }{
		{b.nopStatic, "package main\n\nfunc main() {}\n", "0"},
		{b.nopCgo, "package main\n\nimport \"C\"\n\nfunc main() {}\n", "1"},
	} {
		src := p.out + "-src"
		if err := os.Mkdir(src, 0o700); err != nil {
			return b, err
		}
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(p.src), 0o600); err != nil {
			return b, err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", p.out, "main.go")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+p.cgo, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", filepath.Base(p.out), err, out)
		}
	}
	return b, nil
}

// sample is one timed run: wall time from just before fork to the reaped
// exit, the CPU time (user and system) the process used, and its peak
// resident set. Linux keeps the CPU time and the peak across exec, so for
// the gate they cover the gate and the shell it becomes.
type sample struct {
	wall, cpu time.Duration
	rssKiB    int64
	faults    int64 // minor page faults: pages of the binary and libraries touched, memory first used
}

// runner runs one process at a time through the launcher, with stderr and
// the launcher's report in reused files, so that no pipe or copying
// goroutine runs along with the timed process.
type runner struct {
	launcher       string
	stderr, report *os.File
}

func newRunner(dir, launcher string) (*runner, error) {
	r := &runner{launcher: launcher}
	var err error
	if r.stderr, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		return nil, err
	}
	if r.report, err = os.Create(filepath.Join(dir, "report")); err != nil {
		r.stderr.Close()
		return nil, err
	}
	return r, nil
}

func (r *runner) close() { r.stderr.Close(); r.report.Close() }

// run times cmd (its path, argv, environment and stdin) in a new session,
// with no controlling terminal, as a non-interactive ssh session. It returns
// the exit status and what the process wrote to stderr.
func (r *runner) run(cmd *exec.Cmd) (s sample, status int, stderr string, err error) {
	for _, f := range []*os.File{r.stderr, r.report} {
		if err := f.Truncate(0); err != nil {
			return s, 0, "", err
		}
		if _, err := f.Seek(0, 0); err != nil {
			return s, 0, "", err
		}
	}
	l := exec.Command(r.launcher, append([]string{cmd.Path}, cmd.Args...)...)
	l.Env, l.Stdin, l.Stdout, l.Stderr = cmd.Env, cmd.Stdin, cmd.Stdout, r.stderr
	l.ExtraFiles = []*os.File{r.report} // fd 3
	l.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := l.Run(); err != nil {
		return s, 0, "", fmt.Errorf("launcher: %v", err)
	}
	var ns, rss, cpu, faults int64
	if _, err := fmt.Fscan(io.NewSectionReader(r.report, 0, 256), &ns, &rss, &status, &cpu, &faults); err != nil {
		return s, 0, "", fmt.Errorf("launcher report: %v", err)
	}
	buf := make([]byte, 4096)
	n, _ := r.stderr.ReadAt(buf, 0)
	return sample{time.Duration(ns), time.Duration(cpu) * time.Microsecond, rss, faults}, status, string(buf[:n]), nil
}

// restore puts data back at path durably: temp file, fsync, rename, fsync
// of the directory. It runs outside the timed region; flushing here keeps
// the next timed fsync from paying for this write.
func restore(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".bench-restore"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// totpCode computes an RFC 6238 code (HMAC-SHA1, 30 s steps) here in the
// driver, independent of logingate's implementation; checkTOTP compares it
// once with oathtool.
func totpCode(secret string, t time.Time, digits int) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		panic("bench: bad base32 secret from enroll")
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	off := sum[len(sum)-1] & 0xf
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// checkTOTP compares totpCode with oathtool, when oathtool is installed.
func checkTOTP(secret string) error {
	path, err := exec.LookPath("oathtool")
	if err != nil {
		return nil
	}
	now := time.Now()
	out, err := exec.Command(path, "--totp", "-b", fmt.Sprintf("--now=@%d", now.Unix()), secret).Output()
	if err != nil {
		return fmt.Errorf("oathtool: %v", err)
	}
	if got, want := totpCode(secret, now, 6), strings.TrimSpace(string(out)); got != want {
		return fmt.Errorf("the bench's TOTP code %s differs from oathtool's %s", got, want)
	}
	return nil
}

// enrollment is what `logingate enroll --no-verify --json` hands out.
type enrollment struct {
	secret string
	codes  []string
}

// enroll makes a fresh enrollment for root through the CLI.
func enroll(ctx context.Context, gate, cfg string) (*enrollment, error) {
	cmd := exec.CommandContext(ctx, gate, "-c", cfg, "enroll", "--user", "root", "--no-verify", "--json", "--force")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("logingate enroll: %v: %s%s", err, out, stderr.Bytes())
	}
	var e struct {
		URI   string   `json:"otpauth_uri"`
		Codes []string `json:"backup_codes"`
	}
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("logingate enroll --json: %v", err)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		return nil, fmt.Errorf("logingate enroll: otpauth URI: %v", err)
	}
	en := &enrollment{secret: u.Query().Get("secret"), codes: e.Codes}
	if en.secret == "" || len(en.codes) == 0 {
		return nil, errors.New("logingate enroll: no secret or no backup codes in its output")
	}
	return en, nil
}

// gateDir is a state directory, audit socket and config for the gate.
type gateDir struct {
	dir, config, state string
	audit              *auditSink
}

// newGateDir makes dir/name with a mode 1733 state directory (as the README
// asks), an audit socket standing in for syslog, and a config of the
// defaults plus extra.
func newGateDir(parent, name, extra string) (*gateDir, error) {
	dir := filepath.Join(parent, name)
	g := &gateDir{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(g.state, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(g.state, 0o733|os.ModeSticky); err != nil {
		return nil, err
	}
	var err error
	if g.audit, err = listenAudit(filepath.Join(dir, "audit.sock")); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("state_dir: %s\naccept_env_factor: true\nsyslog: {socket: %s}\n%s", g.state, g.audit.path, extra)
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		g.audit.close()
		return nil, err
	}
	return g, nil
}

func (g *gateDir) close() { g.audit.close() }

// auditSink receives the gate's syslog datagrams and counts the allow lines,
// in all and by factor.
type auditSink struct {
	path     string
	conn     *net.UnixConn
	done     chan struct{}
	mu       sync.Mutex
	lines    int
	allow    int
	byFactor map[string]int // allow lines by their factor= value
}

func listenAudit(path string) (*auditSink, error) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	a := &auditSink{path: path, conn: c, done: make(chan struct{}), byFactor: map[string]int{}}
	go func() {
		defer close(a.done)
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			l := string(buf[:n])
			a.mu.Lock()
			if strings.Contains(l, "action=login") {
				a.lines++
				if strings.Contains(l, "result=allow") {
					a.allow++
					if _, rest, ok := strings.Cut(l, " factor="); ok {
						f, _, _ := strings.Cut(rest, " ")
						a.byFactor[f]++
					}
				}
			}
			a.mu.Unlock()
		}
	}()
	return a, nil
}

func (a *auditSink) counts() (lines, allow int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lines, a.allow
}

// allowed is the number of allow lines with factor=f.
func (a *auditSink) allowed(f string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byFactor[f]
}

func (a *auditSink) close() { a.conn.Close(); <-a.done }

// baseEnv is the environment of every timed process: what a
// non-interactive ssh session would give, without the SSH_ variables (they
// change nothing in the gate's work).
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"}, extra...)
}
