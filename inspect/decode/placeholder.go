package decode

import (
	"regexp"
	"strconv"
)

// Placeholders are what `aadproxy sanitize` leaves where a secret was:
// REDACTED_len<n>_h<6 hex digits of a keyed hash>, plus _s256_<base64url
// SHA-256> for a PKCE code_verifier, and an optional trailing "_" that pads a
// JWT segment. Equal secrets get equal placeholders within one sanitized
// trace, so rules and the transaction grouper can still tell "same code or
// not". The format is defined here, once, for the sanitizer and the readers.
var placeholderRE = regexp.MustCompile(`^REDACTED_len(\d+)_h([0-9a-f]{6})(?:_s256_([A-Za-z0-9_-]{43}))?_?$`)

// PlaceholderInText finds placeholders inside a longer text.
var PlaceholderInText = regexp.MustCompile(`REDACTED_len\d+_h[0-9a-f]{6}(?:_s256_[A-Za-z0-9_-]{43})?`)

// Placeholder is what a placeholder says about the value it replaced.
type Placeholder struct {
	Len  int    // length of the value in bytes
	Hash string // six hex digits of the keyed hash
	// S256 is base64url(SHA-256(value)) without padding, set only for a
	// code_verifier, so PKCE can still be checked after sanitizing.
	S256 string
}

// ParsePlaceholder reads a whole placeholder.
func ParsePlaceholder(s string) (Placeholder, bool) {
	if len(s) < 8 || s[:8] != "REDACTED" {
		return Placeholder{}, false
	}
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

// FormatPlaceholder writes the placeholder for a value of length n with the
// given hash and, for a code_verifier, its S256.
func FormatPlaceholder(n int, hash, s256 string) string {
	p := "REDACTED_len" + strconv.Itoa(n) + "_h" + hash
	if s256 != "" {
		p += "_s256_" + s256
	}
	return p
}
