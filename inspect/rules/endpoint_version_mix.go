package rules

import (
	"fmt"
	"strings"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// EndpointVersionMix reports v1 parameters sent to v2 endpoints and v2
// scopes relied on at v1 endpoints.
var EndpointVersionMix = &inspect.Rule{
	ID:    "endpoint-version-mix",
	Title: "v1 and v2 endpoint parameters mixed",
	Doc: `Entra's v1 endpoints (/oauth2/authorize, /oauth2/token) choose the token's
audience from the resource parameter; the v2 endpoints (/oauth2/v2.0/…)
take scopes instead and answer a resource parameter with AADSTS901002.
Libraries and copied samples mix them up. The rule reports a resource
parameter sent to a v2 authorize, token or device-code endpoint (an error
when Entra answered 901002, otherwise a warning), and a v1 request without
resource whose scope names API permissions (https://graph.microsoft.com/
Mail.Read, User.Read, .default): the v1 endpoint does not pick the
audience from them, so the token is not for the API the app meant. OIDC
scopes (openid, profile, email, offline_access) are normal on v1 and are
not reported. Other servers use v1-shaped paths with scopes of their own
(Cognito's /oauth2/authorize, Discord's /api/oauth2/token), so the v1
check applies only where the path names an Entra tenant (a GUID, common,
organizations, consumers, a domain, adfs) or Entra answered.

The rule looks at requests only. The version of the token issued ("ver"
1.0 or 2.0) follows the API's manifest, not the endpoint: Microsoft Graph
receives v1.0 tokens from the v2 endpoint, and that is not a mix.

Bad trace: POST /contoso.onmicrosoft.com/oauth2/v2.0/token
grant_type=client_credentials&resource=https://graph.microsoft.com →
400 invalid_request AADSTS901002.`,
	Severity: inspect.Warning,
	Run:      runEndpointVersionMix,
}

// oidcScopeNames are the scopes that ask about the user rather than for an
// API; v1 endpoints accept them beside resource.
var oidcScopeNames = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true, "address": true, "phone": true}

func runEndpointVersionMix(p *inspect.Pass) error {
	params := p.View().OAuth()
	e := params.Endpoint
	if !e.IsAuthorize() && !e.IsToken() && e != decode.EndpointDeviceCode {
		return nil
	}
	switch params.Version {
	case "v2":
		if params.Resource == "" {
			return nil
		}
		code := oauthErrorCode(p, 901002)
		sev := inspect.Warning
		outcome := "the v2 endpoint does not take it (Entra answers AADSTS901002 or ignores it)"
		if code != 0 {
			sev, outcome = inspect.Error, "Entra refused it with AADSTS901002"
		}
		scope := strings.TrimSuffix(params.Resource, "/") + "/.default"
		p.Report(inspect.Finding{
			Severity: sev,
			Code:     code,
			Title:    "v1 resource parameter sent to a v2 endpoint",
			Evidence: fmt.Sprintf("flow %d sends resource=%s to the %s endpoint %s (scope %q); %s",
				p.Flow.Index, params.Resource, e, trimQuery(p.Flow.Request.URL), params.Scope, outcome),
			Fix: fmt.Sprintf("Drop resource and ask for scope=%s (or the API's named scopes) on the v2 endpoint, or use the v1 endpoint /oauth2/%s", scope, v1Name(e)),
		})
	case "v1":
		if params.Resource != "" || !entraV1(p, params) {
			return nil
		}
		api := apiScopes(params.Scope)
		if len(api) == 0 {
			return nil
		}
		code := oauthErrorCode(p, 900144, 50001)
		p.Report(inspect.Finding{
			Code:  code,
			Title: "v2 scopes relied on at a v1 endpoint",
			Evidence: fmt.Sprintf("flow %d sends scope %q without resource to the %s endpoint %s; the v1 endpoint picks the audience from resource, not from %s",
				p.Flow.Index, params.Scope, e, trimQuery(p.Flow.Request.URL), strings.Join(api, ", ")),
			Fix: fmt.Sprintf("Use the v2 endpoint /oauth2/v2.0/%s for scopes, or send resource=%s on the v1 endpoint", v1Name(e), resourceOf(api[0])),
		})
	}
	return nil
}

// entraV1 reports whether a v1-shaped request (/…/oauth2/authorize,
// /…/oauth2/token) went to Entra (or AD FS), whose v1 endpoints take
// resource: the path names an Entra tenant (a GUID, common, organizations,
// consumers, a domain, adfs), or Entra answered (x-ms-ests-server, an
// AADSTS code). Other servers use the same paths with scopes of their own
// (Cognito's /oauth2/authorize with aws.cognito.signin.user.admin,
// Discord's /api/oauth2/token with identify, Salesforce's
// /services/oauth2/token).
func entraV1(p *inspect.Pass, params *decode.Params) bool {
	t := strings.ToLower(params.Tenant)
	switch {
	case inspect.IsGUID(t), inspect.IsMetaTenant(t), t == "adfs", strings.Contains(t, "."):
		return true
	case entraAnswered(p.Flow):
		return true
	}
	for _, e := range p.Errors() {
		if e.Code() != 0 {
			return true
		}
	}
	return false
}

// apiScopes returns the scope values that name API permissions rather than
// OIDC claims.
func apiScopes(scope string) []string {
	var out []string
	for _, s := range strings.Fields(scope) {
		if !oidcScopeNames[strings.ToLower(s)] {
			out = append(out, s)
		}
	}
	return out
}

// resourceOf guesses the resource of a scope value: the URI before its last
// path segment (https://graph.microsoft.com/Mail.Read →
// https://graph.microsoft.com), the value itself when it is a URI without
// a permission, or Microsoft Graph for a bare permission name, which v2
// resolves to Graph.
func resourceOf(scope string) string {
	if i := strings.LastIndexByte(scope, '/'); i > 0 && strings.Contains(scope, "://") && i > strings.Index(scope, "://")+2 {
		return scope[:i]
	}
	if strings.Contains(scope, "://") {
		return scope // already a resource URI
	}
	return "https://graph.microsoft.com"
}

func v1Name(e decode.Endpoint) string {
	switch {
	case e.IsAuthorize():
		return "authorize"
	case e.IsToken():
		return "token"
	}
	return "devicecode"
}
