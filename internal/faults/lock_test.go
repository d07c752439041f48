package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/testutil/sshtest"
	"golang.org/x/sys/unix"
)

// lockSlack is how much longer than filestore.DefaultLockWait a login may
// take to give up on a held lock, on a busy machine.
const lockSlack = 15 * time.Second

// stoppedGate is a gate process the test has SIGSTOPped.
type stoppedGate struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited and been reaped
}

// stopWhileLocked starts a gate for a that will take a's lock (a wrong
// backup code: it hashes every stored code under the lock), and SIGSTOPs it
// while /proc/locks shows it holding the lock.
func stopWhileLocked(t *testing.T, e *env, a *account) *stoppedGate {
	t.Helper()
	lock := filepath.Join(e.userDir(a), "lock")
	for range 50 {
		g := &stoppedGate{cmd: e.gateCmd(a, wrongBackupCode), exited: make(chan struct{})}
		must(t, g.cmd.Start())
		go func() {
			g.cmd.Wait()
			close(g.exited)
		}()
		// Signals go through the process handle (a pidfd), never to a pid
		// that may have been reused.
		signal := func(sig syscall.Signal) { g.cmd.Process.Signal(sig) }
		pid := g.cmd.Process.Pid
	poll:
		for {
			select {
			case <-g.exited:
				break poll
			default:
			}
			if lockHolder(lock) != pid {
				continue
			}
			signal(syscall.SIGSTOP)
			if waitStopped(pid) && lockHolder(lock) == pid {
				t.Cleanup(func() {
					signal(syscall.SIGKILL)
					signal(syscall.SIGCONT)
					<-g.exited
				})
				return g
			}
			signal(syscall.SIGCONT) // it let go just before the stop
		}
	}
	t.Fatal("never caught a gate holding the lock in 50 tries")
	return nil
}

// waitStopped waits until pid is in the stopped state, and reports false if
// it is gone first.
func waitStopped(pid int) bool {
	for range 5000 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// pid (comm) STATE ...: comm may hold spaces, so look after the ')'
		switch f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); {
		case len(f) > 0 && f[0] == "T":
			return true
		case len(f) > 0 && f[0] == "Z":
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// A user who stops their own gate while it holds their lock makes only
// their own later logins wait, and those give up after the lock-wait bound
// with a message that says why, without using their code. Another user's
// logins are not held up, neither by that nor by a gate stopped at its
// prompt, which holds no lock at all.
func TestStoppedGateHoldsOnlyItsUser(t *testing.T) {
	t.Parallel() // it mostly waits out the lock bound
	e := newEnv(t, envOptions{})
	stopper, flocked, other := newAccount(t), newAccount(t), newAccount(t)
	ens := map[*account]*enrollment{}
	for _, a := range []*account{stopper, flocked, other} {
		ens[a] = e.enroll(t, a)
	}

	// stopper: a real gate, SIGSTOPped while /proc/locks shows it holding
	// the lock. flocked: the test itself holds the lock, as a gate stuck
	// anywhere inside its update would.
	stopped := stopWhileLocked(t, e, stopper)
	f, err := os.Open(filepath.Join(e.userDir(flocked), "lock"))
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))

	type result struct {
		a *account
		l login
	}
	results := make(chan result, 2)
	began := time.Now()
	for _, a := range []*account{stopper, flocked} {
		cmd := e.gateCmd(a, ens[a].Code(t, 0))
		go func() {
			start := time.Now()
			var o, er strings.Builder
			cmd.Stdout, cmd.Stderr = &o, &er
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			results <- result{a, login{o.String(), er.String(), code, time.Since(start)}}
		}()
	}

	// Meanwhile another user, with a gate of their own stopped at its
	// prompt, logs in; so does the same user again beside the stopped one.
	pty := sshtest.StartPty(t, e.gateCmd(other, ""))
	pty.Expect(t, "Passcode or option (1-2): ", 10*time.Second)
	must(t, pty.Cmd.Process.Signal(syscall.SIGSTOP))
	if !waitStopped(pty.Cmd.Process.Pid) {
		t.Fatal("the gate at the prompt did not stop")
	}
	mustAllow(t, "another user while two users' locks are held", e.login(t, other, ens[other].Code(t, 0)))
	mustAllow(t, "the same user beside their gate stopped at the prompt", e.login(t, other, ens[other].Codes[0]))
	if len(results) != 0 {
		t.Errorf("a login waiting for a held lock ended before another user's logins did (%v): the bound is too short to tell", time.Since(began))
	}
	pty.Cmd.Process.Signal(syscall.SIGKILL)
	pty.Cmd.Process.Signal(syscall.SIGCONT)

	for range 2 {
		r := <-results
		mustDeny(t, r.a.Name+" while their lock is held", r.l,
			"logingate: error: another login for "+r.a.Name+" holds your second-factor state locked; access denied",
			"logingate: hint: finish that login")
		if r.l.took > filestore.DefaultLockWait+lockSlack {
			t.Errorf("%s waited %v for the lock, want about %v", r.a.Name, r.l.took, filestore.DefaultLockWait)
		}
		e.audit.WaitFor(t, "result=deny", "user="+r.a.Name, "another login for "+r.a.Name+" holds the lock",
			"gave up waiting after "+filestore.DefaultLockWait.String())
	}

	// Once the holders go on, everything is as before: the stopped gate
	// finishes its write, and the codes that were refused still work.
	must(t, stopped.cmd.Process.Signal(syscall.SIGCONT))
	<-stopped.exited
	if stopped.cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("the resumed gate: %v, want a denial (exit 1)", stopped.cmd.ProcessState)
	}
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_UN))
	for _, a := range []*account{stopper, flocked} {
		if st := e.stateOf(t, a); a == stopper && len(st.Failures) != 1 {
			t.Errorf("the resumed gate's failure was not recorded: %d failures", len(st.Failures))
		}
		mustAllow(t, a.Name+"'s refused code after the lock is free", e.login(t, a, ens[a].Code(t, 0)))
	}
}
