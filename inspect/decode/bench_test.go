package decode

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

// Benchmarks of the decoders every flow goes through (issue 7). Run with
//
//	go test -run '^$' -bench . -benchmem ./inspect/decode/
//
// Each benchmark checks its result once before the timed loop, so a
// benchmark that stopped exercising the decoder fails instead of reporting a
// cheap no-op.

// benchTokenError is the Entra token endpoint's JSON answer to an expired
// authorization code, in the 2024 single-space trailer shape.
const benchTokenError = `{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource. Trace ID: ` + traceA + ` Correlation ID: ` + corrA + ` Timestamp: 2024-06-01 12:00:00Z","error_codes":[70008],"timestamp":"2024-06-01 12:00:00Z","trace_id":"` + traceA + `","correlation_id":"` + corrA + `","error_uri":"https://login.microsoftonline.com/error?code=70008"}`

// benchIDToken is an id_token with the claims a v2.0 Entra id_token
// usually carries, about the size of a real one (~1.2 KB).
var benchIDToken = jwtSample(
	map[string]any{"typ": "JWT", "alg": "RS256", "kid": "L1KfKFI_jnXbwWc22xZxw1sUHH0"},
	map[string]any{
		"aud": "aaaaaaaa-0000-4000-8000-000000000000", "iss": "https://login.microsoftonline.com/" + jwtTenantContoso + "/v2.0",
		"iat": 1717243200, "nbf": 1717243200, "exp": 1717247100,
		"aio":                "AUQAu/8WAAAAi1QZxYcEiU0cRB8Bnqe6dJ1j9l6Rt3X3kYVmeWvI0Zk1Jc0eVj4L9Yb5pOq2gDHG5wMp1Tr7aA==",
		"name":               "Alice Example",
		"nonce":              "638527000000000000.ZmQ4YjJlNjgtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAx",
		"oid":                "0000aaaa-0000-4000-8000-000000000001",
		"preferred_username": "alice@contoso.com",
		"rh":                 "0.AXEAKh48XwAAAEAAgAAAAADAwKqqqqoAAABAgAAAAAAAAAAAAA.",
		"sid":                "0000bbbb-0000-4000-8000-000000000002",
		"sub":                "pairwise-sub-Hk3j2l1k4j5h6g7f8d9s0a",
		"tid":                jwtTenantContoso,
		"uti":                "Qm9ndXNVdGlWYWx1ZTEyMw",
		"ver":                "2.0",
	},
	base64.RawURLEncoding.EncodeToString(make([]byte, 256)))

// benchAccessToken is a Graph access token of typical size (~1.8 KB): the
// bulk of a token success body.
var benchAccessToken = jwtSample(
	map[string]any{"typ": "JWT", "alg": "RS256", "x5t": "L1KfKFI_jnXbwWc22xZxw1sUHH0", "kid": "L1KfKFI_jnXbwWc22xZxw1sUHH0", "nonce": "bm9uY2UtdmFsdWUtZm9yLWdyYXBo"},
	map[string]any{
		"aud": "00000003-0000-0000-c000-000000000000", "iss": "https://sts.windows.net/" + jwtTenantContoso + "/",
		"iat": 1717243200, "nbf": 1717243200, "exp": 1717247100, "acct": 0, "acr": "1",
		"aio":             "AVQAq/8WAAAAzX0h3d8sTQ1o6iF5v2bLmK9yG7pR4tN1wE3qJ8uH0cV6xZ2aS5dF4gH7jK9lM1nB3vC5xZ7aQ==",
		"amr":             []any{"pwd", "mfa"},
		"app_displayname": "Contoso App", "appid": "aaaaaaaa-0000-4000-8000-000000000000", "appidacr": "0",
		"family_name": "Example", "given_name": "Alice", "idtyp": "user", "ipaddr": "203.0.113.7",
		"name": "Alice Example", "oid": "0000aaaa-0000-4000-8000-000000000001", "platf": "3",
		"puid": "10030000A1B2C3D4", "rh": "0.AXEAKh48XwAAAEAAgAAAAADAwAMAAAAAAAAAwAAAAAAAAAAAAA.",
		"scp": "openid profile User.Read email", "signin_state": []any{"kmsi"}, "sub": "Hk3j2l1k4j5h6g7f8d9s0aPoIuYtReWq",
		"tenant_region_scope": "EU", "tid": jwtTenantContoso, "unique_name": "alice@contoso.com", "upn": "alice@contoso.com",
		"uti": "Qm9ndXNVdGlWYWx1ZTQ1Ng", "ver": "1.0", "wids": []any{"b79fbf4d-3ef9-4689-8143-76b194e85509"},
		"xms_st": map[string]any{"sub": "Zk3j2l1k4j5h6g7f8d9s0aPoIuYtReWq"}, "xms_tcdt": 1600000000,
	},
	base64.RawURLEncoding.EncodeToString(make([]byte, 256)))

// benchTokenSuccess is a v2.0 token endpoint success body with an access
// token, an id_token, a refresh token and client_info.
var benchTokenSuccess = `{"token_type":"Bearer","scope":"openid profile User.Read email","expires_in":4786,"ext_expires_in":4786,"access_token":"` +
	benchAccessToken + `","refresh_token":"1.AXEAKh48X` + strings.Repeat("x7Yq", 200) + `","id_token":"` + benchIDToken +
	`","client_info":"eyJ1aWQiOiIwMDAwYWFhYS0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJ1dGlkIjoiNWYzYzFlMmEtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDBjMGMwIn0"}`

