package sanitize

import "strings"

// header sanitizes one header value. where is the header's location, e.g.
// "request.headers[Cookie]".
func (s *sanitizer) header(name, v, where string) string {
	lname := strings.ToLower(strings.TrimSpace(name))
	switch lname {
	case "authorization", "proxy-authorization":
		return s.authorization(v, where)
	case "cookie":
		return s.cookieHeader(v, where)
	case "set-cookie", "set-cookie2":
		return s.setCookie(v, where)
	case "location", "content-location", "referer", "origin", ":path", "x-original-url":
		return s.url(v, where)
	}
	r := headerRule(lname)
	switch r.cls {
	case clsKeep:
		return s.keep(v, where)
	case clsUnknown:
		return s.unknown(v, where)
	}
	return s.byRule(r, v, where)
}

// authorization keeps the scheme and replaces the credentials. A bearer
// JWT is stripped rather than replaced, so its audience, scopes and expiry
// stay readable.
func (s *sanitizer) authorization(v, where string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return s.redact(where, KindAuthorization, v)
	}
	cred = strings.TrimSpace(cred)
	if out, ok := s.jwt(cred, where, KindAuthorization); ok {
		return scheme + " " + out
	}
	return scheme + " " + s.redact(where, KindAuthorization, cred)
}

// cookieValue applies the cookie rule: every value is replaced except
// those of keptCookies, empty values and short flags.
func (s *sanitizer) cookieValue(name, v, where string) string {
	if keepCookieValue(name, v) {
		return s.scrub(v, where)
	}
	return s.redact(where, KindCookie, v)
}

// cookieHeader sanitizes a Cookie header, keeping its separators.
func (s *sanitizer) cookieHeader(v, where string) string {
	pairs := strings.Split(v, ";")
	changed := false
	for i, p := range pairs {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			// Not a cookie pair: treat it as free text.
			if np := s.scrub(p, where); np != p {
				pairs[i] = np
				changed = true
			}
			continue
		}
		tv := strings.TrimSpace(val)
		nv := s.cookieValue(strings.TrimSpace(name), tv, where+": "+strings.TrimSpace(name))
		if nv != tv {
			pairs[i] = name + "=" + strings.Replace(val, tv, nv, 1)
			changed = true
		}
	}
	if !changed {
		return v
	}
	return strings.Join(pairs, ";")
}

// setCookie sanitizes a Set-Cookie header: the value is replaced, the name
// and attributes are kept.
func (s *sanitizer) setCookie(v, where string) string {
	first, attrs, hasAttrs := strings.Cut(v, ";")
	name, val, ok := strings.Cut(first, "=")
	if !ok {
		return s.scrub(v, where)
	}
	tv := strings.TrimSpace(val)
	nv := s.cookieValue(strings.TrimSpace(name), tv, where+": "+strings.TrimSpace(name))
	out := name + "=" + strings.Replace(val, tv, nv, 1)
	if hasAttrs {
		out += ";" + s.scrub(attrs, where)
	}
	return out
}
