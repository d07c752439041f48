package factors

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/logingate/logingate/internal/store"
)

// Backup codes: 12 characters from Crockford's base32 alphabet, shown as
// "xxxx-xxxx-xxxx". The first two (10 bits) are the code's selector: public,
// unique within a set, they name the stored hash to check, so that a check
// costs one argon2id hash whatever the number of codes; the other ten carry
// 50 random bits. Each code is stored only as an argon2id hash of all 12
// characters with a random salt of its own.
//
// Codes made before selectors (10 characters, kind "base32") and imported
// google-authenticator scratch codes (8 digits, kind "numeric") have no slot:
// they keep the old check, one hash per stored code of the kind, until the
// user regenerates them.
const (
	BackupScheme       = "argon2id"
	BackupKindBase32   = "base32"
	BackupKindNumeric  = "numeric"
	BackupKindSelector = "selector"

	backupCodeLen   = 10 // a code made before selectors
	selectorLen     = 2
	selectorCodeLen = selectorLen + 10
	numericCodeLen  = 8
	backupSaltLen   = 16
	backupHashLen   = 32
	maxBackupCodes  = 100
)

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// DefaultBackupParams is the argon2id cost of new backup-code hashes: the
// most memory and passes whose check of 10 old-style codes stays well under
// 50 ms in a freshly started gate on 2 cores, where fresh memory costs page
// faults. The measurements that chose it are in docs/BENCHMARKS.md
// ("Backup-code hash cost").
var DefaultBackupParams = store.HashParams{Time: 3, MemKiB: 1024, Threads: 2}

// idKey is argon2.IDKey; tests count the hashes a check makes through it.
var idKey = argon2.IDKey

// Limits on parameters read from a state record, so that a corrupt or hostile
// record cannot make a login allocate gigabytes or spin for minutes.
const (
	maxHashTime   = 16
	maxHashMemKiB = 64 * 1024
	maxHashLanes  = 4
)

// backupFactor checks backup codes for one user.
type backupFactor struct {
	st         store.Store
	user       string
	warnBelow  int
	hasNumeric bool // the snapshot holds imported 8-digit scratch codes
}

// NewBackup returns the backup-code factor for user. A notice after use
// becomes a warning when fewer than warnBelow codes remain. b is the state as
// loaded for the menu; Accepts uses it, Check reads the current state under
// the store's lock.
func NewBackup(st store.Store, user string, warnBelow int, b *store.Backup) Factor {
	f := &backupFactor{st: st, user: user, warnBelow: warnBelow}
	if b != nil {
		for _, c := range b.Codes {
			if c.Kind == BackupKindNumeric {
				f.hasNumeric = true
			}
		}
	}
	return f
}

func (f *backupFactor) Name() string   { return "backup" }
func (f *backupFactor) Label() string  { return "Backup code" }
func (f *backupFactor) Traits() Traits { return Traits{} }

// Accepts reports whether code has the shape of one of our backup codes, or
// of an imported scratch code when the user has any.
func (f *backupFactor) Accepts(code string) bool {
	kind, _, ok := normaliseBackupCode(code)
	return ok && (kind != BackupKindNumeric || f.hasNumeric)
}

// Check hashes code against every stored code of its kind, removes the
// matching one and persists that before reporting success, all under one
// Update, so of several logins racing with the same code exactly one wins.
func (f *backupFactor) Check(ctx context.Context, code string) (Outcome, error) {
	if _, _, ok := normaliseBackupCode(code); !ok {
		return Outcome{Reason: ReasonWrong}, nil // not worth the lock
	}
	return checkLocal(ctx, f.st, f.user, f, code, time.Now)
}

