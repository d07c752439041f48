// Package gateargs is the table of ForceCommand flag lines that the gate's
// parser (package cmdline), the gate (package cli) and doctor are all tested
// against, so that the three agree on which config a line names and which
// lines the gate refuses.
package gateargs

import (
	_ "embed"
	"encoding/json"
	"testing"
)

// Case is one row: the flags a ForceCommand gives the gate, and the config
// it loads (nil: the default) or why it refuses them.
type Case struct {
	Why     string
	Args    []string
	Config  *string
	Refused string
}

//go:embed gateargs.json
var table []byte

// Cases returns the table.
func Cases(t testing.TB) []Case {
	t.Helper()
	var cases []Case
	if err := json.Unmarshal(table, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("gateargs: empty table")
	}
	return cases
}
