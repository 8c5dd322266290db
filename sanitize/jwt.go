package sanitize

import (
	"encoding/base64"
	"strings"
)

// jwt sanitizes a compact JWS (three segments) or JWE (five). ok is false
// when v is not a JWT, and v is returned unchanged.
//
// The header keeps its algorithm fields, the payload the claims in
// KeepClaims; other values become placeholders (e-mail claims and names
// become pseudonyms with Pseudonymize). The signature becomes a
// base64url-shaped placeholder. A real signature is recorded with kind; a
// secret claim (a PRT's refresh_token) with its own kind; other claim
// changes once, as personal data.
func (s *sanitizer) jwt(v, where, kind string) (string, bool) {
	if len(v) < 10 || !strings.HasPrefix(v, "eyJ") {
		return v, false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 && len(parts) != 5 {
		return v, false
	}
	hdr, err := parseJSONSegment(parts[0])
	if err != nil || hdr.kind != jObject {
		return v, false
	}
	personal := false
	for i, k := range hdr.keys {
		if keptHeaderFields[strings.ToLower(k)] {
			continue
		}
		if hdr.vals[i].leaves(s.claimPlaceholder) {
			personal = true
		}
	}
	out := make([]string, len(parts))
	out[0] = parts[0]
	if personal {
		out[0] = base64.RawURLEncoding.EncodeToString(hdr.encode(nil, false))
	}
	realSig := false
	if len(parts) == 5 {
		// JWE: the encrypted key, IV, ciphertext and tag are opaque.
		for i := 1; i < 5; i++ {
			out[i] = s.segment(parts[i])
			if out[i] != parts[i] {
				realSig = true
			}
		}
	} else {
		out[1] = parts[1]
		if payload, err := parseJSONSegment(parts[1]); err == nil && payload.kind == jObject {
			if s.claims(payload, where) {
				personal = true
				out[1] = base64.RawURLEncoding.EncodeToString(payload.encode(nil, false))
			}
		} else if parts[1] != "" && !isPlaceholder(parts[1]) {
			out[1] = s.segmentPlaceholder(parts[1])
			personal = true
		}
		out[2] = s.segment(parts[2])
		realSig = out[2] != parts[2]
	}
	switch {
	case realSig:
		s.rec.add(s.entry, where, kind, v)
	case personal:
		s.rec.add(s.entry, where, KindPersonal, v)
	}
	return strings.Join(out, "."), true
}

// segment replaces an opaque JWT segment unless it is empty or already a
// placeholder.
func (s *sanitizer) segment(seg string) string {
	if seg == "" || isPlaceholder(seg) {
		return seg
	}
	return s.segmentPlaceholder(seg)
}

// claimPlaceholder replaces one claim value; placeholders stay.
func (s *sanitizer) claimPlaceholder(v string) string {
	if v == "" || isPlaceholder(v) {
		return v
	}
	return s.placeholder(v)
}

// claims sanitizes a JWT payload in place and reports whether it changed.
func (s *sanitizer) claims(p *jnode, where string) bool {
	changed := false
	for i, k := range p.keys {
		val := p.vals[i]
		if s.keepClaims[k] {
			// Kept claims are still scrubbed, so Pseudonymize reaches them.
			if val.leaves(func(v string) string { return s.scrub(v, where+" "+k) }) {
				changed = true
			}
			continue
		}
		if r := fieldRule(k); isSecretClass(r.cls) {
			if s.redactLeaves(val, where+" "+k, r.kind) {
				changed = true
			}
			continue
		}
		ck := claimKinds[k]
		fn := s.claimPlaceholder
		switch {
		case ck == claimEmail && s.o.Pseudonymize && !s.detect:
			fn = func(v string) string {
				if out := s.emails(v, where+" "+k); out != v || pseudonymRE.MatchString(localPart(v)) {
					return out
				}
				return s.claimPlaceholder(v)
			}
		case ck == claimName && s.o.Pseudonymize && !s.detect:
			fn = func(v string) string {
				if v == "" || personRE.MatchString(v) {
					return v
				}
				return s.personName(v)
			}
		}
		if val.leaves(fn) {
			changed = true
		}
	}
	return changed
}

func localPart(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	return local
}

// parseJSONSegment decodes a base64url JWT segment (padding tolerated) as
// JSON.
func parseJSONSegment(seg string) (*jnode, error) {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, err
	}
	return parseJSON(data)
}

// isStrippedJWT reports whether v is a JWT this package has already
// sanitized (its signature is a placeholder or empty).
func isStrippedJWT(v string) bool {
	if !strings.HasPrefix(v, "eyJ") {
		return false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	return parts[2] == "" || isPlaceholder(parts[2])
}
