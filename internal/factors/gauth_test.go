package factors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

func parseFile(t *testing.T, name string) *GoogleAuthFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "gauth", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseGoogleAuthenticator(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// Files written by the real tool (see testdata/gauth/README.md).
func TestParseGoogleAuthenticatorRealFiles(t *testing.T) {
	for _, c := range []struct {
		file          string
		step, window  int
		reuse         bool
		used          []int64
		rate          [2]int
		codes         int
		stateWindow   int
		stateLastStep int64
	}{
		{"totp-default.txt", 30, 3, true, nil, [2]int{3, 30}, 5, 1, 0},
		{"totp-step60-w5.txt", 60, 5, false, nil, [2]int{}, 10, 2, 0},
		{"totp-w21-nocodes.txt", 30, 21, true, nil, [2]int{}, 0, 10, 0},
		{"totp-used-once.txt", 30, 3, true, []int64{59854429}, [2]int{3, 30}, 5, 1, 59854429},
	} {
		f := parseFile(t, c.file)
		if f.StepSize != c.step || f.WindowSize != c.window || f.DisallowReuse != c.reuse ||
			!slices.Equal(f.UsedSteps, c.used) || f.RateLimit != c.rate || len(f.ScratchCodes) != c.codes {
			t.Errorf("%s: parsed step %d window %d reuse %v used %v rate %v codes %d",
				c.file, f.StepSize, f.WindowSize, f.DisallowReuse, f.UsedSteps, f.RateLimit, len(f.ScratchCodes))
		}
		now := time.Unix(1700000000, 0)
		tt, b, err := f.ToState(cheapParams, now)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if tt.Algorithm != "SHA1" || tt.Digits != 6 || tt.Period != c.step || tt.Window == nil ||
			*tt.Window != c.stateWindow || tt.LastStep != c.stateLastStep || !tt.Created.Equal(now) {
			t.Errorf("%s: state %s/%d/%d window %v last %d", c.file, tt.Algorithm, tt.Digits, tt.Period, tt.Window, tt.LastStep)
		}
		if (b == nil) != (c.codes == 0) || (b != nil && len(b.Codes) != c.codes) {
			t.Errorf("%s: backup set %+v", c.file, b)
		}
	}
}

func TestParseGoogleAuthenticatorHOTPRefused(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gauth", "hotp.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseGoogleAuthenticator(bytes.NewReader(data))
	var ge *googleAuthError
	if !errors.As(err, &ge) || ge.Line != 3 || !strings.Contains(err.Error(), "HOTP") {
		t.Fatalf("HOTP file: %v; want a line 3 HOTP error", err)
	}
}

// A login through pam_google_authenticator recorded its step as used; after
// import that code is still a replay, and the next step works.
func TestImportKeepsUsedStep(t *testing.T) {
	f := parseFile(t, "totp-used-once.txt")
	tt, b, err := f.ToState(cheapParams, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st := newMemStore()
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, TOTP: tt, Backup: b})
	at := time.Unix(59854429*30+10, 0)
	factor := NewTOTP(st, "alice", 1, func() time.Time { return at }, tt)
	if out, err := factor.Check(context.Background(), codeAt(t, tt, at)); err != nil || out.Reason != "code already used" {
		t.Errorf("step used under PAM: %+v, %v; want code already used", out, err)
	}
	if out, err := factor.Check(context.Background(), codeAt(t, tt, at.Add(30*time.Second))); err != nil || !out.OK {
		t.Errorf("next step: %+v, %v", out, err)
	}
}

