package session

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// An authorized_keys line, as sshd reads it (sshd(8) "AUTHORIZED_KEYS FILE
// FORMAT"): optional options, a key type, the base64 key, an optional
// comment. Options are comma-separated, "name" or name="value"; inside a
// value, \" is a quote and any other backslash is kept as it is; the options
// field ends at the first space or tab outside quotes. sshd first tries to
// read a key at the start of the line and takes the first word as options
// only when that fails, and it refuses a line whose options it does not
// know, so a key on such a line is not authorized by it. Parsed here, not
// with golang.org/x/crypto/ssh, to keep that package off the login path.

// authorizedKey is one key line of an authorized_keys file.
type authorizedKey struct {
	Type    string // as written: "ssh-ed25519", "sk-ssh-ed25519@openssh.com", ...
	Blob    []byte // the decoded key
	Comment string

	// Command is the command="..." option, dequoted, when HasCommand.
	Command    string
	HasCommand bool
	// CertAuthority marks a cert-authority line: it trusts certificates
	// signed by the key, it does not authorize the key itself.
	CertAuthority bool
	// Options are every option in order, names lower-cased.
	Options []keyOption
}

// keyOption is one option of an authorized_keys line.
type keyOption struct {
	Name     string // lower case
	Value    string // dequoted
	HasValue bool
}

// maxKeyLine bounds one authorized_keys line; sshd's own longest keys
// (RSA 16384 bits, certificates) are well below it.
const maxKeyLine = 64 << 10

// keyTypes maps each key type name sshd reads to the type its blob must
// name. The rsa-sha2-* names are signature algorithms that sshd also takes
// as the key type of an RSA key.
var keyTypes = map[string]string{
	"ssh-rsa":                            "ssh-rsa",
	"rsa-sha2-256":                       "ssh-rsa",
	"rsa-sha2-512":                       "ssh-rsa",
	"ssh-dss":                            "ssh-dss",
	"ecdsa-sha2-nistp256":                "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384":                "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521":                "ecdsa-sha2-nistp521",
	"ssh-ed25519":                        "ssh-ed25519",
	"ssh-xmss@openssh.com":               "ssh-xmss@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com": "sk-ecdsa-sha2-nistp256@openssh.com",
	"sk-ssh-ed25519@openssh.com":         "sk-ssh-ed25519@openssh.com",

	"ssh-rsa-cert-v01@openssh.com":                "ssh-rsa-cert-v01@openssh.com",
	"rsa-sha2-256-cert-v01@openssh.com":           "ssh-rsa-cert-v01@openssh.com",
	"rsa-sha2-512-cert-v01@openssh.com":           "ssh-rsa-cert-v01@openssh.com",
	"ssh-dss-cert-v01@openssh.com":                "ssh-dss-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com":    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com":    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com":    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com":            "ssh-ed25519-cert-v01@openssh.com",
	"ssh-xmss-cert-v01@openssh.com":               "ssh-xmss-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"sk-ssh-ed25519-cert-v01@openssh.com":         "sk-ssh-ed25519-cert-v01@openssh.com",
}

// shortKeyTypes are the short names sshd also accepts for a plain key, in
// any case ("ED25519 AAAA..."), with the blob types each stands for.
var shortKeyTypes = map[string][]string{
	"rsa":        {"ssh-rsa"},
	"dsa":        {"ssh-dss"},
	"ecdsa":      {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"},
	"ed25519":    {"ssh-ed25519"},
	"xmss":       {"ssh-xmss@openssh.com"},
	"ecdsa-sk":   {"sk-ecdsa-sha2-nistp256@openssh.com"},
	"ed25519-sk": {"sk-ssh-ed25519@openssh.com"},
}

// flagOptions are the options without a value; those marked true may also
// be written with "no-" in front.
var flagOptions = map[string]bool{
	"restrict": false, "cert-authority": false,
	"port-forwarding": true, "agent-forwarding": true, "x11-forwarding": true,
	"pty": true, "user-rc": true, "touch-required": true, "verify-required": true,
}

// valueOptions are the options that take a quoted value; those marked true
// may appear more than once.
var valueOptions = map[string]bool{
	"command": false, "principals": false, "from": false, "expiry-time": false, "tunnel": false,
	"environment": true, "permitopen": true, "permitlisten": true,
}

// parseAuthorizedKeyLine parses one line of an authorized_keys file. A
// blank line or a comment gives nil and no error. Errors describe the line's
// shape and never quote it.
func parseAuthorizedKeyLine(line string) (*authorizedKey, error) {
	if len(line) > maxKeyLine {
		return nil, fmt.Errorf("line longer than %d bytes", maxKeyLine)
	}
	line = strings.TrimRight(line, "\r\n")
	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return nil, nil
	}
	k, err := parseKey(rest)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, errNoKeyType) {
		// A key type first, then a broken key: sshd would read the type
		// as options next and refuse it too; say what is really wrong.
		return nil, err
	}
	opts, after, err := splitOptions(rest)
	if err != nil {
		return nil, err
	}
	k, err = parseKey(strings.TrimLeft(after, " \t"))
	if err != nil {
		return nil, err
	}
	if err := k.parseOptions(opts); err != nil {
		return nil, err
	}
	return k, nil
}

