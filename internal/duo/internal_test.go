package duo

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProxyComesFromOptionsOnly(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://198.51.100.1:3128")
	t.Setenv("HTTP_PROXY", "http://198.51.100.1:3128")
	base := Options{Host: "api-12345678.duosecurity.com", IKey: "DIXXXXXXXXXXXXXXXXXX", SKey: "s3cret-s3cret-s3cret"}

	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.transport.Proxy != nil {
		t.Fatal("a transport proxy is set although http_proxy is empty")
	}

	o := base
	o.Proxy = "proxy.example:8080"
	c, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "https://api-12345678.duosecurity.com/auth/v2/preauth", nil)
	u, err := c.transport.Proxy(req)
	if err != nil || u == nil || u.Host != "proxy.example:8080" || u.Scheme != "http" {
		t.Fatalf("proxy = %v, %v; want http://proxy.example:8080", u, err)
	}
}

func TestNewValidates(t *testing.T) {
	ok := Options{Host: "api-1.duosecurity.com", IKey: "DI1", SKey: "topsecretkey"}
	for name, mod := range map[string]func(*Options){
		"no host":    func(o *Options) { o.Host = "" },
		"url host":   func(o *Options) { o.Host = "https://api-1.duosecurity.com/" },
		"bad port":   func(o *Options) { o.Host = "api-1.duosecurity.com:99999" },
		"no ikey":    func(o *Options) { o.IKey = "" },
		"no skey":    func(o *Options) { o.SKey = "" },
		"bad proxy":  func(o *Options) { o.Proxy = "ftp://user:topsecretkey@x" },
		"no cafile":  func(o *Options) { o.CAFile = "/nonexistent/ca.pem" },
		"empty pem":  func(o *Options) { o.CAFile = "/dev/null" },
		"negative t": func(o *Options) { o.HTTPSTimeout = -time.Second },
	} {
		o := ok
		mod(&o)
		_, err := New(o)
		if err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
			continue
		}
		if strings.Contains(err.Error(), "topsecretkey") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid options: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"1":                             time.Second,
		" 7 ":                           7 * time.Second,
		"-3":                            0,
		"junk":                          0,
		"999999":                        time.Hour,
		"Thu, 02 Jan 2025 03:04:15 GMT": 10 * time.Second,
		"Thu, 02 Jan 2025 03:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestDecodeSorting(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		service bool
	}{
		{200, `{"stat":"OK","response":{}}`, false},
		{200, `{"stat":"FAIL","code":40103,"message":"Invalid signature"}`, true},
		{200, `{"stat":"FAIL","code":"40103","message":"Invalid signature"}`, true},
		{200, `{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`, false},
		{200, `{"stat":"MAYBE"}`, true},
		{200, `not json`, true},
		{302, ``, true},
		{401, `{"stat":"FAIL","code":40101}`, true},
		{400, `{"stat":"FAIL","code":40001}`, false},
		{403, `<html>`, false},
		{502, `<html>`, true},
	} {
		_, err := decode("x", tc.status, []byte(tc.body))
		if tc.status == 200 && tc.body == `{"stat":"OK","response":{}}` {
			if err != nil {
				t.Errorf("%d %s: %v", tc.status, tc.body, err)
			}
			continue
		}
		if err == nil || errors.Is(err, ErrService) != tc.service {
			t.Errorf("%d %s: err = %v, want service=%v", tc.status, tc.body, err, tc.service)
		}
	}
}

// FuzzResponses feeds arbitrary answers to the response handling: it must
// never panic, and whatever it returns is sanitised.
func FuzzResponses(f *testing.F) {
	f.Add(200, []byte(`{"stat":"OK","response":{"result":"auth","status_msg":"Account is active","devices":[{"device":"D1","type":"phone","number":"XXX-XXX-1234","capabilities":["push","sms"]}]}}`))
	f.Add(200, []byte(`{"stat":"OK","response":{"result":"enroll","enroll_portal_url":"https://x/\u001b[2J"}}`))
	f.Add(200, []byte(`{"stat":"OK","response":{"result":"waiting","status":"pushed","txid":"abc"}}`))
	f.Add(401, []byte(`{"stat":"FAIL","code":40103,"message":"Invalid signature in request credentials"}`))
	f.Add(500, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		raw, err := decode("fuzz", status, body)
		if err != nil {
			clean(t, err.Error())
			return
		}
		if p, err := parsePreauth(raw); err == nil {
			clean(t, p.Message, p.EnrollURL, p.Txid, p.VerificationCode)
			for _, d := range p.Devices {
				clean(t, d.ID, d.Type, d.Name, d.Number, d.DisplayName)
				clean(t, d.Capabilities...)
			}
		} else {
			clean(t, err.Error())
		}
		var r statusResponse
		if err := unmarshalResponse("fuzz", raw, &r); err == nil {
			if st, err := toStatus("fuzz", r); err == nil {
				clean(t, st.Message, st.Status)
			} else {
				clean(t, err.Error())
			}
		}
	})
}

func clean(t *testing.T, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if Sanitize(s) != s {
			t.Fatalf("unsanitised string %q", s)
		}
	}
}

// A Verified Push's txid and number from preauth: both or neither, the
// txid printable and at most 128 bytes, the number digits only and at
// most 16; anything else is a malformed answer, never a number shown.
func TestPreauthVerifiedPushValidated(t *testing.T) {
	long := strings.Repeat("T", 129)
	for _, tc := range []struct {
		fields     string
		txid, code string // what preauth gives when not bad
		bad        bool
	}{
		{``, "", "", false},
		{`,"txid":"TX1","verification_code":"417","expiration":1700000060`, "TX1", "417", false},
		{`,"txid":"` + strings.Repeat("T", 128) + `","verification_code":"1234567890123456"`, strings.Repeat("T", 128), "1234567890123456", false},
		{`,"txid":"TX1"`, "", "", true},
		{`,"verification_code":"417"`, "", "", true},
		{`,"txid":"` + long + `","verification_code":"417"`, "", "", true},
		{`,"txid":"TX\u001b[2J","verification_code":"417"`, "", "", true},
		{`,"txid":"TX1","verification_code":"12345678901234567"`, "", "", true},
		{`,"txid":"TX1","verification_code":"41a"`, "", "", true},
		{`,"txid":"TX1","verification_code":"\u001b[2J"`, "", "", true},
	} {
		raw := []byte(`{"result":"auth","devices":[]` + tc.fields + `}`)
		p, err := parsePreauth(raw)
		if tc.bad {
			if err == nil || !errors.Is(err, ErrService) {
				t.Errorf("%s: %+v, %v, want a malformed answer", tc.fields, p, err)
			}
			continue
		}
		if err != nil || p.Txid != tc.txid || p.VerificationCode != tc.code {
			t.Errorf("%s: %+v, %v, want txid %q code %q", tc.fields, p, err, tc.txid, tc.code)
		}
	}
}
