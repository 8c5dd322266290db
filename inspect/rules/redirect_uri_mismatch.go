package rules

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// RedirectURIMismatch compares the redirect_uri of a code's authorize
// request with the one its token request sends, and explains 50011 and
// 500112 with the values involved.
var RedirectURIMismatch = &inspect.Rule{
	ID:    "redirect-uri-mismatch",
	Title: "redirect_uri differs between authorize and token, or is not registered",
	Doc: `An authorization code is bound to the redirect_uri of the authorize request
that produced it, and the token request that redeems it must send the same
string: otherwise Entra answers AADSTS500112 (older v1 answers wrap it as
AADSTS70002 with 50011 "does not match the reply address … provided when
requesting Authorization code"). The rule follows each code from the
redirect or form_post that delivered it back to its authorize request and
compares that request's redirect_uri with the token request's, character by
character, naming the kind of difference (scheme, host, port, trailing
slash, letter case, encoding). When the authorize request is not in the
trace it reads both addresses from Entra's 500112 message.

It also explains AADSTS50011 on an authorize request: what the request
sent, the suspicious details in it (http instead of https, a trailing
slash, 127.0.0.1 against localhost, double encoding), and the
redirect_uris that the same client_id used successfully elsewhere in the
trace, which are registered.

Bad trace: GET /common/oauth2/v2.0/authorize?…&redirect_uri=https://app.contoso.test/cb
comes back with code=0.AW8A…; then POST /common/oauth2/v2.0/token with
code=0.AW8A…&redirect_uri=https://app.contoso.test/cb/ gets invalid_grant
AADSTS500112.`,
	Severity: inspect.Error,
	Run:      runRedirectURIMismatch,
}

// replyMismatchRE reads the two addresses of 500112 (and of the older v1
// 50011 text at the token endpoint): the token request's first, then the
// authorize request's.
var replyMismatchRE = regexp.MustCompile(`(?i)reply address '([^']*)' does not match the reply address '([^']*)'`)

// notRegisteredRE reads the address and app of the authorize-time 50011.
var notRegisteredRE = regexp.MustCompile(`(?i)(?:redirect URI|reply URL|reply address) '([^']*)' (?:specified in the request )?does not match the (?:redirect URIs|reply URLs|reply addresses) configured for the application:? '([^']*)'`)

func runRedirectURIMismatch(p *inspect.Pass) error {
	params := p.View().OAuth()
	switch {
	case params.Endpoint.IsToken() && params.Code != "":
		redirectAtToken(p, params)
	case params.Endpoint.IsAuthorize():
		redirectNotRegistered(p, params)
	}
	return nil
}

// redirectAtToken compares a code redemption's redirect_uri with the
// authorize request's.
func redirectAtToken(p *inspect.Pass, params *decode.Params) {
	code := oauthErrorCode(p, 500112, 50011)
	issue := oauthFindIssue(p, params.Code)
	var auth *oauthAuthorize
	if issue != nil {
		auth = issue.Authorize
	}
	if auth == nil || auth.Params.RedirectURI == "" {
		if code == 0 {
			return
		}
		// The authorize request is not in the trace: Entra's message names
		// both addresses.
		for _, e := range p.Errors() {
			m := replyMismatchRE.FindStringSubmatch(e.Description)
			if m == nil {
				continue
			}
			p.Report(inspect.Finding{
				Code:  code,
				Title: "Token request's redirect_uri differs from the authorize request's",
				Evidence: fmt.Sprintf("flow %d redeems code %s with redirect_uri %q; Entra says the authorize request used %q (%s); the authorize request is not in this trace",
					p.Flow.Index, oauthFingerprint(params.Code), m[1], m[2], describeURIDifference(m[2], m[1])),
				Fix: fmt.Sprintf("Send redirect_uri=%s on the token request, byte for byte the value of the authorize request", m[2]),
			})
			return
		}
		return
	}
	sent, want := params.RedirectURI, auth.Params.RedirectURI
	if sent == want {
		return
	}
	related := []int{auth.Index}
	if issue.Index != auth.Index {
		related = append(related, issue.Index)
	}
	if sent == "" {
		if params.Endpoint != decode.EndpointTokenV2 && code == 0 {
			return // v1 lets the token request leave it out
		}
		p.Report(inspect.Finding{
			Code:  code,
			Title: "Token request omits the redirect_uri the authorize request sent",
			Evidence: fmt.Sprintf("flow %d redeems code %s at the %s token endpoint without redirect_uri; the code came from flow %d's authorize request with redirect_uri %q",
				p.Flow.Index, oauthFingerprint(params.Code), params.Version, auth.Index, want),
			Fix:     fmt.Sprintf("Send redirect_uri=%s on the token request", want),
			Related: related,
		})
		return
	}
	outcome := "Entra will refuse it (AADSTS500112)"
	if code != 0 {
		outcome = fmt.Sprintf("Entra refused it with AADSTS%d", code)
	} else if p.Flow.Status() == 200 {
		outcome = "Entra accepted it this time"
	}
	p.Report(inspect.Finding{
		Code:  code,
		Title: "Token request's redirect_uri differs from the authorize request's",
		Evidence: fmt.Sprintf("flow %d redeems code %s with redirect_uri %q; flow %d's authorize request, which produced the code, sent %q (%s); %s",
			p.Flow.Index, oauthFingerprint(params.Code), sent, auth.Index, want, describeURIDifference(want, sent), outcome),
		Fix:     fmt.Sprintf("Send redirect_uri=%s on the token request, byte for byte the value of the authorize request", want),
		Related: related,
	})
}

