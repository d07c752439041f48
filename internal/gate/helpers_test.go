package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/groups"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
	"github.com/logingate/logingate/internal/term"
)

const (
	testUser   = "alice"
	testRemote = "203.0.113.9"
	// 20 bytes, the length new enrollments use.
	testSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
)

// t0 is the injected clock: 10 s into a 30 s TOTP step.
var t0 = time.Date(2025, 6, 2, 12, 0, 10, 0, time.UTC)

// cheapParams keep argon2id fast; these tests are about the gate, not cost.
var cheapParams = store.HashParams{Time: 1, MemKiB: 8, Threads: 1}

// --- UI ----------------------------------------------------------------------

// answer is one scripted reply to ReadSecret.
type answer struct {
	text  string
	err   error
	block bool   // wait until the read's context ends, then return its cause
	do    func() // runs before the reply (e.g. cancels the login)
}

func say(s string) answer   { return answer{text: s} }
func fail(err error) answer { return answer{err: err} }
func block() answer         { return answer{block: true} }

// blockAfter runs do, then waits as block does.
func blockAfter(do func()) answer { return answer{block: true, do: do} }

// says scripts several typed lines.
func says(lines ...string) []answer {
	out := make([]answer, len(lines))
	for i, l := range lines {
		out[i] = say(l)
	}
	return out
}

// fakeUI replays scripted answers and records everything shown. When the
// script runs out it returns io.EOF, as a closed terminal does.
type fakeUI struct {
	mu        sync.Mutex
	answers   []answer
	prompts   []string
	lines     []string
	typed     []string // answers handed to the gate
	panicRead bool
	panicSay  bool
	onPrintln func(string) // called with each line shown, outside the lock
}

func newUI(answers ...answer) *fakeUI { return &fakeUI{answers: answers} }

func (u *fakeUI) Println(s string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.panicSay {
		panic("terminal exploded")
	}
	u.lines = append(u.lines, s)
	if f := u.onPrintln; f != nil {
		u.mu.Unlock()
		f(s)
		u.mu.Lock()
	}
	return nil
}

func (u *fakeUI) ReadSecret(ctx context.Context, prompt string, max int) (string, error) {
	u.mu.Lock()
	u.prompts = append(u.prompts, prompt)
	if u.panicRead {
		u.mu.Unlock()
		panic("terminal exploded")
	}
	if len(u.answers) == 0 {
		u.mu.Unlock()
		return "", io.EOF
	}
	a := u.answers[0]
	u.answers = u.answers[1:]
	u.mu.Unlock()
	if a.do != nil {
		a.do()
	}
	if a.block {
		<-ctx.Done()
		return "", context.Cause(ctx)
	}
	if a.err != nil {
		return "", a.err
	}
	if len(a.text) > max {
		return "", term.ErrTooLong // as the terminal reports it
	}
	u.mu.Lock()
	u.typed = append(u.typed, a.text)
	u.mu.Unlock()
	return a.text, nil
}

func (u *fakeUI) reads() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.prompts)
}

func (u *fakeUI) shown() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.lines)
}

// --- store -------------------------------------------------------------------

// memStore is an in-memory store.Store. Records go through filestore's
// Encode and Decode, so that the gate sees exactly what a real backend would
// give back, and an invalid state is refused as it would be on disk.
type memStore struct {
	mu      sync.Mutex
	data    map[string][]byte
	loads   int
	updates int
	writes  int

	loadErr     error // Load fails with it
	lockErr     error // Update fails with it before fn, as a store that cannot be reached
	updateErr   error // Update runs fn, then fails with it, writing nothing
	panicLoad   bool
	panicUpdate bool // Update panics before fn
	panicAfter  bool // Update panics after fn, writing nothing
	// stale, when set, is a record that Update first runs fn on and then
	// throws away, as a backend that retries on a write conflict would.
	stale []byte
}

func newStore() *memStore { return &memStore{data: map[string][]byte{}} }

func (m *memStore) Load(_ context.Context, user string) (*store.UserState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.panicLoad {
		panic("store exploded")
	}
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	b, ok := m.data[user]
	if !ok {
		return nil, store.ErrNotFound
	}
	return filestore.Decode(b)
}

