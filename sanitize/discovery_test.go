package sanitize_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

// The documents a client reads before it signs in are public, and they are
// what a support engineer reads first: which endpoints, algorithms and
// authentication methods the app was told to use, and which keys sign its
// tokens. Sanitizing must keep them byte for byte, and Check must not call
// them secrets, although their member names say "token" and "key". Beside
// them, a token endpoint answer's tokens (canaries below) must go: secrecy
// follows the position and shape of a value, not a word in its name.

// Canaries of the token endpoint answer in discoveryFlows.
const (
	cTokATSig = "CanaryDiscoveryATsig0123456789abcdefghijkl"
	cTokIDSig = "CanaryDiscoveryIDsig0123456789abcdefghijkl"
	cTokRT    = "1.AXYAcanaryDiscoveryRefreshToken0123456789abcdefghijklmnopqrstuvwxyz.AgABAAEAAAD--DLA3VO7QrddgJg7WevrAgDs"
	cTokOpq   = "CanaryOpaqueRefreshTokenNotEntraShaped"
)

// discoveryDoc reads a document of testdata/discovery as the bytes Entra
// sends (no trailing newline).
func discoveryDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "discovery", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSpace(string(b))
	if !json.Valid([]byte(doc)) {
		t.Fatalf("test setup: %s is not valid JSON", name)
	}
	return doc
}

// entraHeaders are the headers Entra sends with its public documents; the
// cookies it sets there are the routing cookies sanitize keeps.
func entraHeaders(extra ...string) flow.Headers {
	return hdrs(append([]string{
		"Cache-Control", "max-age=86400, private",
		"Content-Type", "application/json; charset=utf-8",
		"Strict-Transport-Security", "max-age=31536000; includeSubDomains",
		"X-Content-Type-Options", "nosniff",
		"Access-Control-Allow-Origin", "*",
		"Access-Control-Allow-Methods", "GET, OPTIONS",
		"P3P", `CP="DSP CUR OTPi IND OTRi ONL FIN"`,
		"x-ms-request-id", "8a1d2c3b-4e5f-4a6b-9c8d-7e6f5a4b3c00",
		"x-ms-ests-server", "2.1.19005.9 - WEULR1 ProdSlices",
		"x-ms-srs", "1.P",
		"X-XSS-Protection", "0",
		"Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly",
		"Set-Cookie", "stsservicecookie=estsfd; path=/; secure; samesite=none; httponly",
		"Date", "Sat, 07 Jun 2025 08:09:10 GMT",
	}, extra...)...)
}

// discoveryPublic are the public answers: index in discoveryFlows → what
// they are.
var discoveryPublic = map[int]string{
	0: "v2.0 openid-configuration",
	1: "v1 openid-configuration of /common",
	2: "instance discovery",
	3: "JWKS",
	4: "AADSTS90002 answer to a discovery request",
}

