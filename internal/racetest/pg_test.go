package racetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/pgstore"
	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/logingate/logingate/internal/testutil/pgtest"
)

// The same races across hosts: every gate process has its own config,
// differing from the others in nothing but store.host, and all of them
// share one PostgreSQL database.

const pgKey = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

// pgRig is one database and one config per host.
type pgRig struct {
	*rig
	srv     *pgtest.Server
	dsnFile string
	configs []string
	pg      *pgstore.Store
}

func newPGRig(t *testing.T, failmode string, timeout time.Duration) *pgRig {
	t.Helper()
	r := &pgRig{rig: newRig(t), srv: pgtest.Start(t)}
	dsn := r.srv.NewDB(t)
	r.dsnFile = filepath.Join(r.dir, "store.dsn")
	keyFile := filepath.Join(r.dir, "store.keys")
	for p, s := range map[string]string{r.dsnFile: dsn + "\n", keyFile: pgKey + "\n"} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := pgstore.ParseKeyring([]byte(pgKey))
	if err != nil {
		t.Fatal(err)
	}
	if r.pg, err = pgstore.Open(pgstore.Options{DSN: dsn, Keys: keys, Host: "racetest"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.pg.Close)
	if _, _, err := r.pg.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range procs {
		cfg := fmt.Sprintf(`accept_env_factor: true
failmode: %s
totp: {issuer: racetest, digits: 6, period: %ds, algorithm: SHA1, window: 1}
backup_codes: {count: %d}
rate_limit: {failures: 1000, per: 1m}
syslog: {socket: %s}
store: {backend: postgres, dsn_file: %s, key_file: %s, timeout: %s, host: host%02d}
`, failmode, period, backupCount, r.audit.Path, r.dsnFile, keyFile, timeout, i)
		p := filepath.Join(r.dir, fmt.Sprintf("host%02d.yaml", i))
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r.configs = append(r.configs, p)
	}
	return r
}

// enroll gives the user a fresh secret and backup codes in the database.
func (r *pgRig) enroll(t *testing.T) (secret string, codes []string) {
	t.Helper()
	return enrollIn(t, r.pg, r.user)
}

func (r *pgRig) load(t *testing.T) *store.UserState {
	t.Helper()
	st, err := r.pg.Load(context.Background(), r.user)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// gate runs one gate process with host i's config and code.
func (r *pgRig) gate(i int, code string, res *result) *exec.Cmd {
	c := exec.Command(gateBin, "-c", r.configs[i], "true")
	c.Env = []string{"PATH=/usr/bin:/bin", "LOGINGATE_PASSCODE=" + code}
	c.Stdout, c.Stderr = &res.stdout, &res.stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return c
}

// race is rig.race with one host per process.
func (r *pgRig) race(t *testing.T, round int, code, loserSays string) []result {
	t.Helper()
	r.audit.Reset()
	res := make([]result, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = r.gate(i, code, &res[i])
	}
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatalf("round %d: start %d: %v", round, i, err)
		}
	}
	wins := 0
	for i, c := range cmds {
		res[i].status = exitStatus(t, c.Wait(), &res[i])
		p := &res[i]
		switch {
		case p.stdout.Len() != 0:
			t.Errorf("round %d: host%02d wrote to stdout: %q", round, i, p.stdout.String())
		case p.status == 0:
			wins++
		case p.status != 1 || !strings.Contains(p.stderr.String(), loserSays):
			t.Errorf("round %d: host%02d exited %d saying %q, want 1 and %q", round, i, p.status, p.stderr.String(), loserSays)
		}
	}
	if wins != 1 {
		t.Fatalf("round %d: %d of %d hosts got in with one code, want exactly 1", round, wins, procs)
	}
	return res
}

func exitStatus(t *testing.T, err error, res *result) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("gate: %v (stderr %q)", err, res.stderr.String())
	return -1
}

