// Package audit writes logingate's audit trail: one syslog line per decision
// and per administrative change, sent to the socket named in the config.
// Lines carry who, from where, which factor, the result and the reason; they
// never carry a code, a secret or a hash, and values are sanitised so that a
// user name or address cannot forge a second line.
package audit

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/logingate/logingate/internal/term"
	"github.com/logingate/logingate/internal/voice"
)

// Severity is a syslog severity.
type Severity int

// Syslog severities used by logingate.
const (
	Warning Severity = 4
	Notice  Severity = 5
	Info    Severity = 6
)

var facilities = map[string]int{
	"auth": 4, "authpriv": 10, "daemon": 3, "user": 1,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Logger sends audit lines to a syslog socket and, with debug on, to stderr.
// If the socket cannot be reached the line is not lost silently: a warning
// goes to stderr once, and the caller's decision stands.
type Logger struct {
	facility int
	ident    string
	socket   string
	debug    bool
	stderr   io.Writer
	now      func() time.Time

	// loginDuo words login lines as login_duo does (drop-in mode), so
	// that log alerts written for it keep matching.
	loginDuo bool

	mu     sync.Mutex
	conn   net.Conn
	warned bool
}

// LoginDuoWording makes l word login lines as login_duo does: "Successful
// Duo login for 'alice' from 203.0.113.9". Other lines keep logingate's
// key=value form.
func (l *Logger) LoginDuoWording() *Logger {
	l.loginDuo = true
	return l
}

// New returns a Logger. Nothing is dialled until the first line.
func New(facility, ident, socket string, debug bool, stderr io.Writer) *Logger {
	f, ok := facilities[facility]
	if !ok {
		f = facilities["authpriv"]
	}
	return &Logger{facility: f, ident: ident, socket: socket, debug: debug, stderr: stderr, now: time.Now}
}

// Event is one audit record. Fields are written in a fixed order as
// key=value pairs; empty fields are left out.
type Event struct {
	Action string // "login", "enroll", "reset", ...
	Result string // "allow", "deny", "skip", "ok", "error"
	User   string
	From   string
	Factor string
	Reason string
	By     string // the administrator who made a change, when not the user
	// DuoUser is the name Duo was asked about when it is not User (-f,
	// send_gecos).
	DuoUser string
}

// Line formats e as the message part of a syslog line.
func (e Event) Line() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	add("action", e.Action)
	add("result", e.Result)
	add("user", e.User)
	add("duo_user", e.DuoUser)
	add("from", e.From)
	add("factor", e.Factor)
	add("by", e.By)
	add("reason", e.Reason)
	return b.String()
}

// maxValue bounds one value of a line; a reason may carry a hint with the
// command that fixes it.
const maxValue = 1024

// quote makes v safe for one log line: the project's one sanitiser
// (term.SanitizeLine) turns line breaks into spaces and every other control
// (C0, DEL, C1, bidirectional) and invalid UTF-8 into '?', and a value with
// spaces, quotes or '=' is double-quoted with inner quotes escaped.
func quote(v string) string {
	clean := term.SanitizeLine(v, maxValue)
	if !strings.ContainsAny(clean, ` "=\`) {
		return clean
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(clean) + `"`
}

// Log writes one event at the given severity.
func (l *Logger) Log(sev Severity, e Event) {
	l.log(sev, e, e.Reason)
}

// LogPrivate writes one event whose reason the caller must not see: syslog
// gets e, and the -d copy on stderr says shown instead of e.Reason.
func (l *Logger) LogPrivate(sev Severity, e Event, shown string) {
	l.log(sev, e, shown)
}

func (l *Logger) log(sev Severity, e Event, shown string) {
	msg := l.format(e)
	if l.debug {
		c := e
		c.Reason = shown
		fmt.Fprintf(l.stderr, "%s: %s\n", l.ident, l.format(c))
	}
	if err := l.send(sev, msg); err != nil {
		l.mu.Lock()
		first := !l.warned
		l.warned = true
		l.mu.Unlock()
		if first {
			fmt.Fprintln(l.stderr, voice.Warningf("audit log unreachable (%s): %v", l.socket, err))
		}
	}
}

func (l *Logger) format(e Event) string {
	if l.loginDuo && e.Action == "login" {
		return e.loginDuoLine()
	}
	return e.Line()
}

func (l *Logger) send(sev Severity, msg string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		c, err := net.DialTimeout("unixgram", l.socket, time.Second)
		if err != nil {
			return unwrapOp(err)
		}
		l.conn = c
	}
	// RFC 3164 shape, as local syslog daemons and journald expect on /dev/log.
	line := fmt.Sprintf("<%d>%s %s[%d]: %s", l.facility*8+int(sev), l.now().Format(time.Stamp), l.ident, os.Getpid(), msg)
	_ = l.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := l.conn.Write([]byte(line))
	return unwrapOp(err)
}

// Close releases the socket.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}

func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// loginDuoLine words a login event as login_duo does:
// "<what> Duo login for '<user>' from <ip>: <reason>".
func (e Event) loginDuoLine() string {
	what := "Failed"
	switch {
	case e.Result == "allow":
		what = "Successful"
	case e.Result == "failsafe":
		what = "Failsafe"
	case e.Result == "skip":
		what = "Skipped"
	case strings.Contains(e.Reason, "failmode secure"):
		what = "Failsecure"
	case strings.HasPrefix(e.Reason, "aborted") || strings.HasPrefix(e.Reason, "interrupted"):
		what = "Aborted"
	case strings.HasPrefix(e.Reason, "config error") || strings.HasPrefix(e.Reason, "internal error"):
		what = "Error in"
	}
	clean := func(v string) string { return term.SanitizeLine(v, maxValue) }
	from := e.From
	if from == "" {
		from = "unknown"
	}
	user := "'" + clean(e.User) + "'"
	if e.DuoUser != "" {
		user = "'" + clean(e.DuoUser) + "' (local user '" + clean(e.User) + "')"
	}
	line := fmt.Sprintf("%s Duo login for %s from %s", what, user, clean(from))
	if e.Result != "allow" && e.Reason != "" {
		line += ": " + clean(e.Reason)
	}
	return line
}
