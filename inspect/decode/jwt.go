package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxTokenLen bounds the tokens the decoders read. Entra's largest JWTs
// (groups overage, long scp lists) stay well under 16 KiB; a megabyte leaves
// room for anything real while keeping hostile input cheap.
const maxTokenLen = 1 << 20

// TokenKind says what a token string is.
type TokenKind int

// Token kinds. The zero value is not a valid kind.
const (
	// KindJWT is a signed (or alg "none") JWT: header.claims.signature.
	KindJWT TokenKind = iota + 1
	// KindJWE is an encrypted JWT (five parts); only its header is readable.
	KindJWE
	// KindOpaque is a token only its issuer can read: MSA "EwB…" tokens,
	// Entra refresh tokens and codes ("0.A…", "1.A…").
	KindOpaque
)

// String returns "JWT", "JWE" or "opaque".
func (k TokenKind) String() string {
	switch k {
	case KindJWT:
		return "JWT"
	case KindJWE:
		return "JWE"
	case KindOpaque:
		return "opaque"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Token is a token classified by ParseToken. It never holds the token's
// text: callers that need the value still have it, and evidence must not
// quote secrets.
type Token struct {
	Kind TokenKind
	// JWT is the decoded token for KindJWT and KindJWE (header only, with
	// Encrypted set); nil for opaque tokens.
	JWT *JWT
	// Len is the token's length in bytes.
	Len int
	// Prefix is the start of an opaque token ("0.A", "1.A", "EwB", "M.C"),
	// which says who issued it without revealing it; "" for JWTs.
	Prefix string
}

// JWT is a decoded JSON Web Token. Header and Claims keep every field, with
// numbers as json.Number so large integers survive; the typed helpers read
// the claims Entra uses. The signature is not verified and not kept: only
// its length, which is enough to tell an unsigned token (0) from a signed one.
type JWT struct {
	Header map[string]any
	// Claims is nil for an encrypted token.
	Claims map[string]any
	// SignatureLen is the decoded signature's length in bytes.
	SignatureLen int
	// Encrypted marks a five-part JWE; its claims are not readable.
	Encrypted bool
}

// ParseToken classifies s as a JWT, a JWE or an opaque token. It errors on
// an empty string, on characters no token uses, and on a string shaped like
// a JWT (three or five dot-separated parts starting "eyJ") that does not
// decode, with the reason ("could not decode as JWT: …"). Anything else made
// of token characters is opaque.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	tok := Token{Len: len(s)}
	if s == "" {
		return tok, errors.New("could not decode token: empty")
	}
	if len(s) > maxTokenLen {
		return tok, fmt.Errorf("could not decode token: %d bytes is longer than the %d-byte limit", len(s), maxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return tok, fmt.Errorf("could not decode token: byte %d (%q) is not a token character", i, s[i])
		}
	}
	parts := strings.Count(s, ".") + 1
	if parts == 3 || parts == 5 {
		j, err := ParseJWT(s)
		if err != nil && strings.HasPrefix(s, "eyJ") {
			// "eyJ" is base64 of `{"`: this was meant to be a JWT.
			return tok, err
		}
		if err != nil {
			tok.Kind = KindOpaque
			tok.Prefix = s[:min(len(s), 3)]
			return tok, nil
		}
		tok.JWT = j
		tok.Kind = KindJWT
		if j.Encrypted {
			tok.Kind = KindJWE
		}
		return tok, nil
	}
	tok.Kind = KindOpaque
	tok.Prefix = s[:min(len(s), 3)]
	return tok, nil
}

// isTokenByte reports the bytes tokens are made of: base64 (both alphabets),
// padding and the dots between parts. MSA tokens also use "!" and "*" [obs].
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_+/=.!*%$", c) >= 0
}

// ParseJWT decodes a compact JWT: three parts (header, claims, signature;
// the signature may be empty for alg "none") or five parts (a JWE, whose
// header alone is decoded and Encrypted set). Base64url is read leniently:
// padded or not, and the standard alphabet too. Errors say which part
// failed: "could not decode as JWT: header is not base64url: …".
func ParseJWT(s string) (*JWT, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxTokenLen {
		return nil, fmt.Errorf("could not decode as JWT: %d bytes is longer than the %d-byte limit", len(s), maxTokenLen)
	}
	parts := strings.Split(s, ".")
	switch len(parts) {
	case 3:
	case 5:
		hdr, err := jwtObject(parts[0])
		if err != nil {
			return nil, fmt.Errorf("could not decode as JWE: header %w", err)
		}
		return &JWT{Header: hdr, Encrypted: true}, nil
	default:
		return nil, fmt.Errorf("could not decode as JWT: got %d dot-separated parts, want 3 (JWS) or 5 (JWE)", len(parts))
	}
	hdr, err := jwtObject(parts[0])
	if err != nil {
		return nil, fmt.Errorf("could not decode as JWT: header %w", err)
	}
	claims, err := jwtObject(parts[1])
	if err != nil {
		return nil, fmt.Errorf("could not decode as JWT: claims %w", err)
	}
	sig, err := lenientBase64(parts[2])
	if err != nil {
		return nil, fmt.Errorf("could not decode as JWT: signature is not base64url: %w", err)
	}
	return &JWT{Header: hdr, Claims: claims, SignatureLen: len(sig)}, nil
}

