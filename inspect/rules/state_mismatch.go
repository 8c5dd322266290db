package rules

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// StateMismatch follows the OAuth state from the authorize request through
// Entra's answer to the app's callback.
var StateMismatch = &inspect.Rule{
	ID:    "state-mismatch",
	Title: "OAuth state lost, altered or answered for another sign-in",
	Doc: `The state parameter ties Entra's answer to the sign-in the app started; apps
reject a callback whose state they do not recognise (ASP.NET "Correlation
failed", MSAL state_mismatch, Spring authorization_request_not_found). The
rule compares three values: the state an authorize request sent, the state
echoed in the redirect or form_post that answers it, and, when the app's
callback is in the trace, the state the callback received. It reports:

- an authorize request without state (warning: no CSRF protection, and
  nothing to match the answer with);
- an answer whose state matches no authorize request for that
  redirect_uri (error: something altered it or the answer is not Entra's);
- an answer to an older sign-in that arrives after a newer one for the
  same redirect_uri started (warning: overlapping sign-ins, which an app
  that keeps a single state slot rejects);
- a callback that received a different state than Entra sent (error);
- a callback the app rejected (an error status or a redirect naming a
  state or correlation error) although the state matched (error: the app
  lost its own record, usually its correlation cookie). A page answered
  200 that merely mentions "invalid state" (an address form) accepted the
  request, and a code without a state (a "?code=SUMMER24" coupon) is not
  an authorization answer to judge.

Bad trace: GET …/authorize?…&state=A (tab 1), GET …/authorize?…&state=B
(tab 2), then POST /common/login → 302 https://app/cb?code=…&state=A: the
answer is for tab 1 while the app now expects B.`,
	Severity: inspect.Error,
	Run:      runStateMismatch,
}

// appStateErrors are what apps answer when a callback's state or
// correlation check fails.
var appStateErrors = []string{
	"correlation failed",
	"state mismatch",
	"state_mismatch",
	"invalid_state",
	"invalid state",
	"authorization_request_not_found",
	"unable to unprotect the message.state",
	"oauth state was missing or invalid",
}

func runStateMismatch(p *inspect.Pass) error {
	params := p.View().OAuth()
	if params.Endpoint.IsAuthorize() && !params.Has("state") {
		p.Report(inspect.Finding{
			Severity: inspect.Warning,
			Title:    "Authorize request sends no state",
			Evidence: fmt.Sprintf("flow %d's authorize request (client_id %s, redirect_uri %q) has no state parameter", p.Flow.Index, params.ClientID, params.RedirectURI),
			Fix:      "Send an unguessable state with every authorize request and check it on the callback",
		})
	}
	if oauthMayCarryResponse(p.Flow) {
		if r := p.View().AuthResponse(); r != nil {
			stateOfAnswer(p, r)
		}
	}
	// A callback receives the code with the state; a request with a
	// grant_type redeems the code at a token endpoint (Google's, Okta's
	// paths are not Entra's) and never carries a state.
	if params.Endpoint == decode.EndpointOther && params.Code != "" && params.GrantType == "" {
		stateAtCallback(p, params)
	}
	return nil
}

// stateOfAnswer compares the state Entra echoed with the authorize
// requests it may answer.
func stateOfAnswer(p *inspect.Pass, r *decode.AuthResponse) {
	match, latest := oauthLinkAuthorize(p, p.Flow, r)
	if latest == nil {
		return
	}
	where := fmt.Sprintf("flow %d's %s answer to %s", p.Flow.Index, r.Source, r.RedirectURI)
	if match.Params.State == r.State && (r.StatePresent || match.Params.State == "") {
		if match != latest && latest.Params.State != r.State {
			p.Report(inspect.Finding{
				Severity: inspect.Warning,
				Title:    "Answer to an older sign-in arrives after a newer one started",
				Evidence: fmt.Sprintf("%s carries state %s, which flow %d's authorize request sent; flow %d started a newer sign-in for the same redirect_uri with state %s, so an app that keeps one state slot rejects this answer",
					where, oauthFingerprint(r.State), match.Index, latest.Index, oauthFingerprint(latest.Params.State)),
				Fix:     "Keep state per sign-in (keyed by its value), or avoid starting a second sign-in while one is in progress (another tab, a retry)",
				Related: []int{match.Index, latest.Index},
			})
		}
		return
	}
	sent := latest.Params.State
	if sent == "" {
		return
	}
	ev := fmt.Sprintf("%s carries state %s; flow %d's authorize request sent %s, and no authorize request for this redirect_uri sent the echoed value",
		where, oauthFingerprint(r.State), latest.Index, oauthFingerprint(sent))
	if !r.StatePresent {
		ev = fmt.Sprintf("%s carries no state; flow %d's authorize request sent %s", where, latest.Index, oauthFingerprint(sent))
	}
	p.Report(inspect.Finding{
		Title:    "State in Entra's answer differs from the state the app sent",
		Evidence: ev,
		Fix:      "Find what rewrites the redirect between Entra and the app (a proxy, an extension, double encoding), and send state as a URL-safe value",
		Related:  []int{latest.Index},
	})
}

