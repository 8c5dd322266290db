package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// canary is a secret planted in a trace; no sanitized MCP answer may
// carry it.
func canary(where string) string { return "C4N4RY" + where + "x9q" }

// canaryJWT is a signed-looking JWT whose personal claims and signature
// are canaries (its non-personal claims may stay).
func canaryJWT(where string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." +
		enc(map[string]any{"aud": "api://app", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "exp": 1796421389,
			"name": canary(where + "name"), "preferred_username": canary(where+"upn") + "@contoso.com", "oid": canary(where + "oid")}) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(canary(where+"sig")+strings.Repeat("s", 200)))
}

// canaryFlows is a sign-in with a canary in every place a secret travels
// (query, redirect, form fields, headers, cookies set and sent, JSON
// tokens, a form_post page, an Entra error answer) and in the personal
// data an assistant need not see (a login_hint's user, token claims).
func canaryFlows() []*flow.Flow {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	h := func(kv ...string) flow.Headers {
		var out flow.Headers
		for i := 0; i < len(kv); i += 2 {
			out = append(out, flow.Header{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	body := func(s string) flow.Body { return flow.Body{Raw: []byte(s), Size: int64(len(s))} }
	authorize := "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=4b0db8c2-9f26-4417-8bde-3f0e3656f8e0" +
		"&response_type=code&redirect_uri=https%3A%2F%2Fapp.contoso.com%2Fcb&scope=openid&state=st1&nonce=n1" +
		"&id_token_hint=" + canaryJWT("hint") + "&login_hint=" + canary("loginhint") + "%40contoso.com"
	formPost := `<html><body><form method="POST" action="https://app.contoso.com/cb"><input type="hidden" name="code" value="` + canary("fpcode") +
		`"/><input type="hidden" name="id_token" value="` + canaryJWT("fpid") + `"/><input type="hidden" name="state" value="st1"/></form></body></html>`
	tokenReq := "grant_type=authorization_code&client_id=4b0db8c2-9f26-4417-8bde-3f0e3656f8e0&code=" + canary("code") +
		"&client_secret=" + canary("secret") + "&code_verifier=" + canary("verifier") + "&client_assertion=" + canaryJWT("assert") +
		"&redirect_uri=https%3A%2F%2Fapp.contoso.com%2Fcb&refresh_token=" + canary("rtreq")
	tokenResp := `{"token_type":"Bearer","access_token":"` + canaryJWT("at") + `","refresh_token":"` + canary("rt") + `","id_token":"` + canaryJWT("id") + `","client_info":"` +
		base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"`+canary("uid")+`","utid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}`)) + `"}`
	ropc := "grant_type=password&client_id=4b0db8c2-9f26-4417-8bde-3f0e3656f8e0&username=alice%40contoso.com&password=" + canary("password") + "&scope=openid"
	errResp := `{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password. Trace ID: 0b7c2f3e-1111-4222-8333-944455556666 Correlation ID: 5a6b7c8d-1111-4222-8333-944455556666 Timestamp: 2026-12-04 10:00:03Z","error_codes":[50126]}`
	return []*flow.Flow{
		{Request: &flow.Request{Method: "GET", URL: authorize, Proto: "HTTP/1.1",
			Header: h("Cookie", "ESTSAUTH="+canary("estsauth")+"; ESTSAUTHPERSISTENT="+canary("estsp")+"; x-ms-RefreshTokenCredential="+canaryJWT("prt"), "User-Agent", "test")},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: h("Content-Type", "text/html; charset=utf-8",
				"Set-Cookie", "ESTSAUTH="+canary("setests")+"; path=/; secure; HttpOnly", "Set-Cookie", "esctx="+canary("esctx")+"; path=/"),
				Body: body(formPost)},
			Timings: flow.Timings{Start: t0}, Done: t0.Add(time.Second)},
		{Request: &flow.Request{Method: "GET", URL: authorize + "&prompt=none", Proto: "HTTP/1.1", Header: h("Authorization", "Bearer "+canaryJWT("bearer"))},
			Response: &flow.Response{Status: 302, Proto: "HTTP/1.1", Header: h("Location", "https://app.contoso.com/cb?code="+canary("redircode")+"&state=st1&session_state=5a6b7c8d-0000-4222-8333-944455556666")}}, // session_state names a session, it opens none: kept
		{Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: h("Content-Type", "application/x-www-form-urlencoded"), Body: body(tokenReq)},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: h("Content-Type", "application/json", "x-ms-request-id", "0b7c2f3e-1111-4222-8333-944455556666"), Body: body(tokenResp)},
			Timings:  flow.Timings{Start: t0.Add(2 * time.Second)}, Done: t0.Add(2 * time.Second)},
		{Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: h("Content-Type", "application/x-www-form-urlencoded"), Body: body(ropc)},
			Response: &flow.Response{Status: 400, Proto: "HTTP/1.1", Header: h("Content-Type", "application/json"), Body: body(errResp)},
			Timings:  flow.Timings{Start: t0.Add(3 * time.Second)}, Done: t0.Add(3 * time.Second)},
	}
}

