package term

import (
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "Passcode or option (1-2): ", "Passcode or option (1-2): "},
		{"tab and newline kept", "a\tb\nc", "a\tb\nc"},
		{"carriage return", "ok\rdenied", "ok?denied"},
		{"ansi colour", "\x1b[31mred\x1b[0m", "?[31mred?[0m"},
		{"window title", "\x1b]0;owned\x07", "?]0;owned?"},
		{"bell backspace nul", "a\x07b\x08c\x00", "a?b?c?"},
		{"del", "x\x7fy", "x?y"},
		{"c1 csi as utf-8", "a\u009b31mb", "a?31mb"},
		{"c1 next line", "a\u0085b", "a?b"},
		{"raw 8-bit csi", "a\x9b31mb", "a?31mb"},
		{"invalid utf-8, one per byte", "a\xff\xfeb", "a??b"},
		{"truncated utf-8", "caf\xc3", "caf?"},
		{"bidi override", "alice\u202egnp.exe", "alice?gnp.exe"},
		{"bidi isolate", "\u2066x\u2069", "?x?"},
		{"printable unicode kept", "Jürgen 日本 ▀▄█ \ufffd", "Jürgen 日本 ▀▄█ \ufffd"},
		{"no-break space kept", "a\u00a0b", "a\u00a0b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sanitize(tt.in); got != tt.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J\x1b[H", "a\r\n\t", "\u009b\u202e", "\xff\xc3", "日本\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		for i := 0; i < len(out); i++ {
			c := out[i]
			if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				t.Fatalf("Sanitize(%q) = %q: control byte %#x at %d", in, out, c, i)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Sanitize(%q) = %q: not valid UTF-8", in, out)
		}
		for _, r := range out {
			if unsafeRune(r, utf8.RuneLen(r)) {
				t.Fatalf("Sanitize(%q) = %q: unsafe rune %U", in, out, r)
			}
		}
		// Character for character, the output is the input or '?'.
		for i, j := 0, 0; i < len(in) || j < len(out); {
			if i >= len(in) || j >= len(out) {
				t.Fatalf("Sanitize(%q) = %q: lengths in characters differ", in, out)
			}
			r, n := utf8.DecodeRuneInString(in[i:])
			o, m := utf8.DecodeRuneInString(out[j:])
			if o != '?' && in[i:i+n] != out[j:j+m] {
				t.Fatalf("Sanitize(%q) = %q: %q became %q", in, out, in[i:i+n], out[j:j+m])
			}
			if o == '?' && r != '?' && !unsafeRune(r, n) {
				t.Fatalf("Sanitize(%q) = %q: safe %q replaced", in, out, in[i:i+n])
			}
			i, j = i+n, j+m
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("Sanitize not idempotent: %q -> %q", out, again)
		}
	})
}

func BenchmarkSanitize(b *testing.B) {
	clean := "logingate: second factor for alice (from 203.0.113.9)"
	dirty := "logingate: second factor for \x1b[31malice\x1b[0m (from 203.0.113.9)"
	b.Run("clean", func(b *testing.B) {
		for b.Loop() {
			Sanitize(clean)
		}
	})
	b.Run("dirty", func(b *testing.B) {
		for b.Loop() {
			Sanitize(dirty)
		}
	})
}

func TestSanitizeLine(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"two\r\nlines\tand a tab", 100, "two  lines and a tab"},
		{"csi\u009b2J bad\xff\xfe", 100, "csi?2J bad??"}, // one '?' per invalid byte, no U+FFFD
		{"12345678901", 10, "1234567890"},
	} {
		if got := SanitizeLine(tt.in, tt.max); got != tt.want {
			t.Errorf("SanitizeLine(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
