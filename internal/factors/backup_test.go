package factors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/logingate/logingate/internal/store"
)

var displayCode = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)

func TestGenerateBackupCodes(t *testing.T) {
	now := time.Unix(1700000000, 0)
	codes, b, err := GenerateBackupCodes(10, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || len(b.Codes) != 10 {
		t.Fatalf("got %d codes and %d hashes, want 10 and 10", len(codes), len(b.Codes))
	}
	if b.Scheme != "argon2id" || b.Params != DefaultBackupParams || !b.Created.Equal(now) {
		t.Errorf("backup set header = %q %+v %v", b.Scheme, b.Params, b.Created)
	}
	seen := map[string]bool{}
	salts := map[string]bool{}
	stored, _ := json.Marshal(b)
	for i, c := range codes {
		if !displayCode.MatchString(c) {
			t.Errorf("code %d %q is not xxxx-xxxx-xxxx in Crockford base32, lower case", i, c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
		bare := strings.ReplaceAll(c, "-", "")
		for _, form := range []string{c, bare, strings.ToUpper(bare)} {
			if bytes.Contains(stored, []byte(form)) {
				t.Errorf("stored state contains a code in clear")
			}
		}
		h := b.Codes[i]
		if h.Kind != "selector" || len(h.Salt) != 16 || len(h.Hash) != 32 {
			t.Errorf("hash %d: kind %q, salt %d bytes, hash %d bytes", i, h.Kind, len(h.Salt), len(h.Hash))
		}
		// The selector is the code's first two characters and public;
		// the other ten, 50 bits, are not stored anywhere in clear.
		if h.Selector != strings.ToUpper(c[:2]) {
			t.Errorf("hash %d: selector %q, want %q", i, h.Selector, strings.ToUpper(c[:2]))
		}
		if bytes.Contains(stored, []byte(strings.ToUpper(bare[2:]))) {
			t.Errorf("stored state contains a code's secret part in clear")
		}
		if seen[h.Selector] {
			t.Errorf("selector %q repeated in one set", h.Selector)
		}
		seen[h.Selector] = true
		if salts[string(h.Salt)] {
			t.Error("salt repeated")
		}
		salts[string(h.Salt)] = true
	}
	for _, n := range []int{0, -1, 101} {
		if _, _, err := GenerateBackupCodes(n, now); err == nil {
			t.Errorf("GenerateBackupCodes(%d) gave no error", n)
		}
	}
}

func TestBackupNormalisation(t *testing.T) {
	for _, c := range []struct {
		in, kind, norm string
	}{
		{"abcde-fghjk", "base32", "ABCDEFGHJK"},
		{"ABCDE-FGHJK", "base32", "ABCDEFGHJK"},
		{"abcdefghjk", "base32", "ABCDEFGHJK"},
		{"AbCdE fGhJk", "base32", "ABCDEFGHJK"},
		{"  abcde-fghjk\t", "base32", "ABCDEFGHJK"},
		{"oOiIl-LqrST", "base32", "00111" + "1QRST"},
		{"01234-56789", "base32", "0123456789"},
		{"0123456789", "base32", "0123456789"},
		{"vwxyz-mnpqr", "base32", "VWXYZMNPQR"},
		{"abcd-efgh-jkmn", "selector", "ABCDEFGHJKMN"},
		{"ABCDEFGHJKMN", "selector", "ABCDEFGHJKMN"},
		{" oOiI LlQr sTvW ", "selector", "001111QRSTVW"},
		{"12345678", "numeric", "12345678"},
		{"01234567", "numeric", "01234567"},
		// refused
		{"abcde-fghju", "", ""},     // U is not in the alphabet
		{"abcde-fghj", "", ""},      // 9
		{"abcde-fghjkm", "", ""},    // 11
		{"abcd-efgh-jkmnp", "", ""}, // 13
		{"abcd-efgh-jkmu", "", ""},  // U
		{"abcde_fghjk", "", ""},
		{"abcdé-fghjk", "", ""},
		{"1234567", "", ""},
		{"123456789", "", ""},
		{"1234-5678", "", ""},
		{"", "", ""},
		{strings.Repeat("a", 1000), "", ""},
	} {
		kind, norm, ok := normaliseBackupCode(c.in)
		if ok != (c.kind != "") || kind != c.kind || string(norm) != c.norm {
			t.Errorf("normalise(%q) = %q %q %v, want %q %q", c.in, kind, norm, ok, c.kind, c.norm)
		}
	}
}

// backupUser stores codes for "alice" (hashed with cheap parameters) and
// returns the factor.
func backupUser(t testing.TB, st *memStore, warnBelow int, base32 []string, numeric []string) Factor {
	t.Helper()
	b := &store.Backup{Scheme: BackupScheme, Params: cheapParams}
	for _, set := range []struct {
		kind  string
		codes []string
	}{{BackupKindBase32, base32}, {BackupKindNumeric, numeric}} {
		for _, c := range set.codes {
			h, err := HashBackupCode(set.kind, c, cheapParams)
			if err != nil {
				t.Fatal(err)
			}
			b.Codes = append(b.Codes, h)
		}
	}
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, Backup: b})
	return NewBackup(st, "alice", warnBelow, b)
}

func TestBackupCheckForms(t *testing.T) {
	for _, typed := range []string{"01lab-cdefg", "0ILAB-CDEFG", "oilabcdefg", " OLIAB CDEFG "} {
		st := newMemStore()
		f := backupUser(t, st, 3, []string{"011ab-cdefg", "zzzzz-zzzzz"}, nil)
		out, err := f.Check(context.Background(), typed)
		if err != nil || !out.OK {
			t.Errorf("%q: Check = %+v, %v; want OK", typed, out, err)
		}
	}
}

func TestBackupSingleUseAndNotices(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	codes, b, err := generateBackupCodes(5, time.Now(), cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, Backup: b})
	f := NewBackup(st, "alice", 3, b)
	want := []struct {
		notice string
		warn   bool
	}{
		{"4 backup codes left", false},
		{"3 backup codes left", false},
		{"2 backup codes left: run 'logingate backup-codes --regenerate' for a new set", true},
		{"1 backup code left: run 'logingate backup-codes --regenerate' for a new set", true},
		{"that was your last backup code: run 'logingate backup-codes --regenerate' for a new set", true},
	}
	for i, c := range codes {
		out, err := f.Check(ctx, c)
		if err != nil || !out.OK || out.Notice != want[i].notice || out.Warn != want[i].warn {
			t.Fatalf("use %d: Check = %+v, %v; want notice %q warn %v", i+1, out, err, want[i].notice, want[i].warn)
		}
		again, err := f.Check(ctx, c)
		if err != nil || again.OK || again.Reason != "wrong code" {
			t.Fatalf("second use of code %d: %+v, %v; want wrong code", i+1, again, err)
		}
		if n := len(st.get(t, "alice").Backup.Codes); n != len(codes)-i-1 {
			t.Fatalf("after use %d, %d codes stored", i+1, n)
		}
	}
}

