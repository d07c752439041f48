package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Radius is the RADIUS factor: one-time passwords checked by an OTP server
// (privacyIDEA, LinOTP, FreeRADIUS, RSA, a hosted service) over RADIUS.
// Load fills each server's Secret from its SecretFile after checking the
// file, and each server's defaults for keys left out.
type Radius struct {
	// Servers are tried in order, the next when one does not answer.
	Servers []RadiusServer `mapstructure:"servers"`
	// NASIdentifier is sent in every request; default: the host name.
	NASIdentifier string `mapstructure:"nas_identifier"`
	// NASIPAddress is sent as NAS-IP-Address (or NAS-IPv6-Address) when
	// set.
	NASIPAddress string `mapstructure:"nas_ip_address"`
	// Label names the service in the menu: "OTP from <label>".
	Label string `mapstructure:"label"`
	// Username is the User-Name sent: %u is the Unix user, %% a percent.
	Username string `mapstructure:"username"`
}

// RadiusServer is one RADIUS server.
type RadiusServer struct {
	Address    string `mapstructure:"address"`     // host:port (port default 1812)
	SecretFile string `mapstructure:"secret_file"` // the shared secret; never inline
	Secret     []byte `mapstructure:"-"`           // read from SecretFile; never printed
	// Timeout bounds each try; Retries are the tries after the first.
	Timeout time.Duration `mapstructure:"timeout"`
	Retries int           `mapstructure:"retries"`
	// RequireMessageAuthenticator refuses answers without a valid
	// Message-Authenticator (RFC 3579; BlastRADIUS). Off only for old
	// servers, and logged loudly at every use.
	RequireMessageAuthenticator bool `mapstructure:"require_message_authenticator"`
}

// String prints s without its secret, so that %v and %+v are safe.
func (s RadiusServer) String() string {
	secret := ""
	if len(s.Secret) > 0 {
		secret = "REDACTED"
	}
	return fmt.Sprintf("{Address:%s SecretFile:%s Secret:%s Timeout:%s Retries:%d RequireMessageAuthenticator:%t}",
		s.Address, s.SecretFile, secret, s.Timeout, s.Retries, s.RequireMessageAuthenticator)
}

// GoString is String, for %#v.
func (s RadiusServer) GoString() string { return "config.RadiusServer" + s.String() }

// Defaults of a radius: section and of each server in it.
const (
	defaultRadiusLabel    = "RADIUS"
	defaultRadiusUsername = "%u"
	defaultRadiusTimeout  = 3 * time.Second
	defaultRadiusRetries  = 2
	defaultRadiusPort     = "1812"
	maxRadiusServers      = 8
	maxRadiusSecretFile   = 4096
	maxRadiusSecret       = 1024
	maxRadiusLabel        = 64
	maxRadiusAttr         = 253 // bytes in a RADIUS string attribute
)

// defaultRadius returns the defaults of a radius: section. hostname fills
// nas_identifier.
func defaultRadius(hostname string) Radius {
	return Radius{NASIdentifier: hostname, Label: defaultRadiusLabel, Username: defaultRadiusUsername}
}

// defaultServer is what a radius server item leaves out: unlike a section,
// a list item has no defaults in Config to be decoded over.
var defaultServer = RadiusServer{Timeout: defaultRadiusTimeout, Retries: defaultRadiusRetries, RequireMessageAuthenticator: true}

// UserName is the User-Name sent for the Unix user unix.
func (r *Radius) UserName(unix string) string {
	var b strings.Builder
	for i := 0; i < len(r.Username); i++ {
		if r.Username[i] == '%' && i+1 < len(r.Username) {
			i++
			switch r.Username[i] {
			case 'u':
				b.WriteString(unix)
			default: // "%%"; Validate refuses other escapes
				b.WriteByte(r.Username[i])
			}
			continue
		}
		b.WriteByte(r.Username[i])
	}
	return b.String()
}

func serverKey(i int, name string) string { return fmt.Sprintf("radius.servers[%d].%s", i+1, name) }

// resolve reads each server's secret_file into Secret, checking the file
// as duo.skey_file is checked: safe path, owner root, readable by root and
// the logingate group alone. A relative path is left for validate.
func (r *Radius) resolve(p *problems) {
	for i := range r.Servers {
		s := &r.Servers[i]
		if s.SecretFile == "" || !filepath.IsAbs(s.SecretFile) || hasControl(s.SecretFile) {
			continue
		}
		key := serverKey(i, "secret_file")
		data, ok := readSecretFile(p, key, s.SecretFile, "a RADIUS shared secret")
		secret := strings.TrimRight(string(data), "\r\n")
		switch {
		case !ok:
		case len(data) > maxRadiusSecretFile || len(secret) > maxRadiusSecret:
			p.add(key, 0, "%s: larger than %d bytes; it holds the shared secret alone", s.SecretFile, maxRadiusSecret)
		case secret == "":
			p.add(key, 0, "%s: is empty; write the shared secret the RADIUS server has for this host into it", s.SecretFile)
		case hasControl(secret):
			p.add(key, 0, "%s: must hold the shared secret alone, on one line", s.SecretFile)
		default:
			s.Secret = []byte(secret)
		}
	}
}

