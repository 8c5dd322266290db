package sanitize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Placeholders are defined once, in inspect/decode, because the readers
// (rules, the transaction grouper) must recognise exactly what this package
// writes. They are made only of letters, digits, "_" and "-": no escaping in
// a query, form body, cookie, JSON string, HTML attribute or base64url JWT
// segment, and none of the separators (= & ; , :) a later parse could split
// on, so sanitizing twice changes nothing.

// pseudonymRE matches the local part of a pseudonymized address.
var pseudonymRE = regexp.MustCompile(`^user-[0-9a-f]{6}$`)

// personRE matches a pseudonymized display name.
var personRE = regexp.MustCompile(`^Person-[0-9a-f]{6}$`)

// Placeholder is what a placeholder says about the value it replaced.
type Placeholder = decode.Placeholder

// ParsePlaceholder reads a placeholder written by this package.
func ParsePlaceholder(s string) (Placeholder, bool) { return decode.ParsePlaceholder(s) }

// isPlaceholder reports whether s is a whole placeholder.
func isPlaceholder(s string) bool {
	_, ok := decode.ParsePlaceholder(s)
	return ok
}

// hash returns six hex digits of HMAC-SHA256(key, v).
func (s *sanitizer) hash(v string) string {
	m := hmac.New(sha256.New, s.o.Key)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))[:6]
}

func (s *sanitizer) placeholder(v string) string {
	return decode.FormatPlaceholder(len(v), s.hash(v), "")
}

// segmentPlaceholder is the placeholder for a JWT segment, padded so that it
// decodes as base64url.
func (s *sanitizer) segmentPlaceholder(v string) string {
	p := s.placeholder(v)
	if len(p)%4 == 1 {
		// base64url cannot end with a lone sextet.
		p += "_"
	}
	return p
}

// verifierPlaceholder keeps the S256 of a PKCE code_verifier.
func (s *sanitizer) verifierPlaceholder(v string) string {
	sum := sha256.Sum256([]byte(v))
	return decode.FormatPlaceholder(len(v), s.hash(v), base64.RawURLEncoding.EncodeToString(sum[:]))
}

// pseudonymLocal returns the replacement local part for an address; the
// whole address, lower-cased, is hashed so the same local part in two
// domains stays two people.
func (s *sanitizer) pseudonymLocal(local, domain string) string {
	return "user-" + s.hash("email:"+strings.ToLower(local)+"@"+strings.ToLower(domain))
}

func (s *sanitizer) personName(v string) string {
	return "Person-" + s.hash("name:"+strings.ToLower(strings.TrimSpace(v)))
}
