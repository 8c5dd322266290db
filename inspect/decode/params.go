package decode

import (
	"bytes"
	"net/url"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
)

// Endpoint names which Entra ID endpoint a request went to, judged from the
// URL path alone: the fake STS and sovereign clouds use other hosts, and
// B2C puts a policy segment before oauth2.
type Endpoint string

// Endpoint kinds.
const (
	EndpointOther       Endpoint = "other"
	EndpointAuthorizeV1 Endpoint = "authorize-v1"
	EndpointAuthorizeV2 Endpoint = "authorize-v2"
	EndpointTokenV1     Endpoint = "token-v1"
	EndpointTokenV2     Endpoint = "token-v2"
	EndpointDeviceCode  Endpoint = "devicecode"
	EndpointLogout      Endpoint = "logout"
	EndpointDiscovery   Endpoint = "discovery"
)

// IsAuthorize reports an authorize endpoint of either version.
func (e Endpoint) IsAuthorize() bool { return e == EndpointAuthorizeV1 || e == EndpointAuthorizeV2 }

// IsToken reports a token endpoint of either version.
func (e Endpoint) IsToken() bool { return e == EndpointTokenV1 || e == EndpointTokenV2 }

// Params are the OAuth 2.0 / OpenID Connect parameters of one request, read
// from the URL query and, for a urlencoded POST, the form body (the body
// wins when both carry a parameter, as Entra reads the token endpoint's
// body). Secrets are never copied: the refresh token and client secret are
// recorded as present or absent only. The authorization code and PKCE
// verifier are kept because rules compare them across flows; they are
// single-use and short-lived, and findings quote fingerprints, not values.
type Params struct {
	Endpoint Endpoint
	// Version is "v1" or "v2" for Entra endpoints, "" otherwise.
	Version string
	// Tenant is the path segment before oauth2 (or before .well-known):
	// common, organizations, consumers, a GUID or a domain.
	Tenant string

	ClientID            string
	RedirectURI         string
	Scope               string
	Resource            string
	ResponseType        string
	ResponseMode        string
	State               string
	Nonce               string
	Prompt              string
	LoginHint           string
	DomainHint          string // domain_hint, or whr when domain_hint is absent
	CodeChallenge       string
	CodeChallengeMethod string
	CodeVerifier        string
	GrantType           string
	Code                string
	Claims              string
	// ClientRequestID is the client-request-id header, else the parameter.
	ClientRequestID string

	RefreshTokenPresent bool
	// ClientSecretPresent, ClientAssertionPresent and BasicAuthPresent say
	// how a confidential client authenticated; all false means a public
	// client (SPA, desktop, mobile, device code).
	ClientSecretPresent    bool
	ClientAssertionPresent bool
	BasicAuthPresent       bool

	// Names lists every parameter name the request carried, sorted, so rules
	// can ask about parameters this struct does not model.
	Names []string
}

// Has reports whether the request carried the named parameter.
func (p *Params) Has(name string) bool {
	_, found := slices.BinarySearch(p.Names, name)
	return found
}

// PublicClient reports a request that carried no client credential.
func (p *Params) PublicClient() bool {
	return !p.ClientSecretPresent && !p.ClientAssertionPresent && !p.BasicAuthPresent
}

