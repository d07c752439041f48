package radiustest

import "testing"

// The harness starts a server that answers, and stops it at the end.
func TestStart(t *testing.T) {
	s := Start(t)
	if !s.answers() {
		t.Fatalf("started server does not answer:\n%s", s.Output())
	}
}
