package duotest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Duo's published example (Auth API documentation, "Authentication"): the
// same request must verify under our own canonicalisation.
func TestVerifyDuoDocumentedExample(t *testing.T) {
	const (
		ikey  = "DIWJ8X6AEYOR5OMC6TQ1"
		skey  = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
		date  = "Tue, 21 Aug 2012 17:29:18 -0000"
		authz = "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MWJmZmI4OTI0MzQ4ZjdkYjdkYTllN2Q3ZDc0OWRlZDkzYWFmZDAyZDhlOTA0OTYwZGE3Yjk2YzU3NTEwMjIwMTg1YTY0YTI4MjdlZThmMjRhYzVkMzA4MDJhOWVlOTdlNTlkZTQ0YjMwNGIxODI0MmYwZDU5NmQxNWE4MTIyYWY="
	)
	params := url.Values{"realname": {"First Last"}, "username": {"root"}}
	when, _ := time.Parse(time.RFC1123Z, date)
	keys := map[string]string{ikey: skey}
	host := "api-XXXXXXXX.duosecurity.com"
	if err := verify(keys, authz, "", date, "POST", host, "/accounts/v1/account/list", params, when); err != nil {
		t.Fatalf("documented request rejected: %s", err.message)
	}
	for name, tc := range map[string]struct {
		keys   map[string]string
		params url.Values
		now    time.Time
		want   int
	}{
		"wrong skey":    {map[string]string{ikey: "x" + skey[1:]}, params, when, 40103},
		"unknown ikey":  {map[string]string{"DIOTHER": skey}, params, when, 40102},
		"changed param": {keys, url.Values{"realname": {"First  Last"}, "username": {"root"}}, when, 40103},
		"extra param":   {keys, url.Values{"realname": {"First Last"}, "username": {"root"}, "x": {""}}, when, 40103},
		"date too old":  {keys, params, when.Add(301 * time.Second), 40105},
		"date too new":  {keys, params, when.Add(-301 * time.Second), 40105},
	} {
		err := verify(tc.keys, authz, "", date, "POST", host, "/accounts/v1/account/list", tc.params, tc.now)
		if err == nil || err.code != tc.want {
			t.Errorf("%s: got %v, want code %d", name, err, tc.want)
		}
	}
	if err := verify(keys, authz, "", date, "POST", host, "/accounts/v1/account/list", params, when.Add(299*time.Second)); err != nil {
		t.Errorf("299 s of skew rejected: %s", err.message)
	}
}

// The canonical params line, from the published rules: RFC 3986, uppercase
// hex, %20 for space, sorted.
func TestCanonParams(t *testing.T) {
	v := url.Values{}
	v.Set("username", "H ell?o")
	v.Set("password", "H-._~i")
	v.Add("password", "A(!'*)")
	if got, want := canonParams(v), "password=A%28%21%27%2A%29&password=H-._~i&username=H%20ell%3Fo"; got != want {
		t.Fatalf("canonParams = %q\nwant %q", got, want)
	}
	p := url.Values{"punctuation": {"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}, "ws": {"\t\n\x0b\x0c\r "}}
	want := "punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&ws=%09%0A%0B%0C%0D%20"
	if got := canonParams(p); got != want {
		t.Fatalf("canonParams = %q\nwant %q", got, want)
	}
	if got := canonParams(url.Values{"\u00e9": {"\u2713"}}); got != "%C3%A9=%E2%9C%93" {
		t.Fatalf("utf-8: %q", got)
	}
}

// post sends a request signed by hand to the fake.
func post(t *testing.T, s *Server, skey, path string, params url.Values) (int, map[string]any) {
	t.Helper()
	date := time.Now().UTC().Format(time.RFC1123Z)
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Duo-Date", date)
	req.Header.Set("Authorization", authorization(s.IKey, skey, date, "POST", s.Host, path, params))
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestServerChecksRequests(t *testing.T) {
	s := New(t)
	s.SetUser("alice", User{Devices: []Device{Phone("phone1", "XXX-XXX-0001")}})

	st, body := post(t, s, s.SKey, "/auth/v2/preauth", url.Values{"username": {"alice"}})
	if st != 200 || body["stat"] != "OK" {
		t.Fatalf("good request: %d %v", st, body)
	}
	st, body = post(t, s, "wrong", "/auth/v2/preauth", url.Values{"username": {"alice"}})
	if st != 401 || body["code"] != float64(40103) || body["message"] != "Invalid signature in request credentials" {
		t.Fatalf("wrong skey: %d %v", st, body)
	}
	for _, tc := range []struct {
		path    string
		params  url.Values
		missing string
	}{
		{"/auth/v2/preauth", url.Values{"ipaddr": {"1.2.3.4"}}, "username"},
		{"/auth/v2/auth", url.Values{"username": {"alice"}}, "factor"},
		{"/auth/v2/auth", url.Values{"factor": {"passcode"}, "passcode": {"1"}}, "username"},
		{"/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"push"}}, "device"},
		{"/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"phone"}}, "device"},
		{"/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"sms"}}, "device"},
		{"/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"}}, "passcode"},
	} {
		st, body := post(t, s, s.SKey, tc.path, tc.params)
		if st != 400 || body["code"] != float64(40001) || body["message_detail"] != tc.missing {
			t.Errorf("%s %v: %d %v, want 400 40001 (%s)", tc.path, tc.params, st, body, tc.missing)
		}
	}
	// auth_status needs a txid (GET, query parameters).
	date := time.Now().UTC().Format(time.RFC1123Z)
	req, _ := http.NewRequest("GET", s.URL+"/auth/v2/auth_status", nil)
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", authorization(s.IKey, s.SKey, date, "GET", s.Host, "/auth/v2/auth_status", url.Values{}))
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("auth_status without txid: %d", resp.StatusCode)
	}
	// No date header at all.
	req, _ = http.NewRequest("POST", s.URL+"/auth/v2/preauth", strings.NewReader("username=alice"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authorization(s.IKey, s.SKey, "", "POST", s.Host, "/auth/v2/preauth", url.Values{"username": {"alice"}}))
	resp, err = s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no date: %d", resp.StatusCode)
	}
}
