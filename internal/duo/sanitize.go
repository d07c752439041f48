package duo

import (
	"strings"
	"unicode/utf8"
)

// maxServerString bounds any string taken from a Duo answer.
const maxServerString = 1024

// Sanitize makes a server string safe to print on a terminal or in syslog.
// As in login_duo, bytes below 0x20 other than tab and newline, and 0x7f,
// become '?'. Stricter than login_duo, C1 controls (U+0080..U+009F) and bytes
// that are not UTF-8 also become '?', since some terminals act on them. The
// result is cut to a bounded length.
func Sanitize(s string) string {
	if len(s) > maxServerString {
		s = s[:maxServerString]
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1,
			r < 0x20 && r != '\t' && r != '\n',
			r >= 0x7f && r <= 0x9f:
			b.WriteByte('?')
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
