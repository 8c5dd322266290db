package sanitize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

// placeholderRE matches a whole placeholder. It is made only of letters,
// digits, "_" and "-", which need no escaping in a query, a form body, a
// cookie, a JSON string, an HTML attribute or a base64url JWT segment, and
// contain none of the separators (= & ; , :) that a later parse could split
// it on. A trailing "_" pads a JWT segment to a length base64url decoders
// accept.
var placeholderRE = regexp.MustCompile(`^REDACTED_len(\d+)_h([0-9a-f]{6})(?:_s256_([A-Za-z0-9_-]{43}))?_?$`)

// placeholderInRE finds placeholders inside a longer text.
var placeholderInRE = regexp.MustCompile(`REDACTED_len\d+_h[0-9a-f]{6}(?:_s256_[A-Za-z0-9_-]{43})?`)

// pseudonymRE matches the local part of a pseudonymized address.
var pseudonymRE = regexp.MustCompile(`^user-[0-9a-f]{6}$`)

// personRE matches a pseudonymized display name.
var personRE = regexp.MustCompile(`^Person-[0-9a-f]{6}$`)

// Placeholder is what a placeholder says about the value it replaced.
type Placeholder struct {
	Len  int    // length of the value in bytes
	Hash string // six hex digits of the keyed hash
	// S256 is base64url(SHA-256(value)) without padding, set only for a
	// code_verifier: compare it with the authorize request's
	// code_challenge.
	S256 string
}

// ParsePlaceholder reads a placeholder written by this package.
func ParsePlaceholder(s string) (Placeholder, bool) {
	m := placeholderRE.FindStringSubmatch(s)
	if m == nil {
		return Placeholder{}, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return Placeholder{}, false
	}
	return Placeholder{Len: n, Hash: m[2], S256: m[3]}, true
}

// isPlaceholder reports whether s is a whole placeholder.
func isPlaceholder(s string) bool {
	return strings.HasPrefix(s, "REDACTED_") && placeholderRE.MatchString(s)
}

// hash returns six hex digits of HMAC-SHA256(key, v).
func (s *sanitizer) hash(v string) string {
	m := hmac.New(sha256.New, s.o.Key)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))[:6]
}

func (s *sanitizer) placeholder(v string) string {
	return "REDACTED_len" + strconv.Itoa(len(v)) + "_h" + s.hash(v)
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
	return s.placeholder(v) + "_s256_" + base64.RawURLEncoding.EncodeToString(sum[:])
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
