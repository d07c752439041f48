package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// warmup runs per case are made first and thrown away.
const warmup = 10

// kase is one row of the latency table.
type kase struct {
	id, label string
	// prep builds the command; it may restore state first. Untimed.
	prep func() (*exec.Cmd, error)
	// check says whether the run did what the row claims.
	check func(status int, stderr string) error
	opts  []string // the launcher's options (launcher.go)
}

// row is a case's measurements.
type row struct {
	kase
	samples []sample
}

func (r *row) wall(q float64) time.Duration {
	return r.quantile(q, func(s sample) int64 { return int64(s.wall) })
}
func (r *row) cpu(q float64) time.Duration {
	return r.quantile(q, func(s sample) int64 { return int64(s.cpu) })
}
func (r *row) faults() int64 { return int64(r.quantile(0.5, func(s sample) int64 { return s.faults })) }

func (r *row) quantile(q float64, of func(sample) int64) time.Duration {
	d := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		d[i] = time.Duration(of(s))
	}
	slices.Sort(d)
	return quantile(d, q)
}

func (r *row) maxRSS() int64 {
	var m int64
	for _, s := range r.samples {
		m = max(m, s.rssKiB)
	}
	return m
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// latencyResult is the latency section.
type latencyResult struct {
	rows       []*row
	shell      string
	fsync      time.Duration // median in-process durable write of a state-sized file
	fsyncBytes int
	missing    []string // peers whose rows are absent, and why
	loadAfter  string
}

func (l *latencyResult) get(id string) *row {
	for _, r := range l.rows {
		if r.id == id {
			return r
		}
	}
	return nil
}

// latency runs every case n times, interleaved: each round runs every case
// once, in a new random order, so that drift in the machine's load and
// whatever one program leaves behind for the next spread evenly over the
// rows.
func latency(ctx context.Context, dir string, bins binaries, n int, only []string) (*latencyResult, error) {
	shell, err := loginShell()
	if err != nil {
		return nil, err
	}
	res := &latencyResult{shell: shell}
	r, err := newRunner(dir, bins.launcher)
	if err != nil {
		return nil, err
	}
	defer r.close()
	gs, err := newGateSet(ctx, dir, "latency", bins.gate, "", "")
	if err != nil {
		return nil, err
	}
	defer gs.close()

	plain := func(path string, args ...string) func() (*exec.Cmd, error) {
		return func() (*exec.Cmd, error) {
			cmd := exec.Command(path, args...)
			cmd.Env = baseEnv()
			return cmd, nil
		}
	}
	floorDir := filepath.Join(dir, "floor-state")
	if err := os.Mkdir(floorDir, 0o700); err != nil {
		return nil, err
	}
	if err := restore(filepath.Join(floorDir, "state.json"), gs.pristine, 0o600, nobody); err != nil {
		return nil, err
	}
	shellRun := "`" + shell + " -c /bin/true`"
	cases := []kase{
		{id: "true", label: "`/bin/true`", prep: plain("/bin/true")},
		{id: "go-static", label: "Go, empty `main`, `CGO_ENABLED=0`", prep: plain(bins.nopStatic)},
		{id: "version", label: "`logingate version` (start-up only)", prep: plain(bins.gate, "version")},
		{id: "check-config", label: "`logingate check-config` (start-up + config)", prep: plain(bins.gate, "-c", gs.g.config, "check-config")},
		{id: "shell", label: "A: " + shellRun + " alone", prep: func() (*exec.Cmd, error) {
			cmd := exec.Command(shell, "-c", "/bin/true")
			cmd.Args[0] = filepath.Base(shell) // as the gate execs it
			cmd.Env = baseEnv()
			return cmd, nil
		}},
		{id: "floor", label: "F: the floor (static Go: lock, read, durable rewrite of the state, then " + shellRun + ")", prep: plain(bins.floor, floorDir, shell)},
	}
	cases = append(cases, gs.cases(shellRun)...)
	if bins.base != "" {
		base, err := newGateSet(ctx, dir, "latency-base", bins.base, "base-", " (base)")
		if err != nil {
			return nil, fmt.Errorf("base binary: %v", err)
		}
		defer base.close()
		cases = append(cases, base.cases(shellRun)...)
	}
	for _, start := range []func() (peer, error){
		func() (peer, error) { return nssRows(dir, gs, r, shell, shellRun) },
		func() (peer, error) { return duoRows(dir, gs.g, warmup+n, bins, shell, shellRun) },
		func() (peer, error) { return radiusRows(dir, bins.gate, shellRun) },
		func() (peer, error) { return pamRows(ctx, dir) },
	} {
		pr, err := start()
		if err != nil {
			return nil, err
		}
		if pr.close != nil {
			defer pr.close()
		}
		if pr.why != "" {
			res.missing = append(res.missing, pr.why)
		}
		cases = append(cases, pr.cases...)
	}
	if len(only) > 0 {
		cases = slices.DeleteFunc(cases, func(c kase) bool { return !slices.Contains(only, c.id) })
	}
	for _, c := range cases {
		if c.check == nil {
			c.check = ok
		}
		res.rows = append(res.rows, &row{kase: c})
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for i := range warmup + n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, j := range rng.Perm(len(res.rows)) {
			row := res.rows[j]
			cmd, err := row.prep()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", row.id, err)
			}
			s, status, stderr, err := r.run(cmd, row.opts...)
			if err == nil {
				err = row.check(status, stderr)
			}
			if err != nil {
				return nil, fmt.Errorf("%s (run %d): %v", row.label, i, err)
			}
			if i >= warmup {
				row.samples = append(row.samples, s)
			}
		}
		if (i+1)%50 == 0 {
			say("latency: %d/%d rounds", i+1, warmup+n)
		}
	}
	res.loadAfter = loadavg()
	res.fsyncBytes = len(gs.pristine)
	res.fsync, err = fsyncCost(gs.g.dir, len(gs.pristine), n)
	return res, err
}

