// Package enrolltest reads what root's provisioning prints,
// `logingate enroll --user NAME --no-verify --json`, and computes the codes
// a user's authenticator app would show for it.
package enrolltest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// Enrollment is one user's enrollment as enroll --json prints it.
type Enrollment struct {
	URI    string   `json:"otpauth_uri"`
	Codes  []string `json:"backup_codes"`
	Secret string   `json:"-"` // the base32 TOTP secret, from URI
}

// Parse reads enroll --json's output, and fails the test unless it holds
// a TOTP secret and backup codes.
func Parse(t testing.TB, out []byte) *Enrollment {
	t.Helper()
	var e Enrollment
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("enroll --json printed %q: %v", out, err)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatalf("enroll --json: otpauth URI: %v", err)
	}
	e.Secret = u.Query().Get("secret")
	if e.Secret == "" || len(e.Codes) == 0 {
		t.Fatalf("enroll --json gave no secret or no backup codes: %q", out)
	}
	return &e
}

// Code computes the TOTP code with oathtool; offset shifts the clock by
// whole 30-second steps, so that two logins in one test need not wait for
// the next step (window 1 accepts the next step's code).
func (e *Enrollment) Code(t testing.TB, offset int) string {
	t.Helper()
	args := []string{"--totp", "-b", e.Secret}
	if offset != 0 {
		args = append(args, "-N", fmt.Sprintf("%+d seconds", offset*30))
	}
	out, err := exec.Command("oathtool", args...).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// WrongCode is a six-digit code that is none of the codes of the previous,
// current and next step: one that a gate must refuse.
func (e *Enrollment) WrongCode(t testing.TB) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222"} {
		if c != e.Code(t, -1) && c != e.Code(t, 0) && c != e.Code(t, 1) {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}
