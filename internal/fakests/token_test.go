package fakests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// codeFor signs alice in silently and returns a fresh code for AppPublic.
func codeFor(t *testing.T, s *Server, c *http.Client, tenant string, extra url.Values) string {
	t.Helper()
	if extra == nil {
		extra = url.Values{}
	}
	r := get(t, c, authorizeURL(tenant, extra), s.SessionCookieFor(UserAlice.UPN))
	code := redirectParams(t, r).Get("code")
	if code == "" {
		t.Fatalf("no code from %s", r.Header.Get("Location"))
	}
	return code
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)
	trailerRE   = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)
)

func TestTokenErrorShape(t *testing.T) {
	s := start(t, Options{})
	r := postForm(t, s.HTTPClient(), base+"/common/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {"bogus"}, "redirect_uri": {"http://localhost"}})
	// Field order is part of the wire shape.
	var keys []string
	dec := json.NewDecoder(strings.NewReader(r.body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := strings.Join(keys, ","), "error,error_description,error_codes,timestamp,trace_id,correlation_id,error_uri"; got != want {
		t.Errorf("error keys: got %s, want %s", got, want)
	}
	e := decodeTokenError(t, r)
	if !timestampRE.MatchString(e.Timestamp) || !trailerRE.MatchString(e.ErrorDescription) || e.ErrorURI != "https://login.microsoftonline.com/error?code=9002313" {
		t.Errorf("error body: %+v", e)
	}
	if !strings.Contains(e.ErrorDescription, "Trace ID: "+e.TraceID) || !strings.Contains(e.ErrorDescription, "Correlation ID: "+e.CorrelationID) {
		t.Errorf("description trailer must repeat trace and correlation ids: %q", e.ErrorDescription)
	}
}

func TestTrailerSeparatorOption(t *testing.T) {
	s := start(t, Options{TrailerSeparator: " "})
	r := postForm(t, s.HTTPClient(), base+"/common/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserAlice.UPN}, "password": {"nope"}, "scope": {"User.Read"}})
	if e := decodeTokenError(t, r); !strings.Contains(e.ErrorDescription, "password. Trace ID: ") {
		t.Errorf("space separator: %q", e.ErrorDescription)
	}
}

func TestTokenErrors(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Now: clock.Now})
	c := s.HTTPClient()
	contoso := base + "/" + TenantContoso.ID + "/oauth2/v2.0/token"
	common := base + "/common/oauth2/v2.0/token"
	cc := func(secret, scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {AppConfidential.ClientID}, "client_secret": {secret}, "scope": {scope}}
	}
	tests := []struct {
		name       string
		url        string
		form       func() url.Values
		hdr        []string
		wantStatus int
		wantError  string
		wantCode   int
		wantSub    string
	}{
		{"PKCE mismatch", common, func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {codeFor(t, s, c, "common", nil)}, "redirect_uri": {"http://localhost:8400/"}, "code_verifier": {"not-the-verifier-at-all-0123456789012345678901"}}
		}, nil, 400, "invalid_grant", 501481, ""},
		{"redirect_uri differs from authorize", common, func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {codeFor(t, s, c, "common", nil)}, "redirect_uri": {"http://localhost:9999/"}, "code_verifier": {testVerifier}}
		}, nil, 400, "invalid_grant", 500112, ""},
		{"code for another tenant", base + "/" + TenantFabrikam.ID + "/oauth2/v2.0/token", func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {codeFor(t, s, c, TenantContoso.ID, nil)}, "redirect_uri": {"http://localhost:8400/"}, "code_verifier": {testVerifier}}
		}, nil, 400, "invalid_grant", 700005, ""},
		{"SPA code redeemed without Origin", common, func() url.Values {
			code := codeFor(t, s, c, "common", url.Values{"redirect_uri": {"https://app.contoso.com/auth/callback"}})
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {code}, "redirect_uri": {"https://app.contoso.com/auth/callback"}, "code_verifier": {testVerifier}}
		}, nil, 400, "invalid_request", 9002327, ""},
		{"native code redeemed cross-origin", common, func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {AppPublic.ClientID}, "code": {codeFor(t, s, c, "common", nil)}, "redirect_uri": {"http://localhost:8400/"}, "code_verifier": {testVerifier}}
		}, []string{"Origin", "https://app.contoso.com"}, 400, "invalid_request", 9002326, ""},
		{"wrong secret", contoso, func() url.Values { return cc("wrong", "https://graph.microsoft.com/.default") }, nil, 401, "invalid_client", 7000215, ""},
		{"secret id instead of value", contoso, func() url.Values { return cc(AppConfidential.SecretID, "https://graph.microsoft.com/.default") }, nil, 401, "invalid_client", 7000215, ""},
		{"missing secret", contoso, func() url.Values { return cc("", "https://graph.microsoft.com/.default") }, nil, 401, "invalid_client", 7000218, ""},
		{"public client with secret", common, func() url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "client_secret": {"x"}, "username": {UserAlice.UPN}, "password": {UserAlice.Password}, "scope": {"User.Read"}}
		}, nil, 401, "invalid_client", 700025, ""},
		{"client credentials on common", common, func() url.Values { return cc(AppConfidential.Secret, "https://graph.microsoft.com/.default") }, nil, 400, "invalid_request", 50059, ""},
		{"client credentials without .default", contoso, func() url.Values { return cc(AppConfidential.Secret, "https://graph.microsoft.com/User.Read") }, nil, 400, "invalid_scope", 1002012, ""},
		{"two resources", common, func() url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserAlice.UPN}, "password": {UserAlice.Password}, "scope": {"User.Read https://management.azure.com/user_impersonation"}}
		}, nil, 400, "invalid_scope", 28000, ""},
		{"unknown resource", common, func() url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserAlice.UPN}, "password": {UserAlice.Password}, "scope": {"api://nosuch/read"}}
		}, nil, 400, "invalid_resource", 500011, ""},
		{"ROPC wrong password", common, func() url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserAlice.UPN}, "password": {"nope"}, "scope": {"User.Read"}}
		}, nil, 400, "invalid_grant", 50126, ""},
		{"ROPC user needs MFA", common, func() url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserCarol.UPN}, "password": {UserCarol.Password}, "scope": {"User.Read"}}
		}, nil, 400, "invalid_grant", 50076, "basic_action"},
		{"unsupported grant", common, func() url.Values { return url.Values{"grant_type": {"magic"}, "client_id": {AppPublic.ClientID}} }, nil, 400, "unsupported_grant_type", 70003, ""},
		{"unknown tenant", base + "/nosuch.example/oauth2/v2.0/token", func() url.Values { return cc(AppConfidential.Secret, "https://graph.microsoft.com/.default") }, nil, 400, "invalid_request", 90002, ""},
		{"garbage refresh token", common, func() url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "client_id": {AppPublic.ClientID}, "refresh_token": {"1.AV8Aforged.sig"}, "scope": {"User.Read"}}
		}, nil, 400, "invalid_grant", 9002313, ""},
	}
	for _, tt := range tests {
		r := postForm(t, c, tt.url, tt.form(), tt.hdr...)
		e := decodeTokenError(t, r)
		if r.StatusCode != tt.wantStatus || e.Error != tt.wantError || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != tt.wantCode || e.SubError != tt.wantSub {
			t.Errorf("%s: got %d %s %v suberror %q, want %d %s %d %q (%s)", tt.name, r.StatusCode, e.Error, e.ErrorCodes, e.SubError, tt.wantStatus, tt.wantError, tt.wantCode, tt.wantSub, e.ErrorDescription)
		}
		if !strings.HasPrefix(e.ErrorDescription, "AADSTS") {
			t.Errorf("%s: description %q", tt.name, e.ErrorDescription)
		}
	}

	// A code left too long expires.
	code := codeFor(t, s, c, "common", nil)
	clock.Advance(DefaultCodeLifetime + time.Second)
	if e := decodeTokenError(t, redeem(t, c, "common", code, testVerifier)); e.ErrorCodes[0] != 70008 {
		t.Errorf("expired code: got %v, want 70008", e.ErrorCodes)
	}

	r := get(t, c, common)
	if e := decodeTokenError(t, r); r.StatusCode != 400 || e.ErrorCodes[0] != 900561 {
		t.Errorf("GET token endpoint: got %d %v, want 400 900561", r.StatusCode, e.ErrorCodes)
	}
}

