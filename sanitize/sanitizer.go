package sanitize

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/aadproxy/aadproxy/inspect/decode"
)

// sanitizer applies the policy for one run. Every replacement is a pure
// function of the key and the value (never of the order values were met),
// so a secret gets the same placeholder wherever and whenever it appears.
type sanitizer struct {
	o          Options
	keepClaims map[string]bool
	rec        *recorder
	entry      int
	// detect is set by Check: replacements are recorded but pseudonyms are
	// not made.
	detect bool
	// share lets a sanitized flow keep its input's unchanged bytes instead
	// of copies: FlowsFile writes each flow before it reads the next, and
	// Check drops them.
	share bool
}

func newSanitizer(o Options, rec *recorder) *sanitizer {
	s := &sanitizer{o: o, rec: rec, keepClaims: map[string]bool{}}
	for _, c := range o.KeepClaims {
		s.keepClaims[c] = true
	}
	return s
}

// redact replaces a secret with its placeholder and records it. Empty
// values and placeholders are left alone, which makes sanitizing idempotent.
func (s *sanitizer) redact(where, kind, v string) string {
	if v == "" || isPlaceholder(v) {
		return v
	}
	s.rec.add(s.entry, where, kind, v)
	return s.placeholder(v)
}

// field applies the policy for a named value: a query or form parameter, a
// hidden input, a JSON member.
func (s *sanitizer) field(name, v, where string) string {
	return s.byRule(fieldRule(name), v, where)
}

func (s *sanitizer) byRule(r rule, v, where string) string {
	switch r.cls {
	case clsSecret:
		return s.redact(where, r.kind, v)
	case clsToken:
		if out, ok := s.jwt(v, where, r.kind); ok {
			return out
		}
		return s.redact(where, r.kind, v)
	case clsVerifier:
		if v == "" || isPlaceholder(v) {
			return v
		}
		s.rec.add(s.entry, where, KindCodeVerifier, v)
		return s.verifierPlaceholder(v)
	case clsSAML:
		return s.samlValue(v, where)
	case clsClientInfo:
		return s.clientInfo(v, where)
	case clsName:
		if s.o.Pseudonymize && !s.detect && v != "" && !personRE.MatchString(v) {
			s.rec.add(s.entry, where, KindName, v)
			return s.personName(v)
		}
		return s.keep(v, where)
	case clsNumericOK:
		if numericRE.MatchString(v) {
			return v
		}
		return s.redact(where, r.kind, v)
	case clsErrorCode:
		if errorCodeRE.MatchString(v) {
			return v
		}
		return s.redact(where, r.kind, v)
	case clsKeep:
		return s.keep(v, where)
	case clsPublicKey:
		if len(v) <= maxPublicKey && publicKeyRE.MatchString(v) {
			return v
		}
	case clsCertificate:
		if isCertificate(v) {
			return v
		}
	}
	return s.unknown(v, where)
}

// publicKeyRE matches the shape of a JWK's public parameters: base64 or
// base64url text (a modulus, an exponent, a curve point, a thumbprint) or
// a short key ID. Dots are not allowed, so a JWT or an Entra opaque token
// placed there is still judged by the field policy.
var publicKeyRE = regexp.MustCompile(`^[A-Za-z0-9_+/-]+={0,2}$`)

// maxPublicKey bounds a public JWK parameter: an RSA-16384 modulus is 2731
// base64url characters.
const maxPublicKey = 4096

// isCertificate reports whether v is a base64 DER X.509 certificate (a
// JWK's x5c entry, a SAML metadata or Graph keyCredential certificate):
// certificates are public by design, and their long base64 would otherwise
// look like a secret.
func isCertificate(v string) bool {
	if len(v) < 200 || !strings.HasPrefix(v, "MII") {
		return false
	}
	der, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return false
	}
	_, err = x509.ParseCertificate(der)
	return err == nil
}

// errorCodeRE matches what a JSON "code" member holds when it is an error
// code rather than an authorization code.
var errorCodeRE = regexp.MustCompile(`^(?:[A-Za-z_]{1,64}|[0-9]{1,12})$`)

// numericRE matches an error number such as the 50126 of error?code=50126;
// an authorization code is never only digits.
var numericRE = regexp.MustCompile(`^[0-9]{1,12}$`)

// unknown handles a value whose name says nothing: a JWT is stripped, a
// secret-looking value is replaced, anything else is scrubbed.
func (s *sanitizer) unknown(v, where string) string {
	if out, ok := s.jwt(v, where, KindJWT); ok {
		return out
	}
	if isCertificate(v) {
		return v
	}
	if looksSecret(v) {
		return s.redact(where, KindSecret, v)
	}
	return s.keep(v, where)
}

// keep handles a value that is kept: URLs have their secret parameters
// removed, and free text is scrubbed for embedded tokens.
func (s *sanitizer) keep(v, where string) string {
	if looksURL(v) {
		return s.url(v, where)
	}
	return s.scrub(v, where)
}

