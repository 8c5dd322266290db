package sanitize

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var unitKey = []byte("0123456789abcdef")

func unitSanitizer(pseudo bool) *sanitizer {
	return newSanitizer(Options{Key: unitKey, Pseudonymize: pseudo}.Default(), &recorder{})
}

func TestFieldPolicy(t *testing.T) {
	s := unitSanitizer(false)
	ph := func(v string) string { return s.placeholder(v) }
	tests := []struct {
		name, value, want string
	}{
		{"passwd", "hunter2", ph("hunter2")},
		{"Password", "hunter2", ph("hunter2")},
		{"newPassword", "x1", ph("x1")},
		{"client_secret", "abc~def", ph("abc~def")},
		{"code", "0.AXYAabc", ph("0.AXYAabc")},
		{"code", "50126", "50126"},
		{"refresh_token", "1.AXYAxyz", ph("1.AXYAxyz")},
		{"flowToken", "AQABxyz", ph("AQABxyz")},
		{"ctx", "rQQIARAA", ph("rQQIARAA")},
		{"canary", "c", ph("c")},
		{"x-api-key", "k", ph("k")},
		{"my_session_token", "t", ph("t")},
		{"token_type", "Bearer", "Bearer"},
		{"expires_in", "3599", "3599"},
		{"state", "st-1", "st-1"},
		{"nonce", "n-1", "n-1"},
		{"client_id", "7c4a2d9e-1b3f-4e5a-9c8d-0f1e2d3c4b5a", "7c4a2d9e-1b3f-4e5a-9c8d-0f1e2d3c4b5a"},
		{"login_hint", "alice@contoso.com", "alice@contoso.com"},
		{"domain_hint", "contoso.com", "contoso.com"},
		{"redirect_uri", "https://app.example/cb", "https://app.example/cb"},
		{"redirect_uri", "https://app.example/cb?code=abc&x=1", "https://app.example/cb?code=" + ph("abc") + "&x=1"},
		{"unknown", "short", "short"},
		{"unknown", "7c4a2d9e-1b3f-4e5a-9c8d-0f1e2d3c4b5a", "7c4a2d9e-1b3f-4e5a-9c8d-0f1e2d3c4b5a"},
		{"unknown", "kQ8Zx9vLp2Rt5Yb3mN7qW1eR4tY6uI0o", ph("kQ8Zx9vLp2Rt5Yb3mN7qW1eR4tY6uI0o")},
		{"unknown", "2024-03-26T21:48:02.1234567Z", "2024-03-26T21:48:02.1234567Z"},
		{"unknown", "some words, not a secret at all", "some words, not a secret at all"},
		{"unknown", "text with 0.AXYAabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH inside", "text with " + ph("0.AXYAabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH") + " inside"},
		{"unknown", ph("anything"), ph("anything")},
		// Names that only mention "token" or "assertion" say nothing
		// about the value; names that end with the noun name one.
		{"token_endpoint", "https://login.microsoftonline.com/common/oauth2/v2.0/token", "https://login.microsoftonline.com/common/oauth2/v2.0/token"},
		{"token_endpoint_auth_methods_supported", "private_key_jwt", "private_key_jwt"},
		{"id_token_signing_alg_values_supported", "RS256", "RS256"},
		{"refresh_token_expires_in", "1209600", "1209600"},
		{"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		{"accessToken", "abc", ph("abc")},
		{"x-csrf-token", "abc", ph("abc")},
		{"samlAssertion", "abc", ph("abc")},
	}
	for _, tt := range tests {
		if got := s.field(tt.name, tt.value, "test"); got != tt.want {
			t.Errorf("field(%q, %q): got %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

func TestCookiePolicy(t *testing.T) {
	s := unitSanitizer(false)
	tests := []struct{ in, want string }{
		{"ESTSAUTH=1.AW8Aabc; x-ms-gateway-slice=estsfd; flag=1", "ESTSAUTH=" + s.placeholder("1.AW8Aabc") + "; x-ms-gateway-slice=estsfd; flag=1"},
		{"a=;b=longer-value", "a=;b=" + s.placeholder("longer-value")},
		{"noequals", "noequals"},
	}
	for _, tt := range tests {
		if got := s.cookieHeader(tt.in, "c"); got != tt.want {
			t.Errorf("cookieHeader(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
	set := "fpc=Am26iPGssf9Pl7gwXMSdRFCs; expires=Wed, 24-Feb-2021 01:41:13 GMT; path=/; secure; HttpOnly; SameSite=None"
	want := "fpc=" + s.placeholder("Am26iPGssf9Pl7gwXMSdRFCs") + "; expires=Wed, 24-Feb-2021 01:41:13 GMT; path=/; secure; HttpOnly; SameSite=None"
	if got := s.setCookie(set, "c"); got != want {
		t.Errorf("setCookie(%q): got %q, want %q", set, got, want)
	}
}

func TestHeaderPolicy(t *testing.T) {
	s := unitSanitizer(false)
	tests := []struct{ name, in, want string }{
		{"Authorization", "Bearer opaque-token-value", "Bearer " + s.placeholder("opaque-token-value")},
		{"Proxy-Authorization", "Basic dXNlcjpwYXNz", "Basic " + s.placeholder("dXNlcjpwYXNz")},
		{"Authorization", "justonetoken", s.placeholder("justonetoken")},
		{"x-ms-request-id", "0b7c1e3a-5d2f-4a6b-8c9d-1e2f3a4b5c00", "0b7c1e3a-5d2f-4a6b-8c9d-1e2f3a4b5c00"},
		{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{"WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims"`, `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims"`},
		{"X-Custom-Session", "abc", s.placeholder("abc")},
		{"X-Custom", "kQ8Zx9vLp2Rt5Yb3mN7qW1eR4tY6uI0o", s.placeholder("kQ8Zx9vLp2Rt5Yb3mN7qW1eR4tY6uI0o")},
		{"X-Custom", "plain value", "plain value"},
		{"Referer", "https://app.example/cb?code=abc", "https://app.example/cb?code=" + s.placeholder("abc")},
		{"X-Api-Key", "k-1", s.placeholder("k-1")},
		{"Ocp-Apim-Subscription-Key", "k-1", s.placeholder("k-1")},
		{"X-CSRF-Token", "t-1", s.placeholder("t-1")},
		{"X-MS-TOKEN-AAD-EXPIRES-ON", "2025-06-07T09:09:10.0000000Z", "2025-06-07T09:09:10.0000000Z"},
		{"Public-Key-Pins", `pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; max-age=5184000`, `pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; max-age=5184000`},
	}
	for _, tt := range tests {
		if got := s.header(tt.name, tt.in, "h"); got != tt.want {
			t.Errorf("header(%q, %q): got %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestJWTKeepsShape(t *testing.T) {
	s := unitSanitizer(false)
	enc := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	tok := enc(`{"alg":"RS256","kid":"k1","x5c":["MIIC"]}`) + "." +
		enc(`{"aud":"api://x","exp":1700000000,"oid":"o-1","groups":["g1","g2"],"refresh_token":"0.AQcA"}`) + ".c2lnbmF0dXJlc2lnbmF0dXJl"
	out, ok := s.jwt(tok, "t", KindAccessToken)
	if !ok {
		t.Fatalf("jwt(%q): not recognised", tok)
	}
	parts := strings.Split(out, ".")
	if len(parts) != 3 {
		t.Fatalf("jwt: got %d segments, want 3: %q", len(parts), out)
	}
	for i, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			t.Errorf("jwt: segment %d %q is not base64url: %v", i, p, err)
		}
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	wantHdr := `{"alg":"RS256","kid":"k1","x5c":["` + s.placeholder("MIIC") + `"]}`
	wantPayload := `{"aud":"api://x","exp":1700000000,"oid":"` + s.placeholder("o-1") + `","groups":["` + s.placeholder("g1") + `","` + s.placeholder("g2") + `"],"refresh_token":"` + s.placeholder("0.AQcA") + `"}`
	if string(hdr) != wantHdr {
		t.Errorf("jwt header: got %s, want %s", hdr, wantHdr)
	}
	if string(payload) != wantPayload {
		t.Errorf("jwt payload: got %s, want %s", payload, wantPayload)
	}
	if !isPlaceholder(parts[2]) {
		t.Errorf("jwt signature: got %q, want a placeholder", parts[2])
	}
	kinds := map[string]bool{}
	for _, r := range s.rec.items {
		kinds[r.kind] = true
	}
	if !kinds[KindAccessToken] || !kinds[KindRefreshToken] {
		t.Errorf("jwt: recorded kinds %v, want access-token and refresh-token", kinds)
	}
	if again, _ := s.jwt(out, "t", KindAccessToken); again != out {
		t.Errorf("jwt is not idempotent: %q then %q", out, again)
	}
	if _, ok := s.jwt("eyJnot.a.jwt", "t", KindJWT); ok {
		t.Error("jwt accepted a header that is not JSON")
	}
}

func TestPseudonyms(t *testing.T) {
	s := unitSanitizer(true)
	a := s.scrub("login_hint=alice%40contoso.com and Alice@Contoso.com", "t")
	local := s.pseudonymLocal("alice", "contoso.com")
	want := "login_hint=" + local + "%40contoso.com and " + local + "@Contoso.com"
	if a != want {
		t.Errorf("scrub: got %q, want %q", a, want)
	}
	if got, want := s.scrub("x=%22alice%40contoso.com%22", "t"), "x=%22"+local+"%40contoso.com%22"; got != want {
		t.Errorf("scrub: got %q, want %q", got, want)
	}
	if b := s.scrub(a, "t"); b != a {
		t.Errorf("scrub is not idempotent on pseudonyms: %q then %q", a, b)
	}
	if other := newSanitizer(Options{Key: []byte("another key 0123456789"), Pseudonymize: true}.Default(), nil); other.pseudonymLocal("alice", "contoso.com") == local {
		t.Error("pseudonyms do not depend on the key")
	}
	if got := unitSanitizer(false).scrub("alice@contoso.com", "t"); got != "alice@contoso.com" {
		t.Errorf("scrub without Pseudonymize changed an address: %q", got)
	}
}

func TestParsePlaceholder(t *testing.T) {
	s := unitSanitizer(false)
	tests := []struct {
		in   string
		want Placeholder
		ok   bool
	}{
		{s.placeholder("hello"), Placeholder{Len: 5, Hash: s.hash("hello")}, true},
		{s.verifierPlaceholder("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), Placeholder{Len: 43, Hash: s.hash("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), S256: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, true},
		{s.segmentPlaceholder("x"), Placeholder{Len: 1, Hash: s.hash("x")}, true},
		{"REDACTED_lenX_habcdef", Placeholder{}, false},
		{"REDACTED_len5_habcdef trailing", Placeholder{}, false},
		{"", Placeholder{}, false},
	}
	for _, tt := range tests {
		got, ok := ParsePlaceholder(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParsePlaceholder(%q): got %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestOptions(t *testing.T) {
	var o Options
	if err := o.Validate(); err == nil {
		t.Error("Validate(zero Options): no error")
	}
	d := o.Default()
	if err := d.Validate(); err != nil {
		t.Errorf("Validate(Default()): %v", err)
	}
	if o.Key != nil || o.KeepClaims != nil {
		t.Error("Default changed its receiver")
	}
	if d2 := o.Default(); string(d2.Key) == string(d.Key) {
		t.Error("Default: two random keys are equal")
	}
	if err := (Options{Key: unitKey, KeepClaims: []string{"aud", " "}}).Validate(); err == nil {
		t.Error("Validate: an empty claim name passed")
	}
	keys := Options{Key: unitKey, KeepClaims: []string{"oid"}}.Default()
	if len(keys.KeepClaims) != 1 {
		t.Errorf("Default replaced an explicit KeepClaims: %v", keys.KeepClaims)
	}
}

func TestSummary(t *testing.T) {
	r := Report{Items: []Redaction{
		{Entry: 0, Location: "request.headers[Cookie]: ESTSAUTH", Kind: KindCookie},
		{Entry: 0, Location: "response.headers[Set-Cookie]: ESTSAUTH", Kind: KindCookie},
		{Entry: 1, Location: "request.cookies[ESTSAUTH]", Kind: KindCookie},
		{Entry: 1, Location: "request.postData: form passwd", Kind: KindPassword},
	}}
	want := "4 values redacted in 2 entries\n" +
		"  cookie                   3  (request.cookies 1, request.headers 1, response.headers 1)\n" +
		"  password                 1  (request.postData 1)\n"
	if got := r.Summary(); got != want {
		t.Errorf("Summary:\ngot  %q\nwant %q", got, want)
	}
	if got := (Report{}).Summary(); got != "nothing redacted\n" {
		t.Errorf("Summary(empty): got %q", got)
	}
}

func TestKeyFromFileMissing(t *testing.T) {
	if _, err := KeyFromFile(filepath.Join(t.TempDir(), "nope.har")); err == nil {
		t.Error("KeyFromFile(missing): no error")
	}
	p := filepath.Join(t.TempDir(), "a")
	os.WriteFile(p, []byte("a"), 0o600)
	q := filepath.Join(t.TempDir(), "b")
	os.WriteFile(q, []byte("b"), 0o600)
	a, _ := KeyFromFile(p)
	b, _ := KeyFromFile(q)
	if string(a) == string(b) {
		t.Error("KeyFromFile: different files give the same key")
	}
}

// TestJWKPolicy checks that a JSON Web Key is judged by position: public
// parameters stay byte for byte, private ones go whatever they look like,
// and a public position holding something that is not key-shaped falls
// back to the field policy.
func TestJWKPolicy(t *testing.T) {
	s := unitSanitizer(false)
	ph := s.placeholder
	const n = "s-CkW3GnNV8yyOpn2nLhL_57CZ0E0xw3u7LoQCaTJ9g8AQlLU8prNLoqFfRm1Yesdon2j1qEo3pocxyfyhjL7FH1OyMBUPH5pj6LB8OtFhLk1wCzGj9ROd839I2oYnTuD5"
	const d = "X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q"
	// A certificate: public, kept wherever it is.
	cert := "MIIBITCByaADAgECAgEHMAoGCCqGSM49BAMCMBsxGTAXBgNVBAMTEGFwcC5jb250b3NvLnRlc3QwHhcNMjUwNjAxMDAwMDAwWhcNMzAwNjAxMDAwMDAwWjAbMRkwFwYDVQQDExBhcHAuY29udG9zby50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsEW4vEJCuLjr95QfYDObmhLbV0lZxUcVndz5K3DKjPg6qhHmt92HhAcOwdwKeCqbBh7lWDq+7/sgcxLyQSWRUDAKBggqhkjOPQQDAgNHADBEAiANMZpCJ1SXVcC0K7v7oCjHkN4VSuStbasv5o8yiK3rSAIgHKpLAci2AiMG6EkINpZAzGsLpnuyMlQi8BqVoQmfaNI="
	if !isCertificate(cert) {
		t.Fatal("test setup: cert is not a certificate")
	}
	notCert := "MII" + strings.Repeat("Ab1x", 80)
	tests := []struct{ in, want string }{
		{`{"kty":"RSA","kid":"jdNwXwBjqJlhG6gbFUlNNxXuFlM","n":"` + n + `","e":"AQAB","x5c":["` + cert + `"]}`,
			`{"kty":"RSA","kid":"jdNwXwBjqJlhG6gbFUlNNxXuFlM","n":"` + n + `","e":"AQAB","x5c":["` + cert + `"]}`},
		{`{"kty":"RSA","n":"` + n + `","e":"AQAB","d":"` + d + `","p":"abc","qi":"xyz"}`,
			`{"kty":"RSA","n":"` + n + `","e":"AQAB","d":"` + ph(d) + `","p":"` + ph("abc") + `","qi":"` + ph("xyz") + `"}`},
		{`{"kty":"oct","kid":"hmac-1","k":"GawgguFyGrWKav7AX4VKUg"}`, `{"kty":"oct","kid":"hmac-1","k":"` + ph("GawgguFyGrWKav7AX4VKUg") + `"}`},
		{`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}`,
			`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"` + ph("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI") + `"}`},
		// Not a JWK: "n" and "d" are just names.
		{`{"n":"short","d":"2025-06-07"}`, `{"n":"short","d":"2025-06-07"}`},
		// A public position holding what is not a certificate or key.
		{`{"kty":"RSA","x5c":["` + notCert + `"],"kid":"0.AXYA.not-a-kid"}`, `{"kty":"RSA","x5c":["` + ph(notCert) + `"],"kid":"0.AXYA.not-a-kid"}`},
		// A certificate under a name that says nothing is public.
		{`{"signingCertificate":"` + cert + `","thumbprint":"4c3b2a19"}`, `{"signingCertificate":"` + cert + `","thumbprint":"4c3b2a19"}`},
	}
	for _, tt := range tests {
		got, ok := s.jsonBody(tt.in, "t")
		if !ok || got != tt.want {
			t.Errorf("jsonBody(%s):\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