// redirectNotRegistered explains 50011 on an authorize request.
func redirectNotRegistered(p *inspect.Pass, params *decode.Params) {
	code := oauthErrorCode(p, 50011)
	if code == 0 {
		return
	}
	sent := params.RedirectURI
	var registered string
	for _, e := range p.Errors() {
		if m := notRegisteredRE.FindStringSubmatch(e.Description); m != nil {
			if sent == "" {
				sent = m[1]
			}
			registered = m[2]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d's authorize request sent redirect_uri %q", p.Flow.Index, sent)
	if registered != "" {
		fmt.Fprintf(&b, "; Entra says it is not among the redirect URIs registered for application %s", registered)
	} else if params.ClientID != "" {
		fmt.Fprintf(&b, "; Entra says it is not among the redirect URIs registered for client_id %s", params.ClientID)
	}
	if notes := suspiciousRedirect(sent); len(notes) > 0 {
		fmt.Fprintf(&b, "; note: %s", strings.Join(notes, "; "))
	}
	good, goodFlows := workingRedirects(p, params.ClientID, sent)
	if len(good) > 0 {
		fmt.Fprintf(&b, "; the same client_id got an answer with redirect_uri %s (so that one is registered; %s)",
			strings.Join(quoteAll(good), ", "), describeURIDifference(good[0], sent))
	}
	fix := "Register the exact redirect_uri on the app registration (same platform type), or make the app send one that is registered"
	if len(good) > 0 {
		fix = fmt.Sprintf("Make the app send redirect_uri=%s, which is registered, or register %s", good[0], sent)
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    "redirect_uri is not registered for the application",
		Evidence: b.String(),
		Fix:      fix,
		Related:  goodFlows,
	})
}

// suspiciousRedirect lists the details of a redirect_uri that most often
// explain 50011.
func suspiciousRedirect(s string) []string {
	var notes []string
	u, err := url.Parse(s)
	if err != nil {
		return []string{"it is not a valid URL"}
	}
	host := strings.ToLower(u.Hostname())
	local := host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == "::1"
	if u.Scheme == "http" && !local {
		notes = append(notes, "it uses http on a non-localhost host (Entra accepts http only for localhost)")
	}
	if host == "127.0.0.1" {
		notes = append(notes, "127.0.0.1 and localhost are different registrations")
	}
	if strings.Contains(strings.ToLower(s), "%2f") || strings.Contains(strings.ToLower(s), "%25") {
		notes = append(notes, "it still contains percent escapes after decoding, so it was encoded twice")
	}
	if strings.HasSuffix(u.Path, "/") && len(u.Path) > 1 {
		notes = append(notes, "it ends with a slash, which must be registered too")
	}
	if u.Port() != "" && !local {
		notes = append(notes, fmt.Sprintf("it names port %s, which must be part of the registration", u.Port()))
	}
	return notes
}

// workingRedirects returns the redirect_uris that the same client got a
// code, token or redirect back with, earlier in the trace.
func workingRedirects(p *inspect.Pass, clientID, except string) ([]string, []int) {
	if clientID == "" {
		return nil, nil
	}
	var uris []string
	var flows []int
	seen := map[string]bool{except: true}
	for v := range recentIdentityViews(p.History, oauthLookback) {
		if !oauthLooksAuthorize(v.Flow) {
			continue
		}
		ap := v.OAuth()
		if !ap.Endpoint.IsAuthorize() || !strings.EqualFold(ap.ClientID, clientID) || seen[ap.RedirectURI] {
			continue
		}
		if v.AuthResponse() == nil && v.Flow.Status() != 200 {
			continue
		}
		ok := true
		for _, e := range v.Errors() {
			if e.Code() == 50011 || e.Code() == 500113 {
				ok = false
			}
		}
		if ok {
			seen[ap.RedirectURI] = true
			uris = append(uris, ap.RedirectURI)
			flows = append(flows, v.Flow.Index)
		}
	}
	return uris, flows
}

// describeURIDifference names how got differs from want.
func describeURIDifference(want, got string) string {
	if want == got {
		return "identical"
	}
	if strings.EqualFold(want, got) {
		return "they differ only in letter case"
	}
	if strings.TrimSuffix(want, "/") == strings.TrimSuffix(got, "/") {
		return "they differ only in a trailing slash"
	}
	if dw, err := url.QueryUnescape(got); err == nil && dw == want {
		return "the second is the first encoded once more"
	}
	if dw, err := url.QueryUnescape(want); err == nil && dw == got {
		return "the first is the second encoded once more"
	}
	uw, errW := url.Parse(want)
	ug, errG := url.Parse(got)
	if errW != nil || errG != nil {
		return "they differ"
	}
	var parts []string
	if !strings.EqualFold(uw.Scheme, ug.Scheme) {
		parts = append(parts, fmt.Sprintf("scheme %s vs %s", uw.Scheme, ug.Scheme))
	}
	if !strings.EqualFold(uw.Hostname(), ug.Hostname()) {
		parts = append(parts, fmt.Sprintf("host %s vs %s", uw.Hostname(), ug.Hostname()))
	}
	if uw.Port() != ug.Port() {
		parts = append(parts, fmt.Sprintf("port %q vs %q", uw.Port(), ug.Port()))
	}
	if uw.EscapedPath() != ug.EscapedPath() {
		parts = append(parts, fmt.Sprintf("path %s vs %s", uw.EscapedPath(), ug.EscapedPath()))
	}
	if uw.RawQuery != ug.RawQuery {
		parts = append(parts, "query differs")
	}
	if len(parts) == 0 {
		return "they differ"
	}
	return "they differ in " + strings.Join(parts, ", ")
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