func (m *memStore) Update(ctx context.Context, user string, fn func(*store.UserState) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updates++
	if m.lockErr != nil {
		return m.lockErr
	}
	if m.panicUpdate {
		panic("store exploded")
	}
	if m.stale != nil {
		s, err := filestore.Decode(m.stale)
		if err != nil {
			return err
		}
		_ = fn(s) // the conflicting write is lost; fn runs again below
	}
	st := &store.UserState{Version: store.FormatVersion}
	if b, ok := m.data[user]; ok {
		var err error
		if st, err = filestore.Decode(b); err != nil {
			return err
		}
	}
	if err := fn(st); err != nil {
		if errors.Is(err, store.ErrUnchanged) {
			return nil
		}
		return err
	}
	if m.panicAfter {
		panic("store exploded after the check")
	}
	if m.updateErr != nil {
		return m.updateErr
	}
	b, err := filestore.Encode(st)
	if err != nil {
		return err
	}
	m.data[user] = b
	m.writes++
	return nil
}

func (m *memStore) Delete(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, user)
	return nil
}

func (m *memStore) put(t testing.TB, user string, st *store.UserState) {
	t.Helper()
	b, err := filestore.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.data[user] = b
	m.mu.Unlock()
}

// get returns the user's stored state, read around the fault switches.
func (m *memStore) get(t testing.TB, user string) *store.UserState {
	t.Helper()
	m.mu.Lock()
	b, ok := m.data[user]
	m.mu.Unlock()
	if !ok {
		t.Fatalf("no state stored for %s", user)
	}
	st, err := filestore.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (m *memStore) counts() (loads, updates, writes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loads, m.updates, m.writes
}

// --- audit -------------------------------------------------------------------

type auditRecord struct {
	sev audit.Severity
	e   audit.Event
}

type recAudit struct {
	mu     sync.Mutex
	events []auditRecord
}

func (a *recAudit) Log(sev audit.Severity, e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, auditRecord{sev, e})
}

// --- enrollment --------------------------------------------------------------

// enrollment is what a test user holds.
type enrollment struct {
	digits   int      // TOTP digits; 0: no TOTP
	window   *int     // the state's own TOTP window
	lastStep int64    // TOTP step last accepted
	codes    []string // our backup codes, as shown to the user
	scratch  []string // imported 8-digit scratch codes
	failures []time.Time
}

// twoFactors is the common enrollment: a 6-digit TOTP and two backup codes.
var twoFactors = enrollment{digits: 6, codes: []string{"abcde-fghjk", "mnpqr-stvwx"}}

var totpOnly = enrollment{digits: 6}

func (en enrollment) totp() *store.TOTP {
	if en.digits == 0 {
		return nil
	}
	return &store.TOTP{
		Secret: testSecret, Algorithm: "SHA1", Digits: en.digits, Period: 30,
		Window: en.window, LastStep: en.lastStep, Created: t0.Add(-24 * time.Hour),
	}
}

func (en enrollment) state(t testing.TB) *store.UserState {
	t.Helper()
	st := &store.UserState{Version: store.FormatVersion, TOTP: en.totp(), Failures: en.failures}
	if len(en.codes)+len(en.scratch) > 0 {
		b := &store.Backup{Scheme: factors.BackupScheme, Params: cheapParams, Created: t0.Add(-24 * time.Hour)}
		add := func(kind string, codes []string) {
			for _, c := range codes {
				h, err := factors.HashBackupCode(kind, c, cheapParams)
				if err != nil {
					t.Fatalf("hash %s code: %v", kind, err)
				}
				b.Codes = append(b.Codes, h)
			}
		}
		add(factors.BackupKindBase32, en.codes)
		add(factors.BackupKindNumeric, en.scratch)
		st.Backup = b
	}
	return st
}

