package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logingate/logingate/internal/store/filestore"
)

// The stress run: every worker starts one gate process after another, all
// for root against one state, so every login waits on the same per-user
// lock. A worker picks, per attempt:
const (
	pctTOTP   = 40 // the current TOTP code of the current enrollment
	pctBackup = 20 // a backup code of the current enrollment, maybe used already
	pctReplay = 20 // a code that has already been accepted once
	//                 the rest: a wrong code, TOTP- or backup-shaped
	reenrollEvery = 2 * time.Second // `enroll --force` with a new secret, as an admin would
	readEvery     = 10 * time.Millisecond
	stressDigits  = 8 // so that a wrong or old code matches by chance with odds of 1e-8, not 1e-6
)

// stressSection is the stress run on each backend, one after the other,
// the file backend first.
type stressSection struct {
	runs      []*stressResult
	pgVersion string // the PostgreSQL the second run went against
	pgMissing string // why there is no PostgreSQL run, if there is none
}

func stressBoth(ctx context.Context, dir, gate string, procs int, d time.Duration) (*stressSection, error) {
	sec := &stressSection{}
	for _, pg := range []bool{false, true} {
		var db *pgBench
		if pg {
			var err error
			if db, sec.pgMissing, err = newPGBench(ctx, dir); err != nil {
				return nil, fmt.Errorf("stress: PostgreSQL: %v", err)
			} else if db == nil {
				say("stress: no PostgreSQL run: %s", sec.pgMissing)
				return sec, nil
			}
			defer db.close()
			sec.pgVersion = db.version
		}
		say("stress: %d processes for %s, backend %s", procs, d, map[bool]string{false: "file", true: sec.pgVersion}[pg])
		r, err := stress(ctx, dir, gate, procs, d, db)
		if err != nil {
			return nil, fmt.Errorf("stress: %v", err)
		}
		sec.runs = append(sec.runs, r)
	}
	return sec, nil
}

// stressUser is whose state every gate process of the run fights over.
const stressUser = "root"

// stressResult is one backend's stress run.
type stressResult struct {
	backend  string // "file" or "postgres"
	load     string // load averages when it started
	procs    int
	asked    time.Duration // how long workers started new attempts
	dur      time.Duration // until the last attempt ended
	attempts int
	outcomes map[string]int // accepted, already used, wrong code, rate limited, other
	others   map[string]int // other outcomes by message
	accepts  int
	double   int // a credential accepted more than once
	falseAcc int // a wrong code accepted
	enrolls  int
	// enrollFailed: why re-enrollments failed (the store timed out under
	// the load); each is tried again at the next tick.
	enrollFailed []string
	reads        int // state reads during the run
	corrupt      int // of which did not load or decode
	final        string
	strays       int             // temp files left in the user's directory; -1 for a database
	audit        int             // allow lines received by the audit socket
	lat, latOK   []time.Duration // sorted
}

type credential struct{ key, code string }

type stressRun struct {
	gate, cfg string
	mu        sync.Mutex
	cur       *enrollment
	gen       int
	accepted  []credential
	seen      map[string]int
	res       *stressResult
}

// backendView is how the driver reads the user's state while the gates
// write it: read loads and decodes it once; strays counts what writers
// left half-done (temp files), or is -1 where there is no such thing.
type backendView struct {
	read   func(ctx context.Context) error
	strays func() int
	close  func()
}

