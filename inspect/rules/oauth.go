package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// The helpers in this file are shared by the rules that follow one sign-in
// across flows (redirect-uri-mismatch, state-mismatch, nonce-mismatch,
// pkce-mismatch, code-reused, signin-loop). They read only the Pass.

// oauthLookback bounds how far back the cross-flow OAuth rules search the
// history, so a long trace costs each flow a bounded scan.
const oauthLookback = 5000

// Time bounds of the backward scans, for flows whose times are known: a
// code is redeemed within minutes (Entra's codes last about ten), and a
// sign-in, from authorize request to answer, rarely takes an hour. The
// scans stop there instead of walking the whole history for every flow.
const (
	oauthCodeMaxAge   = 15 * time.Minute
	oauthSignInMaxAge = time.Hour
)

// oauthTooOld reports whether old happened more than maxAge before cur;
// false when either time is unknown.
func oauthTooOld(cur, old *flow.Flow, maxAge time.Duration) bool {
	tc, ok1 := decode.FlowTime(cur)
	to, ok2 := decode.FlowTime(old)
	return ok1 && ok2 && tc.Sub(to) > maxAge
}

// oauthMentions returns a cheap test that a flow's request or response
// could carry value, to run before decoding it: it looks in the URL, the
// Location headers and the raw bodies (value as is, query-escaped and
// HTML-escaped), and says yes for compressed bodies it cannot search.
func oauthMentions(value string) func(*flow.Flow) bool {
	forms := []string{value, url.QueryEscape(value), html.EscapeString(value)}
	in := func(s string) bool {
		for _, v := range forms {
			if strings.Contains(s, v) {
				return true
			}
		}
		return false
	}
	// Bodies are searched as bytes: the history holds up to its whole body
	// budget, and a string copy of each body per lookup cost more than the
	// search itself.
	byteForms := make([][]byte, len(forms))
	for i, v := range forms {
		byteForms[i] = []byte(v)
	}
	body := func(b *flow.Body) bool {
		if b.Encoding != "" && !strings.EqualFold(b.Encoding, "identity") {
			return len(b.Raw) > 0
		}
		for _, v := range byteForms {
			if bytes.Contains(b.Raw, v) {
				return true
			}
		}
		return false
	}
	return func(f *flow.Flow) bool {
		if f == nil || f.Request == nil || value == "" {
			return false
		}
		if in(f.Request.URL) || body(&f.Request.Body) {
			return true
		}
		if f.Response == nil {
			return false
		}
		for _, loc := range f.Response.Header.Values("Location") {
			if in(loc) {
				return true
			}
		}
		return body(&f.Response.Body)
	}
}

// oauthAuthorize is an authorize request in the trace.
type oauthAuthorize struct {
	Index  int
	Flow   *flow.Flow
	Params *decode.Params
}

// oauthIssue is where a code (or another authorize result) was handed back.
type oauthIssue struct {
	// Index is the flow whose response carried the result: the authorize
	// request itself, or a later sign-in page (login, kmsi) that redirected.
	Index int
	Resp  *decode.AuthResponse
	// Authorize is the authorize request the result answers (see
	// oauthLinkAuthorize); nil when it is not in the trace.
	Authorize *oauthAuthorize
	// Latest is the newest authorize request for the same redirect_uri
	// before the result; it differs from Authorize when sign-ins overlap.
	Latest *oauthAuthorize
}

// oauthLooksAuthorize is a cheap test before decoding a flow's parameters.
func oauthLooksAuthorize(f *flow.Flow) bool {
	return f != nil && f.Request != nil && containsFold(f.Request.URL, "/authorize")
}

// containsFold is strings.Contains ignoring ASCII case, without the
// allocation of lowering a long URL for every flow of a scan.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// oauthMayCarryResponse is a cheap test before decoding a flow's response.
func oauthMayCarryResponse(f *flow.Flow) bool {
	if f == nil || f.Response == nil {
		return false
	}
	for _, loc := range f.Response.Header.Values("Location") {
		l := strings.ToLower(loc)
		if strings.Contains(l, "code=") || strings.Contains(l, "error=") || strings.Contains(l, "token=") {
			return true
		}
	}
	return strings.Contains(strings.ToLower(f.Response.Header.Get("Content-Type")), "html")
}

