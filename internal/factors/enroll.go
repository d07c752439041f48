package factors

import (
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"

	"github.com/logingate/logingate/internal/store"
)

// newSecretBytes is the size of a new TOTP key: 160 bits, RFC 4226's
// recommendation and the output size of HMAC-SHA1.
const newSecretBytes = 20

// NewTOTPEnrollment makes a new TOTP secret for user and the otpauth:// URI
// an authenticator app scans. The URI carries the label "issuer:user", the
// issuer, the secret, and period, digits and algorithm explicitly (apps that
// miss a parameter assume 30 s, 6 digits, SHA1). Nothing is stored: the
// caller saves the returned state once the user has typed a code from the
// app, and should then set LastStep to that code's step.
func NewTOTPEnrollment(issuer, user, algorithm string, digits int, period time.Duration, now time.Time) (*store.TOTP, string, error) {
	if err := checkLabelPart("issuer", issuer); err != nil {
		return nil, "", err
	}
	if err := checkLabelPart("user", user); err != nil {
		return nil, "", err
	}
	if period%time.Second != 0 {
		return nil, "", errors.New("totp period must be whole seconds")
	}
	raw := make([]byte, newSecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("new totp secret: %w", err)
	}
	t := &store.TOTP{
		Secret:    store.Secret(b32.EncodeToString(raw)),
		Algorithm: strings.ToUpper(algorithm),
		Digits:    digits,
		Period:    int(period / time.Second),
		Created:   now,
	}
	if _, err := parseTOTP(t); err != nil {
		return nil, "", fmt.Errorf("totp: %w", err)
	}
	uri := "otpauth://totp/" + escape(issuer) + ":" + escape(user) +
		"?secret=" + string(t.Secret) +
		"&issuer=" + escape(issuer) +
		"&algorithm=" + t.Algorithm +
		"&digits=" + strconv.Itoa(t.Digits) +
		"&period=" + strconv.Itoa(t.Period)
	return t, uri, nil
}

// escape percent-encodes s for an otpauth URI, spaces as %20: Google
// Authenticator shows a '+' literally.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func checkLabelPart(what, s string) error {
	if s == "" {
		return fmt.Errorf("totp %s is empty", what)
	}
	if len(s) > 128 {
		return fmt.Errorf("totp %s is longer than 128 bytes", what)
	}
	for _, r := range s {
		if r == ':' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("totp %s contains a colon or a control character", what)
		}
	}
	return nil
}

// qrMatrix encodes uri at error-correction level M, what authenticator
// apps' own QR codes use.
func qrMatrix(uri string) (barcode.Barcode, error) {
	if uri == "" {
		return nil, errors.New("qr: empty text")
	}
	m, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return m, nil
}

func isDark(m image.Image, x, y int) bool {
	if !(image.Point{x, y}.In(m.Bounds())) {
		return false // quiet zone
	}
	return color.GrayModel.Convert(m.At(x, y)).(color.Gray).Y < 0x80
}

// qrTextQuiet is the quiet zone around a terminal QR code, in modules. The
// standard asks for 4; scanners read 2 reliably and a terminal is small.
const qrTextQuiet = 2

// QRText draws uri's QR code for a terminal with Unicode half blocks, two
// module rows per line, surrounded by a quiet zone of 2 modules.
//
// It assumes dark text on a light background: a block is a dark module, a
// space a light one. On a terminal with light text on a dark background the
// code appears inverted, which some scanners refuse; callers should also
// offer the URI and a PNG (WriteQRPNG).
func QRText(uri string) (string, error) {
	m, err := qrMatrix(uri)
	if err != nil {
		return "", err
	}
	n := m.Bounds().Dx()
	lo, hi := -qrTextQuiet, n+qrTextQuiet
	var b strings.Builder
	for y := lo; y < hi; y += 2 {
		for x := lo; x < hi; x++ {
			top, bottom := isDark(m, x, y), y+1 < hi && isDark(m, x, y+1)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// qrPNGQuiet is the quiet zone of the PNG, in modules, as the standard asks.
const qrPNGQuiet = 4

// WriteQRPNG writes uri's QR code as a black-on-white PNG of size×size
// pixels. Modules are whole pixels, centred; size must leave at least one
// pixel per module including a 4-module quiet zone.
func WriteQRPNG(w io.Writer, uri string, size int) error {
	m, err := qrMatrix(uri)
	if err != nil {
		return err
	}
	n := m.Bounds().Dx()
	total := n + 2*qrPNGQuiet
	if size < total || size > 8192 {
		return fmt.Errorf("qr: image size %d out of range %d..8192 for this code", size, total)
	}
	scale := size / total
	off := (size-scale*total)/2 + scale*qrPNGQuiet
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !isDark(m, x, y) {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				row := img.Pix[(off+y*scale+dy)*img.Stride:]
				for dx := 0; dx < scale; dx++ {
					row[off+x*scale+dx] = 1
				}
			}
		}
	}
	return png.Encode(w, img)
}