// splitOptions returns the options field at the start of s and what follows
// it, as sshd's sshkey_advance_past_options finds its end.
func splitOptions(s string) (opts, rest string, err error) {
	quoted := false
	i := 0
	for ; i < len(s) && (quoted || (s[i] != ' ' && s[i] != '\t')); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			i++
		case s[i] == '"':
			quoted = !quoted
		}
	}
	if quoted {
		return "", "", errors.New("options: unterminated quoted value")
	}
	return s[:i], s[i:], nil
}

var errNoKeyType = errors.New("no known key type")

// parseKey reads "type base64 [comment]".
func parseKey(s string) (*authorizedKey, error) {
	typ, rest := s, ""
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		typ, rest = s[:i], s[i+1:]
	}
	allowed := shortKeyTypes[strings.ToLower(typ)]
	if full, ok := keyTypes[typ]; ok {
		allowed = []string{full}
	}
	if allowed == nil {
		return nil, errNoKeyType
	}
	rest = strings.TrimLeft(rest, " \t")
	b64, comment := rest, ""
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		b64, comment = rest[:i], strings.TrimLeft(rest[i:], " \t")
	}
	if b64 == "" {
		return nil, errors.New("key type without a key")
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("key is not valid base64")
	}
	inner, ok := blobType(blob)
	if !ok {
		return nil, errors.New("key blob is malformed")
	}
	match := false
	for _, a := range allowed {
		match = match || inner == a
	}
	if !match {
		return nil, errors.New("key blob's type differs from the key type written before it")
	}
	return &authorizedKey{Type: typ, Blob: blob, Comment: comment}, nil
}

// blobType reads the type name an SSH public key blob starts with.
func blobType(blob []byte) (string, bool) {
	if len(blob) < 4 {
		return "", false
	}
	n := binary.BigEndian.Uint32(blob)
	if n == 0 || n > 64 || uint64(len(blob)-4) < uint64(n) {
		return "", false
	}
	return string(blob[4 : 4+n]), true
}

// parseOptions reads the options field as sshd's sshauthopt_parse does:
// known options only, values quoted, nothing between options but commas.
func (k *authorizedKey) parseOptions(s string) error {
	seen := map[string]bool{}
	for i := 1; ; i++ {
		end := strings.IndexAny(s, ",=")
		if end < 0 {
			end = len(s)
		}
		name := strings.ToLower(s[:end])
		o := keyOption{Name: name}
		s = s[end:]
		if strings.HasPrefix(s, "=") {
			if _, ok := valueOptions[name]; !ok {
				return fmt.Errorf("option %d: unknown option, or one that takes no value", i)
			}
			v, after, err := dequote(s[1:])
			if err != nil {
				return fmt.Errorf("option %d (%s): %w", i, name, err)
			}
			o.Value, o.HasValue, s = v, true, after
			if seen[name] && !valueOptions[name] {
				return fmt.Errorf("option %d: %s given twice", i, name)
			}
		} else if !isFlag(name) {
			if _, ok := valueOptions[name]; ok {
				return fmt.Errorf("option %d (%s): needs a quoted value", i, name)
			}
			return fmt.Errorf("option %d: unknown option", i)
		}
		seen[name] = true
		k.Options = append(k.Options, o)
		switch name {
		case "command":
			k.Command, k.HasCommand = o.Value, true
		case "cert-authority":
			k.CertAuthority = true
		}
		switch {
		case s == "":
			return nil
		case s[0] != ',':
			return fmt.Errorf("option %d: unexpected characters after it", i)
		case len(s) == 1:
			return errors.New("options end with a comma")
		}
		s = s[1:]
	}
}

func isFlag(name string) bool {
	if _, ok := flagOptions[name]; ok {
		return true
	}
	base, negated := strings.CutPrefix(name, "no-")
	return negated && flagOptions[base]
}

// dequote reads a quoted option value at the start of s: \" is a quote,
// every other byte (backslashes included) is itself.
func dequote(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New("value must start with a quote")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case s[i] == '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", errors.New("value has no closing quote")
}

// keyLineError is a line that could not be parsed.
type keyLineError struct {
	Line int
	Err  error
	// Raw is the line, kept to tell whether it names a key; never print it.
	raw string
}

func (e *keyLineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Mentions reports whether the unparsable line holds the key's base64 text:
// a line that names the key but cannot be read may carry restrictions
// logingate cannot see.
func (e *keyLineError) Mentions(blob []byte) bool {
	return strings.Contains(e.raw, base64.StdEncoding.EncodeToString(blob))
}

// numberedKey is a parsed key with the number of its line.
type numberedKey struct {
	Line int
	*authorizedKey
}

// parseAuthorizedKeys parses a whole authorized_keys file: the key lines
// with their numbers, and the lines that could not be parsed (which sshd
// skips).
func parseAuthorizedKeys(data []byte) (keys []numberedKey, bad []*keyLineError) {
	for n, line := range bytes.Split(data, []byte("\n")) {
		k, err := parseAuthorizedKeyLine(string(line))
		switch {
		case err != nil:
			bad = append(bad, &keyLineError{Line: n + 1, Err: err, raw: string(line)})
		case k != nil:
			keys = append(keys, numberedKey{n + 1, k})
		}
	}
	return keys, bad
}
