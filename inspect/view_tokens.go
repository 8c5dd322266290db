package inspect

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// ConsumersTenantID is the tenant every personal Microsoft account (MSA)
// token carries in tid.
const ConsumersTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// Places where View.Tokens finds a token.
const (
	// PlaceResponseJSON is a token response's JSON body.
	PlaceResponseJSON = "response-json"
	// PlaceRedirect is the query or fragment of a Location header.
	PlaceRedirect = "redirect"
	// PlaceFormPost is a field of a response_mode=form_post page.
	PlaceFormPost = "form-post"
	// PlaceAuthorization is the request's Authorization: Bearer header.
	PlaceAuthorization = "authorization"
	// PlaceCookie is the request's Cookie header.
	PlaceCookie = "cookie"
	// PlaceRequestHeader is a request header of the token's own name.
	PlaceRequestHeader = "request-header"
	// PlaceRequestParams is the request's query or form body.
	PlaceRequestParams = "request-params"
)

// PRTCookieName is the PRT cookie's (and header's) name. Browsers and
// extensions vary its casing, so it is matched case-insensitively.
const PRTCookieName = "x-ms-RefreshTokenCredential"

// FoundToken is a token, client_info or PRT cookie found in a flow.
// Value holds the raw text for rules that compare tokens; findings must
// never quote it.
type FoundToken struct {
	// Field names the token: id_token, access_token, refresh_token, code,
	// client_info, client_assertion, assertion, request, Authorization or
	// x-ms-RefreshTokenCredential.
	Field string
	// Place is one of the Place constants.
	Place string
	// Sent is true for a token in the request, false for one in the response.
	Sent  bool
	Value string
	// Token is the classified token; zero for client_info and the PRT cookie.
	Token decode.Token
	// ClientInfo is set for client_info.
	ClientInfo *decode.ClientInfo
	// PRT is set for x-ms-RefreshTokenCredential.
	PRT *decode.PRTCookie
	// Err says why the value could not be decoded.
	Err error
}

// JWT returns the token's readable claims, or nil for opaque, encrypted or
// undecodable tokens.
func (t *FoundToken) JWT() *decode.JWT {
	if t.Token.Kind == decode.KindJWT {
		return t.Token.JWT
	}
	return nil
}

var placeText = map[string]string{
	PlaceResponseJSON:  "the response's JSON body",
	PlaceRedirect:      "the redirect's Location",
	PlaceFormPost:      "the form_post page",
	PlaceAuthorization: "the request's Authorization header",
	PlaceCookie:        "the request's Cookie header",
	PlaceRequestHeader: "a request header",
	PlaceRequestParams: "the request's parameters",
}

// Where describes the token's location for evidence: "id_token in the
// response's JSON body of flow 3".
func (t *FoundToken) Where(flowIndex int) string {
	return t.Location() + " of flow " + strconv.Itoa(flowIndex)
}

// Location describes the token's place within its flow: "id_token in the
// response's JSON body".
func (t *FoundToken) Location() string {
	return t.Field + " in " + placeText[t.Place]
}

// Fields that carry tokens in each place.
var (
	responseTokenFields = []string{"id_token", "access_token", "refresh_token"}
	redirectTokenFields = []string{"id_token", "access_token", "code"}
	requestTokenFields  = []string{"client_assertion", "assertion", "request", "id_token", "code", "refresh_token"}
)

// Tokens returns every token in the flow: id_token, access_token and
// refresh_token in a JSON response; id_token, access_token, code and
// client_info in a redirect or form_post page; the Authorization bearer
// token, the PRT cookie or header, and client_assertion, assertion (OBO),
// request, id_token, code and refresh_token among the request's parameters.
// It decodes anew on each call (a View has no slot to cache it in), so
// rules scanning the History should bound how far back they look.
func (v *View) Tokens() []FoundToken {
	if v == nil || v.Flow == nil {
		return nil
	}
	if !v.tokensDone {
		v.tokens = v.findTokens()
		v.tokensDone = true
	}
	return v.tokens
}

// findTokens does the work of Tokens.
func (v *View) findTokens() []FoundToken {
	f := v.Flow
	var out []FoundToken
	addToken := func(field, place string, sent bool, value string) {
		if strings.TrimSpace(value) == "" {
			return
		}
		t := FoundToken{Field: field, Place: place, Sent: sent, Value: value}
		t.Token, t.Err = decode.ParseToken(value)
		out = append(out, t)
	}
	addClientInfo := func(place, value string) {
		if value == "" {
			return
		}
		t := FoundToken{Field: "client_info", Place: place, Value: value}
		if ci, err := decode.ParseClientInfo(value); err == nil {
			t.ClientInfo = &ci
		} else {
			t.Err = err
		}
		out = append(out, t)
	}
	addPRT := func(place, value string) {
		t := FoundToken{Field: PRTCookieName, Place: place, Sent: true, Value: value}
		t.PRT, t.Err = decode.ParsePRTCookie(value)
		out = append(out, t)
	}

	if req := f.Request; req != nil {
		for _, h := range req.Header.Values("Authorization") {
			if scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
				addToken("Authorization", PlaceAuthorization, true, strings.TrimSpace(tok))
			}
		}
		if c, ok := decode.RequestCookie(req, PRTCookieName); ok {
			addPRT(PlaceCookie, c)
		}
		for _, h := range req.Header {
			if strings.EqualFold(h.Name, PRTCookieName) {
				addPRT(PlaceRequestHeader, h.Value)
			}
		}
		params := v.Params()
		for _, field := range requestTokenFields {
			for _, val := range params[field] {
				addToken(field, PlaceRequestParams, true, val)
			}
		}
	}

	resp := f.Response
	if resp == nil {
		return out
	}
	for _, loc := range resp.Header.Values("Location") {
		rest, frag, _ := strings.Cut(loc, "#")
		_, query, _ := strings.Cut(rest, "?")
		for _, part := range []string{query, frag} {
			if part == "" {
				continue
			}
			q, _ := url.ParseQuery(part)
			for _, field := range redirectTokenFields {
				addToken(field, PlaceRedirect, false, q.Get(field))
			}
			addClientInfo(PlaceRedirect, q.Get("client_info"))
		}
	}
	// Tokens travel in JSON bodies and form_post pages only; skipping other
	// content types spares decompressing scripts and images on every call.
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if ct != "" && !strings.Contains(ct, "json") && !strings.Contains(ct, "html") && !strings.Contains(ct, "text/plain") {
		return out
	}
	body, err := resp.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = resp.Body.Raw
	}
	trimmed := bytes.TrimLeft(body, "\ufeff \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{' && hasTokenField(trimmed):
		var m map[string]json.RawMessage
		if json.Unmarshal(trimmed, &m) != nil {
			break
		}
		str := func(k string) string {
			var s string
			if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
				return s
			}
			return ""
		}
		for _, field := range responseTokenFields {
			addToken(field, PlaceResponseJSON, false, str(field))
		}
		addClientInfo(PlaceResponseJSON, str("client_info"))
	case decode.HasFormTag(trimmed):
		fields, _, err := decode.ParseFormPost(body)
		if err != nil {
			break
		}
		for _, field := range redirectTokenFields {
			addToken(field, PlaceFormPost, false, fields[field])
		}
		addClientInfo(PlaceFormPost, fields["client_info"])
	}
	return out
}

