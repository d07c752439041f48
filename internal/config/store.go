package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/privilege"
)

// Store selects and configures the state backend: the file backend in
// state_dir (the default), or PostgreSQL shared by a fleet of hosts.
type Store struct {
	Backend Backend `mapstructure:"backend"`
	// DSN is the PostgreSQL connection string or URL; it may hold a
	// password, so it is never printed (see String). DSNFile names a file
	// holding it instead (exclusive with DSN), read with the checks of
	// duo.skey_file; Load fills DSN from it.
	DSN     string `mapstructure:"dsn"`
	DSNFile string `mapstructure:"dsn_file"`
	// KeyFile holds the keys that encrypt TOTP secrets in the database,
	// "ID:BASE64" a line, the first one encrypting; readable by root and
	// the logingate group alone. Load reads it into Keys.
	KeyFile string `mapstructure:"key_file"`
	Keys    []byte `mapstructure:"-"`
	// Timeout bounds connecting and each statement; a database slower
	// than that is unavailable, and failmode decides.
	Timeout time.Duration `mapstructure:"timeout"`
	// Host is recorded with every change (updated_by_host); default the
	// host name.
	Host string `mapstructure:"host"`
}

// Bounds on the store section.
const (
	maxDSNFile = 4096
	maxKeyFile = 64 << 10
)

// defaultStore is the store section's defaults.
func defaultStore(hostname string) Store {
	return Store{Backend: BackendFile, Timeout: 3 * time.Second, Host: hostname}
}

// String prints s without the DSN's password or the keys.
func (s Store) String() string {
	return fmt.Sprintf("{Backend:%s DSN:%s DSNFile:%s KeyFile:%s Keys:%d bytes Timeout:%s Host:%s}",
		s.Backend, RedactDSN(s.DSN), s.DSNFile, s.KeyFile, len(s.Keys), s.Timeout, s.Host)
}

// GoString is String, for %#v.
func (s Store) GoString() string { return "config.Store" + s.String() }

// dsnSecret names the connection settings that hold a secret.
var dsnSecret = map[string]bool{"password": true, "sslpassword": true}