// oauthFindIssue finds the flow whose response delivered code, looking at
// the current flow first and then back through the history.
func oauthFindIssue(p *inspect.Pass, code string) *oauthIssue {
	if code == "" {
		return nil
	}
	mentions := oauthMentions(code)
	check := func(f *flow.Flow) *oauthIssue {
		if !oauthMayCarryResponse(f) || !mentions(f) {
			return nil
		}
		r := decode.OAuthResponse(f)
		if r == nil || r.Code != code {
			return nil
		}
		return oauthIssueOf(p, f, r)
	}
	if p.Flow != nil {
		if is := check(p.Flow); is != nil {
			return is
		}
	}
	for v := range recentIdentityViews(p.History, oauthLookback) {
		if p.Flow != nil && oauthTooOld(p.Flow, v.Flow, oauthCodeMaxAge) {
			break
		}
		if is := check(v.Flow); is != nil {
			return is
		}
	}
	return nil
}

// oauthIssueOf links an authorize result carried by f to its authorize
// request.
func oauthIssueOf(p *inspect.Pass, f *flow.Flow, r *decode.AuthResponse) *oauthIssue {
	is := &oauthIssue{Index: f.Index, Resp: r}
	is.Authorize, is.Latest = oauthLinkAuthorize(p, f, r)
	return is
}

// oauthLinkAuthorize finds the authorize request an authorize result
// answers. When f is itself the authorize request, that is the answer.
// Otherwise it walks back from f to authorize requests with the same
// redirect_uri: latest is the newest, and match is the newest whose state
// equals the result's (latest when the result has no state or none
// matches). Comparing the two is how state-mismatch sees overlapping
// sign-ins.
func oauthLinkAuthorize(p *inspect.Pass, f *flow.Flow, r *decode.AuthResponse) (match, latest *oauthAuthorize) {
	if oauthLooksAuthorize(f) {
		if ap := decode.OAuthParams(f); ap.Endpoint.IsAuthorize() {
			a := &oauthAuthorize{Index: f.Index, Flow: f, Params: ap}
			return a, a
		}
	}
	n := 0
	for v := range p.History.Backward() {
		if v.Flow.Index >= f.Index {
			continue
		}
		if n++; n > oauthLookback || oauthTooOld(f, v.Flow, oauthSignInMaxAge) {
			break
		}
		if !oauthLooksAuthorize(v.Flow) {
			continue
		}
		ap := v.OAuth()
		if !ap.Endpoint.IsAuthorize() || !oauthSameRedirect(ap.RedirectURI, r.RedirectURI) {
			continue
		}
		a := &oauthAuthorize{Index: v.Flow.Index, Flow: v.Flow, Params: ap}
		if latest == nil {
			latest = a
		}
		if !r.StatePresent || ap.State == r.State {
			return a, latest
		}
	}
	return latest, latest
}

// oauthOtherAuthorize returns the newest authorize request in the history,
// other than flow except, whose parameters satisfy match, or -1. The nonce
// and PKCE rules use it to show that a value belongs to another sign-in.
func oauthOtherAuthorize(p *inspect.Pass, except int, match func(*decode.Params) bool) int {
	for v := range recentIdentityViews(p.History, oauthLookback) {
		if v.Flow.Index == except || !oauthLooksAuthorize(v.Flow) {
			continue
		}
		ap := v.OAuth()
		if ap.Endpoint.IsAuthorize() && match(ap) {
			return v.Flow.Index
		}
	}
	return -1
}

// oauthSameRedirect compares a requested redirect_uri with where a result
// went, for linking only: case, a trailing slash and the redirect_uri's own
// query do not matter here (the mismatch rule compares exactly).
func oauthSameRedirect(requested, target string) bool {
	norm := func(s string) string {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "/")
	}
	return requested != "" && norm(requested) == norm(target)
}

// oauthErrorCode returns the first of codes that the current flow's
// response carries, or 0.
func oauthErrorCode(p *inspect.Pass, codes ...int) int {
	for _, e := range p.Errors() {
		for _, c := range e.Codes {
			for _, want := range codes {
				if c == want {
					return c
				}
			}
		}
	}
	return 0
}

// oauthFingerprint names a code, verifier or state without quoting it: its
// first characters and a short hash, so equal values look equal.
func oauthFingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	prefix := s
	if r := []rune(s); len(r) > 8 {
		prefix = string(r[:8]) + "…"
	}
	return fmt.Sprintf("%q (sha256 %s, %d chars)", prefix, hex.EncodeToString(sum[:4]), len(s))
}
