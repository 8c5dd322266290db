package txn

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Endpoint kinds a flow can be.
type kind int

const (
	kindOther kind = iota
	kindAuthorize
	kindToken
	kindDeviceCode
)

// facts is what the grouper reads from one flow, decoded once.
type facts struct {
	f         *flow.Flow
	kind      kind
	host      string
	tenant    string // the path's tenant segment on an Entra endpoint
	oauth     *decode.Params
	params    url.Values        // query + urlencoded form, for what oauth does not model
	jsonReq   map[string]string // string fields of a JSON request body (GetCredentialType)
	clientID  string
	grant     string
	crid      string // client-request-id the client sent
	start     time.Time
	end       time.Time
	requestID string // x-ms-request-id of the answer

	// Response side.
	status     int
	location   string     // first Location header
	delivered  url.Values // parameters sent to the app: Location query+fragment or form_post fields
	config     map[string]any
	jsonResp   map[string]json.RawMessage
	respCorrID string
	errs       []decode.AADSTSError
	saml       []decode.SAMLMessage
}

// examine decodes what grouping needs from f.
func examine(f *flow.Flow) *facts {
	x := &facts{f: f, params: url.Values{}, oauth: decode.OAuthParams(f)}
	x.start = f.Timings.Start
	x.end = f.Done
	if x.start.IsZero() {
		x.start = x.end
	}
	if x.end.Before(x.start) {
		x.end = x.start
	}
	req := f.Request
	if req == nil {
		return x
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		u = &url.URL{}
	}
	x.host = strings.ToLower(u.Hostname())
	q, _ := url.ParseQuery(u.RawQuery)
	for k, v := range q {
		x.params[k] = append(x.params[k], v...)
	}
	ct := strings.ToLower(req.Header.Get("Content-Type"))
	if body := bodyOf(&req.Body); len(body) > 0 {
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			form, _ := url.ParseQuery(string(body))
			for k, v := range form {
				x.params[k] = append(x.params[k], v...)
			}
		case strings.Contains(ct, "json") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
			x.jsonReq = jsonStrings(body)
		}
	}
	// The OAuth fields come from decode.OAuthParams; x.params keeps the
	// values it does not model (ctx, flowToken, device_code, sso_nonce, the
	// refresh token).
	x.clientID = strings.ToLower(x.oauth.ClientID)
	x.grant = x.oauth.GrantType
	x.crid = x.oauth.ClientRequestID
	switch {
	case x.oauth.Endpoint.IsAuthorize():
		x.kind = kindAuthorize
	case x.oauth.Endpoint.IsToken():
		x.kind = kindToken
	case x.oauth.Endpoint == decode.EndpointDeviceCode:
		x.kind = kindDeviceCode
	}
	x.tenant = strings.ToLower(x.oauth.Tenant)
	if x.kind == kindOther {
		x.tenant = federationTenant(u.Path)
	}

	if resp := f.Response; resp != nil {
		x.status = resp.Status
		x.requestID = resp.Header.Get("x-ms-request-id")
		x.respCorrID = resp.Header.Get("client-request-id")
		x.location = strings.TrimSpace(resp.Header.Get("Location"))
		x.delivered = url.Values{}
		if x.location != "" {
			if lu, err := url.Parse(x.location); err == nil {
				for _, part := range []string{lu.RawQuery, lu.Fragment} {
					v, _ := url.ParseQuery(part)
					for k, vals := range v {
						x.delivered[k] = append(x.delivered[k], vals...)
					}
				}
			}
		}
		body := bodyOf(&resp.Body)
		trimmed := bytes.TrimLeft(body, "\ufeff \t\r\n")
		switch {
		case len(trimmed) > 0 && trimmed[0] == '{':
			_ = json.Unmarshal(trimmed, &x.jsonResp)
		case len(trimmed) > 0:
			if decode.HasFormTag(body) {
				if fields, _, err := decode.ParseFormPost(body); err == nil {
					for k, v := range fields {
						x.delivered.Add(k, v)
					}
				}
			}
			if bytes.Contains(body, []byte("$Config")) {
				x.config, _ = decode.ParseConfig(body)
			}
		}
	}
	x.errs = decode.FlowErrors(f)
	x.saml = decode.FlowSAML(f)
	return x
}

