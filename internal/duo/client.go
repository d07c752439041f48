// Package duo owns logingate's client for the Duo Auth API v2: signed
// requests through github.com/duosecurity/duo_api_golang, with every exchange
// bounded by a timeout and by the caller's context, TLS roots and proxy taken
// from the configuration alone (never the environment), HTTP 429 retried
// within the deadline, server strings sanitised, and failures sorted into
// service errors (failmode applies) and denials.
package duo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/logingate/logingate/internal/privilege"
)

// maxCAFile bounds a CA bundle, as config bounds the size of a config file.
const maxCAFile = 1 << 20

// Options configures a Client.
type Options struct {
	Host         string         // api-XXXX.duosecurity.com[:port]
	IKey         string         // integration key
	SKey         string         // secret key: never printed, logged or put in an error
	HTTPSTimeout time.Duration  // bounds each HTTP exchange (an auth_status poll, which Duo holds open, gets 60s more); 0 = only ctx bounds it
	Proxy        string         // http_proxy from the config only ("" = none; the environment is never used)
	CAFile       string         // PEM bundle replacing the pinned Duo CAs; "" = the library's pinned set
	RootCAs      *x509.CertPool // tests: trust this pool (the fake server's CA); wins over CAFile
	NoVerify     bool           // no certificate verification (the caller logs it loudly)
	UserAgent    string         // prefix of the User-Agent header; the library appends its own

	// PollInterval is the least time between the starts of two auth_status
	// polls while the answer is "waiting". Duo long-polls auth_status, so
	// against the real service the interval rarely adds a wait; it only keeps
	// a server that answers "waiting" at once from being hammered.
	// 0 = one second.
	PollInterval time.Duration
}

// defaultPollInterval is the PollInterval used when Options leaves it 0.
const defaultPollInterval = time.Second

const (
	// maxResponse bounds a response body; Duo's answers are a few KiB.
	maxResponse = 256 << 10
	// maxRetries bounds the HTTP 429 retries of one call.
	maxRetries = 6
	// firstBackoff is the wait after a 429 without Retry-After; it doubles.
	firstBackoff = time.Second
	// maxBackoff caps one wait when the context has no deadline.
	maxBackoff = 32 * time.Second
)

// Client talks to one Duo Auth API host. It is safe for concurrent use.
type Client struct {
	api       duoapi.DuoApi // template: each exchange uses a copy with its own http.Client
	transport *http.Transport
	timeout   time.Duration
	poll      time.Duration
	sleep     func(ctx context.Context, d time.Duration) error
}

// New checks o and builds a client. It does no network I/O.
func New(o Options) (*Client, error) {
	if err := checkHost(o.Host); err != nil {
		return nil, err
	}
	if o.IKey == "" {
		return nil, errors.New("duo: ikey is empty")
	}
	if o.SKey == "" {
		return nil, errors.New("duo: skey is empty")
	}
	if o.HTTPSTimeout < 0 {
		return nil, errors.New("duo: https_timeout is negative")
	}
	proxy, err := proxyFunc(o.Proxy)
	if err != nil {
		return nil, err
	}
	roots := o.RootCAs
	if roots == nil && o.CAFile != "" {
		if roots, err = loadCAFile(o.CAFile); err != nil {
			return nil, err
		}
	}

	var tr *http.Transport
	configure := func(t *http.Transport) {
		// The library set Proxy from its option (nil below) and RootCAs to
		// Duo's pinned set; replace only what the configuration asks for.
		t.Proxy = proxy
		t.DialContext = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
		t.TLSClientConfig.MinVersion = tls.VersionTLS12
		if roots != nil {
			t.TLSClientConfig.RootCAs = roots
		}
		// NoVerify is a configuration choice the caller logs loudly.
		t.TLSClientConfig.InsecureSkipVerify = o.NoVerify
		t.MaxIdleConnsPerHost = 2
		t.IdleConnTimeout = 90 * time.Second
		t.MaxResponseHeaderBytes = 64 << 10
		tr = t
	}
	ua := "logingate"
	if o.UserAgent != "" {
		ua = o.UserAgent
	}
	api := duoapi.NewDuoApi(o.IKey, o.SKey, o.Host, ua,
		duoapi.SetProxy(nil), duoapi.SetTransport(configure))

	poll := o.PollInterval
	if poll <= 0 {
		poll = defaultPollInterval
	}
	return &Client{api: *api, transport: tr, timeout: o.HTTPSTimeout, poll: poll, sleep: sleepCtx}, nil
}

// Close drops idle connections.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

func checkHost(h string) error {
	if h == "" {
		return errors.New("duo: host is empty")
	}
	if strings.ContainsAny(h, "/?#@ \t\r\n") {
		return errors.New("duo: host must be a host name with an optional :port, not a URL")
	}
	if _, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("duo: host has an invalid port")
		}
	}
	return nil
}

// proxyFunc turns http_proxy into a Transport.Proxy. "" means no proxy at all:
// the environment (HTTPS_PROXY and friends) is never consulted.
func proxyFunc(p string) (func(*http.Request) (*url.URL, error), error) {
	if p == "" {
		return nil, nil
	}
	if !strings.Contains(p, "://") {
		p = "http://" + p
	}
	u, err := url.Parse(p)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// The value may hold proxy credentials: do not quote it.
		return nil, errors.New("duo: http_proxy is not a valid http://host:port URL")
	}
	return http.ProxyURL(u), nil
}

