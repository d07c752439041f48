package debpkg

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// doctorReport is what `logingate doctor --json` prints, less the summary.
type doctorReport struct {
	Findings []struct {
		ID, Severity, Setting, Context, Problem, Attack, Fix string
	} `json:"findings"`
}

// doctor runs the installed `logingate doctor --json` in the root.
func (r *root) doctor(t *testing.T) *doctorReport {
	t.Helper()
	out, code := r.try(t, nil, binPath, "doctor", "--json")
	if code == 2 {
		t.Fatalf("logingate doctor failed to run:\n%s", out)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	return &rep
}

func hasFinding(rep *doctorReport, id string) bool {
	for _, f := range rep.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func mentions(s string, paths ...string) bool {
	for _, p := range paths {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
