package privilege

import "testing"

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/logingate.yaml": "/etc/logingate.yaml",
		"/tmp/a b":            "'/tmp/a b'",
		"/tmp/it's":           `'/tmp/it'\''s'`,
		"/tmp/$(x)":           "'/tmp/$(x)'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