// stress runs the workload against the file backend, or against pg's
// database when pg is not nil.
func stress(ctx context.Context, dir, gate string, procs int, d time.Duration, pg *pgBench) (*stressResult, error) {
	extra := fmt.Sprintf("totp: {digits: %d}\nrate_limit: {failures: 1000, per: 1s}\n", stressDigits)
	name := "file"
	if pg != nil {
		extra += pg.block
		name = "postgres"
	}
	g, err := newGateDir(dir, "stress-"+name, extra)
	if err != nil {
		return nil, err
	}
	defer g.close()
	userDir := filepath.Join(g.state, stressUser)
	view := backendView{
		read: func(context.Context) error {
			b, err := os.ReadFile(filepath.Join(userDir, "state.json"))
			if err == nil {
				_, err = filestore.Decode(b)
			}
			return err
		},
		strays: func() int { m, _ := filepath.Glob(filepath.Join(userDir, "state.json.tmp-*")); return len(m) },
		close:  func() {},
	}
	if pg != nil {
		if view, err = pg.view(ctx, gate, g.config); err != nil {
			return nil, err
		}
	}
	defer view.close()
	s := &stressRun{gate: gate, cfg: g.config, seen: map[string]int{},
		res: &stressResult{backend: name, load: loadavg(), procs: procs, asked: d, outcomes: map[string]int{}, others: map[string]int{}}}
	if s.cur, err = enroll(ctx, gate, g.config); err != nil {
		return nil, err
	}
	s.res.enrolls = 1

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, d)
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for range procs {
		wg.Go(func() {
			if err := s.worker(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(reenrollEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failure is counted, and tried again at the next tick, as an
			// administrator would.
			en, err := enroll(context.WithoutCancel(ctx), gate, g.config)
			s.mu.Lock()
			if err != nil {
				s.res.enrollFailed = append(s.res.enrollFailed, err.Error())
			} else {
				s.cur, s.gen = en, s.gen+1
				s.res.enrolls++
			}
			s.mu.Unlock()
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			// Not cut short by the run's end: a read it interrupts
			// would count as one that failed.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := view.read(rctx)
			rcancel()
			s.mu.Lock()
			s.res.reads++
			if err != nil {
				s.res.corrupt++
			}
			s.mu.Unlock()
			time.Sleep(readEvery)
		}
	})
	wg.Wait()
	s.res.dur = time.Since(start)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}

	r := s.res
	for _, n := range s.seen {
		r.accepts += n
		r.double += max(n-1, 0)
	}
	r.final = "decodes"
	if err := view.read(context.WithoutCancel(ctx)); err != nil {
		r.final = "does not load: " + err.Error()
	}
	r.strays = view.strays()
	// Every gate sent its line before it exited; give this reader a moment.
	for range 100 {
		if g.audit.allowed("*") >= r.accepts {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.audit = g.audit.allowed("*")
	slices.Sort(r.lat)
	slices.Sort(r.latOK)
	return r, nil
}

// pick chooses the next code to present and the key of what it would use up.
func (s *stressRun) pick(rng *rand.Rand) credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p := rng.IntN(100); {
	case p < pctTOTP:
		now := time.Now()
		return credential{fmt.Sprintf("totp/%d/%d", s.gen, now.Unix()/30), totpCode(s.cur.secret, now, stressDigits)}
	case p < pctTOTP+pctBackup:
		code := s.cur.codes[rng.IntN(len(s.cur.codes))]
		return credential{"backup/" + code, code}
	case p < pctTOTP+pctBackup+pctReplay && len(s.accepted) > 0:
		return s.accepted[rng.IntN(len(s.accepted))]
	case rng.IntN(2) == 0:
		code := fmt.Sprintf("%0*d", stressDigits, rng.IntN(100000000))
		return credential{"wrong/" + code, code}
	default:
		const crockford = "0123456789abcdefghjkmnpqrstvwxyz"
		b := make([]byte, 14) // xxxx-xxxx-xxxx, the shape enroll hands out
		for i := range b {
			b[i] = crockford[rng.IntN(len(crockford))]
		}
		b[4], b[9] = '-', '-'
		return credential{"wrong/" + string(b), string(b)}
	}
}

func (s *stressRun) worker(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for ctx.Err() == nil {
		c := s.pick(rng)
		cmd := exec.Command(s.gate, "-c", s.cfg, "/bin/true")
		cmd.Env = baseEnv("LOGINGATE_PASSCODE=" + c.code)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if ee := (*exec.ExitError)(nil); err != nil && !errors.As(err, &ee) {
			return err
		}
		status, msg := cmd.ProcessState.ExitCode(), stderr.String()

		s.mu.Lock()
		r := s.res
		r.attempts++
		r.lat = append(r.lat, took)
		switch {
		case status == 0:
			r.outcomes["accepted"]++
			r.latOK = append(r.latOK, took)
			if strings.HasPrefix(c.key, "wrong/") {
				r.falseAcc++
			}
			if s.seen[c.key] == 0 {
				s.accepted = append(s.accepted, c)
			}
			s.seen[c.key]++
		case status == 1 && strings.Contains(msg, "already used"):
			r.outcomes["refused: already used"]++
		case status == 1 && strings.Contains(msg, "wrong code"):
			r.outcomes["refused: wrong code"]++
		case status == 1 && strings.Contains(msg, "too many failed attempts"):
			r.outcomes["refused: rate limited"]++
		default:
			r.outcomes["other"]++
			r.others[fmt.Sprintf("exit %d: %s", status, strings.Join(strings.Fields(msg), " "))]++
		}
		if stdout.Len() > 0 {
			r.outcomes["wrote to stdout"]++
		}
		s.mu.Unlock()
	}
	return nil
}
