// Package duotest owns a fake Duo Auth API v2 server for tests: TLS with its
// own CA, request signatures, date skew and required parameters checked the
// way the real service checks them, and every outcome scriptable (users,
// devices, push and phone results, passcodes, HTTP failures, hangs).
package duotest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running fake. The fields are fixed after New.
type Server struct {
	URL   string         // https://127.0.0.1:port
	Host  string         // 127.0.0.1:port, the value for duo.Options.Host
	IKey  string         // the integration key the fake knows
	SKey  string         // its secret key
	CA    *x509.CertPool // trusts the fake's certificate
	CAPEM []byte         // the same CA, PEM encoded

	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	users    map[string]*User
	fails    map[string][]Failure
	reqs     []Request
	txs      map[string]*tx
	typed    map[string]string // user -> number typed into the app (Type)
	vpTxids  map[string]string // a Verified Push txid from preauth, not yet pushed -> its user
	release  chan struct{}
	released bool
}

// User scripts what the fake answers for one username.
type User struct {
	Preauth   string   // "auth" (default) | "allow" | "deny" | "enroll"
	Devices   []Device // listed by preauth when Preauth is "auth"
	Push      string   // push outcome: "allow" | "deny" | "timeout" | "fraud" | "never" (stays waiting); "" = allow
	Phone     string   // the same for phone calls
	Passcodes []string // valid passcodes, each works once
	PushDelay int      // auth_status polls answered "waiting" before the outcome
	Message   string   // when set, replaces every status_msg sent for this user
	// VerifiedPush makes Duo's policy ask for Verified Push, as Duo's
	// Auth API documents it and duo_unix's mock server plays it: a
	// preauth that says client_supports_verified_push=1 answers a txid
	// and this number (verification_code); a push must carry that txid
	// (each txid starts one push) and succeeds only once the test calls
	// Type with the number. A push without the txid is denied, as is a
	// txid for a user without Verified Push.
	VerifiedPush string
}

