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
	now := time.Now()
	totp, _, err := factors.NewTOTPEnrollment("racetest", r.user, "SHA1", 6, period*time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	codes, backup, err := factors.GenerateBackupCodes(backupCount, now)
	if err != nil {
		t.Fatal(err)
	}
	s := filestore.New(r.state, func(string) (int, int, error) { return os.Getuid(), os.Getgid(), nil })
	err = s.Update(context.Background(), r.user, func(st *store.UserState) error {
		st.TOTP, st.Backup, st.Failures = totp, backup, nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(totp.Secret), codes
}