// discoveryFlows are a client's start-up reads (discovery, instance
// discovery, keys), an Entra error answer, and a token endpoint answer whose
// tokens are secrets.
func discoveryFlows(t *testing.T) []*flow.Flow {
	t.Helper()
	get := func(u string) *flow.Request {
		return &flow.Request{Method: "GET", URL: u, Proto: "HTTP/1.1", Header: hdrs(
			"Host", "login.microsoftonline.com", "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
			"x-client-SKU", "MSAL.JS", "x-client-VER", "3.27.0", "client-request-id", corrID1)}
	}
	ok := func(doc string) *flow.Response {
		return &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Header: entraHeaders(), Body: textBody(doc)}
	}
	errBody := `{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant 'contoso.onmicrosoft.co' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant. Trace ID: ` + traceID1 +
		` Correlation ID: ` + corrID1 + ` Timestamp: 2025-06-07 08:09:14Z","error_codes":[90002],"timestamp":"2025-06-07 08:09:14Z","trace_id":"` + traceID1 + `","correlation_id":"` + corrID1 + `","error_uri":"https://login.microsoftonline.com/error?code=90002"}`
	at := jwt(`{"typ":"JWT","nonce":"hB1Qm3nQ0oYkE9Zb7oQkYj2W1kD8tHc4VJj3n2v0Jxw","alg":"RS256","x5t":"jdNwXwBjqJlhG6gbFUlNNxXuFlM","kid":"jdNwXwBjqJlhG6gbFUlNNxXuFlM"}`,
		`{"aud":"00000003-0000-0000-c000-000000000000","iss":"https://sts.windows.net/`+tenantID+`/","iat":1749283750,"nbf":1749283750,"exp":1749287650,"appid":"`+appID+`","scp":"User.Read","tid":"`+tenantID+`","ver":"1.0"}`,
		cTokATSig)
	it := jwt(`{"typ":"JWT","alg":"RS256","kid":"jdNwXwBjqJlhG6gbFUlNNxXuFlM"}`,
		`{"aud":"`+appID+`","iss":"https://login.microsoftonline.com/`+tenantID+`/v2.0","iat":1749283750,"nbf":1749283750,"exp":1749287650,"nonce":"`+nonce1+`","tid":"`+tenantID+`","ver":"2.0"}`,
		cTokIDSig)
	tokenAnswer := `{"token_type":"Bearer","scope":"openid profile User.Read","expires_in":4460,"ext_expires_in":4460,"access_token":"` + at +
		`","refresh_token":"` + cTokRT + `","id_token":"` + it + `","foci":"1"}`
	b2cAnswer := `{"access_token":"` + at + `","id_token":"` + it + `","token_type":"Bearer","not_before":1749283750,"id_token_expires_in":3600,"refresh_token":"` + cTokOpq +
		`","refresh_token_expires_in":1209600}`
	base := "https://login.microsoftonline.com/"
	flows := []*flow.Flow{
		{Request: get(base + tenantID + "/v2.0/.well-known/openid-configuration"), Response: ok(discoveryDoc(t, "openid-configuration-v2.json"))},
		{Request: get(base + "common/.well-known/openid-configuration"), Response: ok(discoveryDoc(t, "openid-configuration-v1-common.json"))},
		{Request: get(base + "common/discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2Flogin.microsoftonline.com%2Fcommon%2Foauth2%2Fv2.0%2Fauthorize"), Response: ok(discoveryDoc(t, "instance-discovery.json"))},
		{Request: get(base + tenantID + "/discovery/v2.0/keys"), Response: ok(discoveryDoc(t, "jwks-v2.json"))},
		{Request: get(base + "contoso.onmicrosoft.co/v2.0/.well-known/openid-configuration"),
			Response: &flow.Response{Status: 400, Reason: "Bad Request", Proto: "HTTP/1.1", Header: entraHeaders(), Body: textBody(errBody)}},
		{Request: &flow.Request{Method: "POST", URL: base + tenantID + "/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: hdrs("Content-Type", "application/x-www-form-urlencoded;charset=utf-8", "client-request-id", corrID1),
			Body:   textBody("client_id=" + appID + "&scope=openid%20profile%20User.Read&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb")},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Header: hdrs("Content-Type", "application/json; charset=utf-8", "Cache-Control", "no-store, no-cache"), Body: textBody(tokenAnswer)}},
		{Request: &flow.Request{Method: "POST", URL: "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/b2c_1_signin/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: hdrs("Content-Type", "application/x-www-form-urlencoded"),
			Body:   textBody("grant_type=refresh_token&client_id=" + appID)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Header: hdrs("Content-Type", "application/json; charset=utf-8"), Body: textBody(b2cAnswer)}},
	}
	for i, f := range flows {
		f.Index = i
		f.Timings = flow.Timings{Start: start.Add(time.Duration(i) * time.Second), DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 30 * time.Millisecond, Receive: time.Millisecond}
		f.Done = f.Timings.Start.Add(32 * time.Millisecond)
	}
	return flows
}

func writeDiscoveryHAR(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "discovery.har")
	var entries []*trace.Entry
	for _, f := range discoveryFlows(t) {
		entries = append(entries, trace.EntryFromFlow(f))
	}
	writeHAR(t, path, entries...)
	return path
}

func readEntries(t *testing.T, path string) []trace.Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h trace.HAR
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h.Log.Entries
}

