package pgstore

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// The driver, like libpq, fills what a DSN leaves out from the environment
// and from files in $HOME, which in a setgid gate are the caller's. A DSN's
// own settings win, so sealDSN puts ahead of them, for every such setting,
// the value it has with neither: the store is safe even if the environment
// was not emptied. A service without its servicefile fails. Why, in full:
// docs/FLEET.md, "What the store reads besides the DSN". Proven by
// TestSealedDSNIgnoresEnvironment and TestSealedDSNRefusesCallersService.

// sealed is each setting with its value when the environment and $HOME
// hold nothing. An empty value is the driver's own default (host: its
// socket directory; port: 5432; sslmode: prefer; no passfile, no client
// certificate, no root certificate). The runtime parameters among them
// (application_name, timezone, options) are removed again when empty.
var sealed = [...][2]string{
	{"host", ""},
	{"port", ""},
	{"dbname", ""},
	{"password", ""},
	{"passfile", ""},
	{"servicefile", ""},
	{"application_name", ""},
	{"connect_timeout", "0"},
	{"sslmode", ""},
	{"sslkey", ""},
	{"sslcert", ""},
	{"sslcertmode", "allow"},
	{"sslsni", ""},
	{"sslrootcert", ""},
	{"sslpassword", ""},
	{"sslnegotiation", ""},
	{"target_session_attrs", "any"},
	{"timezone", ""},
	{"options", ""},
	{"min_protocol_version", ""},
	{"max_protocol_version", ""},
	{"channel_binding", ""},
	{"require_auth", ""},
}

// sealedRuntimeParams are the sealed settings the driver sends to the
// server as they are; an empty one is dropped after parsing.
var sealedRuntimeParams = []string{"application_name", "timezone", "options"}

// sealDSN returns dsn with every setting it leaves out set to the value it
// has without the environment and $HOME. The user, which the driver cannot
// take as empty, defaults to the account the process runs as, as it would.
func sealDSN(dsn string) (string, error) {
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return "", fmt.Errorf("cannot look up the account the store's default user is named after: %w", err)
	}
	if rest, ok := cutURLScheme(dsn); ok {
		return sealURL(dsn, rest, u.Username), nil
	}
	var b strings.Builder
	for _, kv := range sealed {
		fmt.Fprintf(&b, "%s=%s ", kv[0], quoteValue(kv[1]))
	}
	// Later settings win: the DSN's own come last.
	fmt.Fprintf(&b, "user=%s %s", quoteValue(u.Username), dsn)
	return b.String(), nil
}

func cutURLScheme(dsn string) (string, bool) {
	if rest, ok := strings.CutPrefix(dsn, "postgresql://"); ok {
		return rest, true
	}
	return strings.CutPrefix(dsn, "postgres://")
}

// quoteValue writes v as a quoted key=value value.
func quoteValue(v string) string {
	return "'" + valueEscaper.Replace(v) + "'"
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// sealURL puts the sealed settings first in a URL's query, where the URL's
// own query parameters, which come after them, still win. A query
// parameter also wins over the user, password, host, port and database
// that the URL names before its query, so those are added only when the
// URL leaves them out, read as the driver reads them.
func sealURL(dsn, rest, username string) string {
	named := map[string]bool{}
	p := rest
	// User info: up to an '@' that comes before any '/'.
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		u, pw, hasPW := strings.Cut(p[:i], ":")
		named["user"] = u != ""
		named["password"] = hasPW && pw != ""
		p = p[i+1:]
	}
	// Hosts and ports: comma-separated netloc[:port], IPv6 in brackets.
	hostLen, portLen := 0, 0
	for {
		if strings.HasPrefix(p, "[") {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				end = len(p) - 1
			}
			hostLen += end + 1
			p = p[end+1:]
		} else {
			i := strings.IndexAny(p, ":/?,")
			if i < 0 {
				i = len(p)
			}
			hostLen += i
			p = p[i:]
		}
		if strings.HasPrefix(p, ":") {
			p = p[1:]
			i := strings.IndexAny(p, "/?,")
			if i < 0 {
				i = len(p)
			}
			portLen += i + 1
			p = p[i:]
		}
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
		hostLen++
		portLen++
	}
	named["host"] = hostLen > 0
	named["port"] = portLen > 0
	if db, ok := strings.CutPrefix(p, "/"); ok {
		db, _, _ = strings.Cut(db, "?")
		named["dbname"] = db != ""
		p = p[1+len(db):]
	}
	query, hasQuery := strings.CutPrefix(p, "?")
	head := dsn[:len(dsn)-len(p)]

	var b strings.Builder
	b.WriteString(head)
	b.WriteByte('?')
	add := func(k, v string) {
		if !named[k] {
			b.WriteString(k + "=" + escapeQuery(v) + "&")
		}
	}
	add("user", username)
	for _, kv := range sealed {
		add(kv[0], kv[1])
	}
	s := strings.TrimSuffix(b.String(), "&")
	if hasQuery && query != "" {
		s += "&" + query
	}
	return s
}

// escapeQuery percent-encodes every byte but the unreserved ones.
func escapeQuery(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