func TestPKCEPlainAndFailedAttemptKeepsCode(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	code := codeFor(t, s, c, "common", url.Values{"code_challenge": {"plain-verifier-0123456789012345678901234567890"}, "code_challenge_method": {"plain"}})
	if e := decodeTokenError(t, redeem(t, c, "common", code, "other")); e.ErrorCodes[0] != 501481 {
		t.Errorf("plain mismatch: got %v", e.ErrorCodes)
	}
	decodeTokenOK(t, redeem(t, c, "common", code, "plain-verifier-0123456789012345678901234567890"))
}

func TestRefreshToken(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Now: clock.Now, RefreshTokenLifetime: 24 * time.Hour})
	c := s.HTTPClient()
	tok := decodeTokenOK(t, redeem(t, c, "common", codeFor(t, s, c, "common", nil), testVerifier))
	refresh := func(rt string) response {
		return postForm(t, c, base+"/common/oauth2/v2.0/token", url.Values{
			"grant_type": {"refresh_token"}, "client_id": {AppPublic.ClientID}, "refresh_token": {rt},
			"scope": {"https://management.azure.com/user_impersonation offline_access"}, "client_info": {"1"},
		})
	}
	next := decodeTokenOK(t, refresh(tok.RefreshToken))
	_, at := jwtClaims(t, next.AccessToken)
	if at["aud"] != "https://management.azure.com" || at["scp"] != "user_impersonation" || next.RefreshToken == "" || next.Scope != "https://management.azure.com/user_impersonation" {
		t.Errorf("refreshed for ARM: aud %v scp %v scope %q", at["aud"], at["scp"], next.Scope)
	}

	// Another client cannot use the token.
	r := postForm(t, c, base+"/common/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {AppConfidential.ClientID}, "client_secret": {AppConfidential.Secret}, "refresh_token": {next.RefreshToken}, "scope": {"User.Read"}})
	if e := decodeTokenError(t, r); e.ErrorCodes[0] != 70000 {
		t.Errorf("other client: got %v, want 70000", e.ErrorCodes)
	}

	clock.Advance(25 * time.Hour)
	if e := decodeTokenError(t, refresh(next.RefreshToken)); e.ErrorCodes[0] != 700082 {
		t.Errorf("inactive refresh token: got %v, want 700082", e.ErrorCodes)
	}

	// Revocation: tokens issued before TokensValidFrom fail with 50173.
	tok = decodeTokenOK(t, redeem(t, c, "common", codeFor(t, s, c, "common", nil), testVerifier))
	clock.Advance(2 * time.Second)
	s.RevokeUser(UserAlice.UPN)
	if e := decodeTokenError(t, refresh(tok.RefreshToken)); e.ErrorCodes[0] != 50173 {
		t.Errorf("revoked refresh token: got %v, want 50173", e.ErrorCodes)
	}
}