func TestBackupWrongCode(t *testing.T) {
	st := newMemStore()
	f := backupUser(t, st, 3, []string{"abcde-fghjk"}, []string{"12345678"})
	for _, c := range []string{"abcde-fghjm", "12345679", "not a code", "", "abcde-fghjk-x"} {
		out, err := f.Check(context.Background(), c)
		if err != nil || out.OK || out.Reason != "wrong code" {
			t.Errorf("%q: Check = %+v, %v; want wrong code", c, out, err)
		}
	}
	if st.writeCount() != 0 {
		t.Errorf("wrong codes wrote the state %d times", st.writeCount())
	}
	// No backup codes at all.
	none := NewBackup(newMemStore(), "bob", 3, nil)
	if out, err := none.Check(context.Background(), "abcde-fghjk"); err != nil || out.OK || out.Reason != "wrong code" {
		t.Errorf("no codes: Check = %+v, %v", out, err)
	}
}

func TestBackupNumericScratchCodes(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	f := backupUser(t, st, 3, []string{"abcde-fghjk"}, []string{"01234567", "87654321"})
	if !f.Accepts("01234567") || !f.Accepts("abcde-fghjk") || f.Accepts("1234567") {
		t.Error("Accepts wrong for a set with scratch codes")
	}
	out, err := f.Check(ctx, "01234567") // a leading zero is a valid scratch code
	if err != nil || !out.OK || out.Notice != "2 backup codes left: run 'logingate backup-codes --regenerate' for a new set" {
		t.Fatalf("scratch code: %+v, %v", out, err)
	}
	if out, _ := f.Check(ctx, "01234567"); out.OK {
		t.Fatal("scratch code accepted twice")
	}
	left := st.get(t, "alice").Backup.Codes
	if len(left) != 2 || left[0].Kind != "base32" || left[1].Kind != "numeric" {
		t.Fatalf("left after use: %d codes", len(left))
	}

	plain := NewBackup(st, "alice", 3, &store.Backup{Codes: []store.BackupHash{{Kind: "base32"}}})
	if plain.Accepts("12345678") {
		t.Error("8 digits accepted without any scratch codes")
	}
	if !plain.Accepts("ABCDE-FGHJK") || plain.Accepts("abcde-fghju") {
		t.Error("Accepts wrong for our own codes")
	}
	if plain.Name() != "backup" || plain.Label() != "Backup code" {
		t.Errorf("Name/Label = %q/%q", plain.Name(), plain.Label())
	}
}

