package duo

import "github.com/logingate/logingate/internal/term"

// maxServerString bounds any string taken from a Duo answer.
const maxServerString = 1024

// Sanitize makes a server string safe to print on a terminal or in syslog:
// term.Sanitize, which is stricter than login_duo (C1 and bidirectional
// controls and bytes that are not UTF-8 become '?' too, beside the C0
// controls but tab and newline, and DEL), on text cut to a bounded length.
func Sanitize(s string) string {
	if len(s) > maxServerString {
		s = s[:maxServerString]
	}
	return term.Sanitize(s)
}
