package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
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
	return f != nil && f.Request != nil && decode.ContainsFold(f.Request.URL, "/authorize")
}

// oauthMayCarryResponse is a cheap test before decoding a flow's response.
func oauthMayCarryResponse(f *flow.Flow) bool {
	if f == nil || f.Response == nil {
		return false
	}
	for _, loc := range f.Response.Header.Values("Location") {
		if decode.ContainsFold(loc, "code=") || decode.ContainsFold(loc, "error=") || decode.ContainsFold(loc, "token=") {
			return true
		}
	}
	return decode.ContainsFold(f.Response.Header.Get("Content-Type"), "html")
}

// oauthFindIssue finds the flow whose response delivered code, looking at
// the current flow first and then back through the history.
func oauthFindIssue(p *inspect.Pass, code string) *oauthIssue {
	if code == "" {
		return nil
	}
	if v := p.View(); v != nil && oauthMayCarryResponse(p.Flow) {
		if r := v.AuthResponse(); r != nil && r.Code == code {
			return oauthIssueOf(p, p.Flow, r)
		}
	}
	for v := range oauthCodeViews(p, code, oauthCodeMaxAge) {
		if r := v.AuthResponse(); r != nil && r.Code == code {
			return oauthIssueOf(p, v.Flow, r)
		}
	}
	return nil
}

// oauthCodeViews yields the history's views that deliver or send code
// (History.WithCode), newest first, within the bounds of the rules'
// backward scans: the last oauthLookback flows, none older than maxAge
// before the current flow.
func oauthCodeViews(p *inspect.Pass, code string, maxAge time.Duration) iter.Seq[*inspect.View] {
	return func(yield func(*inspect.View) bool) {
		list := p.History.WithCode(code)
		for i := len(list) - 1; i >= 0; i-- {
			v := list[i]
			if p.Flow != nil && (p.Flow.Index-v.Flow.Index > oauthLookback || oauthTooOld(p.Flow, v.Flow, maxAge)) {
				return
			}
			if !yield(v) {
				return
			}
		}
	}
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
