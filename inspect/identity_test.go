package inspect

import (
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

func identityFlow(method, url string, reqHdr flow.Headers, reqBody string, respHdr flow.Headers, respBody string) *flow.Flow {
	return &flow.Flow{
		Request:  &flow.Request{Method: method, URL: url, Header: reqHdr, Body: flow.Body{Raw: []byte(reqBody), Size: int64(len(reqBody))}},
		Response: &flow.Response{Status: 200, Header: respHdr, Body: flow.Body{Raw: []byte(respBody), Size: int64(len(respBody))}},
	}
}

func TestIdentity(t *testing.T) {
	form := flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	js := flow.Headers{{Name: "Content-Type", Value: "text/javascript"}}
	jsonCT := flow.Headers{{Name: "Content-Type", Value: "application/json"}}
	html := flow.Headers{{Name: "Content-Type", Value: "text/html"}}
	tests := []struct {
		name string
		f    *flow.Flow
		want bool
	}{
		{"authorize on a custom domain", identityFlow("GET", "https://login.contoso.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=x", nil, "", nil, ""), true},
		{"token POST on 127.0.0.1", identityFlow("POST", "https://127.0.0.1:4443/common/oauth2/v2.0/token", form, "grant_type=authorization_code&code=abc", jsonCT, `{"error":"invalid_grant"}`), true},
		{"form with identity keys on any path", identityFlow("POST", "https://app.example/signin-oidc", form, "code=abc&state=xyz", nil, ""), true},
		{"query with identity keys", identityFlow("GET", "https://app.example/cb?code=abc&state=1", nil, "", nil, ""), true},
		{"bearer token", identityFlow("GET", "https://graph.example/v1.0/me", flow.Headers{{Name: "Authorization", Value: "Bearer x"}}, "", nil, ""), true},
		{"Entra session cookie", identityFlow("GET", "https://x.example/", flow.Headers{{Name: "Cookie", Value: "a=1; ESTSAUTH=z"}}, "", nil, ""), true},
		{"Entra cookie set", identityFlow("GET", "https://x.example/", nil, "", flow.Headers{{Name: "Set-Cookie", Value: "esctx=1; path=/"}}, ""), true},
		{"redirect with a query", identityFlow("GET", "https://x.example/", nil, "", flow.Headers{{Name: "Location", Value: "https://app/cb#code=1"}}, ""), true},
		{"AADSTS in an HTML page", identityFlow("GET", "https://x.example/", nil, "", html, "<p>AADSTS50058</p>"), true},
		{"form_post page, any case", identityFlow("POST", "https://x.example/", nil, "", html, "<html><FoRm method=post>"), true},
		{"OIDC discovery", identityFlow("GET", "https://x.example/tenant/v2.0/.well-known/openid-configuration", nil, "", jsonCT, "{}"), true},
		{"CDN JSON", identityFlow("GET", "https://cdn.example/config.json?v=3", flow.Headers{{Name: "Cookie", Value: "session=1"}}, "", jsonCT, `{"theme":"dark"}`), false},
		{"script that names tokens", identityFlow("GET", "https://cdn.example/msal.js", nil, "", js, `if(r.id_token"){throw "AADSTS"}`), false},
		{"plain page", identityFlow("GET", "https://www.example/", nil, "", html, "<html><a href=x>hi</a>"), false},
		{"redirect without parameters", identityFlow("GET", "https://www.example/", nil, "", flow.Headers{{Name: "Location", Value: "/home"}}, ""), false},
		{"no response", &flow.Flow{Request: &flow.Request{Method: "GET", URL: "https://www.example/"}}, false},
	}
	for _, tt := range tests {
		if got := NewView(tt.f).Identity(); got != tt.want {
			t.Errorf("%s: Identity() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestEngineRunsOnlyAnyFlowRulesWithoutIdentity checks the engine's gate:
// a default rule sees identity flows only, an AnyFlow rule sees them all.
func TestEngineRunsOnlyAnyFlowRulesWithoutIdentity(t *testing.T) {
	var identityRuns, anyRuns int
	gated := &Rule{ID: "gated", Title: "t", Doc: "d", Severity: Info, Run: func(*Pass) error { identityRuns++; return nil }}
	all := rule("all", func(*Pass) error { anyRuns++; return nil })
	e, err := NewEngine([]*Rule{gated, all}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Add(newFlow(0, "https://cdn.example/app.css", "body{}"))
	e.Add(newFlow(1, "https://login.example/common/oauth2/v2.0/authorize?client_id=x", ""))
	if identityRuns != 1 || anyRuns != 2 {
		t.Errorf("gated rule ran %d times, AnyFlow rule %d; want 1 and 2", identityRuns, anyRuns)
	}
}
