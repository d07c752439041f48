package duotest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"time"
)

// This file answers the Auth API v2 endpoints (preauth, auth, auth_status)
// for the scripted users.

// username returns the user a request names, or "" when it names none.
func username(params url.Values) string {
	if u := params.Get("username"); u != "" {
		return u
	}
	return params.Get("user_id")
}

func (s *Server) preauth(w http.ResponseWriter, params url.Values) int {
	name := username(params)
	if name == "" {
		return writeError(w, http.StatusBadRequest, 40001, "Missing required request parameters", "username")
	}
	s.mu.Lock()
	u, ok := s.users[name]
	var uc User
	if ok {
		uc = *u
	}
	vpTxid := ""
	if ok && uc.VerifiedPush != "" && params.Get("client_supports_verified_push") == "1" {
		vpTxid = newTxid()
		s.vpTxids[vpTxid] = name
	}
	s.mu.Unlock()

	msg := func(def string) string {
		if uc.Message != "" {
			return uc.Message
		}
		return def
	}
	if !ok {
		// Duo's default new-user policy: require enrollment.
		uc.Preauth = "enroll"
	}
	switch uc.Preauth {
	case "", "auth":
		devs := uc.Devices
		if devs == nil {
			devs = []Device{}
		}
		answer := map[string]any{"result": "auth", "status_msg": msg("Account is active"), "devices": devs}
		if vpTxid != "" {
			answer["txid"], answer["verification_code"] = vpTxid, uc.VerifiedPush
			answer["expiration"] = s.clock().Add(60 * time.Second).Unix()
		}
		return writeOK(w, answer)
	case "allow":
		return writeOK(w, map[string]any{"result": "allow", "status_msg": msg("Allowing unknown user")})
	case "deny":
		return writeOK(w, map[string]any{"result": "deny", "status_msg": msg("Your account is disabled.")})
	case "enroll":
		return writeOK(w, map[string]any{
			"result":            "enroll",
			"status_msg":        msg("Enroll an authentication device to proceed"),
			"enroll_portal_url": "https://api-duotest.example/portal?code=" + url.QueryEscape(name),
		})
	}
	return writeOK(w, map[string]any{"result": uc.Preauth, "status_msg": msg("")})
}

// deviceFor checks that device names one of u's devices able to do factor.
func deviceFor(u *User, device, factor string) bool {
	for _, d := range u.Devices {
		if device != "auto" && d.Device != device {
			continue
		}
		for _, c := range d.Capabilities {
			if c == factor {
				return true
			}
		}
	}
	return false
}

func (s *Server) auth(w http.ResponseWriter, params url.Values) int {
	name := username(params)
	factor := params.Get("factor")
	missing := ""
	switch {
	case factor == "":
		missing = "factor"
	case name == "":
		missing = "username"
	case (factor == "push" || factor == "phone" || factor == "sms") && params.Get("device") == "":
		missing = "device"
	case factor == "passcode" && params.Get("passcode") == "":
		missing = "passcode"
	}
	if missing != "" {
		return writeError(w, http.StatusBadRequest, 40001, "Missing required request parameters", missing)
	}
	if a := params.Get("async"); a != "" && a != "1" && a != "0" {
		return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "async")
	}
	async := params.Get("async") == "1"

	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "username")
	}
	msg := func(def string) string {
		if u.Message != "" {
			return u.Message
		}
		return def
	}
	device := params.Get("device")
	if device == "" {
		device = "auto"
	}

	switch factor {
	case "passcode":
		code := params.Get("passcode")
		for i, p := range u.Passcodes {
			if subtle.ConstantTimeCompare([]byte(p), []byte(code)) == 1 {
				u.Passcodes = append(u.Passcodes[:i:i], u.Passcodes[i+1:]...)
				return s.result(w, async, name, "allow", "allow", msg("Success. Logging you in..."))
			}
		}
		return s.result(w, async, name, "deny", "deny", msg("Incorrect passcode. Please try again."))
	case "sms":
		if !deviceFor(u, device, "sms") {
			return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "device")
		}
		return s.result(w, async, name, "deny", "sent", msg("New SMS passcodes sent"))
	case "push", "phone", "auto":
		if !deviceFor(u, device, factor) {
			return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "device")
		}
		kind := factor
		if kind == "auto" {
			kind = "push"
		}
		outcome := u.Push
		if kind == "phone" {
			outcome = u.Phone
		}
		if outcome == "" {
			outcome = "allow"
		}
		t := &tx{user: name, factor: kind, outcome: outcome, delay: u.PushDelay, device: device}
		id := params.Get("txid")
		switch {
		case id != "" && (factor != "push" || u.VerifiedPush == ""):
			return s.result(w, async, name, "deny", "deny", msg("txid should not be passed to /auth"))
		case kind == "push" && u.VerifiedPush != "" && id == "":
			// Nobody was shown the number: Duo refuses the push.
			return s.result(w, async, name, "deny", "deny", msg("txid should be passed to /auth"))
		case id != "":
			if s.vpTxids[id] != name || !async {
				return s.result(w, async, name, "deny", "deny", msg("wrong txid passed to /auth"))
			}
			delete(s.vpTxids, id)
			t.number, t.outcome = u.VerifiedPush, "verify"
		default:
			id = newTxid()
		}
		if !async {
			t.delay = 0
			res, st, m := t.final()
			return writeOK(w, map[string]any{"result": res, "status": st, "status_msg": msg(m)})
		}
		s.txs[id] = t
		return writeOK(w, map[string]any{"txid": id})
	}
	return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "factor")
}