// hasTokenField is a cheap check before a JSON body is parsed whole.
func hasTokenField(body []byte) bool {
	for _, k := range []string{`"id_token"`, `"access_token"`, `"refresh_token"`, `"client_info"`} {
		if bytes.Contains(body, []byte(k)) {
			return true
		}
	}
	return false
}

// SessionCookieNames are the cookies that carry an Entra SSO session.
var SessionCookieNames = []string{"ESTSAUTH", "ESTSAUTHPERSISTENT", PRTCookieName}

// SessionCookiesSent returns which of SessionCookieNames the request carried
// (the PRT also counts as a request header).
func SessionCookiesSent(f *flow.Flow) []string {
	if f == nil || f.Request == nil {
		return nil
	}
	var out []string
	for _, n := range SessionCookieNames {
		if v, ok := decode.RequestCookie(f.Request, n); ok && v != "" {
			out = append(out, n)
		} else if n == PRTCookieName && f.Request.Header.Get(n) != "" {
			out = append(out, n)
		}
	}
	return out
}

// RequestHost returns the request's host, lowercased, without the port.
func RequestHost(f *flow.Flow) string {
	if f == nil || f.Request == nil {
		return ""
	}
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 form.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// tenantPathRE matches Entra endpoint paths that start with a tenant:
// /{tenant}/oauth2/…, /{tenant}/v2.0/…, /{tenant}/.well-known/…,
// /{tenant}/discovery/…, /{tenant}/saml2, /{tenant}/wsfed, /{tenant}/login.
var tenantPathRE = regexp.MustCompile(`(?i)^/([^/]+)/(?:oauth2/|v2\.0/|\.well-known/|discovery/|saml2|wsfed|login|kmsi|reprocess)`)

// TenantInPath returns the tenant segment of an Entra endpoint path,
// lowercased: a GUID, a domain, or common, organizations or consumers. It
// returns "" for any other path.
func (v *View) TenantInPath() string {
	if !v.tenantDone {
		v.tenantDone = true
		v.tenant = tenantInPath(v.Path())
	}
	return v.tenant
}

func tenantInPath(path string) string {
	m := tenantPathRE.FindStringSubmatch(path)
	if m == nil {
		return ""
	}
	t, err := url.PathUnescape(m[1])
	if err != nil {
		return ""
	}
	return strings.ToLower(t)
}

// IsMetaTenant reports the path tenants that name no tenant: common,
// organizations and consumers.
func IsMetaTenant(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// issuerTenantRE finds the tenant GUID in an Entra issuer URL
// (https://login.microsoftonline.com/{tid}/v2.0, https://sts.windows.net/{tid}/).
var issuerTenantRE = regexp.MustCompile(`^https://[^/]+/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:/|$)`)

// IssuerTenant returns the tenant GUID in an Entra issuer URL, lowercased,
// or "" (the /common template's "{tenantid}" is not a tenant).
func IssuerTenant(iss string) string {
	m := issuerTenantRE.FindStringSubmatch(strings.TrimSpace(iss))
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1])
}

// DiscoveryIssuer returns the tenant an OpenID discovery answer
// (GET /{tenant}/v2.0/.well-known/openid-configuration, or the v1 path)
// names in its issuer, together with the path's tenant: the traffic's own
// proof of which tenant a domain belongs to. ok is false for any other flow.
func (v *View) DiscoveryIssuer() (pathTenant, issuerTenant string, ok bool) {
	if v == nil || v.Flow == nil || v.Flow.Status() != 200 {
		return "", "", false
	}
	if !strings.HasSuffix(strings.ToLower(v.Path()), "/.well-known/openid-configuration") {
		return "", "", false
	}
	pathTenant = v.TenantInPath()
	if pathTenant == "" {
		return "", "", false
	}
	body, err := v.Flow.Response.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = v.Flow.Response.Body.Raw
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &doc) != nil {
		return "", "", false
	}
	issuerTenant = IssuerTenant(doc.Issuer)
	return pathTenant, issuerTenant, issuerTenant != ""
}
