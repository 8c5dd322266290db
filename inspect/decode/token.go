package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotError reports that the input is well formed but carries no Entra
// error (a success body, a redirect with a code, a page without an error).
var ErrNotError = errors.New("no Entra error found")

// ParseTokenError decodes a token endpoint error body:
// {"error":…, "error_description":"AADSTSnnnn: … Trace ID: …", "error_codes":[…],
// "timestamp", "trace_id", "correlation_id", "error_uri", "suberror", "claims"}.
// Field types are read leniently (codes as numbers or strings). A success body
// is not an error; only top-level fields count, so "access_token" inside a
// claims string does not make an error body look like a success.
func ParseTokenError(body []byte) (*AADSTSError, error) {
	body = bytes.TrimLeft(body, "\ufeff \t\r\n")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("parse token error body: %w", err)
	}
	e := &AADSTSError{Source: SourceTokenJSON}
	// Resource APIs (Graph, ARM) wrap errors as {"error":{"code","message"}};
	// accept that shape only when the message carries an AADSTS code, since
	// otherwise it is the resource's error, not Entra's.
	var nested struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if raw, ok := m["error"]; ok && json.Unmarshal(raw, &nested) == nil && codeRE.MatchString(nested.Message) {
		e.OAuthError = nested.Code
		e.Description = nested.Message
	} else {
		e.OAuthError = jsonString(m, "error")
		e.Description = jsonString(m, "error_description")
	}
	e.Codes = jsonCodes(m["error_codes"])
	if e.OAuthError == "" && len(e.Codes) == 0 {
		if _, ok := m["access_token"]; ok {
			return nil, fmt.Errorf("token body is a success response: %w", ErrNotError)
		}
		return nil, fmt.Errorf("token body has no error field: %w", ErrNotError)
	}
	e.SubError = jsonString(m, "suberror")
	e.TraceID = jsonString(m, "trace_id")
	e.CorrelationID = jsonString(m, "correlation_id")
	e.ErrorURI = jsonString(m, "error_uri")
	e.Claims = jsonString(m, "claims")
	e.Timestamp = ParseTimestamp(jsonString(m, "timestamp"))
	e.fillFromDescription()
	return e, nil
}

// jsonString returns m[key] when it is a JSON string, else "".
func jsonString(m map[string]json.RawMessage, key string) string {
	raw, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonCodes reads an error_codes array whose items may be numbers or numeric
// strings; anything else is skipped.
func jsonCodes(raw json.RawMessage) []int {
	if len(raw) == 0 {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var codes []int
	for _, it := range items {
		var n json.Number
		if json.Unmarshal(it, &n) == nil {
			codes = appendCode(codes, n.String())
			continue
		}
		var s string
		if json.Unmarshal(it, &s) == nil {
			codes = appendCode(codes, strings.TrimPrefix(strings.TrimSpace(s), "AADSTS"))
		}
	}
	return codes
}

// atoiLoose parses a decimal integer that may be surrounded by spaces.
func atoiLoose(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}
