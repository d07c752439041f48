package cli

import (
	"net"

	"github.com/logingate/logingate/internal/audit"
	"github.com/logingate/logingate/internal/config"
	"github.com/logingate/logingate/internal/factors"
	"github.com/logingate/logingate/internal/radius"
	"github.com/logingate/logingate/internal/session"
)

// newRADIUSClient builds the RADIUS client the config describes, or nil
// when RADIUS is not configured.
func newRADIUSClient(cfg *config.Config) *radius.Client {
	r := cfg.Radius
	if r == nil {
		return nil
	}
	c := &radius.Client{NASIdentifier: r.NASIdentifier}
	if r.NASIPAddress != "" {
		c.NASIPAddress = net.ParseIP(r.NASIPAddress)
	}
	for _, s := range r.Servers {
		c.Servers = append(c.Servers, radius.Server{
			Address: radiusAddress(s.Address), Secret: radius.Secret(s.Secret),
			Timeout: s.Timeout, Retries: s.Retries, RequireMessageAuthenticator: s.RequireMessageAuthenticator,
		})
	}
	return c
}

// radiusAddress adds RADIUS's port to an address written without one.
func radiusAddress(a string) string {
	if _, _, err := net.SplitHostPort(a); err != nil {
		return net.JoinHostPort(a, "1812")
	}
	return a
}

// radiusServices returns RADIUS as a service for this login, or nothing
// when it is not configured. Warnings the exchanges raise (a server used
// with require_message_authenticator off) go to the audit log each time.
func radiusServices(cfg *config.Config, user string, sess *session.Session, lg *audit.Logger) []factors.Service {
	c := newRADIUSClient(cfg)
	if c == nil {
		return nil
	}
	l := factors.RADIUSLogin{User: cfg.Radius.UserName(user), Remote: sess.Remote, Label: cfg.Radius.Label,
		Warn: func(msg string) { warnConfig(lg, user, msg) }}
	return []factors.Service{factors.NewRADIUS(c, l)}
}