func TestParseGoogleAuthenticatorErrors(t *testing.T) {
	const secret = "EHLG4VRJXBESIMLWND4RJ75W3Q"
	for _, c := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 1, gaNoSecret},
		{"blank first line", "\n\" TOTP_AUTH\n", 1, gaNoSecret},
		{"bad secret", "NOT-BASE32!!\n\" TOTP_AUTH\n", 1, gaBadSecret},
		{"short secret", "GEZDGNBV\n\" TOTP_AUTH\n", 1, gaBadSecret},
		{"bad scratch code", secret + "\n\" TOTP_AUTH\n12345678\n1234567\n", 4, gaBadScratch},
		{"nine digits", secret + "\n\" TOTP_AUTH\n123456789\n", 3, gaBadScratch},
		{"scratch with text", secret + "\n\" TOTP_AUTH\n12345678 x\n", 3, gaBadScratch},
		{"secret again", secret + "\n\" TOTP_AUTH\n" + secret + "\n", 3, gaBadScratch},
		{"option without space", secret + "\n\"TOTP_AUTH\n", 2, gaBadOption},
		{"empty option", secret + "\n\"  \n", 2, gaBadOption},
		{"window 0", secret + "\n\" WINDOW_SIZE 0\n\" TOTP_AUTH\n", 2, gaBadWindow},
		{"window 101", secret + "\n\" WINDOW_SIZE 101\n\" TOTP_AUTH\n", 2, gaBadWindow},
		{"window text", secret + "\n\" WINDOW_SIZE three\n\" TOTP_AUTH\n", 2, gaBadWindow},
		{"window twice", secret + "\n\" WINDOW_SIZE 3\n\" WINDOW_SIZE 5\n\" TOTP_AUTH\n", 3, gaDupOption},
		{"step 61", secret + "\n\" STEP_SIZE 61\n\" TOTP_AUTH\n", 2, gaBadStep},
		{"step missing", secret + "\n\" STEP_SIZE\n\" TOTP_AUTH\n", 2, gaBadStep},
		{"rate limit", secret + "\n\" RATE_LIMIT 3\n\" TOTP_AUTH\n", 2, gaBadRateLimit},
		{"rate stamps", secret + "\n\" RATE_LIMIT 3 30 x\n\" TOTP_AUTH\n", 2, gaBadRateLimit},
		{"reuse", secret + "\n\" DISALLOW_REUSE 12 -3\n\" TOTP_AUTH\n", 2, gaBadReuse},
		{"skew", secret + "\n\" TIME_SKEW x\n\" TOTP_AUTH\n", 2, gaBadSkew},
		{"hotp", secret + "\n\" HOTP_COUNTER 1\n", 2, gaHOTP},
		{"no TOTP_AUTH", secret + "\n\" WINDOW_SIZE 3\n12345678\n", 0, gaNotTOTP},
		{"NUL", secret + "\n\" TOTP_AUTH\x00\n", 0, gaNUL},
		{"too large", secret + "\n\" TOTP_AUTH\n" + strings.Repeat("\n", 64<<10), 0, gaTooLarge},
		{"too many codes", secret + "\n\" TOTP_AUTH\n" + strings.Repeat("12345678\n", 101), 103, gaTooManyCodes},
	} {
		_, err := ParseGoogleAuthenticator(strings.NewReader(c.in))
		var ge *googleAuthError
		if !errors.As(err, &ge) || ge.Line != c.line || ge.Msg != c.msg {
			t.Errorf("%s: got %v; want line %d: %s", c.name, err, c.line, c.msg)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "1234567") {
			t.Errorf("%s: error quotes the file: %v", c.name, err)
		}
		if c.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", c.line)) {
			t.Errorf("%s: error does not start with the line: %v", c.name, err)
		}
	}
}

