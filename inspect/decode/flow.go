package decode

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
)

// sourceRank orders sources from the richest (most fields, Entra's own
// structured words) to the poorest (a bare number in a header).
var sourceRank = map[string]int{
	SourceTokenJSON:        0,
	SourceRedirectQuery:    1,
	SourceRedirectFragment: 1,
	SourceFormPost:         1,
	SourceHTMLConfig:       2,
	SourceWWWAuthenticate:  3,
	SourceCliTelem:         4,
}

// FlowErrors returns every Entra error in a flow's response: JSON body,
// Location header, form_post page, the HTML page's $Config, x-ms-clitelem and
// WWW-Authenticate. The same error often shows in several places (an error
// page carries it in $Config and in x-ms-clitelem), so errors are
// deduplicated by code, keeping the richest source first. Errors without a
// code (a user cancel) are deduplicated by their OAuth error. It decodes the
// body with Body.Decoded and works on the decoded prefix when that fails.
func FlowErrors(f *flow.Flow) []AADSTSError {
	if f == nil || f.Response == nil {
		return nil
	}
	resp := f.Response
	var found []AADSTSError
	add := func(e *AADSTSError, err error) {
		if err == nil && e != nil {
			found = append(found, *e)
		}
	}

	body, err := resp.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = resp.Body.Raw
	}
	trimmed := bytes.TrimLeft(body, "\ufeff \t\r\n")
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		// Every Entra error body has an "error" member; success bodies
		// (tokens, discovery documents) skip the JSON parse.
		if bytes.Contains(trimmed, []byte(`"error`)) {
			add(ParseTokenError(trimmed))
		}
	case strings.Contains(ct, "html") || (len(trimmed) > 0 && trimmed[0] == '<'):
		if HasFormTag(body) {
			add(ParseFormPostError(body))
		}
		if bytes.Contains(body, []byte("$Config")) {
			if cfg, err := ParseConfig(body); err == nil {
				add(ConfigError(cfg))
			}
		}
	}
	for _, loc := range resp.Header.Values("Location") {
		add(ParseRedirectError(loc))
	}
	for _, v := range resp.Header.Values("x-ms-clitelem") {
		code, sub, ok := ParseCliTelem(v)
		if !ok || code == 0 {
			continue
		}
		e := AADSTSError{Codes: []int{code}, Source: SourceCliTelem}
		if sub != 0 {
			e.SubError = strconv.Itoa(sub)
		}
		found = append(found, e)
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		add(BearerChallengeError(v))
	}
	return dedupe(found)
}

// dedupe keeps, for each code (or each OAuth error when there is no code),
// the error from the richest source; ties go to the error with more fields.
func dedupe(errs []AADSTSError) []AADSTSError {
	if len(errs) < 2 {
		return errs
	}
	slices.SortStableFunc(errs, func(a, b AADSTSError) int {
		if c := cmp.Compare(sourceRank[a.Source], sourceRank[b.Source]); c != 0 {
			return c
		}
		return cmp.Compare(richness(&b), richness(&a))
	})
	seenCode := map[int]bool{}
	seenOAuth := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if len(e.Codes) == 0 {
			key := e.OAuthError + "\x00" + e.SubError
			if seenOAuth[key] {
				continue
			}
			seenOAuth[key] = true
			out = append(out, e)
			continue
		}
		fresh := false
		for _, c := range e.Codes {
			if !seenCode[c] {
				fresh = true
			}
			seenCode[c] = true
		}
		if fresh {
			out = append(out, e)
		}
	}
	return out
}

// richness counts the fields an error carries.
func richness(e *AADSTSError) int {
	n := 0
	for _, s := range []string{e.OAuthError, e.SubError, e.Description, e.TraceID, e.CorrelationID, e.ErrorURI, e.Claims} {
		if s != "" {
			n++
		}
	}
	if len(e.Codes) > 0 {
		n++
	}
	if !e.Timestamp.IsZero() {
		n++
	}
	return n
}

// HasFormTag reports whether an HTML body has a <form element, in any case,
// without lowering the whole body: a form_post page carries the code, the
// tokens or a SAML response, and an Entra error page its error fields.
func HasFormTag(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '<')
		if i < 0 || len(b)-i < 5 {
			return false
		}
		if bytes.EqualFold(b[i+1:i+5], []byte("form")) {
			return true
		}
		b = b[i+1:]
	}
}

// ContainsFold is strings.Contains ignoring case, without the allocation of
// lowering a long URL or header for every flow of a scan.
func ContainsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	first := sub[0]
	lo, up := first, first
	if 'A' <= first && first <= 'Z' {
		lo += 'a' - 'A'
	} else if 'a' <= first && first <= 'z' {
		up -= 'a' - 'A'
	}
	// Jump between the places the first byte occurs, in either case, and
	// compare only there.
	for i := 0; i+len(sub) <= len(s); {
		j := strings.IndexByte(s[i:len(s)-len(sub)+1], lo)
		if up != lo {
			if k := strings.IndexByte(s[i:len(s)-len(sub)+1], up); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
		i++
	}
	return false
}
