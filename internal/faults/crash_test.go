package faults

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/enrolltest"
	"golang.org/x/sys/unix"
)

// Bounds of the kill -9 loop: it stops at crashRounds or after crashBudget,
// whichever comes first.
const (
	crashRounds = 200
	crashBudget = 20 * time.Second
	// midWriteKill bounds the delay between a writer creating its temp file
	// and its SIGKILL: an fsync here takes about a millisecond.
	midWriteKill = 5 * time.Millisecond
)

// wrongBackupCode has the shape of a backup code (so it costs a hash under
// the lock and records a failure) but is none: 2^-50 odds.
const wrongBackupCode = "zzzz-zzzz-zzzz"

// victim is one gate or enroll process started for a round.
type victim struct {
	cmd    *exec.Cmd
	code   string // the passcode it was given; "" for an enroll
	out    bytes.Buffer
	errOut bytes.Buffer
	killed bool // it died of SIGKILL
	// targeted is set when the writer killer sent it SIGKILL inside its
	// write; read it after the round's processes have all been reaped.
	targeted bool
}

// start starts v and, when delay > 0, SIGKILLs it after delay unless it has
// exited by then.
func (v *victim) start(t *testing.T, delay time.Duration, wg *sync.WaitGroup) {
	t.Helper()
	v.cmd.Stdout, v.cmd.Stderr = &v.out, &v.errOut
	must(t, v.cmd.Start())
	wg.Add(1)
	go func() {
		defer wg.Done()
		done := make(chan struct{})
		go func() {
			v.cmd.Wait()
			close(done)
		}()
		if delay > 0 {
			select {
			case <-done:
			case <-time.After(delay):
				v.cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		<-done
		ws, ok := v.cmd.ProcessState.Sys().(syscall.WaitStatus)
		v.killed = ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}()
}

// writerKiller watches a user's directory and, when a temp file appears
// (a writer is between its create and its rename), SIGKILLs the process
// holding the user's lock, which is that writer, within midWriteKill.
type writerKiller struct {
	f    *os.File // inotify
	lock string   // the user's lock file
	mu   sync.Mutex
	pids map[int]*victim // this round's processes
	done chan struct{}
}

func newWriterKiller(t *testing.T, userDir string) *writerKiller {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	must(t, err)
	if _, err := unix.InotifyAddWatch(fd, userDir, unix.IN_CREATE); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	w := &writerKiller{f: os.NewFile(uintptr(fd), "inotify"), lock: filepath.Join(userDir, "lock"), done: make(chan struct{})}
	go w.watch()
	t.Cleanup(func() {
		w.f.Close()
		<-w.done
	})
	return w
}

func (w *writerKiller) watch() {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len, then len bytes of name
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen], "\x00"))
			off += unix.SizeofInotifyEvent + nameLen
			if strings.HasPrefix(name, "state.json.tmp-") && rand.IntN(2) == 0 {
				w.killHolder()
			}
		}
	}
}

// killHolder SIGKILLs the process that holds the lock, if it is one of this
// round's, after a random delay below midWriteKill.
func (w *writerKiller) killHolder() {
	pid := lockHolder(w.lock)
	w.mu.Lock()
	v := w.pids[pid]
	w.mu.Unlock()
	if v == nil {
		return
	}
	time.Sleep(time.Duration(rand.Int64N(int64(midWriteKill))))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pids[pid] == v && v.cmd.Process.Signal(syscall.SIGKILL) == nil { // still this round's
		v.targeted = true
	}
}

// round sets the processes the killer may hit; round(nil) ends a round, after
// which it touches none of them.
func (w *writerKiller) round(vs []*victim) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pids = map[int]*victim{}
	for _, v := range vs {
		w.pids[v.cmd.Process.Pid] = v
	}
}

