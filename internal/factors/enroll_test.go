package factors

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/testutil/need"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestNewTOTPEnrollment(t *testing.T) {
	now := time.Unix(1700000000, 0)
	tt, uri, err := NewTOTPEnrollment("Example Co", "alice", "sha256", 8, 30*time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b32.DecodeString(string(tt.Secret))
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret: %d bytes, %v; want 20", len(raw), err)
	}
	if tt.Algorithm != "SHA256" || tt.Digits != 8 || tt.Period != 30 || tt.LastStep != 0 || tt.Window != nil || !tt.Created.Equal(now) {
		t.Errorf("state = %s %d %d %d %v %v", tt.Algorithm, tt.Digits, tt.Period, tt.LastStep, tt.Window, tt.Created)
	}

	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Example Co:alice" ||
		q.Get("secret") != string(tt.Secret) || q.Get("issuer") != "Example Co" ||
		q.Get("period") != "30" || q.Get("digits") != "8" || q.Get("algorithm") != "SHA256" {
		t.Errorf("uri fields wrong: scheme %q host %q path %q query keys %v", u.Scheme, u.Host, u.Path, len(q))
	}
	if strings.Contains(uri, "+") || strings.Contains(uri, " ") {
		t.Error("spaces must be %20 in the uri")
	}

	// pquerna/otp, as an app would, reads back what we meant.
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if k.Issuer() != "Example Co" || k.AccountName() != "alice" || k.Period() != 30 ||
		k.Digits() != otp.DigitsEight || k.Algorithm() != otp.AlgorithmSHA256 || k.Secret() != string(tt.Secret) {
		t.Error("pquerna/otp reads the uri differently")
	}
	want, err := totp.GenerateCodeCustom(k.Secret(), now, totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()})
	if err != nil || want != codeAt(t, tt, now) {
		t.Errorf("code from the uri %q (%v) differs from ours", want, err)
	}

	tt2, _, err := NewTOTPEnrollment("Example Co", "alice", "SHA1", 6, 30*time.Second, now)
	if err != nil || tt2.Secret == tt.Secret {
		t.Errorf("two enrollments share a secret (%v)", err)
	}
}

func TestNewTOTPEnrollmentEscapes(t *testing.T) {
	_, uri, err := NewTOTPEnrollment("A&B Co/Lab", "al ice@host", "SHA1", 6, 30*time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if k.Issuer() != "A&B Co/Lab" || k.AccountName() != "al ice@host" {
		t.Errorf("issuer %q account %q", k.Issuer(), k.AccountName())
	}
}

func TestNewTOTPEnrollmentRefuses(t *testing.T) {
	for _, c := range []struct {
		issuer, user, alg string
		digits            int
		period            time.Duration
	}{
		{"", "alice", "SHA1", 6, 30 * time.Second},
		{"host", "", "SHA1", 6, 30 * time.Second},
		{"host:22", "alice", "SHA1", 6, 30 * time.Second},
		{"host", "al:ice", "SHA1", 6, 30 * time.Second},
		{"host", "al\nice", "SHA1", 6, 30 * time.Second},
		{"host", "alice", "MD5", 6, 30 * time.Second},
		{"host", "alice", "SHA1", 7, 30 * time.Second},
		{"host", "alice", "SHA1", 6, 1500 * time.Millisecond},
		{"host", "alice", "SHA1", 6, 0},
	} {
		if _, _, err := NewTOTPEnrollment(c.issuer, c.user, c.alg, c.digits, c.period, time.Now()); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

const testURI = "otpauth://totp/logingate-test:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=logingate-test&algorithm=SHA1&digits=6&period=30"

// zbarDecode writes img as a PNG and returns what zbarimg reads from it.
func zbarDecode(t *testing.T, pngData []byte) string {
	t.Helper()
	need.Tool(t, "zbarimg")
	p := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(p, pngData, 0o600); err != nil {
		t.Fatal(err)
	}
	return run(t, "zbarimg", "--raw", "-q", p)
}

func TestWriteQRPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteQRPNG(&buf, testURI, 400); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 400 {
		t.Errorf("image is %v, want 400x400", b)
	}
	if got := zbarDecode(t, buf.Bytes()); got != testURI {
		t.Errorf("zbarimg read %q, want %q", got, testURI)
	}
	for _, size := range []int{0, 20, 100000} {
		if err := WriteQRPNG(&buf, testURI, size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
}

func TestQRText(t *testing.T) {
	text, err := QRText(testURI)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	width := len([]rune(lines[0]))
	for i, l := range lines {
		r := []rune(l)
		if len(r) != width {
			t.Fatalf("line %d is %d wide, want %d", i, len(r), width)
		}
		if strings.Trim(l, " ▀▄█") != "" {
			t.Fatalf("line %d has characters other than half blocks", i)
		}
		// Quiet zone: 2 modules on the left and right of every line.
		if string(r[:2]) != "  " || string(r[width-2:]) != "  " {
			t.Errorf("line %d has no 2-module quiet zone at its sides", i)
		}
	}
	// ... and on top and bottom: the first line (two module rows) is blank,
	// the last line's lower half or the whole of it is.
	if strings.TrimSpace(lines[0]) != "" || strings.ContainsAny(lines[len(lines)-1], "▄█") {
		t.Error("no 2-module quiet zone above or below")
	}
	if strings.ContainsAny(text, "\x1b\r\t") {
		t.Error("terminal text contains control characters")
	}

	// Draw the text as a light terminal shows it (a block is dark) and
	// check that a scanner reads the URI back.
	img := renderHalfBlocks(lines, 6)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if got := zbarDecode(t, buf.Bytes()); got != testURI {
		t.Errorf("zbarimg read %q from the terminal rendering, want %q", got, testURI)
	}
}

// renderHalfBlocks draws terminal lines of half blocks, scale pixels per
// module, dark glyph on a light background.
func renderHalfBlocks(lines []string, scale int) image.Image {
	w := len([]rune(lines[0]))
	img := image.NewGray(image.Rect(0, 0, w*scale, 2*len(lines)*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	fill := func(mx, my int) {
		for y := my * scale; y < (my+1)*scale; y++ {
			for x := mx * scale; x < (mx+1)*scale; x++ {
				img.SetGray(x, y, color.Gray{})
			}
		}
	}
	for row, l := range lines {
		for col, r := range []rune(l) {
			if r == '▀' || r == '█' {
				fill(col, 2*row)
			}
			if r == '▄' || r == '█' {
				fill(col, 2*row+1)
			}
		}
	}
	return img
}

func TestQRRefusesEmpty(t *testing.T) {
	if _, err := QRText(""); err == nil {
		t.Error("QRText of nothing gave no error")
	}
	if err := WriteQRPNG(&bytes.Buffer{}, "", 200); err == nil {
		t.Error("WriteQRPNG of nothing gave no error")
	}
}

// The whole enrollment path: a fresh URI survives the PNG and the terminal
// drawing, and the state it came with computes the app's codes.
func TestEnrollmentQRRoundTrip(t *testing.T) {
	tt, uri, err := NewTOTPEnrollment("logingate test", "alice", "SHA1", 6, 30*time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteQRPNG(&buf, uri, 512); err != nil {
		t.Fatal(err)
	}
	got := zbarDecode(t, buf.Bytes())
	if got != uri {
		t.Fatalf("zbarimg read %q, want %q", got, uri)
	}
	k, err := otp.NewKeyFromURL(got)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0)
	want, _ := totp.GenerateCode(k.Secret(), at)
	if c := codeAt(t, tt, at); c != want {
		t.Errorf("scanned key computes %q, our state %q", want, c)
	}
}