// result answers a decision, synchronously or as a finished transaction.
// s.mu held.
func (s *Server) result(w http.ResponseWriter, async bool, user, result, status, msg string) int {
	if !async {
		return writeOK(w, map[string]any{"result": result, "status": status, "status_msg": msg})
	}
	id := newTxid()
	s.txs[id] = &tx{user: user, done: true, result: result, status: status, msg: msg}
	return writeOK(w, map[string]any{"txid": id})
}

// final is the transaction's outcome: result, status, status_msg.
func (t *tx) final() (string, string, string) {
	switch t.outcome {
	case "allow":
		return "allow", "allow", "Success. Logging you in..."
	case "deny":
		return "deny", "deny", "Login request denied."
	case "timeout":
		return "deny", "timeout", "Login timed out."
	case "fraud":
		return "deny", "fraud", "Login request reported as fraudulent."
	case "never":
		st, m := t.waitingStatus()
		return "waiting", st, m
	}
	return "deny", "deny", "Login request denied."
}

func (t *tx) waitingStatus() (string, string) {
	if t.factor == "phone" {
		if t.polls <= 1 {
			return "calling", "Dialing your phone..."
		}
		return "answered", "Answered. Press any key on your phone to log in."
	}
	return "pushed", "Pushed a login request to your device..."
}

func (s *Server) authStatus(w http.ResponseWriter, params url.Values) int {
	id := params.Get("txid")
	if id == "" {
		return writeError(w, http.StatusBadRequest, 40001, "Missing required request parameters", "txid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txs[id]
	if !ok {
		return writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "txid")
	}
	var msgOverride string
	if u := s.users[t.user]; u != nil {
		msgOverride = u.Message
	}
	pick := func(m string) string {
		if msgOverride != "" {
			return msgOverride
		}
		return m
	}
	if t.done {
		return writeOK(w, map[string]any{"result": t.result, "status": t.status, "status_msg": t.msg})
	}
	t.polls++
	if t.number != "" {
		typed, ok := s.typed[t.user]
		switch {
		case !ok:
			st, m := t.waitingStatus()
			return writeOK(w, map[string]any{"result": "waiting", "status": st, "status_msg": pick(m)})
		case typed == t.number:
			t.outcome = "allow"
		default:
			t.outcome = "deny"
		}
		delete(s.typed, t.user)
		t.number = ""
	}
	if t.polls <= t.delay {
		st, m := t.waitingStatus()
		return writeOK(w, map[string]any{"result": "waiting", "status": st, "status_msg": pick(m)})
	}
	res, st, m := t.final()
	return writeOK(w, map[string]any{"result": res, "status": st, "status_msg": pick(m)})
}