// Device is one entry of preauth's devices list, in Duo's JSON shape.
type Device struct {
	Device       string   `json:"device"`
	Type         string   `json:"type"`
	Name         string   `json:"name,omitempty"`
	Number       string   `json:"number,omitempty"`
	DisplayName  string   `json:"display_name,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// Phone is a typical smartphone: push, phone call and SMS.
func Phone(id, number string) Device {
	return Device{
		Device: id, Type: "phone", Name: "iPhone", Number: number,
		DisplayName:  "iOS (" + number + ")",
		Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"},
	}
}

// Failure scripts the next responses for a path, replacing the normal answer.
type Failure struct {
	Times      int           // how many responses this applies to; 0 = 1
	Status     int           // HTTP status to answer (with Duo's JSON error shape); 0 = 200
	RetryAfter string        // Retry-After header value
	Body       string        // raw body to send instead of JSON (e.g. malformed); with Status 0 it is sent with 200
	Delay      time.Duration // wait before answering (ends early when the client goes away)
	Hang       bool          // never answer until Close or the client goes away
	Close      bool          // close the connection without answering
}

// Request is what arrived, recorded before any check.
type Request struct {
	Method string
	Path   string
	Params url.Values // form body for POST, query for GET
	Header http.Header
	Status int // the HTTP status the fake answered (0 when it hung or closed)
}

type tx struct {
	user    string
	factor  string // "push" or "phone"
	outcome string // User.Push or User.Phone
	delay   int
	polls   int
	device  string
	number  string // a Verified Push's number, "" for a plain push

	// A decision made at once (passcode, sms) but asked for with async=1.
	done                bool
	result, status, msg string
}

// Option adjusts New.
type Option func(*config)

type config struct {
	names []string
}

// CertNames makes the server certificate name these hosts instead of
// 127.0.0.1, ::1 and localhost (to test a certificate for another name).
func CertNames(names ...string) Option {
	return func(c *config) { c.names = names }
}

// New starts a fake on 127.0.0.1 with a fresh CA and keys; it closes when the
// test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("duotest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake outside a test (the benchmark driver); the caller
// closes it.
func Start(opts ...Option) (*Server, error) {
	cfg := config{names: []string{"127.0.0.1", "::1", "localhost"}}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := newPKI(cfg.names)
	if err != nil {
		return nil, fmt.Errorf("make certificates: %w", err)
	}
	s := &Server{
		IKey:    "DI" + randomHex(9),
		SKey:    randomHex(20),
		CA:      p.pool,
		CAPEM:   p.caPEM,
		now:     time.Now,
		users:   map[string]*User{},
		fails:   map[string][]Failure{},
		txs:     map[string]*tx{},
		typed:   map[string]string{},
		vpTxids: map[string]string{},
		release: make(chan struct{}),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = p.tlsConfig()
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	s.URL = s.srv.URL
	s.Host = strings.TrimPrefix(s.srv.URL, "https://")
	return s, nil
}

// Close ends every hang and stops the server.
func (s *Server) Close() {
	s.releaseAll()
	s.srv.Close()
}

// releaseAll ends every hanging response now and makes later Hang failures
// answer at once.
func (s *Server) releaseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.released {
		s.released = true
		close(s.release)
	}
}

// WriteCAFile writes the CA as a PEM file in dir and returns its path.
func (s *Server) WriteCAFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "duotest-ca.pem")
	if err := os.WriteFile(path, s.CAPEM, 0o600); err != nil {
		t.Fatalf("duotest: write CA file: %v", err)
	}
	return path
}

// SetUser defines (or replaces) what the fake answers for name.
func (s *Server) SetUser(name string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.Passcodes = append([]string(nil), u.Passcodes...)
	s.users[name] = &u
}

// SetClock replaces the server's clock (for date skew tests).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Type is the user typing number into Duo Mobile for a Verified Push: a
// waiting push of user's completes, allowed when number is the one shown.
func (s *Server) Type(user, number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typed[user] = number
}

// Fail scripts the next responses for path (e.g. "/auth/v2/preauth").
// Failures queue: each applies f.Times times, in the order given.
func (s *Server) Fail(path string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.fails[path] = append(s.fails[path], f)
}

// Requests returns a copy of every request that arrived, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	copy(out, s.reqs)
	return out
}

// RequestsTo returns the requests that arrived for path.
func (s *Server) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets users, scripted failures, transactions and recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = map[string]*User{}
	s.fails = map[string][]Failure{}
	s.txs = map[string]*tx{}
	s.typed = map[string]string{}
	s.vpTxids = map[string]string{}
	s.reqs = nil
	s.now = time.Now
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// newTxid returns a transaction id shaped like Duo's (a UUID).
func newTxid() string {
	h := strings.ToLower(randomHex(16))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// maxBody bounds a request body, as a real service would.
const maxBody = 64 << 10

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			s.record(r, nil, http.StatusBadRequest)
			writeError(w, http.StatusBadRequest, 40002, "Invalid request parameters", "body")
			return
		}
		params = r.PostForm
	} else {
		params = r.URL.Query()
	}

	s.mu.Lock()
	idx := len(s.reqs)
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Params: params, Header: r.Header.Clone()})
	f, failing := s.nextFailure(r.URL.Path)
	s.mu.Unlock()

	status := s.answer(w, r, params, f, failing)

	s.mu.Lock()
	s.reqs[idx].Status = status
	s.mu.Unlock()
}

func (s *Server) record(r *http.Request, params url.Values, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Params: params, Header: r.Header.Clone(), Status: status})
}

// nextFailure pops one use of the first scripted failure for path. s.mu held.
func (s *Server) nextFailure(path string) (Failure, bool) {
	q := s.fails[path]
	if len(q) == 0 {
		return Failure{}, false
	}
	f := q[0]
	q[0].Times--
	if q[0].Times <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.fails, path)
	} else {
		s.fails[path] = q
	}
	return f, true
}

// answer writes the response and returns its HTTP status (0 for none).
func (s *Server) answer(w http.ResponseWriter, r *http.Request, params url.Values, f Failure, failing bool) int {
	if failing {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return 0
			}
		}
		if f.Hang {
			select {
			case <-s.release:
			case <-r.Context().Done():
			}
			return 0
		}
		if f.Close {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return 0
		}
		if f.Body != "" {
			st := f.Status
			if st == 0 {
				st = http.StatusOK
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			io.WriteString(w, f.Body)
			return st
		}
		if f.Status != 0 {
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeError(w, f.Status, f.Status*100, http.StatusText(f.Status), "")
			return f.Status
		}
	}

	path := r.URL.Path
	if path == "/auth/v2/ping" {
		if r.Method != http.MethodGet {
			return writeError(w, http.StatusMethodNotAllowed, 40501, "Method not allowed", "")
		}
		return writeOK(w, map[string]any{"time": s.clock().Unix()})
	}

	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	keys := map[string]string{s.IKey: s.SKey}
	if ce := verify(keys, r.Header.Get("Authorization"), r.Header.Get("X-Duo-Date"), r.Header.Get("Date"),
		r.Method, r.Host, path, params, now); ce != nil {
		return writeError(w, http.StatusUnauthorized, ce.code, ce.message, "")
	}

	switch path {
	case "/auth/v2/preauth":
		if r.Method != http.MethodPost {
			return writeError(w, http.StatusMethodNotAllowed, 40501, "Method not allowed", "")
		}
		return s.preauth(w, params)
	case "/auth/v2/auth":
		if r.Method != http.MethodPost {
			return writeError(w, http.StatusMethodNotAllowed, 40501, "Method not allowed", "")
		}
		return s.auth(w, params)
	case "/auth/v2/auth_status":
		if r.Method != http.MethodGet {
			return writeError(w, http.StatusMethodNotAllowed, 40501, "Method not allowed", "")
		}
		return s.authStatus(w, params)
	}
	return writeError(w, http.StatusNotFound, 40401, "Resource not found", "")
}

func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func writeOK(w http.ResponseWriter, response any) int {
	return writeJSON(w, http.StatusOK, map[string]any{"stat": "OK", "response": response})
}

// writeError answers Duo's error shape.
func writeError(w http.ResponseWriter, status, code int, message, detail string) int {
	body := map[string]any{"stat": "FAIL", "code": code, "message": message}
	if detail != "" {
		body["message_detail"] = detail
	}
	return writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"stat":"FAIL","code":50000,"message":"Internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return status
}

// httpClient returns an HTTP client that trusts the fake (for tests that send
// requests by hand).
func (s *Server) httpClient() *http.Client {
	return s.srv.Client()
}