// OAuthParams decodes the OAuth parameters of f's request. It never returns
// nil; a flow without a request or with an unparsable URL gives an empty
// Params of kind EndpointOther.
func OAuthParams(f *flow.Flow) *Params {
	p := &Params{Endpoint: EndpointOther}
	if f == nil || f.Request == nil {
		return p
	}
	req := f.Request
	raw := req.URL
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	vals := url.Values{}
	if u, err := url.Parse(raw); err == nil {
		p.Endpoint, p.Version, p.Tenant = classifyPath(u.Path)
		q, _ := url.ParseQuery(u.RawQuery)
		merge(vals, q)
	} else if _, query, ok := strings.Cut(raw, "?"); ok {
		q, _ := url.ParseQuery(query)
		merge(vals, q)
	}
	if isForm(req.Header.Get("Content-Type")) {
		body, err := req.Body.Decoded()
		if err != nil && len(body) == 0 {
			body = req.Body.Raw
		}
		form, _ := url.ParseQuery(string(bytes.TrimSpace(body)))
		// The form body overrides the query: a token POST's body is what
		// Entra reads.
		for k, v := range form {
			if len(v) > 0 {
				vals[k] = v
			}
		}
	}
	get := func(k string) string { return strings.TrimSpace(vals.Get(k)) }
	p.ClientID = get("client_id")
	p.RedirectURI = vals.Get("redirect_uri")
	p.Scope = get("scope")
	p.Resource = get("resource")
	p.ResponseType = get("response_type")
	p.ResponseMode = get("response_mode")
	p.State = vals.Get("state")
	p.Nonce = vals.Get("nonce")
	p.Prompt = get("prompt")
	p.LoginHint = get("login_hint")
	p.DomainHint = get("domain_hint")
	if p.DomainHint == "" {
		p.DomainHint = get("whr")
	}
	p.CodeChallenge = get("code_challenge")
	p.CodeChallengeMethod = get("code_challenge_method")
	p.CodeVerifier = get("code_verifier")
	p.GrantType = get("grant_type")
	p.Code = get("code")
	p.Claims = vals.Get("claims")
	p.ClientRequestID = strings.TrimSpace(req.Header.Get("client-request-id"))
	if p.ClientRequestID == "" {
		p.ClientRequestID = get("client-request-id")
	}
	p.RefreshTokenPresent = get("refresh_token") != ""
	p.ClientSecretPresent = get("client_secret") != ""
	p.ClientAssertionPresent = get("client_assertion") != ""
	auth := strings.TrimSpace(req.Header.Get("Authorization"))
	p.BasicAuthPresent = len(auth) > 6 && strings.EqualFold(auth[:6], "basic ")
	for k := range vals {
		p.Names = append(p.Names, k)
	}
	slices.Sort(p.Names)
	return p
}

func merge(dst, src url.Values) {
	for k, v := range src {
		dst[k] = append(dst[k], v...)
	}
}

func isForm(contentType string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-www-form-urlencoded")
}

// classifyPath names the endpoint of an Entra-shaped path:
//
//	/{tenant}/oauth2/authorize              authorize-v1
//	/{tenant}/oauth2/v2.0/authorize         authorize-v2
//	/{tenant}/oauth2/token, …/v2.0/token    token-v1, token-v2
//	/{tenant}/oauth2/[v2.0/]devicecode      devicecode (v1: devicecode)
//	/{tenant}/oauth2/[v2.0/]logout          logout
//	/{tenant}/[v2.0/].well-known/openid-configuration, /discovery/… discovery
//
// B2C's /{tenant}/{policy}/oauth2/v2.0/authorize keeps the first segment as
// the tenant.
func classifyPath(path string) (Endpoint, string, string) {
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	lower := make([]string, len(segs))
	for i, s := range segs {
		lower[i] = strings.ToLower(s)
	}
	tenantAt := func(i int) string {
		if i >= 1 {
			return segs[0]
		}
		return ""
	}
	for i, s := range lower {
		switch s {
		case "oauth2":
			rest := lower[i+1:]
			version := "v1"
			if len(rest) > 0 && rest[0] == "v2.0" {
				version, rest = "v2", rest[1:]
			}
			if len(rest) != 1 {
				return EndpointOther, "", ""
			}
			var kind Endpoint
			switch rest[0] {
			case "authorize":
				kind = EndpointAuthorizeV1
				if version == "v2" {
					kind = EndpointAuthorizeV2
				}
			case "token":
				kind = EndpointTokenV1
				if version == "v2" {
					kind = EndpointTokenV2
				}
			case "devicecode", "devicecode.srf":
				kind = EndpointDeviceCode
			case "logout":
				kind = EndpointLogout
			default:
				return EndpointOther, "", ""
			}
			return kind, version, tenantAt(i)
		case ".well-known":
			version := "v1"
			if i > 0 && lower[i-1] == "v2.0" {
				version = "v2"
			}
			if i == 0 {
				return EndpointDiscovery, version, ""
			}
			return EndpointDiscovery, version, segs[0]
		case "discovery":
			version := "v1"
			if i+1 < len(lower) && lower[i+1] == "v2.0" {
				version = "v2"
			}
			return EndpointDiscovery, version, tenantAt(i)
		}
	}
	return EndpointOther, "", ""
}

