package pgstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A key file holds one key a line, "ID:BASE64", where BASE64 is 32 random
// bytes (openssl rand -base64 32) and ID names the key in the database
// (letters, digits, "-", "_" and "."; up to 32). The first key encrypts;
// every key decrypts. Blank lines and lines starting with "#" are ignored.
//
// Rotation: put a new key first, keep the old one below it, run
// `logingate store rekey` (every row is re-encrypted with the first key),
// then remove the old key from every host's file.

// Bounds on a key file.
const (
	maxKeyFile = 64 << 10
	maxKeys    = 64
	keyLen     = 32 // AES-256
)

// keyID reports whether id is 1 to 32 of [A-Za-z0-9._-]. (A byte test,
// not a regexp compiled at start-up, which every login would pay for.)
func keyID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// errNoKey marks a row encrypted with a key the key file does not hold.
var errNoKey = errors.New("encrypted with a key that is not in the key file")

// Keyring is the keys of a key file. It never prints key material.
type Keyring struct {
	ids  []string
	aead map[string]cipher.AEAD
}

// ParseKeyring reads a key file's content. Its errors name line numbers,
// never content.
func ParseKeyring(data []byte) (*Keyring, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFile)
	}
	k := &Keyring{aead: map[string]cipher.AEAD{}}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n := i + 1
		id, b64, ok := strings.Cut(line, ":")
		if !ok || !keyID(id) {
			return nil, fmt.Errorf("line %d: not ID:BASE64KEY (an ID of up to 32 letters, digits, \".\", \"-\" or \"_\")", n)
		}
		if k.aead[id] != nil {
			return nil, fmt.Errorf("line %d: key id %q is used twice", n, id)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != keyLen {
			return nil, fmt.Errorf("line %d: key %q must be %d bytes in base64 (openssl rand -base64 32)", n, id, keyLen)
		}
		if len(k.ids) == maxKeys {
			return nil, fmt.Errorf("more than %d keys", maxKeys)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		k.ids = append(k.ids, id)
		k.aead[id] = gcm
	}
	if len(k.ids) == 0 {
		return nil, errors.New("holds no key; add a line ID:BASE64KEY (openssl rand -base64 32)")
	}
	return k, nil
}

// primary is the id of the key that encrypts.
func (k *Keyring) primary() string { return k.ids[0] }

// allIDs lists the key ids, the primary first.
func (k *Keyring) allIDs() []string { return append([]string(nil), k.ids...) }

// String prints the ids alone.
func (k *Keyring) String() string { return "keyring[" + strings.Join(k.ids, ",") + "]" }

// GoString is String.
func (k *Keyring) GoString() string { return k.String() }

// seal encrypts a TOTP secret for user with the primary key: a 12-byte
// random nonce followed by the AES-256-GCM ciphertext, the user's name as
// associated data, so that a ciphertext moved to another user's row does
// not open.
func (k *Keyring) seal(user string, secret []byte) (id string, box []byte) {
	id = k.ids[0]
	a := k.aead[id]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(secret)+a.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return id, a.Seal(nonce, nonce, secret, []byte(user))
}

// open decrypts what seal made for user with key id.
func (k *Keyring) open(user, id string, box []byte) ([]byte, error) {
	a := k.aead[id]
	if a == nil {
		return nil, fmt.Errorf("totp secret %w (key id %q)", errNoKey, id)
	}
	if len(box) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("totp secret: ciphertext too short")
	}
	plain, err := a.Open(nil, box[:a.NonceSize()], box[a.NonceSize():], []byte(user))
	if err != nil {
		return nil, fmt.Errorf("totp secret does not decrypt with key %q (wrong key, or the row was altered or moved)", id)
	}
	return plain, nil
}
