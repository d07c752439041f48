package store

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

const fp = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func TestPruneTrustedDropsEndedAndKeepsNewest(t *testing.T) {
	var list []TrustedSession
	for i := range MaxTrusted + 5 {
		list = append(list, TrustedSession{ID: fmt.Sprintf("%08x", i), KeyFingerprint: fp, From: "192.0.2.1",
			Created: t0.Add(time.Duration(i) * time.Minute), Until: t0.Add(time.Duration(i)*time.Minute + time.Hour)})
	}
	list = append(list, TrustedSession{ID: "deadbeef", Created: t0.Add(-2 * time.Hour), Until: t0.Add(-time.Hour)})
	got := PruneTrusted(list, t0.Add(30*time.Minute))
	if len(got) != MaxTrusted {
		t.Fatalf("%d windows kept, want %d", len(got), MaxTrusted)
	}
	// Windows 0..5 are kept alive by the clock but 0..4 are the oldest of 37.
	if got[0].ID != fmt.Sprintf("%08x", 5) || got[len(got)-1].ID != fmt.Sprintf("%08x", MaxTrusted+4) {
		t.Errorf("kept %s..%s, want the newest %d", got[0].ID, got[len(got)-1].ID, MaxTrusted)
	}
	if PruneTrusted(list, t0.Add(48*time.Hour)) != nil {
		t.Errorf("ended windows survive")
	}
	// At Until exactly, a window is over.
	one := []TrustedSession{{ID: "00000001", Created: t0, Until: t0.Add(time.Hour)}}
	if PruneTrusted(one, t0.Add(time.Hour)) != nil || len(PruneTrusted(one, t0.Add(time.Hour-time.Nanosecond))) != 1 {
		t.Errorf("a window must end at Until")
	}
}

func TestOpenTrustedDropsTheOldestWhenFull(t *testing.T) {
	var list []TrustedSession
	for i := range 40 {
		now := t0.Add(time.Duration(i) * time.Second)
		var w TrustedSession
		list, w = OpenTrusted(list, fp, "192.0.2.1", now, 8*time.Hour)
		if w.Created != now || w.Until != now.Add(8*time.Hour) || w.From != "192.0.2.1" || w.KeyFingerprint != fp {
			t.Fatalf("window %+v", w)
		}
		if len(w.ID) != 8 {
			t.Fatalf("id %q, want 8 hex digits", w.ID)
		}
		if list[len(list)-1] != w {
			t.Fatalf("the new window is not last")
		}
	}
	if len(list) != MaxTrusted {
		t.Fatalf("%d windows, want %d", len(list), MaxTrusted)
	}
	if want := t0.Add(8 * time.Second); !list[0].Created.Equal(want) {
		t.Errorf("oldest kept from %s, want %s", list[0].Created, want)
	}
	ids := map[string]bool{}
	for _, w := range list {
		if ids[w.ID] {
			t.Errorf("id %s used twice", w.ID)
		}
		ids[w.ID] = true
	}
}

func TestRevokeTrusted(t *testing.T) {
	list := []TrustedSession{{ID: "00000001"}, {ID: "00000002"}, {ID: "00000003"}}
	left, removed := RevokeTrusted(list, "00000002")
	if len(left) != 2 || len(removed) != 1 || removed[0] != "00000002" {
		t.Errorf("revoke one: left %v removed %v", left, removed)
	}
	left, removed = RevokeTrusted(list, "0000000")
	if len(left) != 3 || removed != nil {
		t.Errorf("a prefix of an id revoked something: %v", removed)
	}
	left, removed = RevokeTrusted(list, "all")
	if left != nil || len(removed) != 3 {
		t.Errorf("revoke all: left %v removed %v", left, removed)
	}
}
