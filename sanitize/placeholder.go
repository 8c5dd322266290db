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

// placeholderRE matches a whole placeholder. Its characters are all allowed
// unescaped in a query string, a form body, a cookie and a JSON string, so a
// placeholder reads the same wherever it lands.
var placeholderRE = regexp.MustCompile(`^REDACTED\(len=(\d+),h=([0-9a-f]{6})(?:,s256=([A-Za-z0-9_-]{43}))?\)$`)

// segmentRE matches the placeholder used inside a JWT (signature, or a
// segment that was not JSON): base64url characters only, so the token keeps
// its shape; a trailing "_" pads it to a length base64url can decode.
var segmentRE = regexp.MustCompile(`^REDACTED-len(\d+)-h([0-9a-f]{6})_?$`)

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

// ParsePlaceholder reads a placeholder written by this package, either the
// REDACTED(len=…,h=…) form or the REDACTED-len…-h… form used in JWTs.
func ParsePlaceholder(s string) (Placeholder, bool) {
	if m := placeholderRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return Placeholder{}, false
		}
		return Placeholder{Len: n, Hash: m[2], S256: m[3]}, true
	}
	if m := segmentRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return Placeholder{}, false
		}
		return Placeholder{Len: n, Hash: m[2]}, true
	}
	return Placeholder{}, false
}

// isPlaceholder reports whether s is a whole placeholder of either form.
func isPlaceholder(s string) bool {
	return strings.HasPrefix(s, "REDACTED") && (placeholderRE.MatchString(s) || segmentRE.MatchString(s))
}

// hash returns six hex digits of HMAC-SHA256(key, v).
func (s *sanitizer) hash(v string) string {
	m := hmac.New(sha256.New, s.o.Key)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))[:6]
}

func (s *sanitizer) placeholder(v string) string {
	return "REDACTED(len=" + strconv.Itoa(len(v)) + ",h=" + s.hash(v) + ")"
}

// segmentPlaceholder is the base64url-shaped placeholder for a JWT segment.
func (s *sanitizer) segmentPlaceholder(v string) string {
	p := "REDACTED-len" + strconv.Itoa(len(v)) + "-h" + s.hash(v)
	if len(p)%4 == 1 {
		// base64url cannot end with a lone sextet; pad so decoders accept it.
		p += "_"
	}
	return p
}

// verifierPlaceholder keeps the S256 of a PKCE code_verifier.
func (s *sanitizer) verifierPlaceholder(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "REDACTED(len=" + strconv.Itoa(len(v)) + ",h=" + s.hash(v) + ",s256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + ")"
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