// jwtObject decodes one base64url JSON object part. Its errors read after
// the part's name: "header is not base64url: …".
func jwtObject(part string) (map[string]any, error) {
	raw, err := lenientBase64(part)
	if err != nil {
		return nil, fmt.Errorf("is not base64url: %w", err)
	}
	m, err := jsonObject(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a JSON object: %w", err)
	}
	return m, nil
}

// jsonObject decodes exactly one JSON object, numbers as json.Number.
func jsonObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("got null")
	}
	if d.More() {
		return nil, errors.New("data after the object")
	}
	return m, nil
}

// lenientBase64 decodes base64url with or without padding, and tolerates the
// standard alphabet, which some clients emit by mistake.
func lenientBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// headerString and Claim read string members; anything else reads as "".
func (j *JWT) headerString(name string) string {
	if j == nil {
		return ""
	}
	s, _ := j.Header[name].(string)
	return s
}

// HeaderText returns a header member rendered as text (strings as they
// are, numbers and booleans formatted), or "".
func (j *JWT) HeaderText(name string) string {
	if j == nil {
		return ""
	}
	return claimText(j.Header[name])
}

// Claim returns a string claim, or "" when it is absent or not a string.
func (j *JWT) Claim(name string) string {
	if j == nil {
		return ""
	}
	s, _ := j.Claims[name].(string)
	return s
}

// Alg returns the header's alg ("RS256", "none"; "RSA-OAEP" for a JWE).
func (j *JWT) Alg() string { return j.headerString("alg") }

// Kid returns the header's key ID.
func (j *JWT) Kid() string { return j.headerString("kid") }

// Typ returns the header's typ.
func (j *JWT) Typ() string { return j.headerString("typ") }

// Iss returns the issuer claim.
func (j *JWT) Iss() string { return j.Claim("iss") }

// Aud returns the audience claim, a string or an array of strings in the
// JWT, as a slice; non-string members are skipped.
func (j *JWT) Aud() []string { return j.stringList("aud", false) }

// Tid returns the tenant the token was issued in (Entra's tid claim).
func (j *JWT) Tid() string { return j.Claim("tid") }

// Oid returns the object ID of the subject.
func (j *JWT) Oid() string { return j.Claim("oid") }

// Sub returns the subject claim.
func (j *JWT) Sub() string { return j.Claim("sub") }

