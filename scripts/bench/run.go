package main

import (
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
	launcher  string // times and measures each run (launcher.go)
	floor     string // the floor of a TOTP login (floor/main.go), static
	duoBare   string // a bare duo_api_golang push login (duobare/main.go)
	base      string // -base: another logingate binary timed beside this one
}

func build(ctx context.Context, dir string) (binaries, error) {
	at := func(name string) string { return filepath.Join(dir, name) }
	b := binaries{gate: at("logingate"), nopStatic: at("nop-static"), floor: at("floor"), duoBare: at("duobare")}
	for _, p := range []struct{ out, pkg, cgo string }{
		{b.gate + ".built", "./cmd/logingate", "0"}, // static, as make build and make deb ship it
		{b.nopStatic, "./scripts/bench/nop", "0"},
		{b.floor, "./scripts/bench/floor", "0"},
		{b.duoBare, "./scripts/bench/duobare", "0"}, // built as the gate is
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", p.out, p.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+p.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", p.pkg, err, out)
		}
	}
	if err := installCopy(b.gate+".built", b.gate); err != nil {
		return b, err
	}
	var err error
	b.launcher, err = buildLauncher(ctx, dir)
	return b, err
}

// sample is one timed run: wall time from just before the spawn to the
// reaped exit, the CPU time (user and system), minor page faults and peak
// resident set. Linux keeps the last three across exec, so for the gate
// they cover the gate and the shell it becomes.
type sample struct {
	wall, cpu      time.Duration
	rssKiB, faults int64
}

// runner runs one process at a time through the launcher, with stderr and
// the launcher's report in reused files, so that no pipe or copying
// goroutine runs along with the timed process.
type runner struct {
	launcher       string
	stderr, report *os.File
}

func newRunner(dir, launcher string) (*runner, error) {
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	report, err := os.Create(filepath.Join(dir, "report"))
	return &runner{launcher, stderr, report}, err
}

func (r *runner) close() { r.stderr.Close(); r.report.Close() }

// run times cmd (its path, argv, environment, stdin and stdout) in a new
// session with no controlling terminal, as a non-interactive ssh session;
// opts go to the launcher first (launcher.go). It returns the exit status
// and what the process wrote to stderr.
func (r *runner) run(cmd *exec.Cmd, opts ...string) (s sample, status int, stderr string, err error) {
	for _, f := range []*os.File{r.stderr, r.report} {
		if err := f.Truncate(0); err != nil {
			return s, 0, "", err
		}
		if _, err := f.Seek(0, 0); err != nil {
			return s, 0, "", err
		}
	}
	l := exec.Command(r.launcher, append(append(opts, cmd.Path), cmd.Args...)...)
	l.Env, l.Stdin, l.Stdout, l.Stderr = cmd.Env, cmd.Stdin, cmd.Stdout, r.stderr
	l.ExtraFiles = []*os.File{r.report} // fd 3
	l.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	buf := make([]byte, 4096)
	lerr := l.Run()
	n, _ := r.stderr.ReadAt(buf, 0)
	if lerr != nil {
		return s, 0, "", fmt.Errorf("launcher: %v: %s", lerr, buf[:n])
	}
	var ns, rss, cpu, faults int64
	if _, err := fmt.Fscan(io.NewSectionReader(r.report, 0, 256), &ns, &rss, &status, &cpu, &faults); err != nil {
		return s, 0, "", fmt.Errorf("launcher report: %v", err)
	}
	return sample{time.Duration(ns), time.Duration(cpu) * time.Microsecond, rss, faults}, status, string(buf[:n]), nil
}

// owner is who a restored file belongs to; nobody means as created (root).
type owner struct{ uid, gid int }

var nobody = owner{-1, -1}

