package filestore

import (
	"context"
	"testing"

	"github.com/logingate/logingate/internal/store"
)

// BenchmarkUpdate is what consuming a code costs the gate: lock, checks,
// read, decode, encode, write, fsync, rename and directory fsync.
func BenchmarkUpdate(b *testing.B) {
	s, _ := newStore(b)
	put(b, s, "alice", sampleState())
	ctx := context.Background()
	for b.Loop() {
		err := s.Update(ctx, "alice", func(st *store.UserState) error {
			st.TOTP.LastStep++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateUnchanged is a check that consumes nothing (a wrong code
// that is not counted): everything but the write.
func BenchmarkUpdateUnchanged(b *testing.B) {
	s, _ := newStore(b)
	put(b, s, "alice", sampleState())
	ctx := context.Background()
	for b.Loop() {
		err := s.Update(ctx, "alice", func(*store.UserState) error { return store.ErrUnchanged })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is the gate's first look at a user: checks, read, decode.
func BenchmarkLoad(b *testing.B) {
	s, _ := newStore(b)
	put(b, s, "alice", sampleState())
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Load(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
