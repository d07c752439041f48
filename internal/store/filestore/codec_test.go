package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/logingate/logingate/internal/store"
)

// validJSON is the sample state as written.
func validJSON(t testing.TB) []byte {
	t.Helper()
	b, err := Encode(sampleState())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edited returns the sample state with one change made on its JSON tree:
// path is a list of object keys, and value nil deletes the key.
func edited(t testing.TB, value any, path ...string) string {
	t.Helper()
	var tree map[string]any
	if err := json.Unmarshal(validJSON(t), &tree); err != nil {
		t.Fatal(err)
	}
	m := tree
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("no object at %q", k)
		}
		m = next
	}
	if last := path[len(path)-1]; value == nil {
		delete(m, last)
	} else {
		m[last] = value
	}
	b, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeValid(t *testing.T) {
	got, err := Decode(validJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleState(); !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(Encode(x)):\n got %+v\nwant %+v", got, want)
	}
	// The smallest records: a user with no factor yet, and only a TOTP.
	for _, in := range []string{
		`{"version":1}`,
		` {"version": 1} ` + "\n",
		`{"version":1,"totp":{"secret":"` + testSecret + `","algorithm":"SHA512","digits":8,"period":60,"last_step":0,"created":"2025-01-01T00:00:00+01:00"}}`,
		edited(t, []any{}, "backup", "codes"), // every code used
		strings.Replace(string(validJSON(t)), `"kind": "base32"`, `"kind": "selector", "selector": "AB"`, 1), // a code with a slot
		edited(t, nil, "totp", "window"), // the config's window
	} {
		if _, err := Decode([]byte(in)); err != nil {
			t.Errorf("Decode(%s): %v", in, err)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	valid := string(validJSON(t))
	cut := strings.Index(valid, testSecret) + 10 // inside the secret
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"blank", " \n", "empty"},
		{"truncated in the secret", valid[:cut], "truncated"},
		{"truncated at the end", valid[:len(valid)-3], "truncated"},
		{"malformed", `{"version":1,,}`, "malformed JSON at byte"},
		{"control byte in the secret", strings.Replace(valid, testSecret, testSecret[:8]+"\x01"+testSecret[8:], 1), "malformed JSON"},
		{"two objects", valid + valid, "data after the state object"},
		{"trailing garbage", valid + "x", "data after the state object"},
		{"an array", `[` + valid + `]`, "not a JSON object of state"},
		{"null", `null`, "no format version"},
		{"unknown field", edited(t, 1, "extra"), `unknown field "extra"`},
		{"unknown nested field", edited(t, 1, "totp", "counter"), `unknown field "counter"`},
		{"secret as a field name", edited(t, 1, testSecret), "unknown field"},
		{"no version", edited(t, nil, "version"), "no format version"},
		{"newer version", edited(t, store.FormatVersion+1, "version"), "written by a newer logingate"},
		{"old version", edited(t, -1, "version"), "unsupported format version -1"},
		{"version as string", edited(t, "1", "version"), "field version has the wrong type (a JSON string)"},
		{"digits as string", edited(t, "6", "totp", "digits"), "field totp.digits has the wrong type"},
		{"secret as number", edited(t, 12345, "totp", "secret"), "field totp.secret has the wrong type (a JSON number)"},
		{"owner user as number", edited(t, 5, "user"), "field user has the wrong type (a JSON number)"},
		{"secret lower case", edited(t, strings.ToLower(testSecret), "totp", "secret"), "totp.secret must be base32"},
		{"secret padded", edited(t, testSecret[:30]+"==", "totp", "secret"), "totp.secret must be base32"},
		{"secret with a space", edited(t, testSecret[:8]+" "+testSecret[8:], "totp", "secret"), "totp.secret must be base32"},
		{"secret bad length", edited(t, testSecret[:17], "totp", "secret"), "not valid base32"},
		{"secret empty", edited(t, "", "totp", "secret"), "totp.secret must be base32"},
		{"secret too short", edited(t, testSecret[:8], "totp", "secret"), "totp.secret must hold 10 to 128 bytes"},
		{"algorithm", edited(t, "MD5", "totp", "algorithm"), "totp.algorithm"},
		{"algorithm lower case", edited(t, "sha1", "totp", "algorithm"), "totp.algorithm"},
		{"digits 7", edited(t, 7, "totp", "digits"), "totp.digits must be 6 or 8"},
		{"period 0", edited(t, 0, "totp", "period"), "totp.period"},
		{"period 301", edited(t, 301, "totp", "period"), "totp.period"},
		{"period fractional", edited(t, 30.5, "totp", "period"), "field totp.period has the wrong type"},
		{"window negative", edited(t, -1, "totp", "window"), "totp.window"},
		{"window huge", edited(t, 51, "totp", "window"), "totp.window"},
		{"last step negative", edited(t, -5, "totp", "last_step"), "totp.last_step"},
		{"created not a time", edited(t, "yesterday", "totp", "created"), "RFC 3339"},
		{"scheme", edited(t, "md5crypt", "backup", "scheme"), "backup.scheme must be one of argon2id, scrypt"},
		{"hash time 0", edited(t, 0, "backup", "params", "time"), "backup.params.time"},
		{"hash memory 0", edited(t, 0, "backup", "params", "mem_kib"), "backup.params.mem_kib"},
		{"hash memory huge", edited(t, 1<<21, "backup", "params", "mem_kib"), "backup.params.mem_kib"},
		{"hash threads 0", edited(t, 0, "backup", "params", "threads"), "backup.params.threads"},
		{"hash threads over uint8", edited(t, 256, "backup", "params", "threads"), "wrong type"},
		{"code kind", strings.Replace(valid, `"numeric"`, `"hex"`, 1), "backup.codes[1].kind"},
		{"selector kind without a selector", strings.Replace(valid, `"base32"`, `"selector"`, 1), "backup.codes[0].selector"},
		{"selector on a code without slots", strings.Replace(valid, `"kind": "base32"`, `"kind": "base32", "selector": "AB"`, 1), "backup.codes[0].selector"},
		{"selector not base32", strings.Replace(valid, `"kind": "base32"`, `"kind": "selector", "selector": "U!"`, 1), "backup.codes[0].selector"},
		{"salt short", strings.Replace(valid, `"AQEBAQEBAQEBAQEBAQEBAQ=="`, `"AQEB"`, 1), "backup.codes[0].salt"},
		{"salt not base64", strings.Replace(valid, `"AQEBAQEBAQEBAQEBAQEBAQ=="`, `"%%%%"`, 1), "not valid base64"},
		{"hash missing", strings.Replace(valid, `"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="`, `null`, 1), "backup.codes[0].hash"},
		{"failure not a time", edited(t, []any{"soon"}, "failures"), "RFC 3339"},
		{"from with a newline", edited(t, "203.0.113.9\nforged", "last_success", "from"), "last_success.from"},
		{"factor empty", edited(t, "", "last_success", "factor"), "last_success.factor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := Decode([]byte(c.in))
			if st != nil {
				t.Errorf("Decode returned a state with an error")
			}
			wantErr(t, err, c.want)
		})
	}
}