// benchPage returns an HTML page of about size bytes that carries no
// identity material: a script-heavy single-page app shell.
func benchPage(size int) []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Dashboard</title>` +
		`<link rel="stylesheet" href="/static/app.css"></head><body><div id="root"></div><script>`)
	const js = `function r(e,t){var n=Object.keys(e);if(Object.getOwnPropertySymbols){var o=Object.getOwnPropertySymbols(e);t&&(o=o.filter(function(t){return Object.getOwnPropertyDescriptor(e,t).enumerable})),n.push.apply(n,o)}return n}` + "\n"
	for b.Len() < size-len(`</script></body></html>`) {
		b.WriteString(js)
	}
	b.WriteString(`</script></body></html>`)
	return []byte(b.String())
}

func BenchmarkFlowErrors(b *testing.B) {
	tests := []struct {
		name  string
		f     *flow.Flow
		codes int // errors FlowErrors must find
	}{
		{"token-error-400", response(400, []byte(benchTokenError), "",
			"Content-Type", "application/json; charset=utf-8", "x-ms-clitelem", "1,70008,0,,"), 1},
		{"token-success-200", response(200, []byte(benchTokenSuccess), "",
			"Content-Type", "application/json; charset=utf-8", "x-ms-clitelem", "1,0,0,,"), 0},
		{"html-page-64KiB", response(200, benchPage(64<<10), "",
			"Content-Type", "text/html; charset=utf-8"), 0},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			got := FlowErrors(tt.f)
			if len(got) != tt.codes || (tt.codes > 0 && got[0].Code() != 70008) {
				b.Fatalf("FlowErrors(%s): got %s, want %d error(s)", tt.name, summary(got), tt.codes)
			}
			b.SetBytes(int64(len(tt.f.Response.Body.Raw)))
			b.ReportAllocs()
			for b.Loop() {
				FlowErrors(tt.f)
			}
		})
	}
}

func BenchmarkParseJWT(b *testing.B) {
	j, err := ParseJWT(benchIDToken)
	if err != nil || j.Tid() != jwtTenantContoso || j.SignatureLen != 256 {
		b.Fatalf("ParseJWT(id token): got tid %q, signature %d bytes, err %v; want %q, 256, nil", j.Tid(), j.SignatureLen, err, jwtTenantContoso)
	}
	b.SetBytes(int64(len(benchIDToken)))
	b.ReportAllocs()
	for b.Loop() {
		ParseJWT(benchIDToken)
	}
}

func BenchmarkOAuthParams(b *testing.B) {
	authorize := reqFlow("GET", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"+
		"client_id=aaaaaaaa-0000-4000-8000-000000000000&response_type=code&redirect_uri=https%3A%2F%2Fapp.contoso.test%2Fsignin-oidc"+
		"&scope=openid%20profile%20offline_access%20User.Read&response_mode=form_post&state=CfDJ8Kx2a9kz0b1c2d3e4f5g6h7i8j9k0"+
		"&nonce=638527000000000000.ZmQ4YjJlNjgtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAx&prompt=select_account"+
		"&login_hint=alice%40contoso.com&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"+
		"&x-client-SKU=ID_NET8_0&x-client-ver=7.5.1.0", "", "",
		"client-request-id", "9c8d7e6f-0000-4000-8000-00000000c001")
	tokenPOST := reqFlow("POST", "https://login.microsoftonline.com/"+jwtTenantContoso+"/oauth2/v2.0/token",
		"application/x-www-form-urlencoded;charset=utf-8",
		"client_id=aaaaaaaa-0000-4000-8000-000000000000&redirect_uri=https%3A%2F%2Fapp.contoso.test%2Fsignin-oidc"+
			"&scope=openid%20profile%20offline_access%20User.Read&grant_type=authorization_code"+
			"&code=1.AXEAKh48X"+strings.Repeat("Pq9r", 200)+
			"&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_info=1",
		"client-request-id", "9c8d7e6f-0000-4000-8000-00000000c002", "x-client-SKU", "MSAL.Python", "x-client-Ver", "1.28.0")
	tests := []struct {
		name  string
		f     *flow.Flow
		check func(*Params) bool
	}{
		{"authorize", authorize, func(p *Params) bool {
			return p.Endpoint == EndpointAuthorizeV2 && p.CodeChallengeMethod == "S256" && p.LoginHint == "alice@contoso.com"
		}},
		{"token-post", tokenPOST, func(p *Params) bool {
			return p.Endpoint == EndpointTokenV2 && p.GrantType == "authorization_code" && strings.HasPrefix(p.Code, "1.AXEA") && p.PublicClient()
		}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			if p := OAuthParams(tt.f); !tt.check(p) {
				b.Fatalf("OAuthParams(%s): got %+v, want the request's parameters", tt.name, p)
			}
			b.SetBytes(int64(len(tt.f.Request.URL) + len(tt.f.Request.Body.Raw)))
			b.ReportAllocs()
			for b.Loop() {
				OAuthParams(tt.f)
			}
		})
	}
}
