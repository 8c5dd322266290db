package inspect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// vtJWT builds a synthetic unsigned JWT with the given claims.
func vtJWT(claims map[string]any) string {
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(map[string]any{"alg": "none", "typ": "JWT"}) + "." + seg(claims) + "."
}

func vtFlow(method, url string, reqHeaders flow.Headers, reqBody string, status int, respHeaders flow.Headers, respBody string) *flow.Flow {
	f := &flow.Flow{Index: 7, Request: &flow.Request{Method: method, URL: url, Header: reqHeaders, Body: flow.Body{Raw: []byte(reqBody)}}}
	if status != 0 {
		f.Response = &flow.Response{Status: status, Header: respHeaders, Body: flow.Body{Raw: []byte(respBody)}}
	}
	return f
}

// summarize renders found tokens as "field@place sent kind/err" lines.
func summarize(toks []FoundToken) string {
	var out []string
	for _, t := range toks {
		s := fmt.Sprintf("%s@%s sent=%v", t.Field, t.Place, t.Sent)
		switch {
		case t.Err != nil:
			s += " err"
		case t.ClientInfo != nil:
			s += " ci=" + t.ClientInfo.UTID
		case t.PRT != nil:
			s += " prt nonce=" + t.PRT.RequestNonce
		default:
			s += " " + t.Token.Kind.String()
			if j := t.JWT(); j != nil {
				s += " tid=" + j.Tid()
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func TestViewTokens(t *testing.T) {
	id := vtJWT(map[string]any{"tid": "t-id"})
	at := vtJWT(map[string]any{"tid": "t-at"})
	ci := base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"u","utid":"home"}`))
	prt := vtJWT(map[string]any{"request_nonce": "n1", "refresh_token": "0.A-secret"})
	tests := []struct {
		name string
		f    *flow.Flow
		want string
	}{
		{"token response", vtFlow("POST", "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
			"grant_type=client_credentials&client_assertion="+at+"&code=0.AXEA-code",
			200, flow.Headers{{Name: "Content-Type", Value: "application/json"}},
			`{"access_token":"`+at+`","id_token":"`+id+`","refresh_token":"1.AXEA-rt","client_info":"`+ci+`","claims":"{\"access_token\":{}}"}`),
			"client_assertion@request-params sent=true JWT tid=t-at\ncode@request-params sent=true opaque\n" +
				"id_token@response-json sent=false JWT tid=t-id\naccess_token@response-json sent=false JWT tid=t-at\n" +
				"refresh_token@response-json sent=false opaque\nclient_info@response-json sent=false ci=home"},
		{"bearer, PRT cookie and header", vtFlow("GET", "https://graph.microsoft.com/v1.0/me",
			flow.Headers{{Name: "authorization", Value: "bearer " + at}, {Name: "Cookie", Value: "a=b; X-MS-RefreshTokenCredential=" + prt + "; c=d"}, {Name: "x-ms-RefreshTokenCredential", Value: "garbage"}},
			"", 0, nil, ""),
			"Authorization@authorization sent=true JWT tid=t-at\nx-ms-RefreshTokenCredential@cookie sent=true prt nonce=n1\nx-ms-RefreshTokenCredential@request-header sent=true err"},
		{"fragment redirect", vtFlow("GET", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?prompt=none", nil, "",
			302, flow.Headers{{Name: "Location", Value: "https://app/cb#code=0.AXEA-c&id_token=" + id + "&client_info=" + ci + "&state=s"}}, ""),
			"id_token@redirect sent=false JWT tid=t-id\ncode@redirect sent=false opaque\nclient_info@redirect sent=false ci=home"},
		{"form_post page", vtFlow("POST", "https://login.microsoftonline.com/common/login", nil, "",
			200, flow.Headers{{Name: "Content-Type", Value: "text/html"}},
			`<html><body><form method="POST" name="hiddenform" action="https://app/cb"><input type="hidden" name="id_token" value="`+id+`"/><input type="hidden" name="client_info" value="!!"/></form></body></html>`),
			"id_token@form-post sent=false JWT tid=t-id\nclient_info@form-post sent=false err"},
		{"nothing", vtFlow("GET", "https://example.test/", nil, "", 200, nil, "hello"), ""},
	}
	for _, tt := range tests {
		got := summarize(NewView(tt.f).Tokens())
		if got != tt.want {
			t.Errorf("Tokens(%s):\ngot\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
	for _, tok := range NewView(tests[1].f).Tokens() {
		if tok.PRT != nil && strings.Contains(fmt.Sprintf("%+v", *tok.PRT), "secret") {
			t.Errorf("Tokens: the PRT cookie's refresh token leaked into %+v", *tok.PRT)
		}
	}
	if got := (&FoundToken{Field: "id_token", Place: PlaceRedirect}).Where(3); got != "id_token in the redirect's Location of flow 3" {
		t.Errorf("Where: got %q", got)
	}
}

func TestViewHelpers(t *testing.T) {
	f := vtFlow("GET", "https://LOGIN.microsoftonline.com:443/Contoso.com/oauth2/v2.0/authorize?x=1",
		flow.Headers{{Name: "Cookie", Value: "ESTSAUTHPERSISTENT=1.A; x=y"}, {Name: "Cookie", Value: "ESTSAUTH="}}, "",
		200, flow.Headers{{Name: "Date", Value: "Sat, 01 Jun 2024 12:00:00 GMT"}}, "")
	v := NewView(f)
	if got := v.TenantInPath(); got != "contoso.com" {
		t.Errorf("TenantInPath: got %q, want contoso.com", got)
	}
	if got := RequestHost(f); got != "login.microsoftonline.com" {
		t.Errorf("RequestHost: got %q", got)
	}
	if got := SessionCookiesSent(f); strings.Join(got, ",") != "ESTSAUTHPERSISTENT" {
		t.Errorf("SessionCookiesSent: got %v, want [ESTSAUTHPERSISTENT] (an empty ESTSAUTH does not count)", got)
	}
	if d, ok := decode.ResponseDate(f); !ok || !d.Equal(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("ResponseDate: got %v, %v", d, ok)
	}
	for path, want := range map[string]string{
		"/common/oauth2/token": "common", "/5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60/v2.0/.well-known/openid-configuration": "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60",
		"/kmsi": "", "/common/GetCredentialType": "", "/": "",
	} {
		v := NewView(vtFlow("GET", "https://login.microsoftonline.com"+path, nil, "", 0, nil, ""))
		if got := v.TenantInPath(); got != want {
			t.Errorf("TenantInPath(%s): got %q, want %q", path, got, want)
		}
	}
	for iss, want := range map[string]string{
		"https://login.microsoftonline.com/5F3C1E2A-8b4d-4c6e-9a1f-2d7b3e8c4a60/v2.0": "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60",
		"https://sts.windows.net/5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60/":               "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60",
		"https://login.microsoftonline.com/{tenantid}/v2.0":                           "",
		"live.com": "",
	} {
		if got := IssuerTenant(iss); got != want {
			t.Errorf("IssuerTenant(%q): got %q, want %q", iss, got, want)
		}
	}
	disc := vtFlow("GET", "https://login.microsoftonline.com/fabrikam.com/v2.0/.well-known/openid-configuration", nil, "",
		200, nil, `{"issuer":"https://login.microsoftonline.com/a3d9e7b1-4f2c-4e8a-b6d5-91c0f2e4a7b3/v2.0"}`)
	if pt, it, ok := NewView(disc).DiscoveryIssuer(); !ok || pt != "fabrikam.com" || it != "a3d9e7b1-4f2c-4e8a-b6d5-91c0f2e4a7b3" {
		t.Errorf("DiscoveryIssuer: got %q, %q, %v", pt, it, ok)
	}
	disc.Response.Status = 404
	if _, _, ok := NewView(disc).DiscoveryIssuer(); ok {
		t.Errorf("DiscoveryIssuer(404): got ok")
	}
}

func FuzzViewTokens(f *testing.F) {
	f.Add("bearer eyJhbGciOiJub25lIn0.e30.", "a=b; x-ms-RefreshTokenCredential=e30.e30.", "https://app/cb#id_token=e30.e30.&client_info=e30", `{"id_token":"e30.e30.","client_info":3}`)
	f.Add("Bearer", "", "?code=", `<form><input name="id_token" value="x.y.z">`)
	f.Fuzz(func(t *testing.T, authz, cookie, location, body string) {
		fl := vtFlow("POST", "https://login.microsoftonline.com/common/oauth2/token",
			flow.Headers{{Name: "Authorization", Value: authz}, {Name: "Cookie", Value: cookie}, {Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
			body, 200, flow.Headers{{Name: "Location", Value: location}}, body)
		for _, tok := range NewView(fl).Tokens() {
			if tok.Err == nil && tok.ClientInfo == nil && tok.PRT == nil && tok.Token.Kind == 0 {
				t.Fatalf("Tokens: %+v has no kind and no error", tok)
			}
			if j := tok.JWT(); j != nil {
				_, _ = j.Exp()
			}
			_ = decode.TokenKind(tok.Token.Kind).String()
		}
	})
}