// TestPublicDocumentsSurvive sanitizes discovery documents, instance
// discovery, a JWKS and an error answer: each comes out byte-identical
// (URLs, bodies, every header but the Date-free ones it never touches),
// and Check finds no secret in them, before or after.
func TestPublicDocumentsSurvive(t *testing.T) {
	dir := t.TempDir()
	in := writeDiscoveryHAR(t, dir)
	out := filepath.Join(dir, "out.har")
	if _, err := sanitize.HARFile(in, out, sanitize.Options{Key: testKey, Pseudonymize: true}); err != nil {
		t.Fatalf("HARFile: %v", err)
	}
	before, after := readEntries(t, in), readEntries(t, out)
	if len(before) != len(after) {
		t.Fatalf("entries: got %d, want %d", len(after), len(before))
	}
	for i, what := range discoveryPublic {
		a, b := before[i], after[i]
		if a.Request.URL != b.Request.URL {
			t.Errorf("%s: URL %q became %q", what, a.Request.URL, b.Request.URL)
		}
		if a.Response.Content.Text != b.Response.Content.Text {
			t.Errorf("%s: body changed:\nbefore %s\nafter  %s", what, a.Response.Content.Text, b.Response.Content.Text)
		}
		if got, want := headerText(b.Response.Headers), headerText(a.Response.Headers); got != want {
			t.Errorf("%s: response headers changed:\nbefore %s\nafter  %s", what, want, got)
		}
		if got, want := headerText(b.Request.Headers), headerText(a.Request.Headers); got != want {
			t.Errorf("%s: request headers changed:\nbefore %s\nafter  %s", what, want, got)
		}
	}
	// The diagnostics named in the issue are there by value.
	v2 := after[0].Response.Content.Text
	for _, s := range []string{
		`"token_endpoint":"https://login.microsoftonline.com/` + tenantID + `/oauth2/v2.0/token"`,
		`"token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt","client_secret_basic","self_signed_tls_client_auth"]`,
		`"id_token_signing_alg_values_supported":["RS256"]`,
		`"mtls_endpoint_aliases":{"token_endpoint":"https://mtlsauth.microsoft.com/`,
	} {
		if !strings.Contains(v2, s) {
			t.Errorf("v2.0 openid-configuration: sanitized body lacks %s", s)
		}
	}
	for _, path := range []string{in, out} {
		found, err := sanitize.Check(path)
		if err != nil {
			t.Fatalf("Check(%s): %v", path, err)
		}
		for _, f := range found {
			if what, public := discoveryPublic[f.Entry]; public {
				t.Errorf("Check(%s): reports %s in the %s (%s)", filepath.Base(path), f.Location, what, f.Kind)
			}
		}
	}
}

// TestTokenAnswerSecretsGo is the other side: the token endpoint answers
// in the same trace lose their tokens (by position: the members of a token
// answer, whatever their shape), Check finds them in the input and nothing
// in the output, and what is not secret in them stays.
func TestTokenAnswerSecretsGo(t *testing.T) {
	dir := t.TempDir()
	in := writeDiscoveryHAR(t, dir)
	out := filepath.Join(dir, "out.har")
	if _, err := sanitize.HARFile(in, out, sanitize.Options{Key: testKey}); err != nil {
		t.Fatalf("HARFile: %v", err)
	}
	canaries := []string{cTokATSig, cTokIDSig, cTokRT, cTokOpq}
	inText, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := survivors(string(inText), canaries); len(got) != len(canaries) {
		t.Fatalf("test setup: only %d of %d canaries are findable in the input; missing %v", len(got), len(canaries), missing(canaries, got))
	}
	outText, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range survivors(string(outText), canaries) {
		t.Errorf("canary %q survived sanitizing", c)
	}
	found, err := sanitize.Check(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"5 response.content: json access_token":  false,
		"5 response.content: json refresh_token": false,
		"5 response.content: json id_token":      false,
		"6 response.content: json access_token":  false,
		"6 response.content: json refresh_token": false,
		"6 response.content: json id_token":      false,
	}
	for _, f := range found {
		k := strings.Join([]string{itoa(f.Entry), f.Location}, " ")
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("Check(input): no finding at entry %s", k)
		}
	}
	if found, err := sanitize.Check(out); err != nil || len(found) > 0 {
		t.Errorf("Check(output): %v, %v", found, err)
	}
	after := readEntries(t, out)
	for _, s := range []string{`"token_type":"Bearer"`, `"scope":"openid profile User.Read"`, `"expires_in":4460`, `"foci":"1"`} {
		if !strings.Contains(after[5].Response.Content.Text, s) {
			t.Errorf("token answer: sanitized body %s lacks %s", after[5].Response.Content.Text, s)
		}
	}
	for _, s := range []string{`"not_before":1749283750`, `"id_token_expires_in":3600`, `"refresh_token_expires_in":1209600`} {
		if !strings.Contains(after[6].Response.Content.Text, s) {
			t.Errorf("B2C token answer: sanitized body %s lacks %s", after[6].Response.Content.Text, s)
		}
	}
}

func headerText(h []trace.NameValue) string {
	var b strings.Builder
	for _, kv := range h {
		b.WriteString(kv.Name + ": " + kv.Value + "\n")
	}
	return b.String()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
