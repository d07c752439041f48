package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/logingate/logingate/internal/privilege"
)

// PublicKey is a key sshd accepted for this login.
type PublicKey struct {
	Type string // as sshd names it: "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", ...
	Blob []byte
}

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l prints it:
// "SHA256:" and the unpadded base64 of the hash of the blob.
func (k PublicKey) Fingerprint() string {
	sum := sha256.Sum256(k.Blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// isCertificate reports whether the key is an OpenSSH certificate.
func (k PublicKey) isCertificate() bool { return strings.HasSuffix(k.Type, "-cert-v01@openssh.com") }

// maxAuthInfo bounds the SSH_USER_AUTH file.
const maxAuthInfo = 64 << 10

// AuthKeys reads the public keys sshd accepted from the file SSH_USER_AUTH
// names (sshd_config ExposeAuthInfo yes), one per "publickey TYPE BASE64"
// line, in order. With the variable unset or empty it returns no keys and no
// error: sshd does not say which key was used. A file that is named but
// cannot be read or holds a malformed publickey line is an error. The file
// is opened with the caller's own rights (privilege.AsCaller): its name comes
// from the environment.
func AuthKeys(env []string) ([]PublicKey, error) {
	path, _ := lookupEnv(env, "SSH_USER_AUTH")
	if path == "" {
		return nil, nil
	}
	var data []byte
	err := privilege.AsCaller(func() error {
		var err error
		data, err = readBounded(path, maxAuthInfo)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("SSH_USER_AUTH: %w", err)
	}
	var keys []PublicKey
	for n, line := range strings.Split(string(data), "\n") {
		method, rest, _ := strings.Cut(line, " ")
		if method != "publickey" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return nil, fmt.Errorf("SSH_USER_AUTH: line %d: publickey without a key", n+1)
		}
		blob, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			return nil, fmt.Errorf("SSH_USER_AUTH: line %d: key is not valid base64", n+1)
		}
		if inner, ok := blobType(blob); !ok || (inner != f[0] && keyTypes[f[0]] != inner) {
			return nil, fmt.Errorf("SSH_USER_AUTH: line %d: malformed key", n+1)
		}
		keys = append(keys, PublicKey{Type: f[0], Blob: blob})
	}
	return keys, nil
}

// readBounded reads a regular file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}

// KeyLookup is what the user's authorized_keys files, and the
// certificates among the keys, say about the keys sshd accepted.
type KeyLookup struct {
	// Found: some line in the files authorizes one of the keys: the key's
	// own line, or for a certificate a cert-authority line of its CA. A
	// key not found came from elsewhere (AuthorizedKeysCommand, a
	// certificate through sshd_config TrustedUserCAKeys) and carries no
	// authorized_keys restriction logingate can see.
	Found bool
	// Command is the line's command="..." option, when HasCommand.
	Command    string
	HasCommand bool
	// Where is "FILE:LINE" of the first matching line.
	Where string
	// Certificates are the certificates among the keys, in order.
	Certificates []*Certificate
}

// Forced returns the command sshd itself would run for this login, were
// its ForceCommand not in the way: the matching lines' command= and the
// certificates' force-command. Where both are set they must be the same
// (OpenSSH's sshauthopt_merge refuses the login otherwise); two
// certificates with different force-commands are an error for the same
// reason. A conflict is an error, never a choice of the less restrictive.
func (l KeyLookup) Forced() (command string, ok bool, err error) {
	var cert *Certificate
	for _, c := range l.Certificates {
		if !c.HasForceCommand {
			continue
		}
		if cert != nil && c.ForceCommand != cert.ForceCommand {
			return "", false, errors.New("the certificates used for this login have different force-command options")
		}
		cert = c
	}
	switch {
	case cert != nil && l.HasCommand && cert.ForceCommand != l.Command:
		return "", false, fmt.Errorf("the certificate's force-command and the command= option on %s differ, and neither may win", l.Where)
	case cert != nil:
		return cert.ForceCommand, true, nil
	case l.HasCommand:
		return l.Command, true, nil
	}
	return "", false, nil
}

// maxKeysFile bounds one authorized_keys file.
const maxKeysFile = 4 << 20

// expandKeysFile expands one AuthorizedKeysFile pattern for u as sshd does:
// %h the home directory, %u the user name, %U the uid, %% a percent sign;
// a relative result is taken below the home directory. "none" names no
// file ("").
func expandKeysFile(pattern string, u *User) (string, error) {
	if pattern == "none" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(pattern) {
			return "", errors.New(`authorized keys file pattern ends with "%"`)
		}
		i++
		switch pattern[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(u.Home)
		case 'u':
			b.WriteString(u.Name)
		case 'U':
			b.WriteString(strconv.Itoa(u.UID))
		default:
			return "", fmt.Errorf(`authorized keys file pattern has an unknown token "%%%c"`, pattern[i])
		}
	}
	p := b.String()
	if !filepath.IsAbs(p) {
		p = filepath.Join(u.Home, p)
	}
	return p, nil
}