func TestBackupCorruptState(t *testing.T) {
	for name, mod := range map[string]func(*store.Backup){
		"scheme":         func(b *store.Backup) { b.Scheme = "md5" },
		"huge memory":    func(b *store.Backup) { b.Params.MemKiB = 1 << 30 },
		"huge time":      func(b *store.Backup) { b.Params.Time = 1 << 20 },
		"zero threads":   func(b *store.Backup) { b.Params.Threads = 0 },
		"empty salt":     func(b *store.Backup) { b.Codes[0].Salt = nil },
		"truncated hash": func(b *store.Backup) { b.Codes[0].Hash = b.Codes[0].Hash[:4] },
	} {
		st := newMemStore()
		f := backupUser(t, st, 3, []string{"abcde-fghjk"}, nil)
		s := st.get(t, "alice")
		mod(s.Backup)
		st.put(t, "alice", s)
		if out, err := f.Check(context.Background(), "abcde-fghjk"); err == nil || out.OK {
			t.Errorf("%s: Check = %+v, %v; want an error", name, out, err)
		}
	}
}

func TestBackupNotConsumedWhenWriteFails(t *testing.T) {
	st := newMemStore()
	f := backupUser(t, st, 3, []string{"abcde-fghjk"}, nil)
	st.failWrite = errors.New("read-only file system")
	if out, err := f.Check(context.Background(), "abcde-fghjk"); err == nil || out.OK {
		t.Fatalf("Check = %+v, %v; want an error", out, err)
	}
	st.failWrite = nil
	if out, err := f.Check(context.Background(), "abcde-fghjk"); err != nil || !out.OK {
		t.Fatalf("code lost after a failed write: %+v, %v", out, err)
	}
}

func TestHashBackupCode(t *testing.T) {
	if _, err := HashBackupCode(BackupKindNumeric, "abcde-fghjk", cheapParams); err == nil {
		t.Error("a base32 code hashed as numeric")
	}
	if _, err := HashBackupCode(BackupKindBase32, "12345678", cheapParams); err == nil {
		t.Error("a numeric code hashed as base32")
	}
	if _, err := HashBackupCode(BackupKindBase32, "abcde-fghjk", store.HashParams{}); err == nil {
		t.Error("zero parameters accepted")
	}
	a, err1 := HashBackupCode(BackupKindBase32, "abcde-fghjk", cheapParams)
	b, err2 := HashBackupCode(BackupKindBase32, "ABCDEFGHJK", cheapParams)
	if err1 != nil || err2 != nil || bytes.Equal(a.Salt, b.Salt) || bytes.Equal(a.Hash, b.Hash) {
		t.Error("two hashes of one code share a salt or a hash")
	}
}

func TestBackupConcurrentSameCode(t *testing.T) {
	const racers, rounds = 16, 10
	for r := 0; r < rounds; r++ {
		st := newMemStore()
		codes, b, err := generateBackupCodes(3, time.Now(), cheapParams)
		if err != nil {
			t.Fatal(err)
		}
		st.put(t, "alice", &store.UserState{Version: store.FormatVersion, Backup: b})
		f := NewBackup(st, "alice", 3, b)
		var wg sync.WaitGroup
		results := make(chan Outcome, racers)
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := f.Check(context.Background(), codes[1])
				if err != nil {
					t.Error(err)
				}
				results <- out
			}()
		}
		wg.Wait()
		close(results)
		ok := 0
		for out := range results {
			if out.OK {
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d logins accepted one backup code, want exactly 1", r, ok, racers)
		}
		if n := len(st.get(t, "alice").Backup.Codes); n != 2 {
			t.Fatalf("round %d: %d codes left, want 2", r, n)
		}
	}
}

