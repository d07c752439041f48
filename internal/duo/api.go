package duo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Result is Duo's verdict: "auth" | "allow" | "deny" | "enroll" from
// preauth; "allow" | "deny" | "waiting" from auth and auth_status.
type Result string

// Results Duo answers.
const (
	ResultAuth    Result = "auth"
	ResultAllow   Result = "allow"
	ResultDeny    Result = "deny"
	ResultEnroll  Result = "enroll"
	ResultWaiting Result = "waiting"
)

// Device is one of a user's devices as preauth lists it. Every string is
// sanitised.
type Device struct {
	ID           string   // "DPFZRS9FB0D46QFTM891" or "phone1"
	Type         string   // "phone", "token"
	Name         string   // "iPhone"
	Number       string   // "XXX-XXX-1234" (already masked by Duo)
	DisplayName  string   // "iOS (XXX-XXX-1234)"
	Capabilities []string // "push", "phone", "sms", "mobile_otp", "auto"
}

// Can reports whether the device lists capability.
func (d Device) Can(capability string) bool {
	return slices.Contains(d.Capabilities, capability)
}

// Preauth is preauth's answer.
type Preauth struct {
	Result    Result
	Message   string // status_msg, sanitised
	EnrollURL string // enroll_portal_url when Result == "enroll"
	Devices   []Device
	// Txid and VerificationCode come together when Duo's policy asks for
	// Verified Push and the request said client_supports_verified_push=1:
	// the client shows the code (digits only) for the user to type into
	// Duo Mobile, and the push that follows carries the txid
	// (AuthRequest.Txid). Both "" otherwise.
	Txid             string
	VerificationCode string
}

// Bounds of a Verified Push's txid and code as preauth returns them.
const (
	maxTxid = 128
	maxCode = 16
)

// maxDevices bounds the device list taken from one answer.
const maxDevices = 32

type preauthResponse struct {
	Result           string `json:"result"`
	StatusMsg        string `json:"status_msg"`
	EnrollPortalURL  string `json:"enroll_portal_url"`
	Txid             string `json:"txid"`
	VerificationCode string `json:"verification_code"`
	Devices          []struct {
		Device       string   `json:"device"`
		Type         string   `json:"type"`
		Name         string   `json:"name"`
		Number       string   `json:"number"`
		DisplayName  string   `json:"display_name"`
		Capabilities []string `json:"capabilities"`
	} `json:"devices"`
}

// Preauth asks Duo whether user may log in and with which devices. ipaddr
// and hostname are sent when not empty.
func (c *Client) Preauth(ctx context.Context, user, ipaddr, hostname string) (*Preauth, error) {
	return c.PreauthFor(ctx, PreauthRequest{User: user, IPAddr: ipaddr, Hostname: hostname})
}

// PreauthRequest is what a preauth tells Duo, as login_duo tells it.
type PreauthRequest struct {
	User, IPAddr, Hostname string // IPAddr and Hostname are sent when not empty
	// Failmode is sent as failmode ("open" | "closed") when not empty, so
	// that Duo's admin panel can report fail-open logins.
	Failmode string
	// VerifiedPush sends client_supports_verified_push=1: this client shows
	// the number the user types into Duo Mobile.
	VerifiedPush bool
}

// PreauthFor is Preauth with every parameter login_duo sends.
func (c *Client) PreauthFor(ctx context.Context, r PreauthRequest) (*Preauth, error) {
	if r.User == "" {
		return nil, errors.New("duo preauth: empty username")
	}
	params := url.Values{"username": {r.User}}
	if r.IPAddr != "" {
		params.Set("ipaddr", r.IPAddr)
	}
	if r.Hostname != "" {
		params.Set("hostname", r.Hostname)
	}
	if r.Failmode != "" {
		params.Set("failmode", r.Failmode)
	}
	if r.VerifiedPush {
		params.Set("client_supports_verified_push", "1")
	}
	raw, err := c.call(ctx, "POST", "/auth/v2/preauth", params)
	if err != nil {
		return nil, err
	}
	return parsePreauth(raw)
}

// parsePreauth checks and sanitises a preauth response member.
func parsePreauth(raw []byte) (*Preauth, error) {
	var r preauthResponse
	if err := unmarshalResponse("preauth", raw, &r); err != nil {
		return nil, err
	}
	p := &Preauth{Result: Result(r.Result), Message: Sanitize(r.StatusMsg)}
	switch p.Result {
	case ResultAuth:
		if len(r.Devices) > maxDevices {
			r.Devices = r.Devices[:maxDevices]
		}
		for _, d := range r.Devices {
			if d.Device == "" {
				return nil, service("preauth", "malformed response: a device has no id")
			}
			dev := Device{
				ID:          Sanitize(d.Device),
				Type:        Sanitize(d.Type),
				Name:        Sanitize(d.Name),
				Number:      Sanitize(d.Number),
				DisplayName: Sanitize(d.DisplayName),
			}
			for i, cp := range d.Capabilities {
				if i == 16 {
					break
				}
				dev.Capabilities = append(dev.Capabilities, Sanitize(cp))
			}
			p.Devices = append(p.Devices, dev)
		}
		txid, code := r.Txid, r.VerificationCode
		switch {
		case txid == "" && code == "":
		case txid == "" || len(txid) > maxTxid || Sanitize(txid) != txid:
			return nil, service("preauth", "malformed response: txid")
		case code == "" || len(code) > maxCode || strings.Trim(code, "0123456789") != "":
			return nil, service("preauth", "malformed response: verification_code")
		}
		p.Txid, p.VerificationCode = txid, code
	case ResultAllow, ResultDeny:
	case ResultEnroll:
		p.EnrollURL = Sanitize(r.EnrollPortalURL)
	default:
		return nil, service("preauth", "malformed response: result %q", Sanitize(clip(r.Result, 32)))
	}
	return p, nil
}

