package duo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// rawEnvelope is every Auth API v2 answer: stat OK with a response member,
// or stat FAIL with code and message.
type rawEnvelope struct {
	Stat          string          `json:"stat"`
	Code          json.RawMessage `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"message_detail"`
	Response      json.RawMessage `json:"response"`
}

// decode sorts an HTTP answer: 200 + stat OK gives the response member;
// 401 and 5xx, and anything unparseable, are service errors; other answers
// (4xx, stat FAIL) are plain errors carrying Duo's sanitised message.
func decode(op string, status int, body []byte) ([]byte, error) {
	var env rawEnvelope
	jsonErr := json.Unmarshal(body, &env)
	switch {
	case status == http.StatusUnauthorized:
		return nil, service(op, "HTTP 401%s", failText(env, jsonErr))
	case status >= 500:
		return nil, service(op, "HTTP %d%s", status, failText(env, jsonErr))
	case status >= 400:
		return nil, fmt.Errorf("duo %s: HTTP %d%s", op, status, failText(env, jsonErr))
	case status != http.StatusOK:
		return nil, service(op, "unexpected HTTP %d", status)
	}
	if jsonErr != nil {
		return nil, service(op, "malformed response: %s", Sanitize(jsonErr.Error()))
	}
	switch env.Stat {
	case "OK":
		if len(env.Response) == 0 || string(env.Response) == "null" {
			return nil, service(op, "malformed response: no response member")
		}
		return env.Response, nil
	case "FAIL":
		if code := failCode(env.Code); code/100 == http.StatusUnauthorized {
			return nil, service(op, "stat FAIL%s", failText(env, nil))
		}
		return nil, fmt.Errorf("duo %s: stat FAIL%s", op, failText(env, nil))
	}
	return nil, service(op, "malformed response: stat %q", Sanitize(clip(env.Stat, 32)))
}

// failText is ": code message (detail)" from a Duo error answer, sanitised.
func failText(env rawEnvelope, jsonErr error) string {
	if jsonErr != nil {
		return ""
	}
	s := ""
	if c := failCode(env.Code); c != 0 {
		s += " " + strconv.Itoa(c)
	}
	if env.Message != "" {
		s += " " + Sanitize(clip(env.Message, 200))
	}
	if env.MessageDetail != "" {
		s += " (" + Sanitize(clip(env.MessageDetail, 200)) + ")"
	}
	if s == "" {
		return ""
	}
	return ":" + s
}

// failCode reads Duo's code, a number (or, from some endpoints, a string).
func failCode(raw json.RawMessage) int {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if i, err := strconv.Atoi(n.String()); err == nil {
			return i
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if i, err := strconv.Atoi(s); err == nil {
			return i
		}
	}
	return 0
}

// unmarshalResponse decodes a response member into v; failure is a
// malformed answer.
func unmarshalResponse(op string, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return service(op, "malformed response: field %s has the wrong type", Sanitize(clip(te.Field, 64)))
		}
		return service(op, "malformed response: %s", Sanitize(clip(err.Error(), 200)))
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
