package factors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/term"
)

// DuoClient is what the Duo factors need of a Duo Auth API client
// (*duo.Client).
type DuoClient interface {
	PreauthFor(ctx context.Context, r duo.PreauthRequest) (*duo.Preauth, error)
	Auth(ctx context.Context, r duo.AuthRequest) (txid string, st duo.Status, err error)
	Wait(ctx context.Context, txid string, progress func(duo.Status)) (duo.Status, error)
}

// DuoLogin is the login the Duo factors act for, and what Duo is told
// about it, as login_duo tells it.
type DuoLogin struct {
	User     string // the Duo username
	IPAddr   string // the client address, "" when unknown
	Hostname string // this host's name, sent as hostname ("" = ask LookupHost)
	// LookupHost finds Hostname when Duo is first asked (so that a login
	// Duo is not asked about never looks it up); nil = send none.
	LookupHost func(ctx context.Context) string
	ServerIP   string // this host's address, shown in every push ("Server IP")
	Command    string // the session's command, "" for a shell
	Pushinfo   bool   // also show the command in the push
	// Failmode is sent with preauth: "open" (failmode safe) or "closed".
	Failmode string
	// VerifiedPush: preauth says this client shows a Verified Push's
	// number; when Duo answers one, a push carries preauth's txid and
	// reports the number as progress.
	VerifiedPush bool
}

// NewDuo returns Duo as a Service for one login.
func NewDuo(c DuoClient, l DuoLogin) Service {
	return &duoService{c: c, l: l}
}

type duoService struct {
	c DuoClient
	l DuoLogin
	// vp is the Plan's preauth's Verified Push (txid and number), kept for
	// the first push; vpUsed once a push took it.
	vp     duo.Preauth
	vpUsed bool
}

func (s *duoService) Name() string { return "duo" }

// Plan runs Duo's preauth and turns the user's devices into menu entries:
// for each device, in Duo's order, a push, a phone call and SMS passcodes
// as its capabilities allow, then a hidden passcode taker.
func (s *duoService) Plan(ctx context.Context) (Plan, error) {
	if s.l.Hostname == "" && s.l.LookupHost != nil {
		s.l.Hostname = s.l.LookupHost(ctx)
	}
	pre, err := s.preauth(ctx)
	if err != nil {
		return Plan{}, err
	}
	s.vp = duo.Preauth{Txid: pre.Txid, VerificationCode: pre.VerificationCode}
	p := Plan{Message: pre.Message, EnrollURL: pre.EnrollURL}
	switch pre.Result {
	case "allow":
		p.Verdict = Skip
		return p, nil
	case "deny":
		p.Verdict = Refuse
		return p, nil
	case "enroll":
		p.Verdict = NotEnrolled
		return p, nil
	case "auth":
	default:
		return Plan{}, fmt.Errorf("duo preauth: unknown result %q: %w", duo.Sanitize(string(pre.Result)), ErrService)
	}
	p.Verdict = Offer
	n := map[string]int{} // how many devices offer each kind so far
	keyword := func(kind string) string {
		n[kind]++
		if n[kind] == 1 {
			return kind
		}
		return fmt.Sprint(kind, n[kind])
	}
	autoOK := false
	for _, d := range pre.Devices {
		if d.Can("push") {
			p.Factors = append(p.Factors, &duoAction{s: s, factor: "push", device: d.ID, keyword: keyword("push"),
				label: "Duo Push to " + deviceName(d)})
			autoOK = true
		}
		if d.Can("phone") {
			p.Factors = append(p.Factors, &duoAction{s: s, factor: "phone", device: d.ID, keyword: keyword("phone"),
				label: "Phone call to " + deviceNumber(d)})
			autoOK = true
		}
		if d.Can("sms") {
			p.Factors = append(p.Factors, &duoAction{s: s, factor: "sms", device: d.ID, keyword: keyword("sms"),
				label: "SMS passcodes to " + deviceNumber(d)})
		}
	}
	p.Factors = append(p.Factors, &duoPasscode{s: s})
	if autoOK {
		p.Auto = &duoAction{s: s, factor: "auto", device: "auto", label: "Duo Push or call to your default device"}
	}
	return p, nil
}

func (s *duoService) preauth(ctx context.Context) (*duo.Preauth, error) {
	pre, err := s.c.PreauthFor(ctx, duo.PreauthRequest{User: s.l.User, IPAddr: s.l.IPAddr, Hostname: s.l.Hostname,
		Failmode: s.l.Failmode, VerifiedPush: s.l.VerifiedPush})
	return pre, duoError(err)
}

// verifiedPush returns the txid and number of a Verified Push for the next
// push, "" when Duo asks for none: the Plan's preauth's for the first push,
// a fresh preauth's for any later one (a txid starts one push).
func (s *duoService) verifiedPush(ctx context.Context) (txid, code string, err error) {
	if s.vp.Txid == "" {
		return "", "", nil
	}
	if !s.vpUsed {
		s.vpUsed = true
		return s.vp.Txid, s.vp.VerificationCode, nil
	}
	pre, err := s.preauth(ctx)
	if err != nil {
		return "", "", err
	}
	return pre.Txid, pre.VerificationCode, nil
}

// maxDeviceLabel bounds a device's name in a menu line.
const maxDeviceLabel = 80

// deviceName is how the menu names a device: one line, whatever Duo sent.
func deviceName(d duo.Device) string {
	return term.SanitizeLine(rawDeviceName(d), maxDeviceLabel)
}

func rawDeviceName(d duo.Device) string {
	switch {
	case d.DisplayName != "":
		return d.DisplayName
	case d.Name != "" && d.Number != "":
		return d.Name + " (" + d.Number + ")"
	case d.Number != "":
		return d.Number
	case d.Name != "":
		return d.Name
	}
	return "device " + d.ID
}