// loadCAFile reads the CA bundle under the one path-trust rule, as config
// reads cafile (privilege.Open): a file root's config names.
func loadCAFile(path string) (*x509.CertPool, error) {
	f, _, err := privilege.Open(path, privilege.For(false))
	if err != nil {
		return nil, fmt.Errorf("duo: cafile: %w", err)
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, maxCAFile))
	if err != nil {
		return nil, fmt.Errorf("duo: cafile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("duo: cafile %s: no PEM certificate found", path)
	}
	return pool, nil
}

// exchangeTransport attaches the exchange's context to every request the
// library makes (its calls take no context), bounds the response body, and
// turns HTTP 429 into an error so that the library's own retry loop, which
// sleeps up to a minute ignoring any deadline, never runs.
type exchangeTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

// rateLimited is a 429 answer; after is Retry-After, 0 when absent.
type rateLimited struct{ after time.Duration }

func (e *rateLimited) Error() string { return "rate limited (HTTP 429)" }

func (t *exchangeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		after := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		resp.Body.Close()
		return nil, &rateLimited{after: after}
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxResponse)
	return resp, nil
}

// retryAfter parses Retry-After: seconds or an HTTP date. 0 when absent or bad.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		if n > 3600 {
			n = 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serviceError marks an answer failmode applies to. The cause is kept as text
// only, so that a client timeout is never mistaken for the caller's context
// ending (errors.Is(err, context.DeadlineExceeded) stays false).
// ErrService marks a service error: Duo unreachable or misbehaving
// (connect or TLS failure, certificate mismatch, no answer within
// https_timeout, HTTP 401 or 5xx, a malformed answer). failmode applies to
// these alone; the factors package maps it to factors.ErrService.
var ErrService = errors.New("service unavailable")

type serviceError struct {
	op    string
	cause string
}

func (e *serviceError) Error() string {
	return "duo " + e.op + ": " + ErrService.Error() + ": " + e.cause
}

func (e *serviceError) Unwrap() error { return ErrService }

func service(op, format string, a ...any) error {
	return &serviceError{op: op, cause: fmt.Sprintf(format, a...)}
}

// call makes one signed API call and returns the raw "response" member of a
// stat OK answer. Errors follow the package rules: ctx ending → ctx error;
// transport, TLS, timeout, 401, 5xx, malformed → ErrService; other answers →
// plain error.
func (c *Client) call(ctx context.Context, method, path string, params url.Values) ([]byte, error) {
	op := strings.TrimPrefix(path, "/auth/v2/")
	backoff := firstBackoff
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("duo %s: %w", op, err)
		}
		status, body, err := c.exchange(ctx, method, path, params)
		var rl *rateLimited
		if errors.As(err, &rl) {
			wait := rl.after
			if wait == 0 {
				wait = backoff
				backoff = min(backoff*2, maxBackoff)
			}
			if attempt >= maxRetries {
				return nil, service(op, "rate limited (HTTP 429) %d times", attempt+1)
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
				return nil, service(op, "rate limited (HTTP 429); retry after %s would pass the deadline", wait)
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("duo %s: %w", op, err)
			}
			continue
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("duo %s: %w", op, ctxErr)
			}
			return nil, service(op, "%s", describe(err))
		}
		return decode(op, status, body)
	}
}

// exchange is one HTTP request and response, bounded by ctx and c.timeout.
func (c *Client) exchange(ctx context.Context, method, path string, params url.Values) (int, []byte, error) {
	ectx := ctx
	if timeout := c.timeout; timeout > 0 {
		if path == "/auth/v2/auth_status" {
			// Duo holds an auth_status poll open until the status changes:
			// while the user reaches for their phone, for up to the push's
			// own lifetime. https_timeout bounds the service's answer, not
			// the user's.
			timeout += authStatusHold
		}
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeoutCause(ctx, timeout, errExchangeTimeout)
		defer cancel()
	}
	api := c.api // a copy: SetCustomHTTPClient must not touch the shared template
	api.SetCustomHTTPClient(&http.Client{
		Transport:     &exchangeTransport{ctx: ectx, base: c.transport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	resp, body, err := api.SignedCall(method, path, params)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(ectx), errExchangeTimeout) {
			return 0, nil, errExchangeTimeout
		}
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

var errExchangeTimeout = errors.New("no answer within https_timeout")

// authStatusHold is how long Duo may hold an auth_status poll open beyond
// https_timeout: a push or a call lasts about a minute before Duo answers
// it as timed out. The login's own deadline (login_timeout) bounds the
// whole wait regardless.
const authStatusHold = 60 * time.Second

// describe gives the cause of a transport error without the request URL
// (the host is already known to the reader; the URL carries no secret, but
// the message stays short).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var rl *rateLimited
	if errors.As(err, &rl) {
		return rl.Error()
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Sprintf("response larger than %d bytes", mb.Limit)
	}
	return Sanitize(err.Error())
}
