package racetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/store/filestore"
)

// enrollDirect provisions the caller through the store, as `enroll
// --no-verify` does for root: that flag is root's, and a non-root caller's
// state directory is its own to write.
func (r *rig) enrollDirect(t *testing.T) (secret string, codes []string) {
	t.Helper()
	s := filestore.New(r.state, func(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil })
	return enrollIn(t, s, r.user)
}

// enrollIn gives user a fresh secret and backup codes in s, replacing any
// enrollment and clearing failures and trusted windows, as `enroll --force`
// does.
func enrollIn(t *testing.T, s store.Store, user string) (secret string, codes []string) {
	t.Helper()
	now := time.Now()
	totp, _, err := factors.NewTOTPEnrollment("racetest", user, "SHA1", 6, period*time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	codes, backup, err := factors.GenerateBackupCodes(backupCount, now)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), user, func(st *store.UserState) error {
		st.SetFactors(totp, backup)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(totp.Secret), codes
}