// code is the TOTP code at t.
func (en enrollment) code(t testing.TB, at time.Time) string {
	t.Helper()
	c, err := factors.TOTPCode(en.totp(), at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// step is the TOTP time step containing at.
func step(at time.Time) int64 { return at.Unix() / 30 }

// wrongCode is a TOTP-shaped code that no step within 3 of t0 produces.
func (en enrollment) wrongCode(t testing.TB) string {
	t.Helper()
	valid := map[string]bool{}
	for s := -3; s <= 3; s++ {
		valid[en.code(t, t0.Add(time.Duration(s)*30*time.Second))] = true
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%0*d", en.digits, n); !valid[c] {
			return c
		}
	}
}

// localFactors is the CLI's factor source: TOTP first, then backup codes.
func localFactors(cfg *config.Config, st store.Store) FactorSource {
	return func(user string, s *store.UserState) []factors.Factor {
		if s == nil {
			return nil
		}
		var out []factors.Factor
		if s.TOTP != nil {
			out = append(out, factors.NewTOTP(st, user, cfg.TOTP.Window, time.Now, s.TOTP))
		}
		if s.Backup != nil && len(s.Backup.Codes) > 0 {
			out = append(out, factors.NewBackup(st, user, cfg.BackupCodes.WarnBelow, s.Backup))
		}
		return out
	}
}

// --- harness -----------------------------------------------------------------

// harness is one gate with fakes around it. Tests change its fields (and
// g's) before run.
type harness struct {
	t      testing.TB
	en     *enrollment // nil: the user has no state
	cfg    *config.Config
	store  *memStore
	ui     *fakeUI // nil: no terminal
	audit  *recAudit
	stderr *bytes.Buffer
	g      *Gate
	typed  []string // secrets that must never be shown or logged
}

func newHarness(t testing.TB, en *enrollment, ui *fakeUI) *harness {
	t.Helper()
	cfg := config.Default("testhost")
	h := &harness{t: t, en: en, cfg: &cfg, store: newStore(), ui: ui, audit: &recAudit{}, stderr: &bytes.Buffer{}}
	if en != nil {
		h.store.put(t, testUser, en.state(t))
		h.typed = append(h.typed, en.codes...)
		h.typed = append(h.typed, en.scratch...)
		if en.digits > 0 {
			for s := -1; s <= 1; s++ {
				h.typed = append(h.typed, en.code(t, t0.Add(time.Duration(s)*30*time.Second)))
			}
		}
	}
	policy, err := groups.Parse(cfg.Groups)
	if err != nil {
		t.Fatal(err)
	}
	h.g = &Gate{
		Config:  h.cfg,
		Policy:  policy,
		Store:   h.store,
		Factors: localFactors(h.cfg, h.store),
		Audit:   h.audit,
		User:    testUser,
		Remote:  testRemote,
		Groups: func() ([]string, error) {
			t.Error("the group lookup ran for a policy that matches everyone")
			return nil, errors.New("unexpected lookup")
		},
		Stderr: h.stderr,
		Now:    func() time.Time { return t0 },
	}
	if ui != nil {
		h.g.UI = ui
	}
	return h
}

// run runs the login and checks what holds for every login: exactly one
// audit event that matches the decision and names the user and address,
// and no typed code in any audit field, line shown, prompt or stderr.
func (h *harness) run() Decision {
	h.t.Helper()
	return h.check("login", h.g.Run(context.Background()))
}

func (h *harness) confirm(action string) Decision {
	h.t.Helper()
	return h.check(action, h.g.Confirm(context.Background(), action))
}

func (h *harness) check(action string, d Decision) Decision {
	t := h.t
	t.Helper()
	ev := h.events()
	if len(ev) != 1 {
		t.Fatalf("%d audit events, want exactly 1: %+v", len(ev), ev)
	}
	e, sev := ev[0].e, ev[0].sev
	want := audit.Event{Action: action, User: testUser, From: h.g.Remote, Factor: d.Factor, Reason: d.Reason}
	switch {
	case d.Failsafe:
		want.Result = "failsafe"
	case d.Allow && d.Factor == "none":
		want.Result = "skip"
	case d.Allow:
		want.Result = "allow"
	default:
		want.Result = "deny"
	}
	if e != want {
		t.Errorf("audit event %+v, want %+v", e, want)
	}
	wantSev := map[bool]audit.Severity{true: audit.Info, false: audit.Notice}[d.Allow]
	if d.Failsafe {
		wantSev = audit.Warning
	}
	if sev != wantSev {
		t.Errorf("audit severity %d, want %d", sev, wantSev)
	}
	if d.Reason == "" {
		t.Errorf("decision %+v has no reason for the audit line", d)
	}
	if d.Allow && d.Factor == "" {
		t.Errorf("allowed without naming a factor: %+v", d)
	}

	secrets := slices.Clone(h.typed)
	if h.g.EnvCode != "" {
		secrets = append(secrets, h.g.EnvCode)
	}
	var shown []string
	if h.ui != nil {
		h.ui.mu.Lock()
		shown = append(slices.Clone(h.ui.lines), h.ui.prompts...)
		for _, a := range h.ui.typed {
			if strings.TrimSpace(a) != "" && !slices.Contains(secrets, a) {
				secrets = append(secrets, strings.TrimSpace(a))
			}
		}
		h.ui.mu.Unlock()
		if h.stderr.Len() > 0 {
			t.Errorf("with a terminal, stderr got %q", h.stderr.String())
		}
	}
	shown = append(shown, h.stderr.String())
	for _, s := range secrets {
		if len(s) < 6 {
			continue
		}
		for _, f := range []string{e.Action, e.Result, e.User, e.From, e.Factor, e.Reason, e.By, e.Line()} {
			if containsCode(f, s) {
				t.Errorf("audit event carries the code %q: %+v", s, e)
			}
		}
		for _, l := range shown {
			if containsCode(l, s) {
				t.Errorf("the user was shown the code %q: %q", s, l)
			}
		}
	}
	return d
}

// containsCode reports whether s holds code as typed, in upper case, or
// without its dash.
func containsCode(s, code string) bool {
	up := strings.ToUpper(code)
	return strings.Contains(s, code) || strings.Contains(s, up) || strings.Contains(s, strings.ReplaceAll(up, "-", ""))
}

func (h *harness) events() []auditRecord {
	h.audit.mu.Lock()
	defer h.audit.mu.Unlock()
	return slices.Clone(h.audit.events)
}

// lines is everything the user saw: the terminal's lines, or stderr's.
func (h *harness) lines() []string {
	if h.ui != nil {
		return h.ui.shown()
	}
	s := strings.TrimSuffix(h.stderr.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// wantLines checks that each fragment appears in some line shown.
func (h *harness) wantLines(frags ...string) {
	h.t.Helper()
	lines := h.lines()
	for _, f := range frags {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, f) }) {
			h.t.Errorf("no line shown contains %q; lines:\n%s", f, strings.Join(lines, "\n"))
		}
	}
}

// noLines checks that no line shown contains any fragment.
func (h *harness) noLines(frags ...string) {
	h.t.Helper()
	for _, l := range h.lines() {
		for _, f := range frags {
			if strings.Contains(l, f) {
				h.t.Errorf("line %q contains %q", l, f)
			}
		}
	}
}

// stored is the user's state after the run.
func (h *harness) stored() *store.UserState { return h.store.get(h.t, testUser) }

// localFactor is a factors.Local made of functions, for paths the real
// factors cannot reach.
type localFactor struct {
	name    string
	accepts func(string) bool
	verify  func(*store.UserState, string, time.Time) (factors.Outcome, error)
}

func (f *localFactor) Name() string           { return f.name }
func (f *localFactor) Label() string          { return "Fake " + f.name }
func (f *localFactor) Traits() factors.Traits { return factors.Traits{} }
func (f *localFactor) Accepts(code string) bool {
	return f.accepts == nil || f.accepts(code)
}
func (f *localFactor) Check(context.Context, string) (factors.Outcome, error) {
	panic("the gate must verify local factors inside its own store update")
}
func (f *localFactor) Verify(st *store.UserState, code string, now time.Time) (factors.Outcome, error) {
	return f.verify(st, code, now)
}