// everyAnswer calls every read tool on everything there is and returns the
// answers' text.
func everyAnswer(t *testing.T, cs *mcp.ClientSession) string {
	t.Helper()
	var all strings.Builder
	text := func(name string, args map[string]any) string {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		all.WriteString(b.String())
		return b.String()
	}
	text("status", nil)
	var flows struct{ Flows []struct{ ID int } }
	json.Unmarshal([]byte(text("list_flows", map[string]any{"page_size": 500})), &flows)
	if len(flows.Flows) < 4 {
		t.Fatalf("list_flows gave %d flows", len(flows.Flows))
	}
	for _, f := range flows.Flows {
		text("get_flow", map[string]any{"id": f.ID, "body_bytes": 16384})
	}
	var txns struct{ Transactions []struct{ ID int } }
	json.Unmarshal([]byte(text("list_transactions", nil)), &txns)
	for _, tr := range txns.Transactions {
		text("get_transaction", map[string]any{"id": tr.ID})
	}
	text("list_findings", nil)
	text("support_ticket", nil)
	return all.String()
}

// leaked lists the canaries in s.
func leaked(s string) []string {
	var out []string
	for i := 0; ; {
		j := strings.Index(s[i:], "C4N4RY")
		if j < 0 {
			return out
		}
		end := strings.Index(s[i+j:], "x9q")
		if end < 0 {
			end = 20
		}
		out = append(out, s[i+j:i+j+end+3])
		i += j + end + 3
		if i >= len(s) {
			return out
		}
	}
}

func TestMCPAnswersCarryNoCanaryFromAFile(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "canary.har")
	r, err := trace.Create(rec, "test", "1")
	if err != nil {
		t.Fatal(err)
	}
	fs := canaryFlows()
	for i, f := range fs {
		f.Index = i
	}
	if err := r.WriteBatch(fs); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := everyAnswer(t, mcpClient(t, "--from", rec, "--raw")); len(leaked(got)) < 10 {
		t.Fatalf("--raw answers carry only %d canaries: the planted trace does not exercise the sanitizer", len(leaked(got)))
	}
	if got := leaked(everyAnswer(t, mcpClient(t, "--from", rec))); len(got) > 0 {
		t.Errorf("sanitized MCP answers over a file leak %d canaries: %v", len(got), got)
	}
}

func TestMCPAnswersCarryNoCanaryFromALiveProxy(t *testing.T) {
	sts, _ := stsFixture(t)
	ca, err := certs.New(certs.Options{CommonName: "canary CA"})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	o := startOptions{listen: "127.0.0.1:0", ui: "127.0.0.1:0", quiet: true}
	s, err := openSession(o, demoProxyOptions(sts), ca, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.writeRunFile(home, o); err != nil {
		t.Fatal(err)
	}
	// The flows enter where the proxy hands them over.
	for _, f := range canaryFlows() {
		s.pipe.Flow(f)
	}
	s.pipe.Sync()
	time.Sleep(400 * time.Millisecond) // sign-ins regroup every 300 ms
	if got := leaked(everyAnswer(t, mcpClient(t, "--home", home))); len(got) > 0 {
		t.Errorf("sanitized MCP answers over a live proxy leak %d canaries: %v", len(got), got)
	}
}