// bodyOf returns a body's decoded bytes, or its raw bytes when decoding fails.
func bodyOf(b *flow.Body) []byte {
	d, err := b.Decoded()
	if err != nil && len(d) == 0 {
		return b.Raw
	}
	return d
}

// jsonStrings returns the top-level string fields of a JSON object.
func jsonStrings(body []byte) map[string]string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	out := map[string]string{}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// federationTenant returns the tenant segment of Entra's SAML and WS-Fed
// endpoints, /{tenant}/saml2 and /{tenant}/wsfed.
func federationTenant(path string) string {
	segs := strings.Split(strings.Trim(strings.ToLower(path), "/"), "/")
	if len(segs) == 2 && (segs[1] == "saml2" || segs[1] == "wsfed") {
		return segs[0]
	}
	return ""
}

// jsonString reads a string field of a JSON response.
func (x *facts) jsonString(name string) string {
	var s string
	if raw, ok := x.jsonResp[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// configString reads a string field of the page's $Config.
func (x *facts) configString(name string) string {
	s, _ := x.config[name].(string)
	return s
}

// tokensIssued reports a response that hands tokens to the client: a token
// endpoint success, or an implicit or hybrid redirect with tokens.
func (x *facts) tokensIssued() bool {
	if x.kind == kindToken && x.status/100 == 2 && (x.jsonString("access_token") != "" || x.jsonString("id_token") != "") {
		return true
	}
	return x.delivered.Get("access_token") != "" || x.delivered.Get("id_token") != ""
}

// account returns "uid.utid" from a client_info the response carries.
func (x *facts) account() string {
	ci := x.jsonString("client_info")
	if ci == "" {
		ci = x.delivered.Get("client_info")
	}
	return clientInfoAccount(ci)
}

func clientInfoAccount(ci string) string {
	if ci == "" {
		return ""
	}
	info, err := decode.ParseClientInfo(ci)
	if err != nil || info.UID == "" {
		return ""
	}
	return strings.ToLower(info.HomeAccountID())
}

// idTokenTenant returns the tid claim of an id_token in the response.
func (x *facts) idTokenTenant() string {
	tok := x.jsonString("id_token")
	if tok == "" {
		tok = x.delivered.Get("id_token")
	}
	if tok == "" {
		return ""
	}
	jwt, err := decode.ParseJWT(tok)
	if err != nil {
		return ""
	}
	tid, _ := jwt.Claims["tid"].(string)
	return strings.ToLower(tid)
}

// protocol names the grant a token request uses when it starts a
// transaction by itself.
func (x *facts) tokenProtocol() string {
	switch x.grant {
	case "authorization_code":
		if x.oauth.CodeVerifier != "" {
			return ProtoAuthCodePKCE
		}
		return ProtoAuthCode
	case "refresh_token":
		return ProtoRefreshToken
	case "client_credentials":
		return ProtoClientCredentials
	case "password":
		return ProtoROPC
	case "urn:ietf:params:oauth:grant-type:device_code", "device_code":
		return ProtoDeviceCode
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if x.params.Get("requested_token_use") == "on_behalf_of" {
			return ProtoOBO
		}
	}
	if x.grant == "" && x.params.Get("device_code") != "" {
		return ProtoDeviceCode
	}
	return ProtoUnknown
}

// authorizeProtocol reads the protocol from an authorize request's
// response_type and PKCE parameters.
func (x *facts) authorizeProtocol() string {
	rt := strings.Fields(x.oauth.ResponseType)
	has := func(s string) bool {
		for _, t := range rt {
			if t == s {
				return true
			}
		}
		return false
	}
	switch {
	case has("code") && (has("id_token") || has("token")):
		return ProtoHybrid
	case has("code") && x.oauth.CodeChallenge != "":
		return ProtoAuthCodePKCE
	case has("code"):
		return ProtoAuthCode
	case has("id_token") || has("token"):
		return ProtoImplicit
	}
	return ProtoUnknown
}

// stripFragment drops a URL's fragment, which browsers never send.
func stripFragment(u string) string {
	u, _, _ = strings.Cut(u, "#")
	return u
}