// AuthRequest is one authentication to start.
type AuthRequest struct {
	User, IPAddr, Hostname string
	Factor                 string     // "push" | "phone" | "sms" | "passcode" | "auto"
	Device                 string     // device id or "auto" ("" = "auto")
	Passcode               string     // Factor == "passcode"
	Pushinfo               url.Values // sent URL-encoded as pushinfo (push and auto)
	// Txid is a Verified Push's txid from preauth (Preauth.Txid), sent
	// with a push; "" for a plain push.
	Txid string
}

// Status is where an authentication stands.
type Status struct {
	Result  Result // "allow" | "deny" | "waiting"
	Status  string // Duo's status: "pushed", "calling", "answered", "sent", "allow", "deny", "timeout", "fraud", ...
	Message string // status_msg, sanitised
}

type statusResponse struct {
	Result    string `json:"result"`
	Status    string `json:"status"`
	StatusMsg string `json:"status_msg"`
	Txid      string `json:"txid"`
}

// Auth starts an authentication. For push, phone and auto it is
// asynchronous (async=1) and returns the txid and an empty Status; for
// passcode and sms it is synchronous and returns txid "" and the final
// Status (sms: Duo answers deny with "New SMS passcodes sent", status
// "sent"; that is not a failure the caller counts).
func (c *Client) Auth(ctx context.Context, r AuthRequest) (txid string, st Status, err error) {
	if r.User == "" {
		return "", Status{}, errors.New("duo auth: empty username")
	}
	params := url.Values{"username": {r.User}, "factor": {r.Factor}}
	if r.IPAddr != "" {
		params.Set("ipaddr", r.IPAddr)
	}
	if r.Hostname != "" {
		params.Set("hostname", r.Hostname)
	}
	device := r.Device
	if device == "" {
		device = "auto"
	}
	if r.Txid != "" && r.Factor != "push" {
		return "", Status{}, fmt.Errorf("duo auth: a verified push txid with factor %q", Sanitize(clip(r.Factor, 32)))
	}
	async := false
	switch r.Factor {
	case "push", "auto":
		async = true
		params.Set("device", device)
		if len(r.Pushinfo) > 0 {
			params.Set("pushinfo", r.Pushinfo.Encode())
		}
		if r.Txid != "" {
			params.Set("txid", r.Txid)
		}
	case "phone":
		async = true
		params.Set("device", device)
	case "sms":
		params.Set("device", device)
	case "passcode":
		if r.Passcode == "" {
			return "", Status{}, errors.New("duo auth: empty passcode")
		}
		params.Set("passcode", r.Passcode)
	default:
		return "", Status{}, fmt.Errorf("duo auth: unknown factor %q", Sanitize(clip(r.Factor, 32)))
	}
	if async {
		params.Set("async", "1")
	}
	raw, err := c.call(ctx, "POST", "/auth/v2/auth", params)
	if err != nil {
		return "", Status{}, err
	}
	var resp statusResponse
	if err := unmarshalResponse("auth", raw, &resp); err != nil {
		return "", Status{}, err
	}
	if async {
		if resp.Txid == "" || len(resp.Txid) > maxTxid {
			return "", Status{}, service("auth", "malformed response: no txid")
		}
		return resp.Txid, Status{}, nil
	}
	st, err = toStatus("auth", resp)
	return "", st, err
}

func toStatus(op string, r statusResponse) (Status, error) {
	st := Status{Result: Result(r.Result), Status: Sanitize(clip(r.Status, 64)), Message: Sanitize(r.StatusMsg)}
	switch st.Result {
	case ResultAllow, ResultDeny, ResultWaiting:
		return st, nil
	}
	return Status{}, service(op, "malformed response: result %q", Sanitize(clip(r.Result, 32)))
}

// Wait polls auth_status for txid until the result is not "waiting" or ctx
// ends, calling progress (when not nil) for every status that differs from
// the previous one, the final one included. It returns the final Status.
func (c *Client) Wait(ctx context.Context, txid string, progress func(Status)) (Status, error) {
	if txid == "" {
		return Status{}, errors.New("duo auth_status: empty txid")
	}
	var prev Status
	for first := true; ; first = false {
		start := time.Now()
		raw, err := c.call(ctx, "GET", "/auth/v2/auth_status", url.Values{"txid": {txid}})
		if err != nil {
			return Status{}, err
		}
		var resp statusResponse
		if err := unmarshalResponse("auth_status", raw, &resp); err != nil {
			return Status{}, err
		}
		st, err := toStatus("auth_status", resp)
		if err != nil {
			return Status{}, err
		}
		if progress != nil && (first || st != prev) {
			progress(st)
		}
		prev = st
		if st.Result != ResultWaiting {
			return st, nil
		}
		if wait := c.poll - time.Since(start); wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return Status{}, fmt.Errorf("duo auth_status: %w", err)
			}
		}
	}
}
