package factors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

func rfcTOTP(alg string, digits int) *store.TOTP {
	seed := map[string]string{
		"SHA1":   "12345678901234567890",
		"SHA256": "12345678901234567890123456789012",
		"SHA512": strings.Repeat("1234567890", 6) + "1234",
	}[alg]
	return &store.TOTP{Secret: store.Secret(b32.EncodeToString([]byte(seed))), Algorithm: alg, Digits: digits, Period: 30}
}

// RFC 6238 appendix B.
func TestRFC6238Vectors(t *testing.T) {
	vectors := []struct {
		unix                 int64
		sha1, sha256, sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, v := range vectors {
		for alg, want := range map[string]string{"SHA1": v.sha1, "SHA256": v.sha256, "SHA512": v.sha512} {
			tt := rfcTOTP(alg, 8)
			at := time.Unix(v.unix, 0)
			got, err := TOTPCode(tt, at)
			if err != nil || got != want {
				t.Errorf("%s at %d: TOTPCode = %q, %v; want %q", alg, v.unix, got, err, want)
			}
			step, ok := VerifyTOTP(tt, want, 0, at)
			if !ok || step != v.unix/30 {
				t.Errorf("%s at %d: VerifyTOTP = %d, %v; want %d, true", alg, v.unix, step, ok, v.unix/30)
			}
		}
	}
}

// RFC 4226 appendix D: HOTP is TOTP at counter = time step.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	tt := rfcTOTP("SHA1", 6)
	for counter, code := range want {
		at := time.Unix(int64(counter)*30+7, 0)
		got, err := TOTPCode(tt, at)
		if err != nil || got != code {
			t.Errorf("counter %d: TOTPCode = %q, %v; want %q", counter, got, err, code)
		}
		if step, ok := VerifyTOTP(tt, code, 0, at); !ok || step != int64(counter) {
			t.Errorf("counter %d: VerifyTOTP = %d, %v", counter, step, ok)
		}
	}
}

func TestVerifyTOTPWindowEdges(t *testing.T) {
	tt := rfcTOTP("SHA1", 6)
	now := time.Unix(1700000015, 0)
	cur := now.Unix() / 30
	for d := int64(-2); d <= 2; d++ {
		code, err := TOTPCode(tt, now.Add(time.Duration(d)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		step, ok := VerifyTOTP(tt, code, 1, now)
		wantOK := d >= -1 && d <= 1
		if ok != wantOK || (ok && step != cur+d) {
			t.Errorf("step %+d with window 1: got step %d ok %v, want ok %v", d, step-cur, ok, wantOK)
		}
		// Window 0 takes the current step only; a negative window is 0.
		for _, w := range []int{0, -3} {
			if _, ok := VerifyTOTP(tt, code, w, now); ok != (d == 0) {
				t.Errorf("step %+d with window %d: ok %v", d, w, ok)
			}
		}
	}
}

func TestVerifyTOTPRejects(t *testing.T) {
	tt := rfcTOTP("SHA1", 6)
	now := time.Unix(1700000015, 0)
	code, _ := TOTPCode(tt, now)
	for _, c := range []string{"", wrongCode(t, tt, now), code + "0", code[:5], " " + code, "12345a"} {
		if _, ok := VerifyTOTP(tt, c, 1, now); ok {
			t.Errorf("VerifyTOTP(%q) accepted", c)
		}
	}
	// Unusable enrollments verify nothing.
	bad := []func(*store.TOTP){
		func(t *store.TOTP) { t.Secret = "not base32!" },
		func(t *store.TOTP) { t.Secret = "GEZDGNBV" }, // 40 bits
		func(t *store.TOTP) { t.Algorithm = "MD5" },
		func(t *store.TOTP) { t.Digits = 7 },
		func(t *store.TOTP) { t.Period = 0 },
	}
	for i, mod := range bad {
		b := *tt
		mod(&b)
		if _, ok := VerifyTOTP(&b, code, 1, now); ok {
			t.Errorf("bad enrollment %d verified a code", i)
		}
		if _, err := TOTPCode(&b, now); err == nil {
			t.Errorf("bad enrollment %d: TOTPCode gave no error", i)
		}
	}
	if _, ok := VerifyTOTP(tt, code, maxWindow+1, now); ok {
		t.Error("a window over maxWindow verified a code")
	}
}

func TestSecretNormalised(t *testing.T) {
	tt := rfcTOTP("SHA1", 6)
	at := time.Unix(1111111109, 0)
	want, _ := TOTPCode(tt, at)
	s := strings.ToLower(string(tt.Secret))
	var grouped strings.Builder
	for i := 0; i < len(s); i += 4 {
		grouped.WriteString(s[i:min(i+4, len(s))] + " ")
	}
	for _, secret := range []string{grouped.String(), s + "====", "\t" + s + " "} {
		n := *tt
		n.Secret = store.Secret(secret)
		if got, err := TOTPCode(&n, at); err != nil || got != want {
			t.Errorf("secret form %d: got %q, %v; want %q", len(secret), got, err, want)
		}
	}
}

// totpUser stores an enrollment for "alice" and returns the factor and the
// clock it reads.
func totpUser(t *testing.T, st *memStore, tt *store.TOTP, window int) (Factor, *time.Time) {
	t.Helper()
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, TOTP: tt})
	now := time.Unix(1700000015, 0)
	return NewTOTP(st, "alice", window, func() time.Time { return now }, tt), &now
}