// looksURL reports whether v is an absolute URL, or a path with a query or
// fragment, worth taking apart.
func looksURL(v string) bool {
	if strings.ContainsAny(v, " \t\r\n\"<>") {
		return false
	}
	lv := strings.ToLower(v)
	if strings.HasPrefix(lv, "https://") || strings.HasPrefix(lv, "http://") || strings.Contains(lv, "://") && !strings.HasPrefix(lv, "urn:") {
		return true
	}
	return strings.HasPrefix(v, "/") && strings.ContainsAny(v, "?#")
}

// looksSecret reports whether a value with an uninformative name is probably
// a credential: long, made only of token characters, mostly letters, with
// digits, and not a GUID or a placeholder.
func looksSecret(v string) bool {
	if len(v) < 24 || isGUID(v) || strings.HasPrefix(v, "/") || isStrippedJWT(v) {
		return false
	}
	if strings.Contains(v, "REDACTED_") && decode.PlaceholderInText.MatchString(v) {
		// Already sanitized: its secret parts are placeholders, and what
		// is left was judged not secret on the first pass.
		return false
	}
	letters, digits := 0, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letters++
		case c >= '0' && c <= '9':
			digits++
		case strings.IndexByte("+/=_.~-%*!", c) >= 0:
		default:
			return false
		}
	}
	return digits > 0 && letters*4 >= len(v)
}

var guidRE = regexp.MustCompile(`^[{(]?[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}[})]?$`)

func isGUID(v string) bool { return len(v) <= 38 && guidRE.MatchString(v) }

// url removes secrets from a URL (absolute or a path): userinfo passwords,
// secret query and fragment parameters, tokens in the path. Unchanged parts
// keep their exact bytes.
func (s *sanitizer) url(u, where string) string {
	base, frag, hasFrag := strings.Cut(u, "#")
	path, query, hasQuery := strings.Cut(base, "?")
	path = s.userinfo(path, where)
	path = s.scrub(path, where+": path")
	var b strings.Builder
	b.WriteString(path)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(s.params(query, where+": query"))
	}
	if hasFrag {
		b.WriteByte('#')
		if strings.Contains(frag, "=") {
			b.WriteString(s.params(frag, where+": fragment"))
		} else {
			b.WriteString(s.scrub(frag, where+": fragment"))
		}
	}
	return b.String()
}

// userinfo replaces the password in scheme://user:password@host.
func (s *sanitizer) userinfo(path, where string) string {
	scheme, rest, ok := strings.Cut(path, "://")
	if !ok {
		return path
	}
	authority, tail, _ := strings.Cut(rest, "/")
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return path
	}
	user, pass, hasPass := strings.Cut(authority[:at], ":")
	if !hasPass {
		return path
	}
	np := s.redact(where+": userinfo", KindPassword, unescape(pass))
	out := scheme + "://" + user + ":" + escapeValue(np) + authority[at:]
	if len(rest) > len(authority) {
		out += "/" + tail
	}
	return out
}

// params sanitizes a query string or form body: fields split on "&", each
// value decoded, run through the field policy and, only when it changed,
// encoded again.
func (s *sanitizer) params(q, where string) string {
	fields := strings.Split(q, "&")
	changed := false
	for i, f := range fields {
		k, v, hasEq := strings.Cut(f, "=")
		if !hasEq {
			continue
		}
		name := unescape(k)
		dv := unescape(v)
		nv := s.field(name, dv, where+" "+name)
		if nv != dv {
			fields[i] = k + "=" + escapeValue(nv)
			changed = true
		}
	}
	if !changed {
		return q
	}
	return strings.Join(fields, "&")
}

// unescape decodes a query or form component, keeping the raw text when it
// is not valid percent-encoding.
func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// escapeValue query-escapes v. Placeholders need no escaping, so they stay
// readable in URLs and forms.
func escapeValue(v string) string { return url.QueryEscape(v) }

// clientInfo replaces the user's object id in client_info (base64url JSON
// {"uid","utid"}) and keeps the home tenant, which tenant rules need.
func (s *sanitizer) clientInfo(v, where string) string {
	if v == "" || isPlaceholder(v) {
		return v
	}
	enc, data := decodeB64(v)
	if enc == nil {
		return s.unknown(v, where)
	}
	root, err := parseJSON(data)
	if err != nil || root.kind != jObject {
		return s.unknown(v, where)
	}
	changed := false
	for i, k := range root.keys {
		if k == "utid" {
			continue
		}
		if s.redactLeaves(root.vals[i], where+" "+k, KindPersonal) {
			changed = true
		}
	}
	if !changed {
		return v
	}
	return enc.EncodeToString(root.encode(nil, false))
}

// decodeB64 decodes v with whichever base64 alphabet and padding it uses,
// and returns that encoding so the value can be written back alike.
func decodeB64(v string) (*base64.Encoding, []byte) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return enc, b
		}
	}
	return nil, nil
}

// rawJSON sanitizes a JSON document held in a HAR extra field or cache
// object; anything that is not JSON is returned as it is.
func (s *sanitizer) rawJSON(raw json.RawMessage, where string) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	root, err := parseJSON(raw)
	if err != nil {
		return raw
	}
	if !s.jsonWalk(root, "", where) {
		return raw
	}
	return root.encode(nil, false)
}
