package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCommands are the commands the scripts have beyond testscript's own:
//
//	exits CODE PROG [ARGS...]    run PROG (as exec does) and require exit status CODE
//	totp [-d DIGITS] [-p SECONDS] [-a ALG] SECRET|URI [STEPS]
//	                             print the TOTP code STEPS periods from now (default 0),
//	                             computed by oathtool; a URI supplies digits, period and algorithm
//	setvar VAR [stdout|stderr|FILE]
//	                             set VAR to the trimmed output of the last command (or FILE)
//	jsonget [-len] FILE PATH     print a value from JSON (-len: its length); PATH is
//	                             dot-separated keys and array indexes, "." the whole document
//	uriparam URI NAME            print one query parameter of a URI
//	mkstate DIR                  create a state directory with mode 1733
//	filemode PATH                print the permission bits of PATH in octal, e.g. 0600
//	envsubst IN OUT              copy IN to OUT (mode 0600) expanding $VAR and ${VAR}
//	syslogd SOCKET               receive audit lines on a unixgram socket until the script ends
//	auditlog                     print the audit lines received since the last auditlog
//	codesabsent JSON KEY FILE    fail if FILE contains any code of the array KEY in JSON,
//	                             with or without its dash, in any case
var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exits":       cmdExits,
	"totp":        cmdTOTP,
	"setvar":      cmdSetvar,
	"jsonget":     cmdJSONGet,
	"uriparam":    cmdURIParam,
	"mkstate":     cmdMkstate,
	"filemode":    cmdFilemode,
	"envsubst":    cmdEnvsubst,
	"syslogd":     cmdSyslogd,
	"auditlog":    cmdAuditlog,
	"codesabsent": cmdCodesAbsent,
}

// scriptCondition adds [need:TOOL]: true when TOOL is installed. A missing
// tool under CI=true is an error, which fails the script: use it as
// `[!need:TOOL] skip`.
func scriptCondition(cond string) (bool, error) {
	tool, ok := strings.CutPrefix(cond, "need:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(tool); err != nil {
		if need.CI() {
			return false, fmt.Errorf("%s not installed (required when CI=true)", tool)
		}
		return false, nil
	}
	return true, nil
}

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "exits")
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad exit status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

func cmdTOTP(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "totp")
	const usage = "usage: totp [-d DIGITS] [-p SECONDS] [-a ALG] SECRET|URI [STEPS]"
	digits, period, alg := "6", int64(30), "SHA1"
	for len(args) >= 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-d":
			digits = args[1]
		case "-p":
			p, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || p <= 0 {
				ts.Fatalf("totp: bad period %q", args[1])
			}
			period = p
		case "-a":
			alg = strings.ToUpper(args[1])
		default:
			ts.Fatalf("%s", usage)
		}
		args = args[2:]
	}
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("%s", usage)
	}
	secret := args[0]
	if strings.HasPrefix(secret, "otpauth://") {
		u, err := url.Parse(secret)
		ts.Check(err)
		q := u.Query()
		secret = q.Get("secret")
		if d := q.Get("digits"); d != "" {
			digits = d
		}
		if a := q.Get("algorithm"); a != "" {
			alg = strings.ToUpper(a)
		}
		if p := q.Get("period"); p != "" {
			n, err := strconv.ParseInt(p, 10, 64)
			ts.Check(err)
			period = n
		}
	}
	var steps int64
	if len(args) == 2 {
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			ts.Fatalf("totp: bad step offset %q", args[1])
		}
		steps = n
	}
	if _, err := exec.LookPath("oathtool"); err != nil {
		ts.Fatalf("totp: oathtool not installed; guard the script with [!need:oathtool] skip")
	}
	at := time.Now().Unix() + steps*period
	// The secret goes on stdin, not in the process list.
	cmd := exec.Command("oathtool", "--totp="+alg, "-b", "-d", digits, "-s", fmt.Sprintf("%ds", period),
		"-N", fmt.Sprintf("@%d", at), "-")
	cmd.Stdin = strings.NewReader(secret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		ts.Fatalf("oathtool: %v: %s", err, stderr.String())
	}
	fmt.Fprint(ts.Stdout(), string(out))
}

func cmdSetvar(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "setvar")
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: setvar VAR [stdout|stderr|FILE]")
	}
	from := "stdout"
	if len(args) == 2 {
		from = args[1]
	}
	v := strings.TrimSpace(ts.ReadFile(from))
	if v == "" {
		ts.Fatalf("setvar: %s is empty", from)
	}
	ts.Setenv(args[0], v)
}