// RedactDSN returns a DSN fit to print: every password and sslpassword
// replaced, in a URL's user info and query as in key=value settings; ""
// stays "". A DSN it cannot read is all redacted.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if isDSNURL(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "REDACTED"
		}
		if _, set := u.User.Password(); set {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		q := u.Query()
		changed := false
		for k := range q {
			if dsnSecret[k] {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	settings, ok := dsnSettings(dsn)
	if !ok {
		return "REDACTED"
	}
	out := make([]string, len(settings))
	for i, kv := range settings {
		if dsnSecret[kv[0]] {
			kv[1] = "REDACTED"
		}
		out[i] = kv[0] + "=" + kv[1]
	}
	return strings.Join(out, " ")
}

// dsnHasPassword reports a DSN that carries a password (or one it cannot
// read, which may).
func dsnHasPassword(dsn string) bool {
	if dsn == "" {
		return false
	}
	if isDSNURL(dsn) {
		return RedactDSN(dsn) != dsn
	}
	settings, ok := dsnSettings(dsn)
	if !ok {
		return true
	}
	return slices.ContainsFunc(settings, func(kv [2]string) bool { return dsnSecret[kv[0]] })
}

func isDSNURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// dsnSettings splits a key=value connection string as libpq reads it:
// spaces around "=" allowed, a value in single quotes or bare, a backslash
// escaping the next character. Each value is returned as written.
func dsnSettings(dsn string) (settings [][2]string, ok bool) {
	s := dsn
	skip := func() { s = strings.TrimLeft(s, " \t\n\r\v\f") }
	for skip(); s != ""; skip() {
		eq := strings.IndexAny(s, "= \t\n\r\v\f")
		if eq <= 0 {
			return nil, false
		}
		key := s[:eq]
		s = s[eq:]
		skip()
		if !strings.HasPrefix(s, "=") {
			return nil, false
		}
		s = s[1:]
		skip()
		i, quoted := 0, strings.HasPrefix(s, "'")
		if quoted {
			i = 1
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' {
				i++
				continue
			}
			if quoted && c == '\'' && i > 0 {
				i++
				break
			}
			if !quoted && strings.IndexByte(" \t\n\r\v\f", c) >= 0 {
				break
			}
		}
		if i > len(s) || quoted && (i < 2 || s[i-1] != '\'') {
			return nil, false
		}
		settings = append(settings, [2]string{key, s[:i]})
		s = s[i:]
	}
	return settings, true
}

// resolve reads DSNFile into DSN and KeyFile into Keys for the postgres
// backend, with duo.skey_file's checks.
func (s *Store) resolve(p *problems) {
	if s.Backend != BackendPostgres {
		return
	}
	if s.DSN != "" && s.DSNFile != "" {
		p.add("store.dsn_file", 0, "set together with store.dsn; keep one (dsn_file keeps a password out of this file)")
	} else if s.DSNFile != "" && filepath.IsAbs(s.DSNFile) {
		if data, ok := readSecretFile(p, "store.dsn_file", s.DSNFile, "store.dsn"); ok {
			dsn := strings.TrimSpace(string(data))
			switch {
			case len(data) > maxDSNFile:
				p.add("store.dsn_file", 0, "%s: larger than %d bytes", s.DSNFile, maxDSNFile)
			case dsn == "":
				p.add("store.dsn_file", 0, "%s: is empty; write the connection string (or postgres:// URL) into it", s.DSNFile)
			case strings.ContainsAny(dsn, "\n\r"):
				p.add("store.dsn_file", 0, "%s: must hold the connection string alone, on one line", s.DSNFile)
			default:
				s.DSN = dsn
			}
		}
	}
	if s.KeyFile != "" && filepath.IsAbs(s.KeyFile) {
		data, ok := readSecretFile(p, "store.key_file", s.KeyFile, "the store's encryption keys")
		if len(data) > maxKeyFile {
			p.add("store.key_file", 0, "%s: larger than %d bytes", s.KeyFile, maxKeyFile)
		} else if ok {
			s.Keys = data
		}
	}
	s.checkDSNFiles(p)
	s.checkDSNSockets(p)
}

// dsnKey is the key a problem with the DSN names: where it was written.
func (s *Store) dsnKey() string {
	if s.DSNFile != "" {
		return "store.dsn_file"
	}
	return "store.dsn"
}

// pgDefaultSocketDirs is where the driver looks for the server's socket
// when the DSN names no host: the first of them that exists (pgconn's
// defaultHost), or TCP to localhost when none does.
var pgDefaultSocketDirs = []string{"/var/run/postgresql", "/private/tmp", "/tmp"}

// checkDSNSockets puts each socket directory the DSN names, or the one the
// driver falls back to when it names no host, under the path-trust rule
// for a socket (privilege.CheckSocketDir): where others can bind the
// socket's name, as in /tmp while the server is down, the gate would send
// them the DSN's password.
func (s *Store) checkDSNSockets(p *problems) {
	if s.DSN == "" {
		return
	}
	key := s.dsnKey()
	dirs, named := dsnSocketDirs(s.DSN)
	if !named {
		for _, d := range pgDefaultSocketDirs {
			if _, err := os.Stat(d); err == nil {
				dirs = append(dirs, d)
				break
			}
		}
	}
	for _, d := range dirs {
		if err := privilege.CheckSocketDir(d, rootNamed()); err != nil {
			var u *privilege.Unsafe
			if !errors.As(err, &u) {
				continue // missing: the server is unreachable, and failmode decides
			}
			msg := u.Error()
			if !named {
				msg += "; the connection string names no host, and the driver uses that directory: name the host"
			}
			p.add(key, 0, "host %s: %s", d, msg)
		}
	}
}

// dsnSocketDirs returns the unix socket directories dsn names as hosts, and
// whether it names any host at all (a URL it cannot read may).
func dsnSocketDirs(dsn string) (dirs []string, named bool) {
	params, ok := dsnParams(dsn)
	if !ok && isDSNURL(dsn) {
		return nil, true
	}
	for _, kv := range params {
		if kv[0] != "host" {
			continue
		}
		for _, h := range strings.Split(kv[1], ",") {
			named = named || h != ""
			if strings.HasPrefix(h, "/") {
				dirs = append(dirs, h)
			}
		}
	}
	return dirs, named
}

// dsnFileKeys are the connection settings naming a file that the driver
// reads itself, by name, when it parses the DSN.
var dsnFileKeys = map[string]bool{"sslrootcert": true, "sslcert": true, "sslkey": true, "passfile": true, "servicefile": true}

// checkDSNFiles puts each file the DSN names under the one path-trust rule,
// as a secret file or cafile that root's config names: the driver opens
// them by name after this, so a path that passes (root's along its whole
// length, links included) is one only root can change between the two. A
// relative path would be found from the caller's working directory.
func (s *Store) checkDSNFiles(p *problems) {
	key := s.dsnKey()
	for _, kv := range dsnFiles(s.DSN) {
		name, path := kv[0], kv[1]
		switch {
		case name == "sslrootcert" && path == "system":
			continue
		case !filepath.IsAbs(path):
			p.add(key, 0, "%s %s: must be an absolute path", name, path)
			continue
		}
		probs, err := privilege.Check(path, rootNamed())
		if err != nil {
			p.add(key, 0, "%s: %s", name, err)
		}
		for _, u := range probs {
			p.add(key, 0, "%s %s: %s", name, path, u.Error())
		}
	}
}

// dsnFiles returns the settings of dsn that name a file, as setting, path
// pairs. A DSN it cannot read names none; the driver refuses it.
func dsnFiles(dsn string) [][2]string {
	var out [][2]string
	params, _ := dsnParams(dsn)
	for _, kv := range params {
		if dsnFileKeys[kv[0]] && kv[1] != "" {
			out = append(out, kv)
		}
	}
	return out
}

// dsnParams returns dsn's settings as the driver reads them, values
// unquoted: a URL's host (as "host") and query, or the key=value pairs.
// ok is false for a DSN it cannot read.
func dsnParams(dsn string) (params [][2]string, ok bool) {
	if !isDSNURL(dsn) {
		params, ok = dsnSettings(dsn)
		for i := range params {
			params[i][1] = dsnUnquote(params[i][1])
		}
		return params, ok
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, false
	}
	if h, err := url.PathUnescape(u.Host); err == nil && h != "" {
		params = append(params, [2]string{"host", h})
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			params = append(params, [2]string{k, v})
		}
	}
	return params, true
}