// lockHolder returns the pid holding an flock on path, from /proc/locks, or 0.
func lockHolder(path string) int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 fd:01:56789 0 EOF ("->" marks waiters)
		fl := strings.Fields(sc.Text())
		if len(fl) < 6 || fl[1] != "FLOCK" || !strings.HasSuffix(fl[5], ino) {
			continue
		}
		pid, _ := strconv.Atoi(fl[4])
		return pid
	}
	return 0
}

// Gates and enrollments SIGKILLed round after round while they race for one
// user's state: some at random moments, some right inside their write
// (between creating the temp file and the rename or the directory fsync).
// The state file always decodes, the temp files killed writers leave are
// cleaned by the next write, and no backup code is ever accepted twice. The
// codes left are never fewer than the codes tried allow (nothing lost) nor
// more than the codes accepted allow (nothing used comes back).
func TestKilledMidWrite(t *testing.T) {
	t.Parallel() // with TestStoppedGateHoldsOnlyItsUser, which mostly waits
	e := newEnv(t, envOptions{yaml: "rate_limit: {failures: 1000, per: 1m}\nbackup_codes: {count: 5, warn_below: 0}\n"})
	a := newAccount(t)
	en := e.enroll(t, a)
	killer := newWriterKiller(t, e.userDir(a))

	// Random kills fall anywhere from before a process has started to after
	// it would have finished: time one round of the loop's shape, run to
	// the end, first.
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, v := range []*victim{
		{cmd: e.gateCmd(a, en.Codes[0])}, {cmd: e.gateCmd(a, en.Codes[0])},
		{cmd: e.gateCmd(a, wrongBackupCode)}, {cmd: e.gateCmd(a, en.Codes[1])}, {cmd: e.enrollCmd(a)},
	} {
		v.start(t, 0, &wg)
	}
	wg.Wait()
	maxDelay := time.Since(t0) * 5 / 4
	en = e.enroll(t, a)

	var (
		accepted   = map[string]int{}  // backup code -> logins it let in
		tried      = map[string]bool{} // codes of the current enrollment given to some gate
		used       []string            // codes of earlier rounds, replayed later
		rounds     int
		kills      int
		finished   int
		tempRounds int // rounds after which a killed writer's temp file was found
		replaced   int // enrollments replaced by a killed enroll that still landed
		hits       int // processes killed inside their write
	)
	start := time.Now()
	for ; rounds < crashRounds && time.Since(start) < crashBudget; rounds++ {
		fresh := ""
		for _, c := range en.Codes {
			if !tried[c] {
				fresh = c
				break
			}
		}
		if fresh == "" { // all tried: a new set
			en, tried = e.enroll(t, a), map[string]bool{}
			fresh = en.Codes[0]
		}
		tried[fresh] = true
		codes := []string{fresh, fresh, wrongBackupCode}
		if len(used) > 0 {
			codes = append(codes, used[rand.IntN(len(used))])
		}
		var vs []*victim
		for _, c := range codes {
			vs = append(vs, &victim{cmd: e.gateCmd(a, c), code: c})
		}
		if rounds%2 == 1 {
			vs = append(vs, &victim{cmd: e.enrollCmd(a)})
		}
		for _, v := range vs {
			delay := time.Duration(0) // left to the writer killer
			if rand.IntN(2) == 0 {
				delay = time.Duration(1 + rand.Int64N(int64(maxDelay)))
			}
			v.start(t, delay, &wg)
		}
		killer.round(vs)
		wg.Wait()
		used = append(used, fresh)

		killer.round(nil)
		for _, v := range vs {
			if v.killed {
				kills++
				if v.targeted {
					hits++
				}
				continue
			}
			finished++
			switch {
			case v.code == "" && v.cmd.ProcessState.ExitCode() == 0:
				// A finished enroll replaced the enrollment: use its codes.
				en, tried = enrolltest.Parse(t, v.out.Bytes()), map[string]bool{}
			case v.code != "" && strings.Contains(v.out.String(), marker):
				accepted[v.code]++
				if v.code == wrongBackupCode {
					t.Fatalf("round %d: a wrong code let the user in", rounds)
				}
			case v.code != "" && v.cmd.ProcessState.ExitCode() == 0:
				t.Fatalf("round %d: a gate exited 0 without running the session: %q %q", rounds, v.out.String(), v.errOut.String())
			}
		}

		b, err := os.ReadFile(e.statePath(a))
		must(t, err)
		st, err := filestore.Decode(b)
		if err != nil {
			t.Fatalf("round %d: the state file does not decode after kills: %v", rounds, err)
		}
		if n := len(e.tempFiles(t, a)); n > 0 {
			tempRounds++
		}
		if string(st.TOTP.Secret) != en.Secret {
			// A killed enroll landed before it could print its codes.
			replaced++
			en, tried = e.enroll(t, a), map[string]bool{}
			continue
		}
		left, acc := len(st.Backup.Codes), 0
		for c := range tried {
			if accepted[c] > 0 {
				acc++
			}
		}
		if left < len(en.Codes)-len(tried) || left > len(en.Codes)-acc {
			t.Fatalf("round %d: %d backup codes left, want %d to %d (%d tried, %d accepted)",
				rounds, left, len(en.Codes)-len(tried), len(en.Codes)-acc, len(tried), acc)
		}
	}

	for c, n := range accepted {
		if n > 1 {
			t.Errorf("a backup code (%d characters) was accepted %d times", len(c), n)
		}
	}
	// One more write cleans whatever a killed writer left.
	mustDeny(t, "a wrong code after the run", e.login(t, a, wrongBackupCode), "wrong code")
	if names := e.tempFiles(t, a); len(names) != 0 {
		t.Errorf("temp files left after a completed write: %v", names)
	}
	e.stateOf(t, a)
	t.Logf("%d rounds in %v: %d processes killed (%d inside their write, the others at random within %v), %d finished; "+
		"%d codes accepted, each once; killed writers' temp files found after %d rounds, all cleaned by the next write; "+
		"%d enrollments landed by enrolls killed before they printed",
		rounds, time.Since(start).Round(time.Millisecond), kills, hits, maxDelay.Round(time.Millisecond), finished,
		len(accepted), tempRounds, replaced)
	if hits == 0 || finished == 0 {
		t.Errorf("%d processes killed inside their write, %d finished: the loop proves little unless both happen", hits, finished)
	}
}