func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsonget")
	length := len(args) > 0 && args[0] == "-len"
	if length {
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget [-len] FILE PATH")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("jsonget: %s: %v", args[0], err)
	}
	if args[1] != "." {
		for _, key := range strings.Split(args[1], ".") {
			switch x := v.(type) {
			case map[string]any:
				val, ok := x[key]
				if !ok {
					ts.Fatalf("jsonget: no key %q in %s", key, args[0])
				}
				v = val
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(x) {
					ts.Fatalf("jsonget: no index %q in an array of %d", key, len(x))
				}
				v = x[i]
			default:
				ts.Fatalf("jsonget: %q: not an object or array", key)
			}
		}
	}
	if length {
		switch x := v.(type) {
		case map[string]any:
			v = len(x)
		case []any:
			v = len(x)
		case string:
			v = len(x)
		default:
			ts.Fatalf("jsonget: %s has no length", args[1])
		}
	}
	if s, ok := v.(string); ok {
		fmt.Fprintln(ts.Stdout(), s)
		return
	}
	b, err := json.Marshal(v)
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), string(b))
}

func cmdURIParam(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "uriparam")
	if len(args) != 2 {
		ts.Fatalf("usage: uriparam URI NAME")
	}
	u, err := url.Parse(args[0])
	ts.Check(err)
	v := u.Query().Get(args[1])
	if v == "" {
		ts.Fatalf("uriparam: no %q in the URI", args[1])
	}
	fmt.Fprintln(ts.Stdout(), v)
}

func cmdMkstate(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mkstate")
	if len(args) != 1 {
		ts.Fatalf("usage: mkstate DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.Mkdir(dir, 0o700))
	// 1733: os.Chmod needs os.ModeSticky for the sticky bit (0o1000 is not it).
	ts.Check(os.Chmod(dir, os.ModeSticky|0o733))
}

func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "filemode")
	if len(args) != 1 {
		ts.Fatalf("usage: filemode PATH")
	}
	var st syscall.Stat_t
	ts.Check(syscall.Lstat(ts.MkAbs(args[0]), &st))
	fmt.Fprintf(ts.Stdout(), "%04o\n", st.Mode&0o7777)
}

func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "envsubst")
	if len(args) != 2 {
		ts.Fatalf("usage: envsubst IN OUT")
	}
	out := ts.MkAbs(args[1])
	text := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		ts.Check(err)
	}
	ts.Check(os.WriteFile(out, []byte(text), 0o600))
	ts.Check(os.Chmod(out, 0o600)) // whatever the umask
}

// auditKey holds the script's *auditSink in testscript's per-script values.
type auditKey struct{}

type auditHolder struct{ sink *auditSink }

func scriptAudit(ts *testscript.TestScript) *auditHolder {
	h, ok := ts.Value(auditKey{}).(*auditHolder)
	if !ok {
		ts.Fatalf("no audit holder: Setup did not run")
	}
	return h
}

func cmdSyslogd(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "syslogd")
	if len(args) != 1 {
		ts.Fatalf("usage: syslogd SOCKET")
	}
	h := scriptAudit(ts)
	if h.sink != nil {
		ts.Fatalf("syslogd: already listening on %s", h.sink.path)
	}
	s, err := listenAudit(ts.MkAbs(args[0]))
	ts.Check(err)
	h.sink = s
	ts.Defer(s.close)
}

func cmdAuditlog(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "auditlog")
	if len(args) != 0 {
		ts.Fatalf("usage: auditlog")
	}
	h := scriptAudit(ts)
	if h.sink == nil {
		ts.Fatalf("auditlog: start syslogd first")
	}
	lines, err := h.sink.drain()
	ts.Check(err)
	w := ts.Stdout()
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func cmdCodesAbsent(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "codesabsent")
	if len(args) != 3 {
		ts.Fatalf("usage: codesabsent JSON KEY FILE")
	}
	var doc map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc))
	codes, _ := doc[args[1]].([]any)
	if len(codes) == 0 {
		ts.Fatalf("codesabsent: no codes under %q in %s", args[1], args[0])
	}
	text := strings.ToLower(ts.ReadFile(args[2]))
	for _, c := range codes {
		code, _ := c.(string)
		if code == "" {
			ts.Fatalf("codesabsent: %v is not a code", c)
		}
		for _, form := range []string{code, strings.ReplaceAll(code, "-", "")} {
			if strings.Contains(text, strings.ToLower(form)) {
				ts.Fatalf("%s contains the backup code %s in clear", filepath.Base(args[2]), code)
			}
		}
	}
}