func TestDecodeNewerVersionIsMarked(t *testing.T) {
	_, err := Decode([]byte(`{"version":2}`))
	if !errors.Is(err, errNewerFormat) {
		t.Errorf("Decode of version 2: %v does not wrap errNewerFormat", err)
	}
}

func TestEncode(t *testing.T) {
	st := sampleState()
	st.Version = 0
	b, err := Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 0 {
		t.Errorf("Encode changed its argument")
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"version\": 1,")) {
		t.Errorf("Encode did not write the version first: %.40s", b)
	}
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
	st.TOTP.Algorithm = "MD5"
	_, err = Encode(st)
	wantErr(t, err, "refusing to write invalid state", "totp.algorithm")
}

// FuzzDecode: Decode never panics, and what it accepts survives a round trip
// through Encode unchanged. Seeds are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := Decode(in)
		if err != nil {
			if st != nil {
				t.Fatal("Decode returned a state and an error")
			}
			return
		}
		b1, err := Encode(st)
		if err != nil {
			t.Fatalf("Encode refused what Decode accepted: %v", err)
		}
		st2, err := Decode(b1)
		if err != nil {
			t.Fatalf("Decode refused what Encode wrote: %v", err)
		}
		b2, err := Encode(st2)
		if err != nil {
			t.Fatalf("second Encode: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip not stable:\n%s\n%s", b1, b2)
		}
	})
}

// The codec's byte tests agree with the regular expressions that state
// them, on strings built to sit near their edges.
func TestFieldShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"schemaName", schemaName, regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)},
		{"base32Chars", base32Chars, regexp.MustCompile(`^[A-Z2-7]+$`)},
		{"trustedID", trustedID, regexp.MustCompile(`^[0-9a-f]{8,32}$`)},
		{"fingerprint", fingerprint, regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)},
	} {
		alphabet := "az09_AZ27gG18+/=:S-\n é"
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 20000 {
			n := rng.IntN(50)
			var b strings.Builder
			if i%3 == 0 {
				b.WriteString("SHA256:")
			}
			for range n {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			if got, want := tc.fn(s), tc.re.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v, the pattern says %v", tc.name, s, got, want)
			}
		}
		for _, s := range []string{"", "a", "SHA256:" + strings.Repeat("A", 43), "0123abcd", strings.Repeat("a", 32), strings.Repeat("a", 33), "ABC234567"} {
			if got, want := tc.fn(s), tc.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the pattern says %v", tc.name, s, got, want)
			}
		}
	}
}
