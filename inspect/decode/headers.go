package decode

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseCliTelem reads x-ms-clitelem, "<ver>,<errorCode>,<subErrorCode>,
// <tokenAge>,<speInfo>" (e.g. "1,90102,0,,"). ok reports a well-formed value;
// code 0 means success. An empty sub-code reads as 0.
func ParseCliTelem(v string) (code, subcode int, ok bool) {
	parts := strings.Split(strings.TrimSpace(v), ",")
	if len(parts) < 3 {
		return 0, 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil || code < 0 {
		return 0, 0, false
	}
	if s := strings.TrimSpace(parts[2]); s != "" {
		subcode, err = strconv.Atoi(s)
		if err != nil || subcode < 0 {
			return 0, 0, false
		}
	}
	return code, subcode, true
}

// ParseWWWAuthenticate reads the parameters of the first challenge in a
// WWW-Authenticate value, e.g. `Bearer realm="", error="insufficient_claims",
// claims="…"`. Names are lowercased; quoted values are unescaped. Parsing
// stops at the start of a second challenge.
func ParseWWWAuthenticate(v string) (params map[string]string, err error) {
	_, params, err = ParseChallenge(v)
	return params, err
}

// ParseChallenge is ParseWWWAuthenticate that also returns the scheme
// ("Bearer", "PoP"…), as written.
func ParseChallenge(v string) (scheme string, params map[string]string, err error) {
	s := strings.TrimSpace(v)
	i := strings.IndexAny(s, " \t,")
	if i < 0 {
		i = len(s)
	}
	scheme, s = s[:i], s[i:]
	if scheme == "" || strings.Contains(scheme, "=") {
		return "", nil, errors.New("parse WWW-Authenticate: no auth scheme")
	}
	params = map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		end := strings.IndexAny(s, "= \t,")
		if end <= 0 {
			break // a token68 or garbage: nothing more we understand
		}
		name := s[:end]
		after := strings.TrimLeft(s[end:], " \t")
		if !strings.HasPrefix(after, "=") {
			break // the next challenge's scheme
		}
		s = strings.TrimLeft(after[1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			val, s = readQuoted(s[1:])
		} else {
			j := strings.IndexAny(s, " \t,")
			if j < 0 {
				j = len(s)
			}
			val, s = s[:j], s[j:]
		}
		params[strings.ToLower(name)] = val
	}
	return scheme, params, nil
}

// readQuoted reads a quoted-string body (after the opening quote) with
// backslash escapes, returning the value and the rest. An unterminated string
// runs to the end, which is the lenient reading.
func readQuoted(s string) (val, rest string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// BearerChallengeError decodes the error in a WWW-Authenticate challenge from
// a resource (Graph, ARM…): error, error_description and, for Continuous
// Access Evaluation, claims, which is base64 JSON and comes back decoded. A
// challenge without an error parameter (a plain "log in first") is not an
// error.
func BearerChallengeError(v string) (*AADSTSError, error) {
	_, p, err := ParseChallenge(v)
	if err != nil {
		return nil, err
	}
	if p["error"] == "" {
		return nil, fmt.Errorf("challenge has no error parameter: %w", ErrNotError)
	}
	e := &AADSTSError{
		OAuthError:  p["error"],
		Description: p["error_description"],
		ErrorURI:    p["error_uri"],
		Claims:      decodeClaims(p["claims"]),
		Source:      SourceWWWAuthenticate,
	}
	e.fillFromDescription()
	return e, nil
}

// decodeClaims turns a challenge's claims into JSON text. Services send it
// base64 encoded (padded or not, standard or URL alphabet); a value that is
// already JSON, or that decodes to something else, is kept as sent.
func decodeClaims(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "{") {
		return s
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && json.Valid(b) {
			return string(b)
		}
	}
	return s
}