func deviceNumber(d duo.Device) string {
	if d.Number != "" {
		return term.SanitizeLine(d.Number, maxDeviceLabel)
	}
	return deviceName(d)
}

func (s *duoService) request(factor, device string) duo.AuthRequest {
	r := duo.AuthRequest{User: s.l.User, IPAddr: s.l.IPAddr, Hostname: s.l.Hostname, Factor: factor, Device: device}
	if factor == "push" || factor == "auto" {
		// As login_duo: the server's address always, the command only
		// with pushinfo.
		r.Pushinfo = url.Values{}
		if s.l.ServerIP != "" {
			r.Pushinfo.Set("Server IP", s.l.ServerIP)
		}
		if s.l.Pushinfo {
			r.Pushinfo.Set("Command", pushCommand(s.l.Command))
		}
	}
	return r
}

// maxPushCommand bounds the command shown in a push.
const maxPushCommand = 200

// pushCommand is the session's command as a push shows it: one printable
// line, bounded, "(login shell)" for none.
func pushCommand(cmd string) string {
	if cmd == "" {
		return "(login shell)"
	}
	if len(cmd) > maxPushCommand {
		return term.SanitizeLine(cmd, maxPushCommand) + "..."
	}
	return term.SanitizeLine(cmd, maxPushCommand)
}

// duoAction is a push, a phone call or a request for SMS passcodes to one
// device (or Duo's choice, for "auto").
type duoAction struct {
	s       *duoService
	factor  string // "push" | "phone" | "sms" | "auto"
	device  string
	keyword string // what a user may type for it: "push", "push2", "phone", "sms"...
	label   string
}

func (a *duoAction) Name() string                                         { return "duo-" + a.factor }
func (a *duoAction) Label() string                                        { return a.label }
func (a *duoAction) Accepts(string) bool                                  { return false }
func (a *duoAction) Traits() Traits                                       { return Traits{Keywords: []string{a.keyword}} }
func (a *duoAction) Check(ctx context.Context, _ string) (Outcome, error) { return a.Run(ctx, nil) }

// Run starts the authentication and, for a push or a call, waits for its
// result, reporting Duo's status lines through progress.
func (a *duoAction) Run(ctx context.Context, progress func(string)) (Outcome, error) {
	r := a.s.request(a.factor, a.device)
	code := ""
	if a.factor == "push" {
		var err error
		if r.Txid, code, err = a.s.verifiedPush(ctx); err != nil {
			return Outcome{}, err
		}
	}
	txid, st, err := a.s.c.Auth(ctx, r)
	if err != nil {
		return Outcome{}, duoError(err)
	}
	if a.factor == "sms" {
		// Duo answers a request for SMS passcodes with deny and "New SMS
		// passcodes sent": nothing was tried, so nothing is counted.
		return Outcome{Again: true, Notice: nonEmpty(st.Message, "New SMS passcodes sent")}, nil
	}
	if txid != "" {
		if progress != nil && code != "" {
			progress("Verification code: " + code + " (enter it in Duo Mobile)")
		}
		if progress != nil && st.Message != "" {
			progress(st.Message)
		}
		last := st.Message
		st, err = a.s.c.Wait(ctx, txid, func(s duo.Status) {
			if progress != nil && s.Message != "" && s.Message != last {
				progress(s.Message)
				last = s.Message
			}
		})
		if err != nil {
			return Outcome{}, duoError(err)
		}
	}
	return duoOutcome(st), nil
}

func duoOutcome(st duo.Status) Outcome {
	if st.Result == "allow" {
		return Outcome{OK: true, Notice: st.Message}
	}
	why := st.Status
	if why == "" {
		why = string(st.Result)
	}
	return Outcome{Reason: "duo: " + why, Notice: st.Message}
}

func nonEmpty(s, dflt string) string {
	if s != "" {
		return s
	}
	return dflt
}

// duoPasscode sends a typed code to Duo: a passcode from Duo Mobile, an SMS,
// a hardware token or a bypass code.
type duoPasscode struct{ s *duoService }

func (p *duoPasscode) Name() string   { return "duo-passcode" }
func (p *duoPasscode) Label() string  { return "Duo passcode" }
func (p *duoPasscode) Traits() Traits { return Traits{Hidden: true} }

// Accepts takes 6 to 12 digits (Duo Mobile, SMS, tokens, bypass codes) or
// a 44-character YubiKey OTP in modhex.
func (p *duoPasscode) Accepts(code string) bool {
	switch {
	case len(code) >= 6 && len(code) <= 12 && allDigits(code):
		return true
	case len(code) == 44:
		return strings.Trim(code, "cbdefghijklnrtuv") == ""
	}
	return false
}

func (p *duoPasscode) Check(ctx context.Context, code string) (Outcome, error) {
	r := p.s.request("passcode", "")
	r.Passcode = code
	_, st, err := p.s.c.Auth(ctx, r)
	if err != nil {
		return Outcome{}, duoError(err)
	}
	out := duoOutcome(st)
	if !out.OK {
		out.Reason = ReasonWrong
	}
	return out, nil
}

// duoError makes the Duo client's service errors this package's, keeping
// their words.
func duoError(err error) error {
	if errors.Is(err, duo.ErrService) {
		return serviceError{err}
	}
	return err
}

type serviceError struct{ err error }

func (e serviceError) Error() string        { return e.err.Error() }
func (e serviceError) Unwrap() error        { return e.err }
func (e serviceError) Is(target error) bool { return target == ErrService }