// TestPGTOTPCodeRace: 16 hosts present the same TOTP code at once; one
// gets in, round after round, and the database holds the step and every
// loser's failure.
func TestPGTOTPCodeRace(t *testing.T) {
	oathtool := need.Tool(t, "oathtool")
	r := newPGRig(t, "secure", 3*time.Second)
	for round := range rounds {
		secret, _ := r.enroll(t)
		now := time.Now()
		out, err := exec.Command(oathtool, "--totp", "-b", "--now=@"+strconv.FormatInt(now.Unix(), 10), secret).Output()
		if err != nil {
			t.Fatalf("round %d: oathtool: %v", round, err)
		}
		res := r.race(t, round, strings.TrimSpace(string(out)), "already used")
		st := r.load(t)
		if st.TOTP == nil || st.TOTP.LastStep != now.Unix()/period {
			t.Errorf("round %d: last accepted step %+v, want %d", round, st.TOTP, now.Unix()/period)
		}
		r.checkRecorded(t, round, st, res, "totp")
	}
}

// TestPGBackupCodeRace: 16 hosts present the same backup code; one gets
// in, and the code is gone fleet-wide.
func TestPGBackupCodeRace(t *testing.T) {
	r := newPGRig(t, "secure", 3*time.Second)
	for round := range rounds {
		_, codes := r.enroll(t)
		res := r.race(t, round, codes[0], "wrong code")
		st := r.load(t)
		if st.Backup == nil || len(st.Backup.Codes) != backupCount-1 {
			t.Errorf("round %d: backup codes left: %+v, want %d", round, st.Backup, backupCount-1)
		}
		r.checkRecorded(t, round, st, res, "backup")
	}
}

// TestPGOutage: a database that is stopped, paused or refusing
// connections is an outage: the gate gives up within its bounds and
// failmode decides; nothing is written.
func TestPGOutage(t *testing.T) {
	for _, failmode := range []string{"safe", "secure"} {
		for _, how := range []string{"stopped", "paused", "refusing"} {
			t.Run(failmode+"/"+how, func(t *testing.T) {
				r := newPGRig(t, failmode, 500*time.Millisecond)
				_, codes := r.enroll(t)
				before := r.load(t)
				switch how {
				case "stopped":
					if err := r.srv.Stop(); err != nil {
						t.Fatal(err)
					}
				case "paused":
					if err := r.srv.Pause(); err != nil {
						t.Fatal(err)
					}
				case "refusing":
					// A server that accepts and hangs up at once: the
					// DSN file points at it instead.
					l, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					defer l.Close()
					go func() {
						for {
							c, err := l.Accept()
							if err != nil {
								return
							}
							c.Close()
						}
					}()
					dsn := strings.Replace(r.srv.DSN("x"), ":"+strconv.Itoa(r.srv.Port)+"/", ":"+strconv.Itoa(l.Addr().(*net.TCPAddr).Port)+"/", 1)
					if err := os.WriteFile(r.dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				var res result
				c := r.gate(0, codes[0], &res)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- c.Wait() }()
				var err error
				select {
				case err = <-done:
				case <-time.After(time.Minute): // a hang fails; this is no timing
					_ = c.Process.Kill()
					t.Fatalf("gate still running a minute into a %s database", how)
				}
				status := exitStatus(t, err, &res)
				switch failmode {
				case "safe":
					if status != 0 || !strings.Contains(res.stderr.String(), "letting you in (failmode safe)") {
						t.Errorf("exit %d, stderr %q; want in with the failmode safe warning", status, res.stderr.String())
					}
				default:
					if status != 1 || !strings.Contains(res.stderr.String(), "state store cannot be reached; access denied") {
						t.Errorf("exit %d, stderr %q; want denied, store unreachable", status, res.stderr.String())
					}
				}
				if strings.Contains(res.stderr.String(), r.srv.Password) {
					t.Errorf("the gate showed the database password: %q", res.stderr.String())
				}
				if how == "paused" {
					if err := r.srv.Resume(); err != nil {
						t.Fatal(err)
					}
				} else if how == "stopped" {
					if err := r.srv.Restart(); err != nil {
						t.Fatal(err)
					}
				}
				after := r.load(t)
				if len(after.Backup.Codes) != len(before.Backup.Codes) || after.LastSuccess != nil || len(after.Failures) != 0 {
					t.Errorf("the outage left a change: %d codes (was %d), last success %+v, failures %v",
						len(after.Backup.Codes), len(before.Backup.Codes), after.LastSuccess, after.Failures)
				}
			})
		}
	}
}
