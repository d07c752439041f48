package term

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The pty tests re-run this test binary as a helper process: the "gate"
// that opens its controlling terminal and reads codes. It reports on a
// results file, never on the terminal, so the terminal output the test
// checks is exactly what a user would see.
const (
	helperEnv  = "LOGINGATE_TERM_HELPER"  // mode: "read" or "notty"
	resultsEnv = "LOGINGATE_TERM_RESULTS" // file for result lines
	promptsEnv = "LOGINGATE_TERM_PROMPTS" // how many codes to read
	maxEnv     = "LOGINGATE_TERM_MAX"     // byte limit per code
	timeoutEnv = "LOGINGATE_TERM_TIMEOUT" // time limit per code
)

// greeting is shown before the first prompt; it must arrive sanitised.
const (
	greeting          = "hello \x1b[31mworld\r"
	greetingSanitised = "hello ?[31mworld?\r\n"
	deniedMessage     = "logingate: error: interrupted"
	doneMessage       = "helper: done" // the last thing on the screen after a normal exit
	interruptedStatus = 3
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	results, err := os.OpenFile(os.Getenv(resultsEnv), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 100
	}
	defer results.Close()
	report := func(format string, args ...any) { fmt.Fprintf(results, format+"\n", args...) }

	if mode == "notty" {
		_, err := Open()
		switch {
		case errors.Is(err, errNoTerminal):
			report("no-terminal")
		case err == nil:
			report("opened")
		default:
			report("error %v", err)
		}
		return 0
	}

	prompts, _ := strconv.Atoi(os.Getenv(promptsEnv))
	limit, _ := strconv.Atoi(os.Getenv(maxEnv))
	timeout, err := time.ParseDuration(os.Getenv(timeoutEnv))
	if err != nil {
		timeout = 30 * time.Second // never linger after a failed test
	}

	// The handlers stay in force until the process exits, as the gate's do
	// until it exits or execs: a stop here would let a hangup that arrives
	// just after the read ended kill the helper.
	ctx, caught, _ := Interrupts(context.Background())
	tty, err := Open()
	if err != nil {
		report("open %v", err)
		return 1
	}
	defer tty.Close()
	tty.Println(greeting)
	for i := 1; i <= prompts; i++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		line, err := tty.ReadSecret(rctx, fmt.Sprintf("Code %d: ", i), limit)
		cancel()
		// ReadSecret itself must restore the mode, not just Close.
		echo := "echo-off"
		if mode, err := tty.getMode(); err == nil && mode.Lflag&unix.ECHO != 0 {
			echo = "echo-on"
		}
		report := func(format string, args ...any) { report(format+" "+echo, args...) }
		var intr *Interrupted
		switch {
		case err == nil:
			report("%d ok %s", i, line)
		case errors.Is(err, ErrTooLong):
			report("%d too-long", i)
		case errors.Is(err, io.EOF):
			report("%d eof", i)
		case errors.Is(err, context.DeadlineExceeded):
			report("%d deadline", i)
		case errors.As(err, &intr):
			report("%d interrupted %s caught=%v canceled=%v", i, unix.SignalName(intr.Signal.(syscall.Signal)),
				caught() == intr.Signal, errors.Is(err, context.Canceled))
			tty.Println(deniedMessage)
			return interruptedStatus
		default:
			report("%d error %v", i, err)
		}
	}
	tty.Println(doneMessage)
	return 0
}