// Verify checks code and on a match removes that code from st. On failure
// st is unchanged. A code with a selector is hashed once, against its
// slot's hash, or against a stand-in when no slot has that selector, so a
// wrong code costs what a right one does. A code without one is hashed
// against every stored code of its kind (always all of them, so the time
// taken says nothing about which one matched).
func (f *backupFactor) Verify(st *store.UserState, code string, _ time.Time) (Outcome, error) {
	kind, norm, ok := normaliseBackupCode(code)
	b := st.Backup
	if !ok || b == nil || len(b.Codes) == 0 {
		return Outcome{Reason: ReasonWrong}, nil
	}
	find := findBackupCode
	if kind == BackupKindSelector {
		find = findSelectorCode
	}
	match, err := find(b, kind, norm)
	if err != nil {
		return Outcome{}, fmt.Errorf("backup code: %w", err)
	}
	if match < 0 {
		return Outcome{Reason: ReasonWrong}, nil
	}
	codes := make([]store.BackupHash, 0, len(b.Codes)-1)
	codes = append(codes, b.Codes[:match]...)
	b.Codes = append(codes, b.Codes[match+1:]...)
	out := Outcome{OK: true}
	out.Notice, out.Warn = backupNotice(len(b.Codes), f.warnBelow)
	return out, nil
}

// findBackupCode returns the index of the stored code of kind matching norm,
// or -1. Every code of that kind is hashed and compared in constant time.
func findBackupCode(b *store.Backup, kind string, norm []byte) (int, error) {
	if err := checkBackup(b); err != nil {
		return -1, err
	}
	match := -1
	for i, c := range b.Codes {
		if c.Kind != kind {
			continue
		}
		if err := checkBackupHash(c); err != nil {
			return -1, err
		}
		h := idKey(norm, c.Salt, b.Params.Time, b.Params.MemKiB, b.Params.Threads, uint32(len(c.Hash)))
		eq := subtle.ConstantTimeCompare(h, c.Hash)
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	return match, nil
}

// findSelectorCode returns the index of the stored code whose selector
// starts norm and whose hash matches, or -1. The selector is public, so
// finding its slot need not hide anything; the hash is computed once in
// every case, and compared in constant time.
func findSelectorCode(b *store.Backup, _ string, norm []byte) (int, error) {
	if err := checkBackup(b); err != nil {
		return -1, err
	}
	slot := -1
	for i, c := range b.Codes {
		if c.Kind == BackupKindSelector && c.Selector == string(norm[:selectorLen]) {
			slot = i
			break
		}
	}
	// No slot: hash against a stand-in of the same size, so that the time
	// is a right code's.
	salt, want := make([]byte, backupSaltLen), make([]byte, backupHashLen)
	if slot >= 0 {
		c := b.Codes[slot]
		if err := checkBackupHash(c); err != nil {
			return -1, err
		}
		salt, want = c.Salt, c.Hash
	}
	h := idKey(norm, salt, b.Params.Time, b.Params.MemKiB, b.Params.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(h, want) == 1 && slot >= 0 {
		return slot, nil
	}
	return -1, nil
}

// checkBackup refuses a record logingate cannot check codes against.
func checkBackup(b *store.Backup) error {
	if b.Scheme != BackupScheme {
		return errors.New("unsupported backup code scheme")
	}
	return checkHashParams(b.Params)
}

// checkBackupHash refuses a stored hash of a size logingate never writes.
func checkBackupHash(c store.BackupHash) error {
	if len(c.Salt) < 8 || len(c.Salt) > 64 || len(c.Hash) < 16 || len(c.Hash) > 64 {
		return errors.New("malformed backup code hash in state")
	}
	return nil
}

func backupNotice(left, warnBelow int) (string, bool) {
	const regen = "run 'logingate backup-codes --regenerate' for a new set"
	switch {
	case left == 0:
		return "that was your last backup code: " + regen, true
	case left < warnBelow:
		return codesLeft(left) + ": " + regen, true
	}
	return codesLeft(left), false
}

func codesLeft(n int) string {
	if n == 1 {
		return "1 backup code left"
	}
	return fmt.Sprintf("%d backup codes left", n)
}

// normaliseBackupCode classifies code and returns the bytes that are hashed:
// for our codes the 12 (or, made before selectors, 10) upper-case Crockford
// characters (dashes and spaces dropped, any case, o read as 0, i and l as
// 1), for scratch codes the 8 digits. ok is false for anything else.
func normaliseBackupCode(code string) (kind string, norm []byte, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) > 32 {
		return "", nil, false
	}
	if len(code) == numericCodeLen && allDigits(code) {
		return BackupKindNumeric, []byte(code), true
	}
	out := make([]byte, 0, selectorCodeLen)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 || len(out) == selectorCodeLen {
			return "", nil, false
		}
		out = append(out, c)
	}
	switch len(out) {
	case selectorCodeLen:
		return BackupKindSelector, out, true
	case backupCodeLen:
		return BackupKindBase32, out, true
	}
	return "", nil, false
}

