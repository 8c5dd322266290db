package fakests

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestInstanceDiscovery(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	tests := []struct {
		authz      string
		wantStatus int
		wantTDE    string
		wantError  string
	}{
		{"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize", 200, "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", ""},
		{"https://login.windows.net/common/oauth2/authorize", 200, "https://login.windows.net/common/.well-known/openid-configuration", ""},
		{"https://login.example.com/common/oauth2/v2.0/authorize", 400, "", "invalid_instance"},
	}
	for _, tt := range tests {
		r := get(t, c, base+"/common/discovery/instance?"+url.Values{"api-version": {"1.1"}, "authorization_endpoint": {tt.authz}}.Encode())
		if r.StatusCode != tt.wantStatus {
			t.Errorf("discovery(%q): status %d, want %d", tt.authz, r.StatusCode, tt.wantStatus)
			continue
		}
		var body struct {
			TDE      string `json:"tenant_discovery_endpoint"`
			Version  string `json:"api-version"`
			Error    string `json:"error"`
			Metadata []struct {
				PreferredNetwork string   `json:"preferred_network"`
				PreferredCache   string   `json:"preferred_cache"`
				Aliases          []string `json:"aliases"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatalf("discovery(%q): %v", tt.authz, err)
		}
		if body.TDE != tt.wantTDE || body.Error != tt.wantError {
			t.Errorf("discovery(%q): got tde %q error %q, want %q %q", tt.authz, body.TDE, body.Error, tt.wantTDE, tt.wantError)
		}
		if tt.wantStatus == 200 {
			if body.Version != "1.1" || len(body.Metadata) == 0 || body.Metadata[0].PreferredCache != "login.windows.net" {
				t.Errorf("discovery(%q): metadata %+v", tt.authz, body)
			}
			if got := r.Header.Get("Cache-Control"); got != "max-age=86400, private" {
				t.Errorf("discovery Cache-Control: got %q", got)
			}
		}
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	tid := TenantContoso.ID
	tests := []struct {
		path       string
		wantStatus int
		wantIssuer string
		wantToken  string
	}{
		{"/" + tid + "/v2.0/.well-known/openid-configuration", 200, "https://login.microsoftonline.com/" + tid + "/v2.0", "https://login.microsoftonline.com/" + tid + "/oauth2/v2.0/token"},
		{"/contoso.com/v2.0/.well-known/openid-configuration", 200, "https://login.microsoftonline.com/" + tid + "/v2.0", "https://login.microsoftonline.com/" + tid + "/oauth2/v2.0/token"},
		{"/common/v2.0/.well-known/openid-configuration", 200, "https://login.microsoftonline.com/{tenantid}/v2.0", "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"},
		{"/" + tid + "/.well-known/openid-configuration", 200, "https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.com/" + tid + "/oauth2/token"},
		{"/nosuch.example/v2.0/.well-known/openid-configuration", 400, "", ""},
	}
	for _, tt := range tests {
		r := get(t, c, base+tt.path)
		if r.StatusCode != tt.wantStatus {
			t.Errorf("GET %s: status %d, want %d (%s)", tt.path, r.StatusCode, tt.wantStatus, r.body)
			continue
		}
		if tt.wantStatus != 200 {
			e := decodeTokenError(t, r)
			if e.Error != "invalid_tenant" || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != 90002 {
				t.Errorf("GET %s: got %+v, want invalid_tenant 90002", tt.path, e)
			}
			continue
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(r.body), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["issuer"] != tt.wantIssuer || cfg["token_endpoint"] != tt.wantToken {
			t.Errorf("GET %s: issuer %v token %v, want %s %s", tt.path, cfg["issuer"], cfg["token_endpoint"], tt.wantIssuer, tt.wantToken)
		}
	}
}

// TestJWKSVerifiesTokens checks that tokens verify against the published key.
func TestJWKSVerifiesTokens(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	r := postForm(t, c, base+"/"+TenantContoso.ID+"/oauth2/v2.0/token", url.Values{
		"client_id": {AppConfidential.ClientID}, "client_secret": {AppConfidential.Secret},
		"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"},
	})
	tok := decodeTokenOK(t, r)

	r = get(t, c, base+"/"+TenantContoso.ID+"/discovery/v2.0/keys")
	var set struct {
		Keys []struct {
			Kid, N, E, Issuer string
			X5c               []string
		}
	}
	if err := json.Unmarshal([]byte(r.body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", r.body, err)
	}
	k := set.Keys[0]
	nb, _ := b64.DecodeString(k.N)
	eb, _ := b64.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	hdr, claims := jwtClaims(t, tok.AccessToken)
	if hdr["kid"] != k.Kid || hdr["alg"] != "RS256" {
		t.Errorf("token header %v, jwks kid %s", hdr, k.Kid)
	}
	parts := strings.Split(tok.AccessToken, ".")
	sig, _ := b64.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("access token does not verify with JWKS key: %v", err)
	}
	if claims["tid"] != TenantContoso.ID || claims["appid"] != AppConfidential.ClientID || claims["idtyp"] != "app" {
		t.Errorf("app-only claims: %v", claims)
	}
	if k.Issuer != "https://login.microsoftonline.com/"+TenantContoso.ID+"/v2.0" {
		t.Errorf("jwks issuer: got %q", k.Issuer)
	}
}

func TestEntraHeaders(t *testing.T) {
	const skew = -3 * time.Hour
	clock := newFakeClock()
	s := start(t, Options{ClockSkew: skew, Now: clock.Now})
	c := s.HTTPClient()
	const crid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	req, _ := http.NewRequest(http.MethodPost, base+"/"+TenantContoso.ID+"/oauth2/v2.0/token",
		strings.NewReader(url.Values{"client_id": {AppConfidential.ClientID}, "client_secret": {"wrong"}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", crid)
	r := do(t, c, req)

	want := map[string]string{
		"Cache-Control":             "no-store, no-cache",
		"Pragma":                    "no-cache",
		"Expires":                   "-1",
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"X-Content-Type-Options":    "nosniff",
		"P3P":                       `CP="DSP CUR OTPi IND OTRi ONL FIN"`,
		"client-request-id":         crid,
		"x-ms-clitelem":             "1,7000215,0,,",
		"Content-Type":              "application/json; charset=utf-8",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s: got %q, want %q", k, got, v)
		}
	}
	if !strings.HasSuffix(r.Header.Get("x-ms-ests-server"), "ProdSlices") {
		t.Errorf("x-ms-ests-server: got %q", r.Header.Get("x-ms-ests-server"))
	}
	e := decodeTokenError(t, r)
	if e.CorrelationID != crid {
		t.Errorf("correlation_id: got %q, want client-request-id %q", e.CorrelationID, crid)
	}
	if e.TraceID != r.Header.Get("x-ms-request-id") || !guidPattern.MatchString(e.TraceID) {
		t.Errorf("trace_id %q, x-ms-request-id %q: want equal GUIDs", e.TraceID, r.Header.Get("x-ms-request-id"))
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", r.Header.Get("Date"), err)
	}
	if d := date.Sub(clock.Now().Add(skew)); d < -time.Second || d > time.Second {
		t.Errorf("Date %v: want server clock plus skew %v (off by %v)", date, clock.Now().Add(skew), d)
	}
	if want := clock.Now().Add(skew).UTC().Format(jsonTimestamp); e.Timestamp != want {
		t.Errorf("timestamp: got %q, want skewed %q", e.Timestamp, want)
	}
	log := s.Log()
	if len(log) != 1 || log[0].ClientRequestID != crid || log[0].ErrorCode != 7000215 || log[0].Status != 401 {
		t.Errorf("Log: got %+v", log)
	}
}

func TestNotFound(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	for _, p := range []string{"/", "/nosuch/path/at/all/here"} {
		r := get(t, c, base+p)
		if r.StatusCode != http.StatusNotFound || r.Header.Get("x-ms-request-id") == "" {
			t.Errorf("GET %s: status %d, x-ms-request-id %q; want 404 with Entra headers", p, r.StatusCode, r.Header.Get("x-ms-request-id"))
		}
	}
}