// stateAtCallback compares what the app's callback received with what
// Entra sent, and explains an app's state rejection.
func stateAtCallback(p *inspect.Pass, params *decode.Params) {
	var issue *oauthIssue
	for v := range oauthCodeViews(p, params.Code, oauthCodeMaxAge) {
		if r := v.AuthResponse(); r != nil && r.Code == params.Code {
			issue = oauthIssueOf(p, v.Flow, r)
			break
		}
	}
	if issue == nil {
		return
	}
	if params.State != issue.Resp.State {
		p.Report(inspect.Finding{
			Title: "App's callback received another state than Entra sent",
			Evidence: fmt.Sprintf("flow %d's callback received state %s with code %s; flow %d's answer from Entra carried state %s",
				p.Flow.Index, oauthFingerprint(params.State), oauthFingerprint(params.Code), issue.Index, oauthFingerprint(issue.Resp.State)),
			Fix:     "Pass state through unchanged: decode it exactly once, and keep it URL-safe (base64url) so no layer re-encodes it",
			Related: []int{issue.Index},
		})
		return
	}
	// The app's refusal is evidence only when there was a state to echo
	// and the app refused (an error status, or a redirect whose Location
	// names the error): a "?code=SUMMER24" coupon redirect carries no
	// state, and a page answered 200 that merely shows "Invalid state"
	// beside an address form accepted the request.
	if !issue.Resp.StatePresent || p.Flow.Status() < 300 {
		return
	}
	marker := appStateError(p.Flow)
	if marker == "" {
		return
	}
	ev := fmt.Sprintf("flow %d's callback received the state Entra sent (flow %d) and the app answered HTTP %d mentioning %q: it no longer recognises its own sign-in",
		p.Flow.Index, issue.Index, p.Flow.Status(), marker)
	if !hasCorrelationCookie(p.Flow.Request) {
		ev += "; the callback request carries no correlation or nonce cookie, so the cookie that held the app's record was not sent (see cookie-dropped)"
	}
	related := []int{issue.Index}
	if issue.Authorize != nil && issue.Authorize.Index != issue.Index {
		related = append([]int{issue.Authorize.Index}, related...)
	}
	p.Report(inspect.Finding{
		Title:    "App rejected a callback whose state Entra echoed correctly",
		Evidence: ev,
		Fix:      "Make the app's correlation cookie survive the cross-site return (SameSite=None; Secure, served over https), and finish one sign-in before starting another",
		Related:  related,
	})
}

// appStateError returns the state-error text an app's answer contains, or
// "".
func appStateError(f *flow.Flow) string {
	if f.Response == nil {
		return ""
	}
	var hay []byte
	for _, loc := range f.Response.Header.Values("Location") {
		hay = append(hay, strings.ToLower(loc)...)
		hay = append(hay, ' ')
	}
	body, err := f.Response.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = f.Response.Body.Raw
	}
	if len(body) > 1<<20 {
		body = body[:1<<20]
	}
	hay = append(hay, bytes.ToLower(body)...)
	for _, m := range appStateErrors {
		if bytes.Contains(hay, []byte(m)) {
			return m
		}
	}
	return ""
}

// hasCorrelationCookie reports a request that carries a cookie an app
// framework keeps its sign-in record in.
func hasCorrelationCookie(r *flow.Request) bool {
	for _, c := range decode.RequestCookies(r) {
		n := strings.ToLower(c.Name)
		if strings.Contains(n, "correlation") || strings.Contains(n, "nonce") || strings.Contains(n, "state") {
			return true
		}
	}
	return false
}