// A first enrollment by root, killed while it creates the user's directory
// and lock file, must not leave either owned by root: the user's logins
// would refuse them (wrong owner) until an administrator chowned them by
// hand, and so would root's own enroll.
func TestKilledFirstEnrollment(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := newAccount(t)
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	must(t, err)
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, e.state, unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	dir := e.userDir(a)
	buf := make([]byte, 4096)
	start := time.Now()
	rounds, hit := 0, 0
	for ; rounds < 100 && time.Since(start) < 3*time.Second; rounds++ {
		must(t, os.RemoveAll(dir))
		cmd := e.enrollCmd(a)
		must(t, cmd.Start())
		// The directory's creation wakes us. Kill at once or a little later:
		// within 300µs (the directory's hand-over) or 5ms (the lock file's,
		// after the state directory's fsync).
		if _, err := unix.Read(fd, buf); err != nil {
			t.Fatal(err)
		}
		window := []int64{300, 5000}[rand.IntN(2)]
		time.Sleep(time.Duration(rand.Int64N(window)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
			hit++
		}
		for _, p := range []string{dir, filepath.Join(dir, "lock")} {
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err == nil && int(st.Uid) != a.UID {
				out, errOut, code := run(t, e.enrollCmd(a))
				t.Fatalf("round %d: %s left owned by uid %d, not %s (uid %d); root's next enroll: exit %d %s %s",
					rounds, p, st.Uid, a.Name, a.UID, code, out, errOut)
			}
		}
	}
	t.Logf("%d first enrollments, %d killed while creating the user's directory", rounds, hit)
}
