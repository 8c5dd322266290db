package inspect

import (
	"net/url"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// View is a flow with its decoded forms computed once and cached, so that
// ten rules asking for a flow's errors decode its body once. The engine
// keeps views in the History, so cross-flow rules get the same cache.
// A View is not safe for concurrent use.
type View struct {
	Flow *flow.Flow

	errors       []decode.AADSTSError
	errorsDone   bool
	params       url.Values
	paramsDone   bool
	oauth        *decode.Params
	authResp     *decode.AuthResponse
	authDone     bool
	tokens       []FoundToken
	tokensDone   bool
	url          *url.URL // the request URL, parsed once; nil if unparsable
	urlDone      bool
	tenant       string
	tenantDone   bool
	identity     bool
	identityDone bool
	// histBytes is what the History counted for this view's bodies when it
	// took it in, so it subtracts the same amount however the view changed.
	histBytes int64
}

// OAuth returns the request's OAuth parameters (decode.OAuthParams),
// decoded once; many rules ask for them, for this flow and earlier ones.
func (v *View) OAuth() *decode.Params {
	if v.oauth == nil {
		v.oauth = decode.OAuthParams(v.Flow)
	}
	return v.oauth
}

// AuthResponse returns the authorize answer in the response
// (decode.OAuthResponse), decoded once; nil when there is none.
func (v *View) AuthResponse() *decode.AuthResponse {
	if !v.authDone {
		v.authResp = decode.OAuthResponse(v.Flow)
		v.authDone = true
	}
	return v.authResp
}

// NewView wraps f; decoding happens lazily on first use.
func NewView(f *flow.Flow) *View { return &View{Flow: f} }

// Errors returns every Entra error in the flow's response (decode.FlowErrors),
// decoded once. Callers must not modify the result.
func (v *View) Errors() []decode.AADSTSError {
	if !v.errorsDone {
		v.errors = decode.FlowErrors(v.Flow)
		v.errorsDone = true
	}
	return v.errors
}

// Params returns the request's OAuth parameters: the URL query, then the
// form body of a urlencoded POST (the token endpoint, form_post logins).
// Badly escaped parameters are skipped. Callers must not modify the result.
func (v *View) Params() url.Values {
	if v.paramsDone {
		return v.params
	}
	v.paramsDone = true
	v.params = url.Values{}
	req := v.Flow.Request
	if req == nil {
		return v.params
	}
	if u := v.URL(); u != nil {
		q, _ := url.ParseQuery(u.RawQuery)
		for k, vals := range q {
			v.params[k] = append(v.params[k], vals...)
		}
	}
	ct := strings.ToLower(req.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		body, err := req.Body.Decoded()
		if err != nil && len(body) == 0 {
			body = req.Body.Raw
		}
		form, _ := url.ParseQuery(string(body))
		for k, vals := range form {
			v.params[k] = append(v.params[k], vals...)
		}
	}
	return v.params
}

// URL returns the request URL, parsed once (several rules ask for its path
// and tenant); nil when there is no request or it does not parse. Callers
// must not modify it.
func (v *View) URL() *url.URL {
	if !v.urlDone {
		v.urlDone = true
		if v.Flow != nil && v.Flow.Request != nil {
			v.url, _ = url.Parse(v.Flow.Request.URL)
		}
	}
	return v.url
}

// Path returns the request URL's path, or "" when it cannot be parsed.
func (v *View) Path() string {
	if u := v.URL(); u != nil {
		return u.Path
	}
	return ""
}

// IsAuthorize reports whether the request went to an OAuth authorize
// endpoint (/{tenant}/oauth2/authorize or /{tenant}/oauth2/v2.0/authorize).
func (v *View) IsAuthorize() bool {
	p := strings.ToLower(v.Path())
	return strings.Contains(p, "/oauth2/") && strings.HasSuffix(strings.TrimSuffix(p, "/"), "/authorize")
}

// IsSilentAuthorize reports an authorize request with prompt=none: the
// client asked for SSO without any UI, so interaction-required answers are
// expected outcomes, not failures.
func (v *View) IsSilentAuthorize() bool {
	return v.IsAuthorize() && strings.EqualFold(v.Params().Get("prompt"), "none")
}

// Pass is what a rule sees on one run: the flow, the history of earlier
// flows, the engine's options, and Report.
type Pass struct {
	// Rule is the rule being run.
	Rule *Rule
	// Flow is the completed flow; nil when Rule.Finish runs.
	Flow *flow.Flow
	// History holds earlier flows (not the current one), oldest first.
	History *History
	// Options are the engine's options with defaults filled in.
	Options Options

	view *View
	// out collects findings; one Pass serves every rule of a flow, so
	// running sixteen rules does not allocate sixteen passes.
	out *[]Finding
}

// Errors returns the current flow's decoded Entra errors (cached).
func (p *Pass) Errors() []decode.AADSTSError {
	if p.view == nil {
		return nil
	}
	return p.view.Errors()
}

// View returns the current flow's cached decoded view, or nil in Finish.
func (p *Pass) View() *View { return p.view }

// Report records a finding. Rule defaults to the running rule's ID,
// Severity to the rule's default, and Flow to the current flow's index (to
// point at flow 0 from another flow, use ReportAt).
func (p *Pass) Report(f Finding) {
	if f.Flow == 0 && p.Flow != nil {
		f.Flow = p.Flow.Index
	}
	p.ReportAt(f.Flow, f)
}

// ReportAt records a finding about the flow with the given index, filling
// Rule and Severity like Report.
func (p *Pass) ReportAt(flowIndex int, f Finding) {
	f.Flow = flowIndex
	if f.Rule == "" && p.Rule != nil {
		f.Rule = p.Rule.ID
	}
	if f.Severity == 0 && p.Rule != nil {
		f.Severity = p.Rule.Severity
	}
	if p.out != nil {
		*p.out = append(*p.out, f)
	}
}