// countHashes counts the argon2id hashes made until the returned function
// is called, which restores the real one and returns the count.
func countHashes(t *testing.T) func() int {
	t.Helper()
	n := 0
	idKey = func(pw, salt []byte, time, mem uint32, threads uint8, keyLen uint32) []byte {
		n++
		return argon2.IDKey(pw, salt, time, mem, threads, keyLen)
	}
	t.Cleanup(func() { idKey = argon2.IDKey })
	return func() int { idKey = argon2.IDKey; return n }
}

// A check of a code with a selector hashes once, right or wrong: the
// selector names the slot, a wrong code costs what a right one does, and a
// code whose selector names no slot still pays one hash.
func TestBackupSelectorOneHash(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	codes, b, err := generateBackupCodes(10, time.Now(), cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	st.put(t, "alice", &store.UserState{Version: store.FormatVersion, Backup: b})
	f := NewBackup(st, "alice", 3, b)
	used := map[string]bool{}
	for _, c := range codes {
		used[c[:2]] = true
	}
	free := ""
	for _, c := range crockford {
		if sel := strings.ToLower("0" + string(c)); !used[sel] {
			free = sel
			break
		}
	}
	// The right code with its last character changed: its slot, wrong.
	last := codes[3][len(codes[3])-1]
	other := byte('0')
	if last == '0' {
		other = '1'
	}
	for _, c := range []struct {
		name, code string
		ok         bool
	}{
		{"a right code", codes[3], true},
		{"a wrong code in a slot", codes[4][:len(codes[4])-1] + string(other), false},
		{"a wrong code in no slot", free + codes[5][2:], false},
		{"the used code again", codes[3], false},
	} {
		done := countHashes(t)
		out, err := f.Check(ctx, c.code)
		n := done()
		if err != nil || out.OK != c.ok {
			t.Errorf("%s: Check = %+v, %v; want OK %v", c.name, out, err, c.ok)
		}
		if n != 1 {
			t.Errorf("%s: %d argon2id hashes, want 1", c.name, n)
		}
	}
	if n := len(st.get(t, "alice").Backup.Codes); n != 9 {
		t.Errorf("%d codes left, want 9", n)
	}
}

// Codes made before selectors, and imported scratch codes, keep the old
// check: every stored code of the kind is hashed, so the time says nothing
// about which one matched.
func TestBackupOldCodesHashEveryCode(t *testing.T) {
	st := newMemStore()
	f := backupUser(t, st, 3, []string{"abcde-fghjk", "zzzzz-zzzzz", "00000-11111"}, []string{"12345678", "87654321"})
	for _, c := range []struct {
		code string
		ok   bool
		want int
	}{
		{"zzzzz-zzzzz", true, 3},
		{"zzzzz-zzzzy", false, 2}, // one base32 code fewer now
		{"87654321", true, 2},
		{"87654321", false, 1},
	} {
		done := countHashes(t)
		out, err := f.Check(context.Background(), c.code)
		if n := done(); err != nil || out.OK != c.ok || n != c.want {
			t.Errorf("%s: Check = %+v, %v after %d hashes; want OK %v after %d", c.code, out, err, n, c.ok, c.want)
		}
	}
}

// BenchmarkBackupCheck10 is one login typing a wrong backup code against a
// full set of 10 with selectors: one hash, as for a right code.
func BenchmarkBackupCheck10(b *testing.B) {
	codes, set, err := GenerateBackupCodes(10, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	st := newMemStore()
	st.put(b, "alice", &store.UserState{Version: store.FormatVersion, Backup: set})
	f := NewBackup(st, "alice", 3, set)
	wrong := "zzzz-zzzz-zzzz"
	for _, c := range codes {
		if c == wrong {
			b.Skip("generated the probe code")
		}
	}
	for b.Loop() {
		if out, err := f.Check(context.Background(), wrong); err != nil || out.OK {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkBackupHash is one argon2id hash at DefaultBackupParams.
func BenchmarkBackupHash(b *testing.B) {
	for b.Loop() {
		if _, err := HashBackupCode(BackupKindBase32, "abcde-fghjk", DefaultBackupParams); err != nil {
			b.Fatal(err)
		}
	}
}