func TestParseGoogleAuthenticatorTolerates(t *testing.T) {
	in := "ehlg 4vrj xbes imlw nd4r j75w 3q\r\n" + // grouped, lower case, CRLF
		"\" RESETTING_TIME_SKEW 1+1 2+1\r\n" + // unknown to us: ignored, as PAM does
		"\" TIME_SKEW -2\r\n" +
		"\r\n" +
		"01234567\r\n" + // leading zero: a valid scratch code
		"\" TOTP_AUTH\r\n" + // options may follow codes
		"99999999\r\n"
	f, err := ParseGoogleAuthenticator(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if f.Secret != "EHLG4VRJXBESIMLWND4RJ75W3Q" || f.TimeSkew != -2 || f.StepSize != 30 || f.WindowSize != 3 ||
		!slices.Equal(f.ScratchCodes, []store.Secret{"01234567", "99999999"}) {
		t.Errorf("parsed %+v", *f)
	}
}

func TestGoogleAuthFileHidesSecrets(t *testing.T) {
	f := parseFile(t, "totp-default.txt")
	for _, s := range []string{fmt.Sprintf("%v", f), fmt.Sprintf("%+v", *f), fmt.Sprintf("%#v", *f)} {
		if strings.Contains(s, string(f.Secret)) {
			t.Errorf("formatting shows the secret: %s", s)
		}
		for _, c := range f.ScratchCodes {
			if strings.Contains(s, string(c)) {
				t.Errorf("formatting shows a scratch code: %s", s)
			}
		}
	}
}

func TestImportWindowTooWide(t *testing.T) {
	f, err := ParseGoogleAuthenticator(strings.NewReader("EHLG4VRJXBESIMLWND4RJ75W3Q\n\" WINDOW_SIZE 23\n\" TOTP_AUTH\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.ToState(cheapParams, time.Now()); err == nil {
		t.Error("WINDOW_SIZE 23 imported")
	}
}

// The real tool writes the file, oathtool computes the codes: after import
// they verify, and every scratch code logs in exactly once.
func TestImportFromRealTool(t *testing.T) {
	need.Tool(t, "google-authenticator")
	need.Tool(t, "oathtool")
	for _, c := range []struct {
		name string
		args []string
		step int
	}{
		{"default", []string{"-t", "-d", "-f", "-r", "3", "-R", "30", "-w", "3", "-e", "5"}, 30},
		{"step 60", []string{"-t", "-D", "-u", "-f", "-S", "60", "-w", "3", "-e", "3"}, 60},
		{"window 5", []string{"-t", "-d", "-u", "-f", "-w", "5", "-e", "4"}, 30},
		{"window 1", []string{"-t", "-D", "-u", "-f", "-w", "1", "-e", "1"}, 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "google_authenticator")
			run(t, "google-authenticator", append(c.args, "-s", path, "-q", "-C")...)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			gf, err := ParseGoogleAuthenticator(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			tt, b, err := gf.ToState(cheapParams, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if tt.Period != c.step {
				t.Fatalf("period %d, want %d", tt.Period, c.step)
			}
			firstLine, _, _ := strings.Cut(string(data), "\n")
			at := time.Unix(1700000000+int64(c.step)/2, 0)
			for _, d := range []int{-*tt.Window, 0, *tt.Window} {
				when := at.Add(time.Duration(d*c.step) * time.Second)
				code := run(t, "oathtool", "--totp", "-s", fmt.Sprintf("%ds", c.step), "-N", fmt.Sprintf("@%d", when.Unix()), "-b", firstLine)
				if _, ok := VerifyTOTP(tt, code, *tt.Window, at); !ok {
					t.Errorf("oathtool's code for step %+d does not verify", d)
				}
			}
			// One step beyond the imported window is refused (unless its code
			// happens to equal one inside the window).
			beyond := at.Add(time.Duration((*tt.Window+1)*c.step) * time.Second)
			code := run(t, "oathtool", "--totp", "-s", fmt.Sprintf("%ds", c.step), "-N", fmt.Sprintf("@%d", beyond.Unix()), "-b", firstLine)
			collides := false
			for d := -*tt.Window; d <= *tt.Window; d++ {
				collides = collides || codeAt(t, tt, at.Add(time.Duration(d*c.step)*time.Second)) == code
			}
			if _, ok := VerifyTOTP(tt, code, *tt.Window, at); ok && !collides {
				t.Errorf("code one step beyond the window verified")
			}

			st := newMemStore()
			st.put(t, "alice", &store.UserState{Version: store.FormatVersion, TOTP: tt, Backup: b})
			f := NewBackup(st, "alice", 3, b)
			for i, sc := range gf.ScratchCodes {
				if !f.Accepts(string(sc)) {
					t.Fatalf("scratch code %d not accepted by shape", i)
				}
				if out, err := f.Check(context.Background(), string(sc)); err != nil || !out.OK {
					t.Fatalf("scratch code %d: %+v, %v", i, out, err)
				}
				if out, err := f.Check(context.Background(), string(sc)); err != nil || out.OK {
					t.Fatalf("scratch code %d accepted twice: %+v, %v", i, out, err)
				}
			}
		})
	}
}

// FuzzParseGoogleAuthenticator: the parser never panics, every error is one
// of the fixed texts (so no file content can leak into one), and whatever it
// accepts imports or is refused cleanly.
func FuzzParseGoogleAuthenticator(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGoogleAuthenticator(bytes.NewReader(data))
		if err != nil {
			var ge *googleAuthError
			if !errors.As(err, &ge) || !slices.Contains(gaMessages, ge.Msg) || ge.Line < 0 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if _, err := b32.DecodeString(string(g.Secret)); err != nil {
			t.Fatal("accepted secret does not decode")
		}
		if g.StepSize < 1 || g.StepSize > 60 || g.WindowSize < 1 || g.WindowSize > 100 || len(g.ScratchCodes) > 100 {
			t.Fatalf("out of range: step %d window %d codes %d", g.StepSize, g.WindowSize, len(g.ScratchCodes))
		}
		for _, c := range g.ScratchCodes {
			if len(c) != 8 || !allDigits(string(c)) {
				t.Fatal("accepted a scratch code that is not 8 digits")
			}
		}
		tt, _, err := g.ToState(store.HashParams{Time: 1, MemKiB: 8, Threads: 1}, time.Unix(0, 0))
		if err != nil {
			if g.WindowSize <= maxGoogleAuthWindow {
				t.Fatalf("ToState: %v", err)
			}
			return
		}
		if _, err := TOTPCode(tt, time.Unix(1700000000, 0)); err != nil {
			t.Fatalf("imported state computes no code: %v", err)
		}
	})
}
