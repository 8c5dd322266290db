package decode

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

func reqFlow(method, rawURL, contentType, body string, headers ...string) *flow.Flow {
	r := &flow.Request{Method: method, URL: rawURL}
	if contentType != "" {
		r.Header = append(r.Header, flow.Header{Name: "Content-Type", Value: contentType})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header = append(r.Header, flow.Header{Name: headers[i], Value: headers[i+1]})
	}
	if body != "" {
		r.Body = flow.Body{Raw: []byte(body), Size: int64(len(body))}
	}
	return &flow.Flow{Request: r}
}

func TestOAuthParamsAuthorize(t *testing.T) {
	f := reqFlow("GET", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"+
		"client_id=aaaaaaaa-0000-4000-8000-000000000000&response_type=code&redirect_uri=https%3A%2F%2Fapp.contoso.test%2Fcb"+
		"&scope=openid%20profile%20offline_access&response_mode=form_post&state=s%2B1&nonce=n1&prompt=select_account"+
		"&login_hint=alice%40contoso.com&whr=contoso.com&code_challenge=abc&code_challenge_method=S256"+
		"&claims=%7B%7D&client-request-id=ignored#frag=1", "", "", "client-request-id", "9c8d7e6f-0000-4000-8000-00000000c001")
	got := OAuthParams(f)
	want := &Params{
		Endpoint: EndpointAuthorizeV2, Version: "v2", Tenant: "contoso.onmicrosoft.com",
		ClientID: "aaaaaaaa-0000-4000-8000-000000000000", RedirectURI: "https://app.contoso.test/cb",
		Scope: "openid profile offline_access", ResponseType: "code", ResponseMode: "form_post",
		State: "s+1", Nonce: "n1", Prompt: "select_account", LoginHint: "alice@contoso.com", DomainHint: "contoso.com",
		CodeChallenge: "abc", CodeChallengeMethod: "S256", Claims: "{}",
		ClientRequestID: "9c8d7e6f-0000-4000-8000-00000000c001",
		Names: []string{"claims", "client-request-id", "client_id", "code_challenge", "code_challenge_method", "login_hint", "nonce",
			"prompt", "redirect_uri", "response_mode", "response_type", "scope", "state", "whr"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OAuthParams(authorize):\n got %+v\nwant %+v", got, want)
	}
	if !got.Has("whr") || got.Has("frag") || got.Has("resource") {
		t.Errorf("Has: got whr=%v frag=%v resource=%v, want true false false", got.Has("whr"), got.Has("frag"), got.Has("resource"))
	}
}

func TestOAuthParamsTokenBody(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("grant_type=authorization_code&client_id=c&code=0.AW8A-code&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=v&client_secret=SECRET&refresh_token=RT&domain_hint=fabrikam.com&whr=x"))
	w.Close()
	f := reqFlow("POST", "https://login.microsoftonline.com/common/oauth2/token?client_id=query-loses&resource=r", "application/x-www-form-urlencoded; charset=utf-8", "", "Authorization", "Basic Yzpz")
	f.Request.Body = flow.Body{Raw: gz.Bytes(), Encoding: "gzip"}
	got := OAuthParams(f)
	checks := []struct{ name, got, want string }{
		{"Endpoint", string(got.Endpoint), string(EndpointTokenV1)},
		{"Version", got.Version, "v1"},
		{"Tenant", got.Tenant, "common"},
		{"ClientID", got.ClientID, "c"},
		{"Resource", got.Resource, "r"},
		{"GrantType", got.GrantType, "authorization_code"},
		{"Code", got.Code, "0.AW8A-code"},
		{"RedirectURI", got.RedirectURI, "https://app/cb"},
		{"CodeVerifier", got.CodeVerifier, "v"},
		{"DomainHint", got.DomainHint, "fabrikam.com"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("OAuthParams(token).%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !got.RefreshTokenPresent || !got.ClientSecretPresent || !got.BasicAuthPresent || got.PublicClient() {
		t.Errorf("OAuthParams(token): got RT %v secret %v basic %v public %v, want true true true false",
			got.RefreshTokenPresent, got.ClientSecretPresent, got.BasicAuthPresent, got.PublicClient())
	}
}

func TestClassifyPath(t *testing.T) {
	tests := []struct {
		path            string
		kind            Endpoint
		version, tenant string
	}{
		{"/common/oauth2/authorize", EndpointAuthorizeV1, "v1", "common"},
		{"/common/oauth2/v2.0/authorize/", EndpointAuthorizeV2, "v2", "common"},
		{"/5f3c1e2a-0000-4000-8000-000000000000/OAuth2/V2.0/Token", EndpointTokenV2, "v2", "5f3c1e2a-0000-4000-8000-000000000000"},
		{"/organizations/oauth2/token", EndpointTokenV1, "v1", "organizations"},
		{"/organizations/oauth2/v2.0/devicecode", EndpointDeviceCode, "v2", "organizations"},
		{"/common/oauth2/devicecode", EndpointDeviceCode, "v1", "common"},
		{"/common/oauth2/v2.0/logout", EndpointLogout, "v2", "common"},
		{"/common/v2.0/.well-known/openid-configuration", EndpointDiscovery, "v2", "common"},
		{"/contoso.com/.well-known/openid-configuration", EndpointDiscovery, "v1", "contoso.com"},
		{"/common/discovery/v2.0/keys", EndpointDiscovery, "v2", "common"},
		{"/contoso.onmicrosoft.com/B2C_1_signin/oauth2/v2.0/authorize", EndpointAuthorizeV2, "v2", "contoso.onmicrosoft.com"},
		{"/oauth2/authorize", EndpointAuthorizeV1, "v1", ""},
		{"/common/login", EndpointOther, "", ""},
		{"/common/oauth2/v2.0/authorize/extra", EndpointOther, "", ""},
		{"/common/oauth2", EndpointOther, "", ""},
		{"", EndpointOther, "", ""},
	}
	for _, tt := range tests {
		kind, version, tenant := classifyPath(tt.path)
		if kind != tt.kind || version != tt.version || tenant != tt.tenant {
			t.Errorf("classifyPath(%q): got %s %q %q, want %s %q %q", tt.path, kind, version, tenant, tt.kind, tt.version, tt.tenant)
		}
	}
}

func TestOAuthParamsDegenerate(t *testing.T) {
	for _, f := range []*flow.Flow{nil, {}, reqFlow("GET", "::not a url?state=x%zz&code=c", "", "")} {
		p := OAuthParams(f)
		if p == nil || p.Endpoint != EndpointOther {
			t.Errorf("OAuthParams(%v): got %+v, want an empty Params of kind other", f, p)
		}
	}
	// A bad escape elsewhere must not hide the good parameters.
	p := OAuthParams(reqFlow("GET", "::not a url?state=x%zz&code=c", "", ""))
	if p.Code != "c" {
		t.Errorf("OAuthParams(bad URL).Code: got %q, want %q", p.Code, "c")
	}
}

func TestParseAuthRedirect(t *testing.T) {
	tests := []struct {
		loc  string
		want *AuthResponse
	}{
		{"https://app.contoso.test/cb?code=0.AW8A-c&state=s%2b1&session_state=ss", &AuthResponse{
			Source: ResponseQuery, RedirectURI: "https://app.contoso.test/cb", Code: "0.AW8A-c", State: "s+1", StatePresent: true, SessionState: "ss"}},
		{"https://app.contoso.test/blank.html?keep=1#code=c2&client_info=eyJ9&state=xyz&id_token=a.b.c", &AuthResponse{
			Source: ResponseFragment, RedirectURI: "https://app.contoso.test/blank.html", Code: "c2", State: "xyz", StatePresent: true, ClientInfo: "eyJ9", IDToken: "a.b.c"}},
		{"msauth://com.contoso.app/hash?error=access_denied&error_subcode=cancel", &AuthResponse{
			Source: ResponseQuery, RedirectURI: "msauth://com.contoso.app/hash", Error: "access_denied"}},
		{"https://app/cb#access_token=AT&token_type=Bearer&state=", &AuthResponse{
			Source: ResponseFragment, RedirectURI: "https://app/cb", AccessToken: true, StatePresent: true}},
		// The app's own redirect to /authorize carries state but is no response.
		{"https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=c&state=s&code_challenge=x", nil},
		{"/", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := ParseAuthRedirect(tt.loc)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAuthRedirect(%q): got %+v, want %+v", tt.loc, got, tt.want)
		}
	}
}

const formPostCode = `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.contoso.test/signin-oidc"><input type="hidden" name="code" value="0.AW8A-c" /><input type="hidden" name="id_token" value="h.p.s" /><input type="hidden" name="state" value="OpenIdConnect.AuthenticationProperties=abc&amp;d" /><input type="hidden" name="session_state" value="ss" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`

func TestOAuthResponse(t *testing.T) {
	resp := func(status int, body string, headers ...string) *flow.Flow {
		r := &flow.Response{Status: status, Body: flow.Body{Raw: []byte(body)}}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header = append(r.Header, flow.Header{Name: headers[i], Value: headers[i+1]})
		}
		return &flow.Flow{Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/common/login"}, Response: r}
	}
	got := OAuthResponse(resp(200, formPostCode, "Content-Type", "text/html; charset=utf-8"))
	want := &AuthResponse{Source: ResponseFormPost, RedirectURI: "https://app.contoso.test/signin-oidc", Code: "0.AW8A-c",
		IDToken: "h.p.s", State: "OpenIdConnect.AuthenticationProperties=abc&d", StatePresent: true, SessionState: "ss"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OAuthResponse(form_post):\n got %+v\nwant %+v", got, want)
	}
	if got := OAuthResponse(resp(302, "", "Location", "https://app/cb?code=c&state=s")); got == nil || got.Code != "c" || got.Source != ResponseQuery {
		t.Errorf("OAuthResponse(302): got %+v, want code c from the query", got)
	}
	for name, f := range map[string]*flow.Flow{
		"sign-in page":  resp(200, `<html><form method="post" name="f1"><input name="login" value=""/></form></html>`, "Content-Type", "text/html"),
		"json":          resp(200, `{"code":"c"}`, "Content-Type", "application/json"),
		"no response":   {Request: &flow.Request{URL: "https://x/"}},
		"nil":           nil,
		"to authorize":  resp(302, "", "Location", "https://login.microsoftonline.com/common/oauth2/authorize?state=s"),
		"garbage html":  resp(200, "<form", "Content-Type", "text/html"),
		"empty 200 doc": resp(200, ""),
	} {
		if got := OAuthResponse(f); got != nil {
			t.Errorf("OAuthResponse(%s): got %+v, want nil", name, got)
		}
	}
}

func FuzzOAuthParams(f *testing.F) {
	f.Add("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=c&state=s&redirect_uri=https%3A%2F%2Fapp", "", "")
	f.Add("https://login.microsoftonline.com/t/oauth2/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=c&code_verifier=v")
	f.Add("/a/b/oauth2/v2.0/.well-known/discovery", "text/plain", "%zz")
	f.Add("::", "application/x-www-form-urlencoded", "=&&=;")
	f.Fuzz(func(t *testing.T, rawURL, ct, body string) {
		p := OAuthParams(reqFlow("POST", rawURL, ct, body))
		if p == nil {
			t.Fatal("OAuthParams: got nil")
		}
		if p.Version != "" && p.Version != "v1" && p.Version != "v2" {
			t.Fatalf("OAuthParams(%q): version %q", rawURL, p.Version)
		}
		if (p.Endpoint == EndpointOther) != (p.Version == "") {
			t.Fatalf("OAuthParams(%q): endpoint %s with version %q", rawURL, p.Endpoint, p.Version)
		}
	})
}

func FuzzOAuthResponse(f *testing.F) {
	f.Add("https://app/cb?code=c&state=s", []byte(nil))
	f.Add("", []byte(formPostCode))
	f.Add("x#id_token=a.b.c&state", []byte("<form><input name=code value=c>"))
	f.Fuzz(func(t *testing.T, loc string, body []byte) {
		fl := &flow.Flow{Request: &flow.Request{URL: "https://login.microsoftonline.com/"}, Response: &flow.Response{
			Status: 200, Header: flow.Headers{{Name: "Location", Value: loc}, {Name: "Content-Type", Value: "text/html"}}, Body: flow.Body{Raw: body},
		}}
		r := OAuthResponse(fl)
		if r != nil && r.Code == "" && r.Error == "" && r.IDToken == "" && !r.AccessToken {
			t.Fatalf("OAuthResponse: got %+v without any response parameter", r)
		}
	})
}
