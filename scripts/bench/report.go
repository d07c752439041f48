package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Issue 2's targets for what the gate adds to a TOTP login.
const (
	targetAdded = 3 * time.Millisecond
	// targetOverFloor is what a TOTP login may add over the floor (issue 12).
	targetOverFloor = 1 * time.Millisecond
	// targetBackup is what a backup code may cost over a TOTP code.
	targetBackup = 5 * time.Millisecond
	// targetDuoRatio bounds a Duo push login against the bare program.
	targetDuoRatio = 1.3
	targetRSS      = 10 << 10 // KiB
)

// machineInfo describes where the numbers were taken.
type machineInfo struct {
	date, cpu, os, kernel, goVersion, fs, load, commit, peers string
	nproc                                                     int
}

func machine(dir string) machineInfo {
	m := machineInfo{
		date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		nproc:     runtime.NumCPU(),
		goVersion: runtime.Version(),
		kernel:    firstLine("/proc/sys/kernel/osrelease"),
		cpu:       "unknown",
		os:        "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.os = strings.Trim(v, `"`)
			}
		}
	}
	m.load = loadavg()
	var sf syscall.Statfs_t
	if syscall.Statfs(dir, &sf) == nil {
		m.fs = fsName(sf.Type)
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
	}
	// dpkg-query exits 1 when one of them is missing, and still lists the
	// others; a pattern also lists packages it knows but are not installed,
	// with no version.
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}\n", "bash", "libpam-google-authenticator", "pamtester", "freeradius", "postgresql-[0-9]*").Output()
	var peers []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !strings.HasSuffix(f[0], "-jit-llvm") {
			peers = append(peers, f[0]+" "+f[1])
		}
	}
	m.peers = strings.Join(peers, ", ")
	return m
}

// loadavg is the 1, 5 and 15 minute load averages.
func loadavg() string {
	if f := strings.Fields(firstLine("/proc/loadavg")); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	l, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(l)
}

func fsName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", magic)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MB", float64(kib)/1024) }

func signedMS(d time.Duration) string {
	if d >= 0 {
		return "+" + ms(d)
	}
	return "−" + ms(-d)
}

func verdict(ok bool) string {
	if ok {
		return "within target"
	}
	return "**over target**"
}

// report renders docs/BENCHMARKS.md.
func report(m machineInfo, l *latencyResult, su *startupProfile, s *stressSection, n int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	wall := func(id string) time.Duration { return l.get(id).wall(0.5) }
	cpu := func(id string) time.Duration { return l.get(id).cpu(0.5) }

	p("# Benchmarks\n\n")
	p("What logingate adds to a login, and how it holds up when logins race. `make bench` (as root) rewrites this file: it runs `scripts/bench.sh`, which runs `go run ./scripts/bench`. `BENCH_RUNS`, `BENCH_STRESS_SECONDS` and `BENCH_STRESS_PROCS` change the run lengths. Everything it creates (a temp directory, two PAM service files in /etc/pam.d, and the FreeRADIUS and PostgreSQL servers it starts on loopback, where installed) is removed or stopped when it ends.\n\n")
	p("Compare rows of one run, not runs: on a shared machine wall times move with its load.\n\n")

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| date | %s |\n| command | `make bench` (%d timed runs per latency case", m.date, n)
	if s != nil {
		p("; stress %s with %d processes, on %d backend", s.runs[0].asked, s.runs[0].procs, len(s.runs))
		if len(s.runs) > 1 {
			p("s, one after the other")
		}
	}
	p(") |\n| commit | %s |\n| CPU | %s, %d cores (nproc) |\n| OS | %s, kernel %s |\n", m.commit, m.cpu, m.nproc, m.os, m.kernel)
	p("| Go | %s; logingate built with `go build -trimpath` (cgo), %.1f MB |\n", m.goVersion, float64(su.binaryBytes)/(1<<20))
	p("| state directory on | %s |\n| load average before / after the latency runs | %s / %s |\n", m.fs, m.load, l.loadAfter)
	if m.peers != "" {
		p("| packages | %s |\n", m.peers)
	}

	p("\n## Latency: what the gate adds to a TOTP login\n\n")
	p("Issue 2 asks for process start to the exec of the command. Row B is logingate checking a TOTP code from `LOGINGATE_PASSCODE` (no terminal, as in `ssh host cmd`) and then exec'ing `%s -c /bin/true`; row A is `%s -c /bin/true` alone; B − A is the gate. ", l.shell, l.shell)
	p("Each run is one process in a new session, started by a small C launcher (`posix_spawn`) that reports the wall time from just before the spawn to the reaped exit, the process's CPU time (user + system), its minor page faults (median; each is a page of the program, its libraries or its heap touched for the first time) and its peak resident set; Linux keeps the last three across exec, so for B they cover the gate and the shell it becomes. The launcher's own peak, about 1 MB, is the floor of the RSS column (the `/bin/true` row); started from the Go driver instead, every row would read at least the driver's 8 MB. ")
	p("The rows run interleaved: every round runs each row once, in a new random order, so that changes in the machine's load, and what one program leaves in the caches for the next, spread over all rows; %d warm-up rounds are dropped. So no row runs back to back with itself as in a benchmark loop, and every row reads higher than it would there, as a login would find it.\n\n", warmup)
	p("A TOTP step and a backup code work once, so before every gate run the user's state file is put back to the same fresh enrollment, outside the timed region and fsync'd, so that the gate's own fsync pays for none of it. The gate then does all of its work: config, NSS lookup, state read, code check, the durable write of the used step (temp file, fsync, rename, directory fsync) and the audit line to a syslog socket. The config is the shipped default plus `accept_env_factor: true`. google-authenticator's secrets file, made by the real `google-authenticator` tool with its usual answers (reuse refused, rate limit on), is restored the same way before each run, so both record a used code on disk every time.\n\n")
	p("| case | median | p90 | median CPU | page faults | max RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range l.rows {
		p("| %s | %s | %s | %s | %d | %s |\n", r.label, ms(r.wall(0.5)), ms(r.wall(0.9)), ms(r.cpu(0.5)), r.faults(), mib(r.maxRSS()))
	}
	if l.pamMissing != "" {
		p("\nThe google-authenticator rows are missing: %s.\n", l.pamMissing)
	}
	if l.radiusMissing != "" {
		p("\nThe RADIUS row is missing: %s.\n", l.radiusMissing)
	}

	added, addedCPU := wall("totp")-wall("shell"), cpu("totp")-cpu("shell")
	rss := l.get("totp").maxRSS()
	p("\n### Against the target\n\n| | wall | CPU | target | |\n|---|---:|---:|---:|---|\n")
	p("| added to a TOTP login, median B − A | %s | %s | ≤ %s | %s |\n", ms(added), ms(addedCPU), ms(targetAdded), verdict(added <= targetAdded))
	p("| max RSS of B | | | ≤ %s | %s (%s) |\n", mib(targetRSS), verdict(rss <= targetRSS), mib(rss))
	p("| B / A, medians | %.1f× | %.1f× | | |\n", float64(wall("totp"))/float64(wall("shell")), float64(cpu("totp"))/float64(cpu("shell")))
	overFloor := wall("totp") - wall("floor")
	p("| the floor over a bare shell, median F − A | %s | %s | | what no gate can avoid |\n", ms(wall("floor")-wall("shell")), ms(cpu("floor")-cpu("shell")))
	p("| added to a TOTP login over the floor, median B − F | %s | %s | ≤ %s | %s |\n", ms(overFloor), ms(cpu("totp")-cpu("floor")), ms(targetOverFloor), verdict(overFloor <= targetOverFloor))
	p("| added to a backup-code login, median D − A | %s | %s | | max RSS %s |\n", ms(wall("backup")-wall("shell")), ms(cpu("backup")-cpu("shell")), mib(l.get("backup").maxRSS()))
	overTOTP := wall("backup") - wall("totp")
	p("| a backup code over a TOTP code, median D − B | %s | %s | ≤ %s | %s |\n", ms(overTOTP), ms(cpu("backup")-cpu("totp")), ms(targetBackup), verdict(overTOTP <= targetBackup))
	p("| max RSS of D | | | ≤ %s | %s (%s) |\n", mib(targetRSS), verdict(l.get("backup").maxRSS() <= targetRSS), mib(l.get("backup").maxRSS()))
	if l.get("pam-totp") != nil {
		p("| google-authenticator's module, median E1 − E0 | %s | %s | | for comparison |\n", ms(wall("pam-totp")-wall("pam-permit")), ms(cpu("pam-totp")-cpu("pam-permit")))
	}
	if l.get("duo-push") != nil {
		p("| a Duo passcode login, median G − A | %s | %s | | max RSS %s |\n", ms(wall("duo-passcode")-wall("shell")), ms(cpu("duo-passcode")-cpu("shell")), mib(l.get("duo-passcode").maxRSS()))
		p("| a Duo Push login approved at once, median H − A | %s | %s | | max RSS %s |\n", ms(wall("duo-push")-wall("shell")), ms(cpu("duo-push")-cpu("shell")), mib(l.get("duo-push").maxRSS()))
		ratio := float64(wall("duo-push")) / float64(wall("duo-bare"))
		p("| a Duo Push login against a bare duo_api_golang program, medians H / H0 | %.2f× | %.2f× | ≤ %.1f× | %s |\n", ratio, float64(cpu("duo-push"))/float64(cpu("duo-bare")), targetDuoRatio, verdict(ratio <= targetDuoRatio))
	}
	if l.get("radius") != nil {
		p("| a RADIUS login, median R − A | %s | %s | | max RSS %s |\n", ms(wall("radius")-wall("shell")), ms(cpu("radius")-cpu("shell")), mib(l.get("radius").maxRSS()))
	}
	if l.get("duo-push") != nil {
		p("\nThe Duo rows talk to a fake Duo Auth API on loopback (TLS with its own CA, every signature checked, answers at once), run by the benchmark driver on the same cores: they measure what the gate adds to a Duo login, not Duo's own service time. A Duo login costs one TLS handshake, preauth and the auth exchange (a push adds one status poll); the gate sends no ping. Row H0 makes the same calls with duo_api_golang and nothing else (no config, no state, no policy) and then execs the same shell: H / H0 is what the gate's own work costs on top of the Duo exchange.\n")
	}

	if l.get("radius") != nil {
		p("\nThe RADIUS row logs in with a code that a real %s accepts, started by the benchmark driver on loopback with its own configuration, on the same cores as the gate. ", l.radiusServer)
		p("Its config is B's with a state directory of its own and a `radius:` block: one server, the shared secret in a file of root's with mode 0600. The user has no local factor, so the code from `LOGINGATE_PASSCODE` goes to RADIUS, the fallback for a code no local factor takes: one Access-Request over UDP (User-Password hidden with the secret, a Message-Authenticator on the request, and the answer's checked before it counts, as the gate requires by default), then the success is recorded in the user's state with a durable write, as for B; that state, left by one untimed login, is restored before each run. ")
		p("Every run is checked: exit 0, nothing on stderr, and one more allow line with `factor=radius` in the audit log")
		if l.radiusAccepts >= 0 {
			p("; at the end FreeRADIUS's own log showed %d accepts for the row's %d logins (warm-up rounds and the untimed first login included). ", l.radiusAccepts, l.radiusLogins)
		} else {
			p(" (FreeRADIUS's own log of its accepts outgrew the harness's buffer in a run this long, so its count is not shown). ")
		}
		p("R − B = %s (CPU %s): a RADIUS exchange in place of a local TOTP check, with the same start-up and the same one write. FreeRADIUS answers at once from a users file; a real OTP server's own time (its database, an HSM, an upstream token service) comes on top.\n",
			signedMS(wall("radius")-wall("totp")), signedMS(cpu("radius")-cpu("totp")))
	}

	p("\n### Where the time goes\n\n")
	p("Each step adds one thing to the row before it (differences of medians, so small steps can come out negative in a noisy run). Together they make C − `/bin/true` = %s, the gate's own time when it denies; B − A = %s, its time when it lets in, also covers the hand-over, the exec of the shell from the gate's process.\n\n", ms(wall("wrong")-wall("true")), ms(added))
	p("| step | wall | CPU | page faults |\n|---|---:|---:|---:|\n")
	for _, st := range steps {
		p("| %s | %s | %s | %+d |\n", st.what, signedMS(wall(st.to)-wall(st.from)), signedMS(cpu(st.to)-cpu(st.from)), l.get(st.to).faults()-l.get(st.from).faults())
	}
	p("| … of which one durable state write of %d bytes (write, fsync, rename, directory fsync), timed in-process | %s | | |\n", l.fsyncBytes, ms(l.fsync))
	p("\nlogingate's start-up, from `GODEBUG=inittrace=1 logingate version` (median of %d runs): %d package initialisers, %s of clock together; the slowest:", startupRuns, su.inits, ms(su.initClock))
	for i, t := range su.top {
		sep := ","
		if i == 0 {
			sep = ""
		}
		p("%s `%s` %s", sep, t.pkg, ms(t.clock))
	}
	p(".")
	if len(su.heavy) > 0 {
		p(" Dependencies link in standard packages a gate does not use: %s.", strings.Join(su.heavy, ", "))
	}
	p("\n\n")
	reading(&b, m, l, su, added, addedCPU, rss)

	if s != nil {
		writeStress(&b, s)
		racingTarget(&b, l, s)
	}
	return b.String()
}

// Issue 12's targets for the file backend's stress run.
const (
	targetRate   = 100.0 // gate decisions a second
	targetP99    = 2 * time.Second
	targetMaxLat = 5 * time.Second
)

// racingTarget holds the file backend's stress run against issue 12's
// targets, and says what bounds the rate on this machine: every attempt is
// a gate process, whose CPU time row B measured.
func racingTarget(b *strings.Builder, l *latencyResult, s *stressSection) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	r := s.runs[0]
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	rate := float64(r.attempts) / r.dur.Seconds()
	p99, top := quantile(lat, 0.99), lat[len(lat)-1]
	p("\n### Against the racing target (file backend)\n\n| | measured | target | |\n|---|---:|---:|---|\n")
	p("| gate decisions a second | %.1f | ≥ %.0f | %s |\n", rate, targetRate, verdict(rate >= targetRate))
	p("| latency p99 | %s | ≤ %s | %s |\n", sec(p99), sec(targetP99), verdict(p99 <= targetP99))
	p("| latency max | %s | ≤ %s | %s |\n", sec(top), sec(targetMaxLat), verdict(top <= targetMaxLat))
	p("| double accepts / wrong codes accepted | %d / %d | 0 / 0 | %s |\n", r.double, r.falseAcc, verdict(r.double == 0 && r.falseAcc == 0))
	cpu := l.get("totp").cpu(0.5)
	bound := float64(runtime.NumCPU()) / cpu.Seconds()
	p("\nEach attempt is a gate process, and row B measured one at %s of CPU in this run; %d cores can then decide at most %.0f a second with no lock at all, so the rate target is out of reach on this machine class whatever the lock does (it would take a gate of %.0f ms of CPU, start-up included). ", ms(cpu), runtime.NumCPU(), bound, float64(runtime.NumCPU())*1000/targetRate)
	p("The tail is the lock's order: flock wakes its waiters in no order, so with %d processes queued one can lose again and again; a lock handed over first come, first served (a ticket queue) would bound the wait at about %d hand-overs, which at this rate is %s, and not the rate.\n", r.procs, r.procs, sec(time.Duration(float64(r.procs)/rate*float64(time.Second))))
}

// faultCost fits a straight line through the rows' median CPU time against
// their median page faults: its slope is what one fault costs here, and r2
// how much of the spread between rows the faults explain.
func faultCost(l *latencyResult) (perFault time.Duration, r2 float64) {
	var n, sx, sy, sxx, sxy, syy float64
	for _, r := range l.rows {
		x, y := float64(r.faults()), float64(r.cpu(0.5))
		n++
		sx, sy, sxx, sxy, syy = sx+x, sy+y, sxx+x*x, sxy+x*y, syy+y*y
	}
	vx, vy, cxy := sxx-sx*sx/n, syy-sy*sy/n, sxy-sx*sy/n
	if n < 3 || vx == 0 || vy == 0 {
		return 0, 0
	}
	return time.Duration(cxy / vx), cxy * cxy / (vx * vy)
}

// steps decompose C − /bin/true, one added thing at a time.
var steps = []struct {
	what     string
	from, to string
}{
	{"start a Go program at all (runtime, static binary)", "true", "go-static"},
	{"cgo: dynamic linking against glibc (NSS)", "go-static", "go-cgo"},
	{"logingate's own start-up: a larger binary and its package initialisers", "go-cgo", "version"},
	{"read and validate the config (viper, strict YAML, permission walk)", "version", "check-config"},
	{"the decision: NSS lookup, state read, code check, durable write, audit line", "check-config", "wrong"},
}

// reading is the prose under the latency tables, written from the numbers.
func reading(b *strings.Builder, m machineInfo, l *latencyResult, su *startupProfile, added, addedCPU time.Duration, rss int64) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	wall := func(id string) time.Duration { return l.get(id).wall(0.5) }
	cpu := func(id string) time.Duration { return l.get(id).cpu(0.5) }
	p("**Reading.** ")
	if added <= targetAdded {
		p("The gate adds %s (median wall; %s of CPU) to a TOTP login here, within the 3 ms target. ", ms(added), ms(addedCPU))
	} else {
		p("The gate adds %s (median wall; %s of CPU) to a TOTP login here: over the 3 ms target. ", ms(added), ms(addedCPU))
	}
	start, startCPU := wall("version")-wall("true"), cpu("version")-cpu("true")
	dec, decCPU := wall("wrong")-wall("check-config"), cpu("wrong")-cpu("check-config")
	lead := "Of that, "
	if start > added/2 {
		lead = "Most of it is spent before logingate's own code runs: "
	}
	deps := "logingate's dependency tree"
	if len(su.heavy) > 0 {
		deps += " (the config library's above all, see the packages above)"
	}
	p("%sstarting a Go runtime, dynamically linked for NSS, and running %d package initialisers out of a %.1f MB binary costs %s wall (%s CPU) over `/bin/true`, where an empty cgo program costs %s; the difference is %s. ",
		lead, su.inits, float64(su.binaryBytes)/(1<<20), ms(start), ms(startCPU), ms(wall("go-cgo")-wall("true")), deps)
	p("Reading the config adds %s, and the decision itself %s wall (%s CPU), of which the durable write (two fsyncs on this machine's %s) is about %s: the price of counting a code as used only once its write has landed. ",
		ms(wall("check-config")-wall("version")), ms(dec), ms(decCPU), m.fs, ms(l.fsync))
	if rss <= targetRSS {
		p("A TOTP login peaks at %s, within 10 MB. ", mib(rss))
	} else {
		p("A TOTP login peaks at %s, over 10 MB. ", mib(rss))
	}
	p("A backup code costs %s more than a TOTP code and peaks at %s: its selector names the one stored hash to check, so a check is one argon2id hash (1 MiB, 3 passes), right code or wrong. ",
		ms(wall("backup")-wall("totp")), mib(l.get("backup").maxRSS()))
	if l.get("pam-totp") != nil {
		p("google-authenticator's PAM module adds %s over pamtester with `pam_permit` for a TOTP code (%s for a wrong code, %s for a scratch code); it runs inside a process that PAM's caller has already started, so the comparable part of the gate is its decision, not its start-up. ",
			ms(wall("pam-totp")-wall("pam-permit")), ms(wall("pam-wrong")-wall("pam-permit")), ms(wall("pam-scratch")-wall("pam-permit")))
	}
	if per, r2 := faultCost(l); r2 >= 0.8 {
		extra := l.get("totp").faults() - l.get("shell").faults()
		p("On this machine the cost of a program follows the memory it touches: a straight line through the rows' median CPU time against their page faults has a slope of %.0f µs a fault (r² = %.2f), far more than a fault usually costs on bare hardware (this machine is virtual). ", float64(per)/1e3, r2)
		if time.Duration(extra)*per > addedCPU/2 {
			p("The gate's %d faults more than the shell alone come to about %s, most of its cost here, so what cuts them (a smaller binary, fewer packages to initialise, less fresh heap) cuts its time. ", extra, ms(time.Duration(extra)*per))
		}
	}
	p("The load average was %s on %d cores before the latency runs and %s after them; wall times include waiting for a CPU, CPU times do not, so on a busy machine the CPU column is the steadier one.\n", m.load, m.nproc, l.loadAfter)
}

func writeStress(b *strings.Builder, ss *stressSection) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	runs := ss.runs
	s := runs[0]
	p("\n## Stress: %d gate processes at once against one user\n\n", s.procs)
	p("For %s, %d workers each run one gate process after another, all for the same user, so every attempt queues on that user's lock; the attempts still running at the end are waited for. ", s.asked, s.procs)
	p("Each attempt presents, at random, the current TOTP code (%d%%), one of the current backup codes (%d%%, most of them used up by then), a code that was accepted before (%d%%), or a wrong code, TOTP- or backup-shaped (the rest). ", pctTOTP, pctBackup, pctReplay)
	p("Every %s an administrator re-enrolls the user (`enroll --force`: new secret, new backup codes), and a reader loads and decodes the user's state every %s while the writers replace it. ", reenrollEvery, readEvery)
	p("TOTP codes have %d digits here, so that a wrong or stale code matches by chance with odds of 1 in 10⁸; the rate limit is 1000 failures a second so that it does not hide the code checks.\n\n", stressDigits)
	if len(runs) > 1 {
		p("The same run is made twice, one after the other: against the file backend (a state directory on this machine's disk), then against %s, started by the driver on loopback (initdb in a temp directory, fsync and synchronous_commit on, password authentication over TCP), with `store: {backend: postgres, dsn_file, key_file}` in the config, so that every gate process opens its own connection, takes the user's row lock and decrypts the TOTP secret with the key file; its schema is made by `logingate store migrate`. The reader is a store client like a gate on another host. ", ss.pgVersion)
		p("The rate is gate processes that reached a decision (let in or refused), over the run's whole length, as `BenchmarkConcurrentLogins` in internal/racetest counts them; how many of them could be let in is set by the credentials there are (one TOTP step per enrollment and 30 s, ten backup codes per enrollment), not by the backend. The latency is each gate process's, from start to exit.\n\n")
	} else {
		p("There is no PostgreSQL run: %s.\n\n", ss.pgMissing)
	}

	p("| |")
	for _, r := range runs {
		p(" %s |", strings.TrimPrefix(backendName(r.backend, ss.pgVersion), "the "))
	}
	p("\n|---|")
	for range runs {
		p("---:|")
	}
	p("\n")
	row := func(what string, cell func(r *stressResult) string) {
		p("| %s |", what)
		for _, r := range runs {
			p(" %s |", cell(r))
		}
		p("\n")
	}
	row("load average at its start", func(r *stressResult) string { return r.load })
	row("ran for (the last attempt ended after)", func(r *stressResult) string { return sec2(r.dur) })
	row("**attempts: gate decisions a second**", func(r *stressResult) string {
		return fmt.Sprintf("**%.1f** (%d)", float64(r.attempts)/r.dur.Seconds(), r.attempts)
	})
	row("logins accepted (a second)", func(r *stressResult) string {
		return fmt.Sprintf("%d (%.1f)", r.outcomes["accepted"], float64(r.outcomes["accepted"])/r.dur.Seconds())
	})
	row("**latency, all attempts: p50 / p99**", func(r *stressResult) string {
		return fmt.Sprintf("**%s / %s**", sec(quantile(r.lat, 0.5)), sec(quantile(r.lat, 0.99)))
	})
	row("latency, all attempts: max", func(r *stressResult) string { return sec(quantile(r.lat, 1)) })
	row("latency, accepted logins: p50 / p99", func(r *stressResult) string {
		if len(r.latOK) == 0 {
			return "none accepted"
		}
		return fmt.Sprintf("%s / %s", sec(quantile(r.latOK, 0.5)), sec(quantile(r.latOK, 0.99)))
	})
	kinds, outcomes := map[string]int{}, map[string]int{}
	for _, r := range runs {
		for k := range r.byKind {
			kinds[k]++
		}
		for k := range r.outcomes {
			outcomes[k]++
		}
	}
	for _, k := range sortedKeys(kinds) {
		row("presented: "+k, func(r *stressResult) string { return fmt.Sprint(r.byKind[k]) })
	}
	for _, k := range sortedKeys(outcomes) {
		row(k, func(r *stressResult) string { return fmt.Sprint(r.outcomes[k]) })
	}
	row("**credentials accepted twice (double accepts)**", func(r *stressResult) string { return fmt.Sprintf("**%d**", r.double) })
	row("**wrong codes accepted**", func(r *stressResult) string { return fmt.Sprintf("**%d**", r.falseAcc) })
	row("re-enrollments during the run", func(r *stressResult) string { return fmt.Sprint(r.enrolls - 1) })
	row("re-enrollments that failed (tried again at the next tick)", func(r *stressResult) string { return fmt.Sprint(len(r.enrollFailed)) })
	row("state reads during the run / that did not load or decode", func(r *stressResult) string {
		return fmt.Sprintf("%d / **%d**", r.reads, r.corrupt)
	})
	row("the user's state at the end", func(r *stressResult) string { return r.final })
	row("temp files left behind", func(r *stressResult) string {
		if r.strays < 0 {
			return "none to leave (transactions)"
		}
		return fmt.Sprint(r.strays)
	})
	row("audit allow lines / accepted logins", func(r *stressResult) string { return fmt.Sprintf("%d / %d", r.audit, r.accepts) })
	for _, r := range runs {
		if len(r.others) > 0 {
			p("\nThe other outcomes on %s, by what the gate said:\n\n", backendName(r.backend, ss.pgVersion))
			for _, o := range sortedKeys(r.others) {
				p("- %d× `%s`\n", r.others[o], strings.ReplaceAll(o, "`", "'"))
			}
		}
		if len(r.enrollFailed) > 0 {
			p("\nThe re-enrollments that failed on %s (the administrator's `enroll --force` under the same load), the first of them:\n\n- `%s`\n",
				backendName(r.backend, ss.pgVersion), strings.ReplaceAll(r.enrollFailed[0], "`", "'"))
		}
	}

	p("\n**Reading.** ")
	for _, r := range runs {
		name := backendName(r.backend, ss.pgVersion)
		if r.double == 0 && r.falseAcc == 0 && r.corrupt == 0 && r.final == "decodes" && r.strays <= 0 {
			p("On %s, no code was accepted twice, no wrong code was accepted, every read of the state loaded and decoded, and nothing was left half-written. ", name)
		} else {
			p("**On %s, this run found a violation** (the bold counts above). ", name)
		}
	}
	if len(runs) > 1 {
		f, g := runs[0], runs[1]
		rate := func(r *stressResult) float64 { return float64(r.attempts) / r.dur.Seconds() }
		p("%s decided %.1f logins a second against the file backend's %.1f, with a median attempt of %s against %s (p99 %s against %s); the two runs follow each other, so read them with the load averages above in mind. ",
			backendName(g.backend, ss.pgVersion), rate(g), rate(f), sec(quantile(g.lat, 0.5)), sec(quantile(f.lat, 0.5)), sec(quantile(g.lat, 0.99)), sec(quantile(f.lat, 0.99)))
	}
	p("The latency is queueing: %d processes share %d cores, and a user's logins take that user's lock one at a time (a lock file, or the user's row), each holding it through its state read, its code check and its write, so they also wait for each other; a backup-shaped code holds it longest (one argon2id hash). That is on purpose: one user's logins, however many, hash one at a time, so a single account cannot spend all of a host's cores on hashing, nor starve the other users' logins. Logins of different users do not share a lock.", s.procs, runtime.NumCPU())
	for _, r := range runs {
		if top, mid := quantile(r.lat, 1), quantile(r.lat, 0.5); top > r.asked/2 && top > 3*mid {
			p(" On %s some attempts waited most of the run (the longest %s, against a median of %s): the lock is not handed over first come, first served.", backendName(r.backend, ss.pgVersion), sec(top), sec(mid))
		}
	}
	for _, r := range runs {
		unreachable := 0
		for msg, n := range r.others {
			if strings.Contains(msg, "store cannot be reached") {
				unreachable += n
			}
		}
		if unreachable > 0 {
			p(" On %s, %d attempts (%.1f%%) were refused because the gate could not reach the store within `store.timeout` (3 s by default): the database shares the %d cores with the %d gate processes, and with all of them busy (starting up, checking codes) a new connection's start-up and password exchange did not finish in time. The gate then applied failmode, secure here, so it refused them; under failmode safe they would have been let in without a second factor. A database on a host of its own, as docs/FLEET.md lays out, does not compete with the gates for CPU.",
				backendName(r.backend, ss.pgVersion), unreachable, 100*float64(unreachable)/float64(r.attempts), runtime.NumCPU(), s.procs)
		}
	}
	p(" One user with %d logins at once is far beyond real use; the point of this run is the counts above.\n", s.procs)
}

// backendName names a stress run's backend in the report.
func backendName(backend, pgVersion string) string {
	if backend == "postgres" {
		return pgVersion
	}
	return "the file backend"
}

func sec2(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// table is the short report of a -rows run: the rows asked for, and the
// differences a reader of such a run wants side by side.
func table(m machineInfo, l *latencyResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s, %s, %d cores; load %s / %s\n\n", m.date, m.cpu, m.nproc, m.load, l.loadAfter)
	p("| case | median | p90 | median CPU | page faults | max RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range l.rows {
		p("| %s | %s | %s | %s | %d | %s |\n", r.label, ms(r.wall(0.5)), ms(r.wall(0.9)), ms(r.cpu(0.5)), r.faults(), mib(r.maxRSS()))
	}
	return b.String()
}
