package sanitize

import (
	"regexp"
	"strings"
)

// The free-text scrub is the last line of defence: it runs on every string
// that is kept (header values, URL paths, kept parameters, JSON strings,
// whole HTML and text bodies after their structured pass) and finds
// credentials by shape rather than by name.
var (
	// jwtRE finds compact JWS tokens: a base64url JSON header ("eyJ"), a
	// payload and a signature. jwt checks the header really is JSON.
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	// opaqueRE finds Entra's opaque tokens: refresh tokens, codes and
	// session cookies start 0.A… or 1.A…; flow tokens, esctx and older
	// codes start AQAB…, OAQAB… or PAQAB….
	opaqueRE = regexp.MustCompile(`(?:[01]\.A[A-Za-z0-9_-]{40,}|[OP]?AQAB[A-Za-z0-9_-]{60,})(?:\.[A-Za-z0-9_-]+)*`)
	// emailRE finds addresses, also with the @ percent-encoded.
	emailRE = regexp.MustCompile(`([A-Za-z0-9][A-Za-z0-9._+'-]{0,63})(@|%40)([A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})\b`)
)

// kvNames is the alternation of secretFieldNames for the key/value patterns.
var kvNames = func() string {
	q := make([]string, len(secretFieldNames))
	for i, n := range secretFieldNames {
		q[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(q, "|")
}()

var (
	// formKVRE finds name=value in text: a query, a form body, a URL inside
	// HTML or script.
	formKVRE = regexp.MustCompile(`(?i)(?:^|[?&#;,\s"'(])(` + kvNames + `)=([^&#\s"'<>;]*)`)
	// encodedKVRE is formKVRE inside a URL that was itself URL-encoded:
	// %26code%3D….
	encodedKVRE = regexp.MustCompile(`(?i)(?:%26|%3F|%23|%3B|%20|%22|%27)(` + kvNames + `)%3D((?:[A-Za-z0-9._~*+/-]|%[0-9A-Fa-f]{2})*)`)
	// jsonKVRE finds "name":"value" and 'name':'value', also with escaped
	// quotes (JSON inside a JSON string) and unquoted script keys.
	jsonKVRE = regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9_$])\\*["']?(` + kvNames + `)\\*["']?\s*:\s*\\*["']([^"'\\]*)`)
)

// scrub removes credentials found by shape in free text, and with
// Pseudonymize replaces e-mail addresses.
func (s *sanitizer) scrub(t, where string) string {
	if len(t) < 6 {
		return t
	}
	if strings.Contains(t, "eyJ") {
		t = jwtRE.ReplaceAllStringFunc(t, func(m string) string {
			out, _ := s.jwt(m, where, KindJWT)
			return out
		})
	}
	if strings.Contains(t, ".A") || strings.Contains(t, "AQAB") {
		t = s.replaceOpaque(t, where)
	}
	if strings.ContainsAny(t, "=:%") {
		t = s.replaceKV(t, where)
	}
	if s.o.Pseudonymize && !s.detect && (strings.Contains(t, "@") || strings.Contains(t, "%40")) {
		t = s.emails(t, where)
	}
	return t
}

// tokenByte reports whether c can be part of a base64url token.
func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// startsToken reports whether position i in t can start a token: at the
// start, after a non-token byte, or right after a percent-escape (%3D0.A…).
func startsToken(t string, i int) bool {
	if i == 0 || !tokenByte(t[i-1]) {
		return true
	}
	return i >= 3 && t[i-3] == '%' && isHex(t[i-2]) && isHex(t[i-1])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *sanitizer) replaceOpaque(t, where string) string {
	locs := opaqueRE.FindAllStringIndex(t, -1)
	if locs == nil {
		return t
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		if !startsToken(t, l[0]) {
			continue
		}
		b.WriteString(t[last:l[0]])
		m := t[l[0]:l[1]]
		kind := KindToken
		if m[0] == '0' || m[0] == '1' {
			kind = KindRefreshToken
		}
		b.WriteString(s.redact(where, kind, m))
		last = l[1]
	}
	b.WriteString(t[last:])
	return b.String()
}

// replaceKV applies the field policy to secret names found in key/value
// shapes in free text.
func (s *sanitizer) replaceKV(t, where string) string {
	t = replaceGroup(t, formKVRE, func(name, v string) string {
		dv := unescape(v)
		nv := s.field(name, dv, where+" "+name)
		if nv == dv {
			return v
		}
		return escapeValue(nv)
	})
	if strings.Contains(t, "%3D") || strings.Contains(t, "%3d") {
		t = replaceGroup(t, encodedKVRE, func(name, v string) string {
			// Cut the value at the first escaped separator.
			end := len(v)
			for _, sep := range []string{"%26", "%23", "%22", "%27", "%3B", "%20", "%3b"} {
				if i := strings.Index(strings.ToUpper(v), strings.ToUpper(sep)); i >= 0 && i < end {
					end = i
				}
			}
			dv := unescape(v[:end])
			nv := s.field(name, dv, where+" "+name)
			if nv == dv {
				return v
			}
			return escapeValue(nv) + v[end:]
		})
	}
	if strings.Contains(t, ":") {
		t = replaceGroup(t, jsonKVRE, func(name, v string) string {
			return s.byRule(jsonFieldRule(name), v, where+" "+name)
		})
	}
	return t
}

// replaceGroup replaces submatch 2 (the value) of every match of re, given
// submatch 1 (the name).
func replaceGroup(t string, re *regexp.Regexp, fn func(name, v string) string) string {
	locs := re.FindAllStringSubmatchIndex(t, -1)
	if locs == nil {
		return t
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		name := t[l[2]:l[3]]
		v := t[l[4]:l[5]]
		nv := fn(name, v)
		if nv == v {
			continue
		}
		b.WriteString(t[last:l[4]])
		b.WriteString(nv)
		last = l[5]
	}
	if last == 0 {
		return t
	}
	b.WriteString(t[last:])
	return b.String()
}

// emails replaces the local part of every address with a keyed pseudonym.
func (s *sanitizer) emails(t, where string) string {
	locs := emailRE.FindAllStringSubmatchIndex(t, -1)
	if locs == nil {
		return t
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		start := l[2]
		if start > 0 && t[start-1] == '%' && l[3]-start > 2 && isHex(t[start]) && isHex(t[start+1]) {
			// "%22alice%40…": the escape is not part of the address.
			start += 2
		}
		local, at, domain := t[start:l[3]], t[l[4]:l[5]], t[l[6]:l[7]]
		if pseudonymRE.MatchString(local) {
			continue
		}
		b.WriteString(t[last:start])
		s.rec.add(s.entry, where, KindEmail, local+"@"+domain)
		b.WriteString(s.pseudonymLocal(local, domain))
		b.WriteString(at)
		b.WriteString(domain)
		last = l[7]
	}
	b.WriteString(t[last:])
	return b.String()
}