func codeAt(t *testing.T, tt *store.TOTP, at time.Time) string {
	t.Helper()
	c, err := TOTPCode(tt, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTOTPCheckReplayAndOrder(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tt := rfcTOTP("SHA1", 6)
	f, now := totpUser(t, st, tt, 1)
	step := 30 * time.Second

	check := func(code, wantReason string) {
		t.Helper()
		out, err := f.Check(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if out.OK != (wantReason == "") || out.Reason != wantReason {
			t.Fatalf("Check = %+v, want reason %q", out, wantReason)
		}
	}

	earlier := codeAt(t, tt, now.Add(-step))
	current := codeAt(t, tt, *now)
	later := codeAt(t, tt, now.Add(step))

	check(earlier, "")
	if got := st.get(t, "alice").TOTP.LastStep; got != now.Unix()/30-1 {
		t.Fatalf("LastStep = %d, want %d", got, now.Unix()/30-1)
	}
	check(earlier, "code already used")
	check(later, "")                    // a later step after an earlier one
	check(current, "code already used") // an earlier step after a later one
	check(later, "code already used")   // replay
	check(wrongCode(t, tt, *now), "wrong code")

	// The next period brings a new code.
	*now = now.Add(2 * step)
	check(codeAt(t, tt, *now), "")
}

// wrongCode returns a code that matches no step in the window around now,
// found rather than assumed so that the test cannot flake.
func wrongCode(t *testing.T, tt *store.TOTP, now time.Time) string {
	t.Helper()
	for i := 0; ; i++ {
		c := fmt.Sprintf("%0*d", tt.Digits, i)
		if _, ok := VerifyTOTP(tt, c, maxWindow, now); !ok {
			return c
		}
	}
}

func TestTOTPCheckWrongCodeWritesNothing(t *testing.T) {
	st := newMemStore()
	tt := rfcTOTP("SHA1", 6)
	f, now := totpUser(t, st, tt, 1)
	c := codeAt(t, tt, now.Add(-2*30*time.Second)) // just outside the window
	out, err := f.Check(context.Background(), c)
	if err != nil || out.OK || out.Reason != "wrong code" {
		t.Fatalf("Check = %+v, %v; want wrong code", out, err)
	}
	if st.writeCount() != 0 {
		t.Errorf("a wrong code wrote the state %d times", st.writeCount())
	}
}

func TestTOTPCheckStateWindowWins(t *testing.T) {
	st := newMemStore()
	tt := rfcTOTP("SHA1", 6)
	zero := 0
	tt.Window = &zero
	f, now := totpUser(t, st, tt, 1)
	out, err := f.Check(context.Background(), codeAt(t, tt, now.Add(-30*time.Second)))
	if err != nil || out.OK {
		t.Fatalf("state window 0 accepted the previous step: %+v, %v", out, err)
	}
	out, err = f.Check(context.Background(), codeAt(t, tt, *now))
	if err != nil || !out.OK {
		t.Fatalf("current step refused: %+v, %v", out, err)
	}
}

func TestTOTPCheckUsesCurrentState(t *testing.T) {
	// The snapshot given to NewTOTP is stale: the user re-enrolled since.
	st := newMemStore()
	old := rfcTOTP("SHA1", 6)
	f, now := totpUser(t, st, old, 1)
	fresh := rfcTOTP("SHA256", 6)
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, TOTP: fresh})
	if c := codeAt(t, old, *now); c != codeAt(t, fresh, *now) {
		if out, _ := f.Check(context.Background(), c); out.OK {
			t.Error("code of the replaced enrollment accepted")
		}
	}
	if out, err := f.Check(context.Background(), codeAt(t, fresh, *now)); err != nil || !out.OK {
		t.Errorf("code of the current enrollment refused: %+v, %v", out, err)
	}
}

func TestTOTPCheckNotConsumedWhenWriteFails(t *testing.T) {
	st := newMemStore()
	tt := rfcTOTP("SHA1", 6)
	f, now := totpUser(t, st, tt, 1)
	c := codeAt(t, tt, *now)
	st.failWrite = errors.New("disk full")
	out, err := f.Check(context.Background(), c)
	if err == nil || out.OK {
		t.Fatalf("Check = %+v, %v; want an error and no success", out, err)
	}
	st.failWrite = nil
	if out, err := f.Check(context.Background(), c); err != nil || !out.OK {
		t.Fatalf("after the failed write the code should still work: %+v, %v", out, err)
	}
}

func TestTOTPCheckErrors(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tt := rfcTOTP("SHA1", 6)
	tt.Secret = "A1B2C3D4E5F6G7H8" // not base32, looks like a secret
	f, _ := totpUser(t, st, tt, 1)
	_, err := f.Check(ctx, "123456")
	if err == nil {
		t.Fatal("a corrupt secret gave no error")
	}
	if strings.Contains(err.Error(), string(tt.Secret)) {
		t.Errorf("error quotes the secret: %v", err)
	}
	// No enrollment at all is a refusal, not an error.
	empty := NewTOTP(newMemStore(), "bob", 1, nil, nil)
	if out, err := empty.Check(ctx, "123456"); err != nil || out.OK {
		t.Errorf("unenrolled Check = %+v, %v", out, err)
	}
	// A cancelled context is an error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewTOTP(st, "alice", 1, nil, tt).Check(cctx, "123456"); err == nil {
		t.Error("cancelled context gave no error")
	}
}