func TestPasswordAndV1(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	r := postForm(t, c, base+"/"+TenantContoso.ID+"/oauth2/token", url.Values{
		"grant_type": {"password"}, "client_id": {AppPublic.ClientID}, "username": {UserAlice.UPN}, "password": {UserAlice.Password},
		"resource": {"https://management.core.windows.net/"},
	})
	tok := decodeTokenOK(t, r)
	if _, ok := tok.ExpiresIn.(string); !ok {
		t.Errorf("v1 expires_in: got %T, want string", tok.ExpiresIn)
	}
	if _, ok := tok.ExpiresOn.(string); !ok || tok.Resource != "https://management.core.windows.net/" {
		t.Errorf("v1 expires_on %v resource %q", tok.ExpiresOn, tok.Resource)
	}
	hdr, id := jwtClaims(t, tok.IDToken)
	if hdr["alg"] != "none" || id["iss"] != "https://sts.windows.net/"+TenantContoso.ID+"/" || id["upn"] != UserAlice.UPN {
		t.Errorf("v1 id_token: header %v claims %v", hdr, id)
	}
	_, at := jwtClaims(t, tok.AccessToken)
	if at["aud"] != "https://management.core.windows.net/" || at["ver"] != "1.0" {
		t.Errorf("v1 access token: %v", at)
	}
}

func TestDeviceCode(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	r := postForm(t, c, base+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {AppPublic.ClientID}, "scope": {"User.Read offline_access openid"}})
	var dc struct {
		UserCode        string `json:"user_code"`
		DeviceCode      string `json:"device_code"`
		VerificationURI string `json:"verification_uri"`
		Interval        int    `json:"interval"`
		Message         string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.body), &dc); err != nil || dc.UserCode == "" || dc.VerificationURI != verificationURI || dc.Interval != 5 {
		t.Fatalf("device code response %s: %v", r.body, err)
	}
	poll := func() response {
		return postForm(t, c, base+"/organizations/oauth2/v2.0/token", url.Values{"grant_type": {grantDeviceCode}, "client_id": {AppPublic.ClientID}, "device_code": {dc.DeviceCode}})
	}
	if e := decodeTokenError(t, poll()); e.Error != "authorization_pending" || e.ErrorCodes[0] != 70016 {
		t.Errorf("before approval: got %s %v", e.Error, e.ErrorCodes)
	}
	// The user enters the code in a browser that is already signed in.
	b := browser(t, s)
	u, _ := url.Parse(base)
	b.Jar.SetCookies(u, []*http.Cookie{s.SessionCookieFor(UserBob.UPN)})
	r = postForm(t, b, base+"/common/oauth2/deviceauth", url.Values{"otc": {dc.UserCode}})
	if cfg := pageConfig(t, r.body); cfg["pgid"] != "ConvergedRemoteConnectSuccess" {
		t.Fatalf("deviceauth: $Config %v", cfg)
	}
	tok := decodeTokenOK(t, poll())
	_, id := jwtClaims(t, tok.IDToken)
	if id["preferred_username"] != UserBob.UPN || id["tid"] != TenantFabrikam.ID {
		t.Errorf("device code id_token: %v", id)
	}
	if e := decodeTokenError(t, poll()); e.ErrorCodes[0] != 70000 {
		t.Errorf("second poll: got %v, want 70000", e.ErrorCodes)
	}
}

func TestSrvChallenge(t *testing.T) {
	s := start(t, Options{})
	r := postForm(t, s.HTTPClient(), base+"/common/oauth2/token", url.Values{"grant_type": {"srv_challenge"}})
	var body struct{ Nonce string }
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || !s.nonceFresh(body.Nonce) {
		t.Errorf("srv_challenge: %s (%v)", r.body, err)
	}
}