// Sources of an AuthResponse.
const (
	ResponseQuery    = "query"
	ResponseFragment = "fragment"
	ResponseFormPost = "form_post"
)

// AuthResponse is what the authorize step handed back to the app: the
// parameters of a redirect (Location query or fragment) or a form_post
// page. Tokens are recorded as present, and the id_token is kept because
// rules read its nonce claim.
type AuthResponse struct {
	// Source is ResponseQuery, ResponseFragment or ResponseFormPost.
	Source string
	// RedirectURI is where the response goes: the Location without its query
	// and fragment, or the form's action.
	RedirectURI      string
	Code             string
	State            string
	StatePresent     bool
	Error            string
	ErrorDescription string
	SessionState     string
	ClientInfo       string
	IDToken          string
	AccessToken      bool
}

// authResponseKeys are the parameters that make a redirect an authorize
// response; a state alone does not (the app's own redirect to /authorize
// carries one).
var authResponseKeys = []string{"code", "error", "id_token", "access_token"}

// OAuthResponse decodes the authorize response carried by f's response: a
// Location header whose fragment or query holds code, error, id_token or
// access_token, or a form_post page holding them. It returns nil when the
// response carries none.
func OAuthResponse(f *flow.Flow) *AuthResponse {
	if f == nil || f.Response == nil {
		return nil
	}
	resp := f.Response
	for _, loc := range resp.Header.Values("Location") {
		if r := ParseAuthRedirect(loc); r != nil {
			return r
		}
	}
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	body, err := resp.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = resp.Body.Raw
	}
	if len(body) == 0 || !(strings.Contains(ct, "html") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<"))) {
		return nil
	}
	if !HasFormTag(body) {
		return nil
	}
	fields, action, err := ParseFormPost(body)
	if err != nil {
		return nil
	}
	return authResponseOf(valuesOf(fields), ResponseFormPost, action)
}

// ParseAuthRedirect decodes an authorize response from a redirect URL. The
// fragment wins over the query: with response_mode=fragment the query
// belongs to the redirect_uri itself. It returns nil when neither part
// carries an authorize response.
func ParseAuthRedirect(location string) *AuthResponse {
	location = strings.TrimSpace(location)
	rest, fragment, _ := strings.Cut(location, "#")
	base, query, _ := strings.Cut(rest, "?")
	for _, c := range []struct{ part, source string }{
		{fragment, ResponseFragment},
		{query, ResponseQuery},
	} {
		if c.part == "" {
			continue
		}
		v, _ := url.ParseQuery(c.part)
		if r := authResponseOf(v, c.source, base); r != nil {
			return r
		}
	}
	return nil
}

func authResponseOf(v url.Values, source, redirect string) *AuthResponse {
	found := false
	for _, k := range authResponseKeys {
		if strings.TrimSpace(v.Get(k)) != "" {
			found = true
		}
	}
	if !found {
		return nil
	}
	_, statePresent := v["state"]
	return &AuthResponse{
		Source:           source,
		RedirectURI:      redirect,
		Code:             strings.TrimSpace(v.Get("code")),
		State:            v.Get("state"),
		StatePresent:     statePresent,
		Error:            strings.TrimSpace(v.Get("error")),
		ErrorDescription: v.Get("error_description"),
		SessionState:     v.Get("session_state"),
		ClientInfo:       v.Get("client_info"),
		IDToken:          strings.TrimSpace(v.Get("id_token")),
		AccessToken:      strings.TrimSpace(v.Get("access_token")) != "",
	}
}
