package inspect

import (
	"bytes"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Identity reports whether the flow carries anything the identity rules
// read: OAuth, OpenID, SAML or WS-Federation parameters, an Entra endpoint
// path, a bearer token, an Entra cookie, an Entra error, a token or a
// sign-in form in the response. It is decided once per flow, from the
// flow's content rather than its host name (a map-remote target, a B2C or
// custom domain and a test server on 127.0.0.1 are identity traffic too),
// so that the engine runs only the rules marked AnyFlow on the rest of a
// browser's traffic, and cross-flow rules skip those flows in the history.
//
// It errs towards yes: a false yes costs a little time, a false no a
// missed finding.
func (v *View) Identity() bool {
	if !v.identityDone {
		v.identityDone = true
		v.identity = v.carriesIdentity()
	}
	return v.identity
}

func (v *View) carriesIdentity() bool {
	f := v.Flow
	if f == nil || f.Request == nil {
		return false
	}
	req := f.Request
	if v.TenantInPath() != "" || identityPath(v.Path()) {
		return true
	}
	if u := v.URL(); u != nil && (hasIdentityKey(u.RawQuery) || hasIdentityKey(u.Fragment)) {
		return true
	}
	for _, h := range req.Header {
		switch {
		case strings.EqualFold(h.Name, "Authorization"), strings.EqualFold(h.Name, PRTCookieName):
			return true
		case strings.EqualFold(h.Name, "Cookie") && hasEntraCookie(h.Value):
			return true
		case strings.EqualFold(h.Name, "Content-Type") && strings.Contains(strings.ToLower(h.Value), "x-www-form-urlencoded"):
			if body, _ := req.Body.Decoded(); hasIdentityKey(string(body)) {
				return true
			}
		}
	}
	resp := f.Response
	if resp == nil {
		return false
	}
	for _, h := range resp.Header {
		switch {
		case strings.EqualFold(h.Name, "Location") && strings.ContainsAny(h.Value, "?#"),
			strings.EqualFold(h.Name, "WWW-Authenticate"),
			strings.EqualFold(h.Name, "x-ms-clitelem"),
			strings.EqualFold(h.Name, "x-ms-ests-server"):
			return true
		case strings.EqualFold(h.Name, "Set-Cookie") && hasEntraCookie(h.Value):
			return true
		}
	}
	return identityBody(resp)
}

// identityKeys are the parameter names of sign-in protocols. A query or
// form that has one of them is read by the rules.
var identityKeys = map[string]bool{
	"client_id": true, "code": true, "grant_type": true, "response_type": true, "response_mode": true,
	"redirect_uri": true, "state": true, "nonce": true, "id_token": true, "access_token": true,
	"refresh_token": true, "error": true, "error_description": true, "error_codes": true, "client_info": true,
	"assertion": true, "client_assertion": true, "code_verifier": true, "code_challenge": true,
	"login_hint": true, "domain_hint": true, "whr": true, "prompt": true, "device_code": true,
	"SAMLRequest": true, "SAMLResponse": true, "RelayState": true,
	"wa": true, "wresult": true, "wctx": true, "wtrealm": true,
}

// hasIdentityKey scans a query or form body's keys without allocating.
func hasIdentityKey(q string) bool {
	for q != "" {
		var field string
		field, q, _ = strings.Cut(q, "&")
		key, _, _ := strings.Cut(field, "=")
		if identityKeys[key] {
			return true
		}
	}
	return false
}

// identityPath matches endpoint paths that take no tenant segment: v1
// /oauth2/…, instance and OpenID discovery, and the federation endpoints.
func identityPath(path string) bool {
	p := strings.ToLower(path)
	for _, s := range []string{"/oauth2/", "/.well-known/openid-configuration", "/discovery/instance", "/saml2", "/wsfed", "/adfs/"} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// entraCookieMarks are substrings of the Entra cookies the rules read
// (ESTSAUTH*, esctx*, the PRT cookie, estsState*, buid, fpc).
var entraCookieMarks = []string{"ESTS", "esctx", "estsState", PRTCookieName, "buid=", "fpc=", "SignInStateCookie", "CCState"}

func hasEntraCookie(v string) bool {
	for _, m := range entraCookieMarks {
		if decode.ContainsFold(v, m) {
			return true
		}
	}
	return false
}

// identityBodyMarks are what Entra's answers contain: a JSON error or token
// response, an AADSTS code, the $Config of its HTML pages, a SAML or
// WS-Federation post, client_info.
var identityBodyMarks = [][]byte{
	[]byte(`"error`), []byte("AADSTS"), []byte("$Config"), []byte(`_token"`),
	[]byte("client_info"), []byte("SAMLResponse"), []byte("wresult"),
}

// identityBody looks for identity material in a response body, unless its
// type says it cannot hold any: a script bundle can mention "id_token" (MSAL
// does) without carrying one, and an image or a font never does.
func identityBody(resp *flow.Response) bool {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	for _, t := range []string{"javascript", "ecmascript", "text/css", "image/", "font/", "audio/", "video/", "application/wasm", "octet-stream"} {
		if strings.Contains(ct, t) {
			return false
		}
	}
	body, err := resp.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = resp.Body.Raw
	}
	if len(body) == 0 {
		return false
	}
	for _, m := range identityBodyMarks {
		if bytes.Contains(body, m) {
			return true
		}
	}
	return decode.HasFormTag(body)
}