// peer is what a peer adds to the run: its rows, or why it cannot (not
// installed), and what to stop at the end.
type peer struct {
	cases []kase
	close func()
	why   string
}

// ok is the check of a row that must exit 0 and say nothing.
var ok = exits(0, "")

// exits is the check of a row that must exit with status and say says (or
// nothing, when says is empty), and no warning.
func exits(status int, says string) func(int, string) error {
	return func(st int, stderr string) error {
		if st != status || !strings.Contains(stderr, says) || (says == "" && stderr != "") || strings.Contains(stderr, "warning") {
			return fmt.Errorf("want exit %d saying %q, got exit %d: %q", status, says, st, stderr)
		}
		return nil
	}
}

// gateSet is one logingate binary's gate rows (B, C, D) with a state
// directory and enrollment of its own, so that a second binary (-base)
// can be timed in the same run with codes of its own format.
type gateSet struct {
	g             *gateDir
	bin           string
	en            *enrollment
	state         string
	pristine      []byte
	idPre, suffix string
}

func newGateSet(ctx context.Context, dir, name, bin, idPre, suffix string) (*gateSet, error) {
	g, err := newGateDir(dir, name, "")
	if err != nil {
		return nil, err
	}
	gs := &gateSet{g: g, bin: bin, state: filepath.Join(g.state, "root", "state.json"), idPre: idPre, suffix: suffix}
	if gs.en, err = enroll(ctx, bin, g.config); err == nil {
		gs.pristine, err = os.ReadFile(gs.state)
	}
	if err != nil {
		g.close()
		return nil, err
	}
	return gs, nil
}

func (gs *gateSet) close() { gs.g.close() }

// login is root's login with code, from the fresh enrollment.
func (gs *gateSet) login(code string) (*exec.Cmd, error) {
	if err := restore(gs.state, gs.pristine, 0o600, nobody); err != nil {
		return nil, err
	}
	cmd := exec.Command(gs.bin, "-c", gs.g.config, "/bin/true")
	cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + code)
	return cmd, nil
}

func (gs *gateSet) totp() (*exec.Cmd, error) { return gs.login(totpCode(gs.en.secret, time.Now(), 6)) }

func (gs *gateSet) cases(shellRun string) []kase {
	a := gs.g.audit
	return []kase{
		a.audited(kase{id: gs.idPre + "totp", label: "B: gate, TOTP code, then " + shellRun + gs.suffix, prep: gs.totp}, "root/totp"),
		{id: gs.idPre + "wrong", label: "C: gate, wrong code (denied, no exec)" + gs.suffix,
			prep: func() (*exec.Cmd, error) { return gs.login(wrongCode(gs.en.secret)) }, check: exits(1, "wrong code")},
		a.audited(kase{id: gs.idPre + "backup", label: "D: gate, backup code, then " + shellRun + gs.suffix,
			prep: func() (*exec.Cmd, error) { return gs.login(gs.en.codes[0]) }, check: exits(0, "backup codes left")}, "root/backup"),
	}
}

// wrongCode is a 6-digit code that matches none of the steps the gate
// accepts right now.
func wrongCode(secret string) string {
	now := time.Now()
	valid := map[string]bool{}
	for d := -2; d <= 2; d++ {
		valid[totpCode(secret, now.Add(time.Duration(d)*30*time.Second), 6)] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", (i*7919)%1000000); !valid[c] {
			return c
		}
	}
}

// loginShell is root's shell from NSS, which the gate execs.
func loginShell() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	out, err := exec.Command("getent", "passwd", u.Username).Output()
	if err != nil {
		return "", fmt.Errorf("getent passwd %s: %v", u.Username, err)
	}
	if f := strings.Split(strings.TrimSpace(string(out)), ":"); len(f) >= 7 && f[6] != "" {
		return f[6], nil
	}
	return "/bin/sh", nil
}

// fsyncCost times, in this process, what the state store does for each
// change: write a state-sized temp file, fsync, rename it over the old one,
// fsync the directory. It tells how much of the gate's time is the disk.
func fsyncCost(dir string, size, n int) (time.Duration, error) {
	d := filepath.Join(dir, "fsync")
	if err := os.Mkdir(d, 0o700); err != nil {
		return 0, err
	}
	data := make([]byte, size)
	var times []time.Duration
	for range n {
		start := time.Now()
		if err := restore(filepath.Join(d, "state.json"), data, 0o600, nobody); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return quantile(times, 0.5), nil
}
