package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The targets: issue 2's for what the gate adds to a TOTP login, issue
// 12's for the floor, backup codes, Duo and racing logins.
const (
	targetAdded     = 3 * time.Millisecond
	targetOverFloor = 1 * time.Millisecond // B − F
	targetBackup    = 5 * time.Millisecond // D − B
	targetDuoRatio  = 1.3                  // H / H0
	targetRSS       = 10 << 10             // KiB
	targetRate      = 100.0                // gate decisions a second, file backend
	targetP99       = 2 * time.Second
	targetMaxLat    = 5 * time.Second
)

// machineInfo describes where the numbers were taken.
type machineInfo struct {
	date, cpu, os, kernel, goVersion, fs, load, commit, peers, nsswitch string
	nproc                                                               int
}

func machine(dir string) machineInfo {
	m := machineInfo{
		date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		nproc:     runtime.NumCPU(),
		goVersion: runtime.Version(),
		kernel:    firstLine("/proc/sys/kernel/osrelease"),
		load:      loadavg(),
		cpu:       fileField("/proc/cpuinfo", "model name\t: "),
		os:        strings.Trim(fileField("/etc/os-release", "PRETTY_NAME="), `"`),
		nsswitch:  strings.Join(strings.Fields(fileField("/etc/nsswitch.conf", "passwd:")), " "),
		fs:        strings.Replace(output("stat", "-f", "-c", "%T", dir), "ext2/ext3", "ext4", 1), // one magic number for all three
		commit:    output("git", "describe", "--always", "--dirty"),
	}
	// dpkg-query exits 1 when one of them is missing, and still lists the
	// others; a pattern also lists packages it knows but are not installed,
	// with no version.
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}\n", "bash", "libpam-google-authenticator", "pamtester", "freeradius", "libnss-extrausers", "postgresql-[0-9]*").Output()
	var peers []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !strings.HasSuffix(f[0], "-jit-llvm") {
			peers = append(peers, f[0]+" "+f[1])
		}
	}
	m.peers = strings.Join(peers, ", ")
	return m
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// fileField is the rest of path's first line that starts with prefix.
func fileField(path, prefix string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
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

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MB", float64(kib)/1024) }

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

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
	// diff is a row of "Against the target": the median wall and CPU of
	// to − from, then the target cells.
	diff := func(what, to, from, rest string) {
		p("| %s | %s | %s | %s |\n", what, ms(wall(to)-wall(from)), ms(cpu(to)-cpu(from)), rest)
	}

	p("# Benchmarks\n\n")
	p("What logingate adds to a login, and how it holds up when logins race. `make bench` (as root) rewrites this file through `scripts/bench.sh` (`go run ./scripts/bench`); `BENCH_RUNS`, `BENCH_STRESS_SECONDS` and `BENCH_STRESS_PROCS` change the run lengths. What it creates (a temp directory, two PAM service files, the FreeRADIUS and PostgreSQL servers it starts on loopback) is removed or stopped when it ends. Compare rows of one run, not runs: wall times move with the machine's load.\n\n")

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| date | %s |\n| command | `make bench` (%d timed runs per latency case", m.date, n)
	if s != nil {
		p("; stress %s with %d processes, on %d backend(s), one after the other", s.runs[0].asked, s.runs[0].procs, len(s.runs))
	}
	p(") |\n| commit | %s |\n| CPU | %s, %d cores (nproc) |\n| OS | %s, kernel %s; nsswitch `passwd: %s` |\n", m.commit, m.cpu, m.nproc, m.os, m.kernel, m.nsswitch)
	p("| Go | %s; logingate built with `CGO_ENABLED=0 go build -trimpath` (static, as shipped), %.1f MB |\n", m.goVersion, float64(su.binaryBytes)/(1<<20))
	p("| state directory on | %s |\n| load average before / after the latency runs | %s / %s |\n", m.fs, m.load, l.loadAfter)
	if m.peers != "" {
		p("| packages | %s |\n", m.peers)
	}

	p("\n## Latency: what the gate adds to a TOTP login\n\n")
	p("Row B is logingate checking a TOTP code from `LOGINGATE_PASSCODE` (no terminal, as in `ssh host cmd`) and exec'ing `%s -c /bin/true`; row A is that shell alone; B − A is the gate, from process start to the exec of the command. ", l.shell)
	p("Each run is one process in a new session, started by a small C launcher (`posix_spawn`) that reports the wall time to the reaped exit, the CPU time, minor page faults (median) and peak RSS of the process and what it execs; the launcher's own peak, about 1 MB, is the floor of the RSS column. ")
	p("Rows run interleaved, each round in a new random order, after %d warm-up rounds, so load drifts and cache effects spread over all rows. Before every gate run the user's state file is put back to the same fresh enrollment (outside the timed region, fsync'd), so each run does all of a login's work: config, NSS lookup, state read, code check, a durable write of the used step, the audit line. The config is the shipped default plus `accept_env_factor: true`; google-authenticator's secrets file is restored the same way.\n\n", warmup)
	rowsTable(&b, l)
	for _, why := range l.missing {
		p("\nMissing: %s.\n", why)
	}

	p("\n### Against the target\n\n| | wall | CPU | target | |\n|---|---:|---:|---:|---|\n")
	added, rss := wall("totp")-wall("shell"), l.get("totp").maxRSS()
	diff("added to a TOTP login, median B − A", "totp", "shell", fmt.Sprintf("≤ %s | %s", ms(targetAdded), verdict(added <= targetAdded)))
	p("| max RSS of B | | | ≤ %s | %s (%s) |\n", mib(targetRSS), verdict(rss <= targetRSS), mib(rss))
	diff("the floor over a bare shell, median F − A", "floor", "shell", " | what no gate can avoid")
	overFloor := wall("totp") - wall("floor")
	diff("added over the floor, median B − F", "totp", "floor", fmt.Sprintf("≤ %s | %s", ms(targetOverFloor), verdict(overFloor <= targetOverFloor)))
	overTOTP := wall("backup") - wall("totp")
	diff("a backup code over a TOTP code, median D − B", "backup", "totp", fmt.Sprintf("≤ %s | %s", ms(targetBackup), verdict(overTOTP <= targetBackup)))
	rssD := l.get("backup").maxRSS()
	p("| max RSS of D | | | ≤ %s | %s (%s) |\n", mib(targetRSS), verdict(rssD <= targetRSS), mib(rssD))
	if l.get("nss-user") != nil && l.get("nss-files") != nil {
		diff("a user only NSS knows, median N − B", "nss-user", "totp", fmt.Sprintf(" | B′ − B = %s (a files user under that nsswitch), N − B′ = %s", ms(wall("nss-files")-wall("totp")), ms(wall("nss-user")-wall("nss-files"))))
	}
	if l.get("pam-totp") != nil {
		diff("google-authenticator's module, median E1 − E0", "pam-totp", "pam-permit", " | for comparison")
	}
	if l.get("duo-push") != nil {
		diff("a Duo passcode login, median G − A", "duo-passcode", "shell", " | ")
		ratio := float64(wall("duo-push")) / float64(wall("duo-bare"))
		p("| a Duo Push login against a bare duo_api_golang program, medians H / H0 | %.2f× | %.2f× | ≤ %.1f× | %s |\n", ratio, float64(cpu("duo-push"))/float64(cpu("duo-bare")), targetDuoRatio, verdict(ratio <= targetDuoRatio))
	}
	if l.get("radius") != nil {
		diff("a RADIUS login over a TOTP login, median R − B", "radius", "totp", " | ")
	}

	if l.get("nss-user") != nil {
		p("\nRows B′ and N run in a private mount namespace the launcher makes before its clock starts, with an nsswitch.conf of `passwd: files extrausers` and `group: files extrausers` bound over /etc/nsswitch.conf and the directory's passwd and group files over /var/lib/extrausers; every other row sees the machine's own files. B′ is B's login for root, a files user, under that nsswitch (its entry is the file's, as glibc's would be; its groups would need getent, but the shipped policy `groups: [\"*\"]` asks for none); N is the same login for a user only libnss-extrausers knows (as LDAP or SSSD would serve one), run as that user with its primary and a directory group. The binary is B's, not setgid, in all three, so N − B′ is the directory lookups and a non-root caller, not a setgid install's checks.\n")
	}
	if l.get("duo-push") != nil {
		p("\nThe Duo rows talk to a fake Duo Auth API on loopback (TLS with its own CA, signatures checked, answers at once) run by the driver on the same cores: one TLS handshake, preauth and auth (a push adds one status poll). H0 makes the same calls with duo_api_golang and nothing else, then execs the same shell.\n")
	}
	if l.get("radius") != nil {
		p("\nThe RADIUS row logs in with a code the FreeRADIUS on loopback accepts from a users file (one Access-Request, Message-Authenticators checked), for a user with no local factor; the success is written to the user's state as for B. Every run left an allow line with `factor=radius` in the audit log and an accept in FreeRADIUS's own log.\n")
	}

	p("\n### Where the time goes\n\nEach step adds one thing to the row before it (differences of medians, so small steps can come out negative). Together they make C − `/bin/true` = %s, the gate's time when it denies.\n\n", ms(wall("wrong")-wall("true")))
	p("| step | wall | CPU | page faults |\n|---|---:|---:|---:|\n")
	for _, st := range steps {
		p("| %s | %s | %s | %+d |\n", st.what, signedMS(wall(st.to)-wall(st.from)), signedMS(cpu(st.to)-cpu(st.from)), l.get(st.to).faults()-l.get(st.from).faults())
	}
	p("| … of which one durable state write of %d bytes, timed in-process | %s | | |\n", l.fsyncBytes, ms(l.fsync))
	p("\nlogingate's start-up, from `GODEBUG=inittrace=1 logingate version` (median of %d runs): %d package initialisers, %s together; the slowest:", startupRuns, len(su.inits), ms(su.initClock))
	for i, t := range su.inits[:min(5, len(su.inits))] {
		p("%s `%s` %s", map[bool]string{true: "", false: ","}[i == 0], t.pkg, ms(t.clock))
	}
	p(".")
	if len(su.heavy) > 0 {
		p(" Standard packages a gate does not use, linked in by: %s.", strings.Join(su.heavy, ", "))
	}
	if per, r2 := faultCost(l); r2 > 0 {
		p(" Across the rows, median CPU time follows page faults at %.0f µs a fault (r² = %.2f).", float64(per)/1e3, r2)
	}
	p("\n")
	if s != nil {
		writeStress(&b, l, s)
	}
	return b.String()
}

// steps decompose C − /bin/true, one added thing at a time.
var steps = []struct{ what, from, to string }{
	{"start a Go program at all (runtime, static binary)", "true", "go-static"},
	{"logingate's own start-up: a larger binary and its package initialisers", "go-static", "version"},
	{"read and validate the config (viper, strict YAML, permission walk)", "version", "check-config"},
	{"the decision: NSS lookup, state read, code check, durable write, audit line", "check-config", "wrong"},
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

func rowsTable(b *strings.Builder, l *latencyResult) {
	b.WriteString("| case | median | p90 | median CPU | page faults | max RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range l.rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s |\n", r.label, ms(r.wall(0.5)), ms(r.wall(0.9)), ms(r.cpu(0.5)), r.faults(), mib(r.maxRSS()))
	}
}

// table is the report of a -rows run: the machine and the rows asked for.
func table(m machineInfo, l *latencyResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s, %d cores; load %s / %s\n\n", m.date, m.cpu, m.nproc, m.load, l.loadAfter)
	rowsTable(&b, l)
	return b.String()
}

func writeStress(b *strings.Builder, l *latencyResult, ss *stressSection) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	runs, s := ss.runs, ss.runs[0]
	p("\n## Stress: %d gate processes at once against one user\n\n", s.procs)
	p("For %s, %d workers each run one gate process after another for the same user, so every attempt queues on that user's lock. Each presents the current TOTP code (%d%%), one of the current backup codes (%d%%, most used up by then), a code accepted before (%d%%) or a wrong code; every %s an administrator re-enrolls the user (`enroll --force`), and a reader decodes the user's state every %s. TOTP codes have %d digits, so a wrong code matches by chance with odds of 1 in 10⁸; the rate limit is 1000 failures a second. ",
		s.asked, s.procs, pctTOTP, pctBackup, pctReplay, reenrollEvery, readEvery, stressDigits)
	if len(runs) > 1 {
		p("The run is made on the file backend, then on %s started by the driver on loopback (fsync and synchronous_commit on, password authentication over TCP, schema by `logingate store migrate`), where each gate opens its own connection and takes the user's row lock. ", ss.pgVersion)
	} else {
		p("There is no PostgreSQL run: %s. ", ss.pgMissing)
	}
	p("The rate is gate processes that reached a decision, over the run's length; the latency is each process's, start to exit.\n\n")

	p("| |")
	for _, r := range runs {
		p(" %s |", strings.TrimPrefix(backendName(r.backend, ss.pgVersion), "the "))
	}
	p("\n|---|%s\n", strings.Repeat("---:|", len(runs)))
	row := func(what string, cell func(r *stressResult) string) {
		p("| %s |", what)
		for _, r := range runs {
			p(" %s |", cell(r))
		}
		p("\n")
	}
	rate := func(r *stressResult) float64 { return float64(r.attempts) / r.dur.Seconds() }
	row("load average at its start", func(r *stressResult) string { return r.load })
	row("ran for (the last attempt ended after)", func(r *stressResult) string { return r.dur.Round(100 * time.Millisecond).String() })
	row("**gate decisions a second** (attempts)", func(r *stressResult) string { return fmt.Sprintf("**%.1f** (%d)", rate(r), r.attempts) })
	row("**latency, all attempts: p50 / p99 / max**", func(r *stressResult) string {
		return fmt.Sprintf("**%s / %s** / %s", sec(quantile(r.lat, 0.5)), sec(quantile(r.lat, 0.99)), sec(quantile(r.lat, 1)))
	})
	row("latency, accepted logins: p50 / p99", func(r *stressResult) string {
		return fmt.Sprintf("%s / %s", sec(quantile(r.latOK, 0.5)), sec(quantile(r.latOK, 0.99)))
	})
	outcomes := map[string]bool{}
	for _, r := range runs {
		for k := range r.outcomes {
			outcomes[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(outcomes)) {
		row(k, func(r *stressResult) string { return fmt.Sprint(r.outcomes[k]) })
	}
	row("**credentials accepted twice / wrong codes accepted**", func(r *stressResult) string { return fmt.Sprintf("**%d / %d**", r.double, r.falseAcc) })
	row("re-enrollments during the run / that failed", func(r *stressResult) string { return fmt.Sprintf("%d / %d", r.enrolls-1, len(r.enrollFailed)) })
	row("state reads / that did not load or decode", func(r *stressResult) string { return fmt.Sprintf("%d / **%d**", r.reads, r.corrupt) })
	row("the user's state at the end", func(r *stressResult) string { return r.final })
	row("temp files left behind", func(r *stressResult) string {
		if r.strays < 0 {
			return "none (transactions)"
		}
		return fmt.Sprint(r.strays)
	})
	row("audit allow lines / accepted logins", func(r *stressResult) string { return fmt.Sprintf("%d / %d", r.audit, r.accepts) })
	for _, r := range runs {
		name := backendName(r.backend, ss.pgVersion)
		if len(r.others) > 0 {
			p("\nThe other outcomes on %s:\n\n", name)
			for _, o := range slices.Sorted(maps.Keys(r.others)) {
				p("- %d× `%s`\n", r.others[o], strings.ReplaceAll(o, "`", "'"))
			}
		}
		if len(r.enrollFailed) > 0 {
			p("\nThe first re-enrollment that failed on %s:\n\n- `%s`\n", name, strings.ReplaceAll(strings.TrimSpace(r.enrollFailed[0]), "`", "'"))
		}
	}
	p("\nThe latency is queueing: %d processes share %d cores, and a user's logins take that user's lock one at a time, through state read, code check and write, so that one account cannot spend all of a host's cores on hashing. Logins of different users do not share a lock. One user with %d logins at once is far beyond real use; the point is the counts.\n", s.procs, runtime.NumCPU(), s.procs)

	lat := s.lat // sorted
	if len(lat) == 0 {
		return
	}
	r99, top := quantile(lat, 0.99), lat[len(lat)-1]
	p("\n### Against the racing target (file backend)\n\n| | measured | target | |\n|---|---:|---:|---|\n")
	p("| gate decisions a second | %.1f | ≥ %.0f | %s |\n", rate(s), targetRate, verdict(rate(s) >= targetRate))
	p("| latency p99 | %s | ≤ %s | %s |\n", sec(r99), sec(targetP99), verdict(r99 <= targetP99))
	p("| latency max | %s | ≤ %s | %s |\n", sec(top), sec(targetMaxLat), verdict(top <= targetMaxLat))
	p("| double accepts / wrong codes accepted | %d / %d | 0 / 0 | %s |\n", s.double, s.falseAcc, verdict(s.double == 0 && s.falseAcc == 0))
	c := l.get("totp").cpu(0.5)
	p("\nEach attempt is a gate process, and row B took %s of CPU in this run: %d cores can decide at most %.0f a second with no lock at all (the target needs a gate of %.0f ms of CPU). A user's logins take the lock first come, first served (a queue in the lock file), so an attempt waits for those queued before it: %d attempts at %.1f a second take %s, so the tail follows the rate, which follows the CPU a gate takes.\n",
		ms(c), runtime.NumCPU(), float64(runtime.NumCPU())/c.Seconds(), float64(runtime.NumCPU())*1000/targetRate, s.procs, rate(s), sec(time.Duration(float64(s.procs)/rate(s)*float64(time.Second))))
}

// backendName names a stress run's backend in the report.
func backendName(backend, pgVersion string) string {
	if backend == "postgres" {
		return pgVersion
	}
	return "the file backend"
}
