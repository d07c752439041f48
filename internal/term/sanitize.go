package term

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes s safe to show on a terminal: every character that could
// move the cursor, change colours, retitle the window, reorder text or be
// read as part of an escape sequence becomes '?'. That is: C0 controls
// except tab and newline (so CR and ESC too, which defuses any ANSI escape
// sequence), DEL, C1 controls (U+0080..U+009F; an 8-bit terminal reads
// U+009B as CSI), bytes that are not valid UTF-8 (one '?' per byte), and
// the Unicode bidirectional controls. Everything else, including printable
// non-ASCII text, passes unchanged. Anything shown to the user that came
// from elsewhere (user names, host names, file contents, service replies)
// passes through it; TTY.Println and TTY.Printf call it for you.
func Sanitize(s string) string {
	first := firstUnsafe(s)
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:first])
	for i := first; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			b.WriteByte('?')
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe returns the index of the first character Sanitize replaces,
// or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports whether r, decoded from size bytes, must not reach a
// terminal.
func unsafeRune(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // not UTF-8
		return true
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || r == 0x7f: // C0, DEL
		return true
	case r >= 0x80 && r <= 0x9f: // C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // ALM, LRM, RLM
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// SanitizeLine is Sanitize for a service's text that must stay on one line
// (a reply shown as a status line or a prompt, an audit reason): line
// breaks and tabs become spaces, and the text is cut to max bytes first.
func SanitizeLine(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	// Byte for byte: strings.Map would turn invalid UTF-8 into U+FFFD
	// before Sanitize could replace it.
	return Sanitize(lineBreaks.Replace(s))
}

var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ", "\t", " ")