// LookupKeys finds keys in u's authorized_keys files (patterns as
// expandKeysFile takes them), read with the caller's own rights. Missing files
// are skipped; unreadable files, unparsable certificates and unparsable lines
// that hold one of the keys are errors. Certificates match cert-authority
// lines as in sshd (authorizedBy). Lines that authorize the keys must agree on
// command=, since logingate does not evaluate from= or expiry-time to pick one.
// The rules, and what logingate does not see: docs/DESIGN.md, "Authorized keys".
func LookupKeys(u *User, patterns []string, keys []PublicKey) (KeyLookup, error) {
	var res KeyLookup
	if len(keys) == 0 {
		return res, nil
	}
	certs := make([]*Certificate, len(keys))
	for i, k := range keys {
		if !k.isCertificate() {
			continue
		}
		c, err := k.certificate()
		if err != nil {
			return KeyLookup{}, fmt.Errorf("the key used for this login: %w", err)
		}
		certs[i] = c
		res.Certificates = append(res.Certificates, c)
	}
	// authorizes reports whether line l accepts one of the keys.
	authorizes := func(l *authorizedKey) bool {
		for i, k := range keys {
			if c := certs[i]; c != nil {
				if c.authorizedBy(l, u.Name) {
					return true
				}
			} else if !l.CertAuthority && bytes.Equal(l.Blob, k.Blob) {
				return true
			}
		}
		return false
	}
	// mentioned reports whether an unparsable line names a key that
	// could authorize the login.
	mentioned := func(e *keyLineError) bool {
		for i, k := range keys {
			blob := k.Blob
			if certs[i] != nil {
				blob = certs[i].CA.Blob
			}
			if e.Mentions(blob) {
				return true
			}
		}
		return false
	}
	var firstWhere string
	for _, pat := range patterns {
		path, err := expandKeysFile(pat, u)
		if err != nil {
			return KeyLookup{}, err
		}
		if path == "" {
			continue
		}
		var data []byte
		err = privilege.AsCaller(func() error {
			var err error
			data, err = readBounded(path, maxKeysFile)
			return err
		})
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return KeyLookup{}, fmt.Errorf("cannot read %s: %w", path, err)
		}
		lines, bad := parseAuthorizedKeys(data)
		for _, e := range bad {
			if mentioned(e) {
				return KeyLookup{}, fmt.Errorf("%s: %w; it holds the key used for this login, so its restrictions are unknown", path, e)
			}
		}
		for _, l := range lines {
			if !authorizes(l.authorizedKey) {
				continue
			}
			where := fmt.Sprintf("%s:%d", path, l.Line)
			if !res.Found {
				res.Found, res.Command, res.HasCommand, res.Where = true, l.Command, l.HasCommand, where
				firstWhere = where
				continue
			}
			if l.HasCommand != res.HasCommand || l.Command != res.Command {
				return KeyLookup{}, fmt.Errorf("the key used for this login is on %s and %s with different command= options; sshd's choice between them cannot be told", firstWhere, where)
			}
		}
	}
	return res, nil
}

// ForceCommand makes command the session's command, as sshd does for a
// key's command="..." option: it runs through the user's shell instead of
// what the client asked for (or the login shell), and SSH_ORIGINAL_COMMAND
// stays in the environment for it to read. Exec is unchanged.
func (s *Session) ForceCommand(command string) {
	s.Command, s.HasCommand = command, true
}

// RunsFile reports whether command (a key's command= option) names the
// file exe as one of its words, as a path (a relative one below home) or a
// name found in env's PATH. A key whose command is the gate itself
// (authorized_keys command="logingate ...", the personal setup) was already
// honoured by sshd: it is what is running, and there is nothing to force.
func RunsFile(command, exe string, env []string, home string) bool {
	want, err := os.Stat(exe)
	if err != nil {
		return false
	}
	path, ok := lookupEnv(env, "PATH")
	if !ok || path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	dirs := filepath.SplitList(path)
	words := strings.FieldsFunc(command, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || strings.ContainsRune(";&|()<>'\"`", r)
	})
	same := func(p string) bool {
		if !filepath.IsAbs(p) {
			p = filepath.Join(home, p)
		}
		fi, err := os.Stat(p)
		return err == nil && os.SameFile(fi, want)
	}
	for i, w := range words {
		if i == 64 {
			break
		}
		if strings.Contains(w, "/") {
			if same(w) {
				return true
			}
			continue
		}
		for j, d := range dirs {
			if j == 64 {
				break
			}
			if d != "" && same(filepath.Join(d, w)) {
				return true
			}
		}
	}
	return false
}
