package factors

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/logingate/logingate/internal/store"
	"github.com/logingate/logingate/internal/testutil/need"
)

// memStore is an in-memory store.Store for tests: one mutex for everyone,
// every value deep-copied through JSON on the way in and out, as a real
// backend would serialise it.
type memStore struct {
	mu        sync.Mutex
	users     map[string][]byte
	writes    int   // successful writes
	failWrite error // when set, Update fails after fn, writing nothing
}

func newMemStore() *memStore { return &memStore{users: map[string][]byte{}} }

func (m *memStore) Load(_ context.Context, user string) (*store.UserState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.users[user]
	if !ok {
		return nil, store.ErrNotFound
	}
	s := new(store.UserState)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (m *memStore) Update(ctx context.Context, user string, fn func(*store.UserState) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &store.UserState{Version: store.FormatVersion}
	if b, ok := m.users[user]; ok {
		if err := json.Unmarshal(b, s); err != nil {
			return err
		}
	}
	if err := fn(s); err != nil {
		if errors.Is(err, store.ErrUnchanged) {
			return nil
		}
		return err
	}
	if m.failWrite != nil {
		return m.failWrite
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	m.users[user] = b
	m.writes++
	return nil
}

func (m *memStore) Delete(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, user)
	return nil
}

// put stores s for user, deep-copied.
func (m *memStore) put(t testing.TB, user string, s *store.UserState) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.users[user] = b
	m.mu.Unlock()
}

func (m *memStore) get(t testing.TB, user string) *store.UserState {
	t.Helper()
	s, err := m.Load(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (m *memStore) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// run runs a tool and returns its trimmed standard output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(need.Tool(t, name), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// cheapParams keep argon2id fast in tests that are about logic, not cost.
var cheapParams = store.HashParams{Time: 1, MemKiB: 64, Threads: 1}