// validateRadius checks the radius: section, when there is one.
func (c *Config) validateRadius(p *problems) {
	r := c.Radius
	if r == nil {
		return
	}
	switch {
	case len(r.Servers) == 0:
		p.add("radius.servers", 0, "missing; list at least one server, e.g. [{address: \"otp.example.org:1812\", secret_file: /etc/logingate/radius.secret}]")
	case len(r.Servers) > maxRadiusServers:
		p.add("radius.servers", 0, "at most %d servers", maxRadiusServers)
	}
	for i, s := range r.Servers {
		if msg := checkRadiusAddress(s.Address); msg != "" {
			p.add(serverKey(i, "address"), 0, "%s", msg)
		} else if slices.ContainsFunc(r.Servers[:i], func(o RadiusServer) bool { return o.Address == s.Address }) {
			p.add(serverKey(i, "address"), 0, "lists the same server twice")
		}
		key := serverKey(i, "secret_file")
		switch {
		case s.SecretFile == "":
			p.add(key, 0, "missing; name the file holding the shared secret (root:logingate, mode 0640)")
		case !checkPath(p, key, s.SecretFile):
		case len(s.Secret) == 0 && !p.has(key):
			p.add(key, 0, "has not been read into the secret (Load reads it)")
		}
		if s.Timeout < 100*time.Millisecond || s.Timeout > time.Minute {
			p.add(serverKey(i, "timeout"), 0, "must be between 100ms and 1m")
		}
		intRange(p, serverKey(i, "retries"), s.Retries, 0, 10)
	}
	switch id := r.NASIdentifier; {
	case id == "":
		p.add("radius.nas_identifier", 0, "must not be empty (the host name is the default); set it")
	case len(id) > maxRadiusAttr:
		p.add("radius.nas_identifier", 0, "must be at most %d bytes", maxRadiusAttr)
	case hasControl(id):
		p.add("radius.nas_identifier", 0, "must not contain control characters")
	}
	if r.NASIPAddress != "" && net.ParseIP(r.NASIPAddress) == nil {
		p.add("radius.nas_ip_address", 0, "must be an IPv4 or IPv6 address")
	}
	switch l := r.Label; {
	case strings.TrimSpace(l) == "":
		p.add("radius.label", 0, "must not be empty (the menu shows \"OTP from <label>\")")
	case len(l) > maxRadiusLabel:
		p.add("radius.label", 0, "must be at most %d bytes", maxRadiusLabel)
	case hasControl(l):
		p.add("radius.label", 0, "must not contain control characters")
	}
	if msg := checkUsernameTemplate(r.Username); msg != "" {
		p.add("radius.username", 0, "%s", msg)
	}
}

// checkRadiusAddress checks host:port (or host alone, for port 1812): a
// DNS name or an IP address, an IPv6 one in brackets.
func checkRadiusAddress(a string) string {
	const example = "e.g. otp.example.org:1812 or [2001:db8::1]:1812"
	if a == "" {
		return "missing; set the server's host:port, " + example
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Count(a, ":") > 1 && !strings.HasPrefix(a, "[") {
			return "write an IPv6 address in brackets, " + example
		}
		host, port = a, defaultRadiusPort
		if strings.ContainsAny(a, "[]:") {
			return "must be host:port, " + example
		}
	}
	switch {
	case !validHostName(host) && net.ParseIP(host) == nil:
		return "is not a valid host name or address, " + example
	case !validPort(port):
		return "must have a port between 1 and 65535"
	}
	return ""
}

// checkUsernameTemplate checks radius.username: %u is required, %% is a
// percent, nothing else follows a %.
func checkUsernameTemplate(t string) string {
	if hasControl(t) {
		return "must not contain control characters"
	}
	hasU := false
	for i := 0; i < len(t); i++ {
		if t[i] != '%' {
			continue
		}
		if i+1 == len(t) {
			return "ends with a lone %; write %% for a percent sign"
		}
		i++
		switch t[i] {
		case 'u':
			hasU = true
		case '%':
		default:
			return "knows %u (the Unix user) and %% only"
		}
	}
	if !hasU {
		return "must contain %u (the Unix user), or every user would log in as the same RADIUS user"
	}
	if len(t) > maxRadiusAttr/2 {
		return "is too long"
	}
	return ""
}
