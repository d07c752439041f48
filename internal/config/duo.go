package config

import (
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxSKeyFile bounds an skey_file: it holds one 40-character key.
const maxSKeyFile = 4096

// maxHTTPSTimeout is the longest duo.https_timeout, login_timeout's maximum.
const maxHTTPSTimeout = 24 * time.Hour

// resolve reads SKeyFile into SKey and CAFile into CAPEM, checking each
// file as it goes; validate then checks the values. A relative path is left
// for validate to refuse. Problems name the YAML key; a login_duo file
// renames them (see parseLoginDuo).
func (d *Duo) resolve(p *problems) {
	switch {
	case d.SKey != "" && d.SKeyFile != "":
		p.add("duo.skey_file", 0, "set together with duo.skey; keep one (skey_file keeps the key out of this file)")
	case d.SKeyFile != "" && filepath.IsAbs(d.SKeyFile):
		data, ok := readSecretFile(p, "duo.skey_file", d.SKeyFile, "duo.skey")
		key := strings.TrimSpace(string(data))
		switch {
		case !ok:
		case len(data) > maxSKeyFile:
			p.add("duo.skey_file", 0, "%s: larger than %d bytes; it holds the secret key alone", d.SKeyFile, maxSKeyFile)
		case key == "":
			p.add("duo.skey_file", 0, "%s: is empty; write the secret key from the Duo Admin Panel into it", d.SKeyFile)
		case badToken(key):
			p.add("duo.skey_file", 0, "%s: must hold the secret key alone, on one line", d.SKeyFile)
		default:
			d.SKey = key
		}
	}
	if d.CAFile != "" && filepath.IsAbs(d.CAFile) {
		data, _, err := readChecked(d.CAFile, false, rootNamed())
		if err != nil {
			p.add("duo.cafile", 0, "%s", fileProblem(err))
			return
		}
		if !hasCertificate(data) {
			p.add("duo.cafile", 0, "%s: no PEM certificate (-----BEGIN CERTIFICATE-----) in it", d.CAFile)
			return
		}
		d.CAPEM = data
	}
}

// fileProblem is readChecked's error about another file than the config,
// which it names itself.
func fileProblem(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Path + ": " + e.Msg
	}
	return err.Error()
}

// hasCertificate reports whether data holds a PEM certificate block; the
// Duo client parses them.
func hasCertificate(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			return true
		}
	}
}

// validateDuo checks the duo: section, when there is one.
func (c *Config) validateDuo(p *problems) {
	d := c.Duo
	if d == nil {
		return
	}
	if msg := checkHost(d.Host); msg != "" {
		p.add("duo.host", 0, "%s", msg)
	}
	switch {
	case d.IKey == "":
		p.add("duo.ikey", 0, "missing; set the integration key from the Duo Admin Panel")
	case badToken(d.IKey):
		p.add("duo.ikey", 0, "must not contain spaces or control characters")
	}
	switch {
	case d.SKeyFile != "" && !checkPath(p, "duo.skey_file", d.SKeyFile):
	case d.SKey == "" && d.SKeyFile != "":
		if !p.has("duo.skey_file") {
			p.add("duo.skey_file", 0, "has not been read into skey (Load reads it)")
		}
	case d.SKey == "":
		p.add("duo.skey", 0, "missing; set skey or skey_file (the secret key from the Duo Admin Panel)")
	case badToken(d.SKey):
		p.add("duo.skey", 0, "must not contain spaces or control characters")
	}
	if d.HTTPSTimeout < 0 || d.HTTPSTimeout > maxHTTPSTimeout {
		p.add("duo.https_timeout", 0, "must be 0 (none) or up to %s", shortDur(maxHTTPSTimeout))
	}
	if d.HTTPProxy != "" {
		if msg := checkProxy(d.HTTPProxy); msg != "" {
			p.add("duo.http_proxy", 0, "%s", msg)
		}
	}
	if d.CAFile != "" {
		checkPath(p, "duo.cafile", d.CAFile)
		if d.NoVerify && !c.DropIn {
			p.add("duo.noverify", 0, "contradicts cafile: noverify turns certificate checks off, cafile names the CAs to check against; remove one")
		}
	}
}

// badToken reports a key that is not one printable word.
func badToken(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// checkHost checks an API host: a DNS name, an IPv4 address or a bracketed
// IPv6 address, optionally with ":port"; no scheme, no path.
func checkHost(h string) string {
	const example = "e.g. api-XXXXXXXX.duosecurity.com"
	name, port := h, ""
	switch {
	case h == "":
		return "missing; set the API hostname from the Duo Admin Panel, " + example
	case strings.Contains(h, "://"):
		return "must be the host name alone, without a scheme, " + example
	case strings.ContainsAny(h, "/?#@"):
		return "must be a host name, optionally with :port, and nothing else, " + example
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "has a \"[\" without \"]\"; write an IPv6 address as [ADDRESS]:PORT"
		}
		name, port = h[1:end], h[end+1:]
		if ip := net.ParseIP(name); ip == nil || ip.To4() != nil {
			return "must have an IPv6 address between \"[\" and \"]\""
		}
		if port != "" {
			var ok bool
			if port, ok = strings.CutPrefix(port, ":"); !ok {
				return "must have nothing after \"]\" but :port"
			}
		}
	default:
		var hasPort bool
		name, port, hasPort = strings.Cut(h, ":")
		if strings.Contains(port, ":") {
			return "has more than one \":\"; write an IPv6 address as [ADDRESS]:PORT"
		}
		if hasPort && port == "" {
			return "has a \":\" but no port"
		}
		if !validHostName(name) && net.ParseIP(name) == nil {
			return "is not a valid host name, " + example
		}
	}
	if port != "" && !validPort(port) {
		return "must have a port between 1 and 65535"
	}
	return ""
}

// validHostName accepts DNS names: dot-separated labels of letters, digits
// and "-", none empty or starting or ending with "-"; one final dot.
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPort(s string) bool {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// checkProxy checks http_proxy: an http:// or https:// URL with a host,
// an optional port and optional user info, and no path beyond "/". Its
// messages never quote it: user info is a credential.
func checkProxy(s string) string {
	const want = "must be a URL such as http://proxy.example.org:3128"
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "must not contain spaces or control characters"
	}
	u, err := url.Parse(s)
	switch {
	case !strings.Contains(s, "://") || err == nil && u.Scheme != "http" && u.Scheme != "https":
		return "must start with http:// or https://; " + want
	case err != nil || u.Opaque != "":
		return want
	case u.Hostname() == "":
		return "has no host; " + want
	case u.Port() != "" && !validPort(u.Port()):
		return "must have a port between 1 and 65535"
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must have no path, query or fragment; " + want
	}
	return ""
}

// redactProxy prints a proxy URL without its user info.
func redactProxy(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "REDACTED"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}