// Ver returns the token version ("1.0", "2.0"); a numeric ver is formatted.
func (j *JWT) Ver() string {
	if j == nil {
		return ""
	}
	switch v := j.Claims["ver"].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// Nonce returns the nonce claim.
func (j *JWT) Nonce() string { return j.Claim("nonce") }

// Iat returns the issued-at time; ok is false when it is absent or not a
// number of seconds.
func (j *JWT) Iat() (time.Time, bool) { return j.timeClaim("iat") }

// Nbf returns the not-before time.
func (j *JWT) Nbf() (time.Time, bool) { return j.timeClaim("nbf") }

// Exp returns the expiry time.
func (j *JWT) Exp() (time.Time, bool) { return j.timeClaim("exp") }

// Scp returns the delegated scopes (the space-separated scp claim).
func (j *JWT) Scp() []string { return strings.Fields(j.Claim("scp")) }

// Roles returns the roles claim (application permissions or app roles).
func (j *JWT) Roles() []string { return j.stringList("roles", true) }

// Appid returns the client the token was issued to: appid in v1 tokens,
// azp in v2 tokens.
func (j *JWT) Appid() string {
	if s := j.Claim("appid"); s != "" {
		return s
	}
	return j.Claim("azp")
}

// PreferredUsername returns the v2 preferred_username claim.
func (j *JWT) PreferredUsername() string { return j.Claim("preferred_username") }

// Upn returns the upn claim (v1 and access tokens), or unique_name when
// there is no upn.
func (j *JWT) Upn() string {
	if s := j.Claim("upn"); s != "" {
		return s
	}
	return j.Claim("unique_name")
}

// Idp returns the identity provider claim, which differs from iss for guests.
func (j *JWT) Idp() string { return j.Claim("idp") }

// Username returns the best human account name: preferred_username, then
// upn, then unique_name, then email.
func (j *JWT) Username() string {
	for _, c := range []string{"preferred_username", "upn", "unique_name", "email"} {
		if s := j.Claim(c); s != "" {
			return s
		}
	}
	return ""
}

// stringList reads a claim that is a string or an array of strings; with
// split, a single string is split on spaces.
func (j *JWT) stringList(name string, split bool) []string {
	if j == nil {
		return nil
	}
	switch v := j.Claims[name].(type) {
	case string:
		if split {
			return strings.Fields(v)
		}
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (j *JWT) timeClaim(name string) (time.Time, bool) {
	if j == nil {
		return time.Time{}, false
	}
	return unixTime(j.Claims[name])
}

// maxUnix keeps claim times within years Go can format (0001–9999).
const maxUnix = 253402300799

// unixTime reads a NumericDate: seconds since the epoch as a JSON number or,
// leniently, a numeric string (v1 token responses quote their numbers).
func unixTime(v any) (time.Time, bool) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		s = strings.TrimSpace(n)
	case float64:
		s = strconv.FormatFloat(n, 'f', -1, 64)
	default:
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxUnix {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// PRTCookie is a decoded x-ms-RefreshTokenCredential: the JWT a Windows
// device's browser SSO sends to Entra as a cookie or a header, signed with a
// key derived from the PRT session key. The primary refresh token inside is
// a credential: only its length is kept.
type PRTCookie struct {
	// Alg is the header's alg, HS256 in practice.
	Alg string
	// Ctx is the header's key-derivation context (base64); CtxLen is its
	// decoded length, 24 bytes in practice, or -1 when it is not base64.
	Ctx    string
	CtxLen int
	// KdfVer is the header's kdf_ver: 2 for KDFv2, 0 when absent (KDFv1).
	KdfVer int
	// RequestNonce is the nonce Entra issued (srv_challenge, sso_nonce).
	RequestNonce string
	// Iat is the client's issued-at time; HasIat is false when absent.
	Iat    time.Time
	HasIat bool
	// IsPrimary is the is_primary value ("true").
	IsPrimary string
	// RefreshTokenLen is the length of the embedded PRT, 0 when absent.
	RefreshTokenLen int
	// RefreshTokenPrefix is the PRT's first three characters ("0.A").
	RefreshTokenPrefix string
	// Optional client fields.
	WinVer            string
	WindowsAPIVersion string
	UAClientID        string
	UARedirectURI     string
	XClientPlatform   string
	// SignatureLen is the decoded signature's length (32 for HS256).
	SignatureLen int
}

// ParsePRTCookie decodes an x-ms-RefreshTokenCredential value. It accepts
// the value quoted or percent-encoded, as cookie jars sometimes store it.
// Only the shape is checked: a JWT whose claims are readable. Missing
// fields (request_nonce, refresh_token) are reported as empty, not as
// errors, because a rule explains them.
func ParsePRTCookie(s string) (*PRTCookie, error) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if strings.Contains(s, "%") {
		s = percentDecode(s)
	}
	j, err := ParseJWT(s)
	if err != nil {
		return nil, fmt.Errorf("parse x-ms-RefreshTokenCredential: %w", err)
	}
	if j.Encrypted {
		return nil, errors.New("parse x-ms-RefreshTokenCredential: could not decode as JWT: it is encrypted (JWE)")
	}
	c := &PRTCookie{
		Alg:               j.Alg(),
		Ctx:               j.headerString("ctx"),
		CtxLen:            -1,
		RequestNonce:      j.Claim("request_nonce"),
		IsPrimary:         claimText(j.Claims["is_primary"]),
		WinVer:            claimText(j.Claims["win_ver"]),
		WindowsAPIVersion: claimText(j.Claims["windows_api_version"]),
		UAClientID:        j.Claim("ua_client_id"),
		UARedirectURI:     j.Claim("ua_redirect_uri"),
		XClientPlatform:   j.Claim("x_client_platform"),
		SignatureLen:      j.SignatureLen,
	}
	if b, err := base64.StdEncoding.DecodeString(c.Ctx); err == nil {
		c.CtxLen = len(b)
	} else if b, err := lenientBase64(c.Ctx); err == nil {
		c.CtxLen = len(b)
	}
	if n, err := strconv.Atoi(claimText(j.Header["kdf_ver"])); err == nil {
		c.KdfVer = n
	}
	c.Iat, c.HasIat = j.Iat()
	if rt := j.Claim("refresh_token"); rt != "" {
		c.RefreshTokenLen = len(rt)
		c.RefreshTokenPrefix = rt[:min(len(rt), 3)]
	}
	return c, nil
}

// claimText renders a string, number or boolean claim as text.
func claimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// percentDecode undoes %xx escapes, leaving malformed ones as they are.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
