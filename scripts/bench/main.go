// Command bench measures what logingate adds to a login and writes
// docs/BENCHMARKS.md; `make bench` runs it, as root, through
// scripts/bench.sh.
//
//	go run ./scripts/bench [-n 300] [-stress 20s] [-procs 64] [-out docs/BENCHMARKS.md]
//	go run ./scripts/bench -n 100 -stress 0 -rows shell,floor,totp,nss-files,nss-user [-base OTHER-LOGINGATE]
//
// Row ids for -rows: true, go-static, version, check-config, shell
// (A), floor (F), totp (B), wrong (C), backup (D), nss-files (B′), nss-user
// (N), duo-passcode (G), duo-push (H), duo-bare (H0), radius (R), pam-permit,
// pam-totp, pam-wrong, pam-scratch (E0-E3); with -base, base-totp,
// base-wrong and base-backup too.
//
// Latency (latency.go): the gate's login rows against the shell alone, the
// floor and start-up rows, a user known only through NSS (nss.go), Duo,
// RADIUS and google-authenticator's PAM module, interleaved in one run.
// Stress (stress.go): many gate processes at once against one user's
// state, on the file backend and on PostgreSQL. A peer that is not
// installed leaves its rows out, and the report says so.
//
// It needs root: the gate reads root's own state, and the PAM rows install
// service files in /etc/pam.d for the run. What it creates is removed on
// exit, and the servers it starts are stopped by their pids, also on
// failure or Ctrl-C.
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
	if n < 5 {
		return errors.New("-n must be at least 5")
	}
	if _, err := os.Stat("cmd/logingate"); err != nil {
		return errors.New("run it from the repository root (make bench does)")
	}
	dir, err := os.MkdirTemp("", "logingate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The NSS rows' user reaches the gate, its config and the audit socket
	// through here; nothing in it can be listed.
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}

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
	var su *startupProfile
	if len(only) == 0 {
		if su, err = startup(ctx, bins.gate); err != nil {
			return err
		}
	}
	say("latency: %d interleaved runs of each row", n)
	lat, err := latency(ctx, dir, bins, n, only)
	if err != nil {
		return err
	}
	if len(only) > 0 {
		fmt.Print(table(info, lat))
		return nil
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
	if err == nil {
		err = os.WriteFile(dst, data, 0o755)
	}
	return err
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