func TestTOTPAccepts(t *testing.T) {
	f6 := NewTOTP(nil, "u", 1, nil, &store.TOTP{Digits: 6})
	f8 := NewTOTP(nil, "u", 1, nil, &store.TOTP{Digits: 8})
	none := NewTOTP(nil, "u", 1, nil, nil)
	for _, c := range []struct {
		code   string
		f6, f8 bool
	}{
		{"123456", true, false},
		{"012345", true, false},
		{"12345678", false, true},
		{"12345", false, false},
		{"1234567", false, false},
		{"12345a", false, false},
		{"123 456", false, false},
		{"", false, false},
		{"abcde-fghjk", false, false},
	} {
		if got := f6.Accepts(c.code); got != c.f6 {
			t.Errorf("6 digits Accepts(%q) = %v", c.code, got)
		}
		if got := f8.Accepts(c.code); got != c.f8 {
			t.Errorf("8 digits Accepts(%q) = %v", c.code, got)
		}
		if none.Accepts(c.code) {
			t.Errorf("no enrollment Accepts(%q)", c.code)
		}
	}
	if f6.Name() != "totp" || f6.Label() != "Authenticator app code" {
		t.Errorf("Name/Label = %q/%q", f6.Name(), f6.Label())
	}
}

// An independent implementation, oathtool, agrees with ours.
func TestTOTPAgainstOathtool(t *testing.T) {
	need.Tool(t, "oathtool")
	at := time.Unix(1700000015, 0)
	for _, c := range []struct {
		alg    string
		digits int
		period time.Duration
	}{
		{"SHA1", 6, 30 * time.Second},
		{"SHA1", 8, 30 * time.Second},
		{"SHA256", 6, 30 * time.Second},
		{"SHA256", 8, 30 * time.Second},
		{"SHA512", 8, 30 * time.Second},
		{"SHA1", 6, 60 * time.Second},
	} {
		tt, _, err := NewTOTPEnrollment("logingate-test", "alice", c.alg, c.digits, c.period, at)
		if err != nil {
			t.Fatal(err)
		}
		want := run(t, "oathtool", "--totp="+strings.ToLower(c.alg), "-d", strconv.Itoa(c.digits),
			"-s", fmt.Sprintf("%ds", int(c.period.Seconds())), "-N", fmt.Sprintf("@%d", at.Unix()), "-b", string(tt.Secret))
		if got := codeAt(t, tt, at); got != want {
			t.Errorf("%+v: ours %q, oathtool %q", c, got, want)
		}
		if step, ok := VerifyTOTP(tt, want, 0, at); !ok || step != at.Unix()/int64(c.period.Seconds()) {
			t.Errorf("%+v: oathtool's code did not verify (step %d, %v)", c, step, ok)
		}
	}
}

