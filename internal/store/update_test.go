package store

import (
	"errors"
	"testing"
	"time"
)

func TestModify(t *testing.T) {
	boom := errors.New("boom")
	now := time.Now()
	ended := TrustedSession{ID: "a", Until: now.Add(-time.Minute)}
	open := TrustedSession{ID: "b", Until: now.Add(time.Hour)}

	// No state yet: fn starts from an empty state of the current format.
	st, err := Modify(nil, ErrNotFound, func(s *UserState) error {
		if s == nil || s.Version != FormatVersion {
			t.Errorf("fn got %+v, want an empty state of version %d", s, FormatVersion)
		}
		return nil
	})
	if err != nil || st == nil {
		t.Fatalf("Modify on no state = %v, %v; want a state to write", st, err)
	}

	// A read error stops before fn and comes back as it is.
	if _, err := Modify(nil, boom, func(*UserState) error { t.Error("fn ran after a read error"); return nil }); err != boom {
		t.Errorf("read error: got %v, want %v", err, boom)
	}

	// fn's error comes back, and nothing is to be written.
	if st, err := Modify(&UserState{}, nil, func(*UserState) error { return boom }); err != boom || st != nil {
		t.Errorf("fn error: got %v, %v; want nil, %v", st, err, boom)
	}

	// ErrUnchanged (wrapped too): nothing to write, and no error.
	wrapped := func(*UserState) error { return errors.Join(ErrUnchanged) }
	if st, err := Modify(&UserState{}, nil, wrapped); err != nil || st != nil {
		t.Errorf("unchanged: got %v, %v; want nil, nil", st, err)
	}

	// A write drops the trusted windows that have ended.
	st, err = Modify(&UserState{Trusted: []TrustedSession{ended, open}}, nil, func(*UserState) error { return nil })
	if err != nil || len(st.Trusted) != 1 || st.Trusted[0].ID != "b" {
		t.Errorf("trusted after a write = %+v, %v; want only the open window", st, err)
	}
}