// restore puts data back at path durably, owned by o: temp file, fsync,
// rename, fsync of the directory. It runs outside the timed region;
// flushing here keeps the next timed fsync from paying for this write.
func restore(path string, data []byte, mode os.FileMode, o owner) error {
	tmp := path + ".bench-restore"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && o != nobody {
		err = f.Chown(o.uid, o.gid)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// totpCode computes an RFC 6238 code (HMAC-SHA1, 30 s steps) here in the
// driver, independent of logingate's implementation; every login row's
// check proves it against the gate.
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

// enrollment is what `logingate enroll --no-verify --json` hands out.
type enrollment struct {
	secret string
	codes  []string
}

// enroll makes a fresh enrollment for root through the CLI.
func enroll(ctx context.Context, gate, cfg string) (*enrollment, error) {
	return parseEnroll(exec.CommandContext(ctx, gate, enrollArgs(cfg, "root")...).Output())
}

func enrollArgs(cfg, user string) []string {
	return []string{"-c", cfg, "enroll", "--user", user, "--no-verify", "--json", "--force"}
}

func parseEnroll(out []byte, err error) (*enrollment, error) {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		out = append(out, ee.Stderr...)
	}
	if err != nil {
		return nil, fmt.Errorf("logingate enroll: %v: %s", err, out)
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

// newGateDir makes dir/name with a state directory of mode 1733 (the
// layout without privilege separation, which every user may enter), an
// audit socket standing in for syslog, and a config of the defaults plus
// extra. Like /etc/logingate and /dev/log, the config and socket are
// there for any user's gate.
func newGateDir(parent, name, extra string) (*gateDir, error) {
	dir := filepath.Join(parent, name)
	g := &gateDir{dir: dir, config: filepath.Join(dir, "logingate.yaml"), state: filepath.Join(dir, "state")}
	if err := os.MkdirAll(g.state, 0o755); err != nil {
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
	if err := os.WriteFile(g.config, []byte(cfg), 0o644); err != nil {
		g.audit.close()
		return nil, err
	}
	return g, nil
}

func (g *gateDir) close() { g.audit.close() }

// auditSink receives the gate's syslog datagrams and counts the login
// allow lines by "USER/FACTOR", and all of them as "*".
type auditSink struct {
	path  string
	conn  *net.UnixConn
	done  chan struct{}
	mu    sync.Mutex
	byKey map[string]int
}

func listenAudit(path string) (*auditSink, error) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil {
		c.Close()
		return nil, err
	}
	a := &auditSink{path: path, conn: c, done: make(chan struct{}), byKey: map[string]int{}}
	go func() {
		defer close(a.done)
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			l := string(buf[:n])
			field := func(k string) string {
				_, v, _ := strings.Cut(l, " "+k+"=")
				v, _, _ = strings.Cut(v, " ")
				return v
			}
			a.mu.Lock()
			if strings.Contains(l, "action=login") && strings.Contains(l, "result=allow") {
				a.byKey["*"]++
				a.byKey[field("user")+"/"+field("factor")]++
			}
			a.mu.Unlock()
		}
	}()
	return a, nil
}

// allowed is the number of allow lines for key, "USER/FACTOR".
func (a *auditSink) allowed(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byKey[key]
}

// audited adds to c's check one more allow line for key in the audit log.
// The gate sent it before it exec'd the shell; the wait is for this
// driver's reader, outside the timed region.
func (a *auditSink) audited(c kase, key string) kase {
	prep, check := c.prep, c.check
	if check == nil {
		check = ok
	}
	var want int
	c.prep = func() (*exec.Cmd, error) { want = a.allowed(key) + 1; return prep() }
	c.check = func(status int, stderr string) error {
		if err := check(status, stderr); err != nil {
			return err
		}
		for deadline := time.Now().Add(2 * time.Second); a.allowed(key) < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := a.allowed(key); n != want {
			return fmt.Errorf("%d allow lines for %s in the audit log, want %d", n, key, want)
		}
		return nil
	}
	return c
}

func (a *auditSink) close() { a.conn.Close(); <-a.done }

// baseEnv is the environment of every timed process: what a
// non-interactive ssh session would give, without the SSH_ variables (they
// change nothing in the gate's work).
func baseEnv(extra ...string) []string { return env("/root", extra...) }

func env(home string, extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8"}, extra...)
}