// GenerateBackupCodes makes n new backup codes from crypto/rand, each with
// a selector of its own. It returns them in display form ("xxxx-xxxx-xxxx",
// lower case) to be shown once, and their hashes to be stored.
func GenerateBackupCodes(n int, now time.Time) (codes []string, b *store.Backup, err error) {
	return generateBackupCodes(n, now, DefaultBackupParams)
}

func generateBackupCodes(n int, now time.Time, p store.HashParams) (codes []string, b *store.Backup, err error) {
	if n < 1 || n > maxBackupCodes {
		return nil, nil, fmt.Errorf("backup code count %d out of range 1..%d", n, maxBackupCodes)
	}
	b = &store.Backup{Scheme: BackupScheme, Params: p, Created: now}
	selectors := make(map[string]bool, n)
	raw := make([]byte, selectorCodeLen)
	for len(codes) < n {
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, fmt.Errorf("backup codes: %w", err)
		}
		for i, r := range raw {
			raw[i] = crockford[r&31] // 32 symbols: 5 bits each, no bias
		}
		sel := string(raw[:selectorLen])
		if selectors[sel] {
			continue // one code per slot; 1024 slots, at most 100 codes
		}
		selectors[sel] = true
		h, err := hashBackup(BackupKindSelector, raw, b.Params)
		if err != nil {
			return nil, nil, err
		}
		h.Selector = sel
		b.Codes = append(b.Codes, h)
		s := strings.ToLower(string(raw))
		codes = append(codes, s[:4]+"-"+s[4:8]+"-"+s[8:])
	}
	return codes, b, nil
}

// HashBackupCode hashes one code of kind (BackupKindBase32 or
// BackupKindNumeric) with a fresh salt, for importers. The code must have
// the kind's shape.
func HashBackupCode(kind, code string, p store.HashParams) (store.BackupHash, error) {
	k, norm, ok := normaliseBackupCode(code)
	if !ok || k != kind {
		return store.BackupHash{}, fmt.Errorf("not a %s backup code", kind)
	}
	return hashBackup(kind, norm, p)
}

func hashBackup(kind string, norm []byte, p store.HashParams) (store.BackupHash, error) {
	if err := checkHashParams(p); err != nil {
		return store.BackupHash{}, err
	}
	salt := make([]byte, backupSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return store.BackupHash{}, fmt.Errorf("backup code salt: %w", err)
	}
	h := idKey(norm, salt, p.Time, p.MemKiB, p.Threads, backupHashLen)
	return store.BackupHash{Kind: kind, Salt: salt, Hash: h}, nil
}

func checkHashParams(p store.HashParams) error {
	if p.Time < 1 || p.Time > maxHashTime ||
		p.Threads < 1 || p.Threads > maxHashLanes ||
		p.MemKiB < 8*uint32(p.Threads) || p.MemKiB > maxHashMemKiB {
		return fmt.Errorf("argon2id parameters out of range (time 1..%d, threads 1..%d, memory 8*threads..%d KiB)",
			maxHashTime, maxHashLanes, maxHashMemKiB)
	}
	return nil
}