// dsnUnquote is a key=value setting's value as written (see dsnSettings)
// as the driver reads it: without its quotes, each backslash escaping the
// next character.
func dsnUnquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// readSecretFile reads the file at path, which holds the secret what
// names, for the key that names it: checked along its path, and readable
// by root and the logingate group alone. The caller bounds its size.
func readSecretFile(p *problems, key, path, what string) ([]byte, bool) {
	data, meta, err := readChecked(path, true, rootNamed())
	if err != nil {
		p.add(key, 0, "%s", fileProblem(err))
		return nil, false
	}
	if msg := checkSecretMode(meta, what); msg != "" {
		p.add(key, 0, "%s: %s", path, msg)
		return nil, false
	}
	return data, true
}

// checkPath checks a path the config names: absolute, and free of control
// characters. It reports whether it is.
func checkPath(p *problems, key, path string) bool {
	switch {
	case !filepath.IsAbs(path):
		p.add(key, 0, "must be an absolute path")
	case hasControl(path):
		p.add(key, 0, "must not contain control characters")
	default:
		return true
	}
	return false
}

// validateStore checks the store section.
func (c *Config) validateStore(p *problems) {
	s := c.Store
	oneOf(p, "store.backend", s.Backend, storeBackends)
	durRange(p, "store.timeout", s.Timeout, 100*time.Millisecond, time.Minute)
	if len(s.Host) > 255 || hasControl(s.Host) {
		p.add("store.host", 0, "must be at most 255 printable characters")
	}
	for _, f := range []struct{ key, path string }{{"store.dsn_file", s.DSNFile}, {"store.key_file", s.KeyFile}} {
		if f.path != "" {
			checkPath(p, f.key, f.path)
		}
	}
	if s.Backend != BackendPostgres {
		if s.DSN != "" || s.DSNFile != "" || s.KeyFile != "" {
			p.add("store.backend", 0, "is %q, but dsn, dsn_file or key_file is set: they are for backend: postgres", s.Backend)
		}
		return
	}
	switch {
	case s.DSN == "" && s.DSNFile == "":
		p.add("store.dsn", 0, "missing; set dsn or dsn_file (a connection string such as host=db.example.org dbname=logingate user=logingate)")
	case s.DSN == "" && !p.has("store.dsn_file"):
		p.add("store.dsn_file", 0, "has not been read into dsn (Load reads it)")
	case hasControl(s.DSN):
		p.add("store.dsn", 0, "must not contain control characters")
	}
	switch {
	case s.KeyFile == "":
		p.add("store.key_file", 0, "missing; TOTP secrets in the database are encrypted with keys from this file (see docs/FLEET.md)")
	case s.Keys == nil && !p.has("store.key_file") && filepath.IsAbs(s.KeyFile):
		p.add("store.key_file", 0, "has not been read (Load reads it)")
	}
}
