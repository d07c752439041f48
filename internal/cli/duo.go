package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"time"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/duo"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/session"
)

// newDuoClient builds the Duo client the config describes, or nil when Duo
// is not configured.
func newDuoClient(cfg *config.Config) (*duo.Client, error) {
	d := cfg.Duo
	if d == nil {
		return nil, nil
	}
	o := duo.Options{
		Host: d.Host, IKey: d.IKey, SKey: d.SKey,
		HTTPSTimeout: d.HTTPSTimeout, Proxy: d.HTTPProxy, NoVerify: d.NoVerify,
		UserAgent: "logingate/" + version(),
	}
	if len(d.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(d.CAPEM) {
			return nil, errors.New("duo cafile " + d.CAFile + ": no PEM certificate in it")
		}
		o.RootCAs = pool
	}
	return duo.New(o)
}

// loginServices returns the outside services a login consults, in menu
// order: Duo (its client built by the caller, who closes it before the
// exec), then RADIUS.
func loginServices(cfg *config.Config, c *duo.Client, user string, sess *session.Session, lg *audit.Logger) []factors.Service {
	return append(duoServices(cfg, c, user, sess, lg), radiusServices(cfg, user, sess, lg)...)
}

// duoServices returns Duo as a service for this login, or nothing, and
// logs at every login what an operator must not miss: certificate checks
// off, and login_duo's failmode default in effect.
func duoServices(cfg *config.Config, c *duo.Client, user string, sess *session.Session, lg *audit.Logger) []factors.Service {
	if c == nil {
		return nil
	}
	if cfg.Duo.NoVerify {
		warnConfig(lg, user, "duo noverify is set: Duo's TLS certificate is not checked, so anyone on the network path can answer for Duo")
	}
	for _, w := range cfg.Warnings {
		warnConfig(lg, user, w)
	}
	if cfg.FailmodeDefaulted {
		warnConfig(lg, user, cfg.Path+" sets no failmode: login_duo's default, safe, lets users in when Duo cannot be reached; set failmode = secure to deny instead")
	}
	failmode := "closed"
	if cfg.Failmode == config.FailmodeSafe {
		failmode = "open"
	}
	server := localIP()
	l := factors.DuoLogin{User: user, IPAddr: sess.Remote, LookupHost: fqdn, ServerIP: server,
		Pushinfo: cfg.Duo.Pushinfo, Failmode: failmode, VerifiedPush: cfg.Duo.VerifiedPush}
	if l.IPAddr != "" && net.ParseIP(l.IPAddr) == nil && cfg.Duo.FallbackLocalIP {
		// login_duo's fallback_local_ip: an address that is no IP (-h
		// with a name) is replaced by the server's own.
		l.IPAddr = server
	}
	if sess.HasCommand {
		l.Command = sess.Command
	}
	return []factors.Service{factors.NewDuo(c, l)}
}

// warnConfig logs, at every login, a config choice an operator must not
// miss.
func warnConfig(lg *audit.Logger, user, reason string) {
	lg.Log(audit.Warning, audit.Event{Action: "config", Result: "warning", User: user, Reason: reason})
}

// hostLookupTimeout bounds the lookup of this host's full name: a slow
// resolver must not hold up a login.
const hostLookupTimeout = 200 * time.Millisecond

// fqdn is this host's fully qualified name, as login_duo sends it
// (getaddrinfo's canonical name), or the short name when the lookup fails
// or takes longer than hostLookupTimeout.
func fqdn(ctx context.Context) string {
	short, err := os.Hostname()
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, hostLookupTimeout)
	defer cancel()
	name, err := net.DefaultResolver.LookupCNAME(ctx, short)
	name = strings.TrimSuffix(name, ".")
	if err != nil || name == "" || !strings.Contains(name, ".") {
		return short
	}
	return name
}

// localIP is the address this host would reach the internet from, as
// login_duo's duo_local_ip finds it: a UDP "connection" (no packet is
// sent) and the local address the kernel picked. "" when there is none.
func localIP() string {
	c, err := net.Dial("udp4", "8.8.8.8:53")
	if err != nil {
		return ""
	}
	defer c.Close()
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return a.IP.String()
	}
	return ""
}