// Many logins racing with one code: exactly one wins, every round.
func TestTOTPConcurrentSameCode(t *testing.T) {
	const racers, rounds = 16, 20
	for r := 0; r < rounds; r++ {
		st := newMemStore()
		tt, _, err := NewTOTPEnrollment("logingate-test", "alice", "SHA1", 6, 30*time.Second, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f, now := totpUser(t, st, tt, 1)
		code := codeAt(t, tt, *now)
		var wg sync.WaitGroup
		results := make(chan Outcome, racers)
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := f.Check(context.Background(), code)
				if err != nil {
					t.Error(err)
				}
				results <- out
			}()
		}
		wg.Wait()
		close(results)
		ok := 0
		for out := range results {
			if out.OK {
				ok++
			} else if out.Reason != "code already used" {
				t.Errorf("loser's reason %q", out.Reason)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d logins accepted one code, want exactly 1", r, ok, racers)
		}
	}
}

func BenchmarkTOTPVerify(b *testing.B) {
	tt := rfcTOTP("SHA1", 6)
	now := time.Unix(1700000015, 0)
	for b.Loop() {
		VerifyTOTP(tt, "123456", 1, now)
	}
}

// Verify is what the gate calls inside its own update: state changes on
// success only.
func TestLocalVerifyTouchesStateOnlyOnSuccess(t *testing.T) {
	now := time.Unix(1700000015, 0)
	tt := rfcTOTP("SHA1", 6)
	codes, b, err := generateBackupCodes(2, now, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f         Local
		good, bad string
		changedBy func(before, after *store.UserState) bool
	}{
		{NewTOTP(nil, "alice", 1, nil, tt).(Local), codeAt(t, tt, now), wrongCode(t, tt, now),
			func(b, a *store.UserState) bool { return a.TOTP.LastStep == now.Unix()/30 && b.TOTP.LastStep == 0 }},
		{NewBackup(nil, "alice", 3, b).(Local), codes[0], "zzzzz-zzzzz",
			func(b, a *store.UserState) bool { return len(a.Backup.Codes) == 1 && len(b.Backup.Codes) == 2 }},
	} {
		st := &store.UserState{Version: store.FormatVersion, TOTP: tt, Backup: b}
		before, _ := json.Marshal(st)
		out, err := c.f.Verify(st, c.bad, now)
		after, _ := json.Marshal(st)
		if err != nil || out.OK || out.Reason != "wrong code" || !bytes.Equal(before, after) {
			t.Errorf("%s: wrong code: %+v, %v, state changed %v", c.f.Name(), out, err, !bytes.Equal(before, after))
		}
		var old store.UserState
		_ = json.Unmarshal(before, &old)
		out, err = c.f.Verify(st, c.good, now)
		if err != nil || !out.OK || !c.changedBy(&old, st) {
			t.Errorf("%s: right code: %+v, %v", c.f.Name(), out, err)
		}
	}
}
