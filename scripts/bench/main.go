// Command bench measures what logingate adds to a login and writes
// docs/BENCHMARKS.md. `make bench` runs it through scripts/bench.sh.
//
//	go run ./scripts/bench [-n 300] [-stress 20s] [-procs 64] [-out docs/BENCHMARKS.md]
//
// Two sections:
//
//   - Latency: process start to the exec of the command, as issue 2 asks:
//     the gate running `$SHELL -c /bin/true` after a TOTP code, against
//     `$SHELL -c /bin/true` alone, interleaved in the same run; the deny and
//     backup-code paths; context rows (a bare /bin/true, trivial Go binaries,
//     logingate's own start and config load); and, where installed,
//     google-authenticator's PAM module through pamtester; a RADIUS login
//     against a real FreeRADIUS the driver starts on loopback (radius.go).
//   - Stress: many gate processes at once against one user's state, with
//     good, wrong and replayed codes and re-enrollments, counting double
//     accepts, corrupt state reads and latency; on the file backend, then
//     on a PostgreSQL the driver starts on loopback (pgstress.go).
//
// A peer that is not installed (google-authenticator, FreeRADIUS,
// PostgreSQL) leaves its rows out, and the report says why.
//
// A TOTP step or a backup code works once, so before each timed gate run the
// user's state file is put back to the same fresh enrollment (untimed, and
// flushed to disk so that the gate's own fsync pays for nothing of ours);
// google-authenticator's secrets file is restored the same way.
//
// It needs root: the gate reads root's own state, and the PAM rows install a
// service file in /etc/pam.d for the duration of the run. Everything it
// creates (a temp directory, the PAM service files) is removed on exit, and
// the servers it starts are stopped by their pids, also on failure or
// Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 300, "timed runs per latency case")
	stressFor := flag.Duration("stress", 60*time.Second, "length of each stress run, one per backend (0 skips them)")
	procs := flag.Int("procs", 64, "concurrent gate processes in the stress run")
	out := flag.String("out", "docs/BENCHMARKS.md", "the report to write")
	rows := flag.String("rows", "", "comma-separated row ids: time only these, print a table, write no report")
	base := flag.String("base", "", "another logingate binary (say, built from main) whose gate rows run beside this one's")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var only []string
	if *rows != "" {
		only = strings.Split(*rows, ",")
	}
	if err := run(ctx, *n, *stressFor, *procs, *out, only, *base); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted; what the bench made is removed, the report is not written")
		}
		fmt.Fprintf(os.Stderr, "bench: error: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, stressFor time.Duration, procs int, out string, only []string, base string) error {
	if os.Geteuid() != 0 {
		return errors.New("run it as root (sudo make bench): the gate checks root's own state and the PAM rows need /etc/pam.d")
	}
	if n < 10 {
		return errors.New("-n must be at least 10")
	}
	if _, err := os.Stat("cmd/logingate"); err != nil {
		return errors.New("run it from the repository root (make bench does)")
	}
	dir, err := os.MkdirTemp("", "logingate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	say("building logingate and the context binaries")
	bins, err := build(ctx, dir)
	if err != nil {
		return err
	}
	if base != "" {
		bins.base = filepath.Join(dir, "logingate-base")
		if err := installCopy(base, bins.base); err != nil {
			return err
		}
	}
	info := machine(dir)
	if len(only) > 0 {
		say("latency: %d interleaved runs of %s", n, strings.Join(only, ", "))
		lat, err := latency(ctx, dir, bins, n, only)
		if err != nil {
			return err
		}
		fmt.Print(table(info, lat))
		return nil
	}
	su, err := startup(ctx, bins.gate, startupRuns)
	if err != nil {
		return err
	}

	say("latency: %d interleaved runs per case", n)
	lat, err := latency(ctx, dir, bins, n, nil)
	if err != nil {
		return err
	}
	var st *stressSection
	if stressFor > 0 {
		if st, err = stressBoth(ctx, dir, bins.gate, procs, stressFor); err != nil {
			return err
		}
	}
	doc := report(info, lat, su, st, n)
	if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(out)
	say("wrote %s", abs)
	return nil
}

// installCopy writes a copy of the binary src at dst with plain writes, as
// install(1) and dpkg put a binary in place. How a binary's pages sit in
// the page cache (written by the linker's mmap, by write(2), or long
// cached) moves its peak RSS by megabytes, identical bytes or not, so
// every logingate the bench times is put in place the same way.
func installCopy(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// stressSection is the stress run on each backend, one after the other,
// the file backend first.
type stressSection struct {
	runs      []*stressResult
	pgVersion string // the PostgreSQL the second run went against
	pgMissing string // why there is no PostgreSQL run, if there is none
}

func stressBoth(ctx context.Context, dir, gate string, procs int, d time.Duration) (*stressSection, error) {
	sec := &stressSection{}
	say("stress: %d processes for %s, file backend", procs, d)
	r, err := stress(ctx, dir, gate, procs, d, nil)
	if err != nil {
		return nil, fmt.Errorf("stress, file backend: %v", err)
	}
	sec.runs = append(sec.runs, r)
	pg, why, err := newPGBench(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("stress: PostgreSQL: %v", err)
	}
	if pg == nil {
		say("stress: no PostgreSQL run: %s", why)
		sec.pgMissing = why
		return sec, nil
	}
	defer pg.close()
	sec.pgVersion = pg.version
	say("stress: %d processes for %s, %s", procs, d, pg.version)
	if r, err = stress(ctx, dir, gate, procs, d, pg); err != nil {
		return nil, fmt.Errorf("stress, PostgreSQL: %v", err)
	}
	sec.runs = append(sec.runs, r)
	return sec, nil
}
