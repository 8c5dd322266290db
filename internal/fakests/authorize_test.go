package fakests

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestAuthorizeErrorPages(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	tests := []struct {
		name     string
		tenant   string
		extra    url.Values
		wantCode string
	}{
		{"unregistered redirect_uri", "common", url.Values{"redirect_uri": {"https://evil.example/cb"}}, "50011"},
		{"unknown client", "common", url.Values{"client_id": {"99999999-0000-0000-0000-000000000000"}}, "700016"},
		{"unknown tenant", "nosuch.example", nil, "90002"},
		{"single-tenant app on common", "common", url.Values{"client_id": {AppSingleTenant.ClientID}, "redirect_uri": {"http://localhost/callback"}}, "50194"},
		{"single-tenant app in another tenant", TenantFabrikam.ID, url.Values{"client_id": {AppSingleTenant.ClientID}, "redirect_uri": {"http://localhost/callback"}}, "700016"},
	}
	for _, tt := range tests {
		r := get(t, c, authorizeURL(tt.tenant, tt.extra))
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: status %d type %q, want 200 text/html", tt.name, r.StatusCode, r.Header.Get("Content-Type"))
			continue
		}
		if got, want := r.Header.Get("x-ms-clitelem"), "1,"+tt.wantCode+",0,,"; got != want {
			t.Errorf("%s: x-ms-clitelem %q, want %q", tt.name, got, want)
		}
		if !strings.Contains(r.body, "//<![CDATA[") || !strings.Contains(r.body, `<meta name="PageID" content="ConvergedError" />`) {
			t.Errorf("%s: page lacks CDATA block or PageID meta", tt.name)
		}
		cfg := pageConfig(t, r.body)
		if cfg["pgid"] != "ConvergedError" || cfg["iErrorCode"] != tt.wantCode {
			t.Errorf("%s: $Config pgid %v iErrorCode %v, want ConvergedError %s", tt.name, cfg["pgid"], cfg["iErrorCode"], tt.wantCode)
		}
		msg, _ := cfg["strServiceExceptionMessage"].(string)
		if msg == "" || cfg["correlationId"] == nil || cfg["sessionId"] != r.Header.Get("x-ms-request-id") {
			t.Errorf("%s: $Config message %q correlationId %v sessionId %v", tt.name, msg, cfg["correlationId"], cfg["sessionId"])
		}
	}
}

func TestAuthorize50011Message(t *testing.T) {
	s := start(t, Options{})
	r := get(t, s.HTTPClient(), authorizeURL("common", url.Values{"redirect_uri": {"https://evil.example/cb"}}))
	cfg := pageConfig(t, r.body)
	msg := cfg["strServiceExceptionMessage"].(string)
	if !strings.Contains(msg, "'https://evil.example/cb'") || !strings.Contains(msg, AppPublic.ClientID) {
		t.Errorf("50011 message: got %q", msg)
	}
}

// lowerHexOnly matches a .NET-encoded value: no uppercase escapes.
var upperEscape = regexp.MustCompile(`%[0-9A-F][A-F]|%[A-F][0-9]`)

func TestSilentWithoutSession(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	for _, mode := range []string{"query", "fragment"} {
		r := get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}, "response_mode": {mode}}))
		loc := r.Header.Get("Location")
		p := redirectParams(t, r)
		if p.Get("error") != "login_required" || !strings.HasPrefix(p.Get("error_description"), "AADSTS50058: ") {
			t.Errorf("mode %s: got error %q description %q", mode, p.Get("error"), p.Get("error_description"))
		}
		if !strings.HasSuffix(loc, "&state=st-123") {
			t.Errorf("mode %s: state must be last: %s", mode, loc)
		}
		if !strings.Contains(loc, "error_description=AADSTS50058%3a+The+silent+sign-in") || upperEscape.MatchString(loc) {
			t.Errorf("mode %s: want .NET encoding (+, lowercase hex): %s", mode, loc)
		}
		if !strings.Contains(loc, "%0d%0aTrace+ID%3a+") || !strings.Contains(loc, "error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d50058") {
			t.Errorf("mode %s: trailer or error_uri encoding: %s", mode, loc)
		}
		if mode == "fragment" && !strings.HasPrefix(loc, "http://localhost:8400/#error=") {
			t.Errorf("fragment mode: Location %s", loc)
		}
		if got := r.Header.Get("x-ms-clitelem"); got != "1,50058,0,," {
			t.Errorf("mode %s: x-ms-clitelem %q", mode, got)
		}
	}
}

func TestSSOWithSessionCookie(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	r := get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}}), s.SessionCookieFor(UserAlice.UPN))
	p := redirectParams(t, r)
	if p.Get("code") == "" || p.Get("state") != "st-123" || p.Get("session_state") == "" || p.Get("client_info") == "" {
		t.Fatalf("SSO redirect params: %v", p)
	}
	tok := decodeTokenOK(t, redeem(t, c, "common", p.Get("code"), testVerifier))
	_, id := jwtClaims(t, tok.IDToken)
	if id["preferred_username"] != UserAlice.UPN || id["nonce"] != "n-456" || id["tid"] != TenantContoso.ID || id["aud"] != AppPublic.ClientID {
		t.Errorf("id_token claims: %v", id)
	}
	if id["iss"] != "https://login.microsoftonline.com/"+TenantContoso.ID+"/v2.0" || id["ver"] != "2.0" {
		t.Errorf("id_token iss/ver: %v %v", id["iss"], id["ver"])
	}
	if tok.ClientInfo != clientInfo(&UserAlice) || tok.RefreshToken == "" || tok.Scope != "User.Read profile openid" {
		t.Errorf("token response: client_info %q rt %q scope %q", tok.ClientInfo, tok.RefreshToken, tok.Scope)
	}

	// The same code again is refused: codes are one-time.
	e := decodeTokenError(t, redeem(t, c, "common", p.Get("code"), testVerifier))
	if e.Error != "invalid_grant" || e.ErrorCodes[0] != 54005 {
		t.Errorf("second redemption: got %s %v, want invalid_grant 54005", e.Error, e.ErrorCodes)
	}
}

func TestFormPost(t *testing.T) {
	s := start(t, Options{})
	r := get(t, s.HTTPClient(), authorizeURL("common", url.Values{"response_mode": {"form_post"}}), s.SessionCookieFor(UserAlice.UPN))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("form_post: status %d", r.StatusCode)
	}
	for _, want := range []string{`<title>Working...</title>`, `name="hiddenform" action="http://localhost:8400/"`, `<input type="hidden" name="code" value="`, `<input type="hidden" name="state" value="st-123" />`, `document.forms[0].submit();`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("form_post page lacks %q:\n%s", want, r.body)
		}
	}
}

func TestDomainHintMismatch(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	alice := s.SessionCookieFor(UserAlice.UPN)

	r := get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}, "domain_hint": {"fabrikam.com"}}), alice)
	p := redirectParams(t, r)
	if p.Get("error") != "interaction_required" || !strings.HasPrefix(p.Get("error_description"), "AADSTS50143: ") {
		t.Errorf("silent 50143: got %q %q", p.Get("error"), p.Get("error_description"))
	}

	r = get(t, c, authorizeURL("common", url.Values{"whr": {"fabrikam.com"}}), alice)
	if cfg := pageConfig(t, r.body); cfg["iErrorCode"] != "50143" {
		t.Errorf("interactive 50143: $Config %v", cfg)
	}

	// A hint for the user's own tenant is fine.
	r = get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}, "domain_hint": {"contoso.com"}}), alice)
	if p := redirectParams(t, r); p.Get("code") == "" {
		t.Errorf("matching domain_hint: got %v", p)
	}
}

func TestTenantPathNotMember(t *testing.T) {
	s := start(t, Options{})
	r := get(t, s.HTTPClient(), authorizeURL(TenantFabrikam.ID, url.Values{"prompt": {"none"}}), s.SessionCookieFor(UserAlice.UPN))
	if p := redirectParams(t, r); !strings.HasPrefix(p.Get("error_description"), "AADSTS50020: ") {
		t.Errorf("alice at fabrikam: got %v", p)
	}
	// Bob is a guest in Contoso: his token is for Contoso, his home stays Fabrikam.
	c := s.HTTPClient()
	r = get(t, c, authorizeURL(TenantContoso.ID, url.Values{"prompt": {"none"}}), s.SessionCookieFor(UserBob.UPN))
	p := redirectParams(t, r)
	tok := decodeTokenOK(t, redeem(t, c, TenantContoso.ID, p.Get("code"), testVerifier))
	_, id := jwtClaims(t, tok.IDToken)
	if id["tid"] != TenantContoso.ID || id["idp"] != "https://sts.windows.net/"+TenantFabrikam.ID+"/" || tok.ClientInfo != clientInfo(&UserBob) {
		t.Errorf("guest token: tid %v idp %v client_info %q", id["tid"], id["idp"], tok.ClientInfo)
	}
}

func TestPRTCookie(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	prt := func(v string) *http.Cookie { return &http.Cookie{Name: CookiePRT, Value: v} }

	r := get(t, c, authorizeURL("common", nil), prt(s.PRTCookie(UserAlice.UPN, true, s.Nonce())))
	if p := redirectParams(t, r); p.Get("code") == "" {
		t.Errorf("valid PRT: got %v", p)
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "ESTSAUTH=") {
		t.Errorf("valid PRT: no ESTSAUTH set")
	}

	tests := []struct {
		name, cookie, wantCode string
	}{
		{"wrong session key", s.PRTCookie(UserAlice.UPN, false, s.Nonce()), "140001"},
		{"missing nonce", s.PRTCookie(UserAlice.UPN, true, ""), "140000"},
	}
	for _, tt := range tests {
		r := get(t, c, authorizeURL("common", nil), prt(tt.cookie))
		if cfg := pageConfig(t, r.body); cfg["iErrorCode"] != tt.wantCode {
			t.Errorf("%s: iErrorCode %v, want %s", tt.name, cfg["iErrorCode"], tt.wantCode)
		}
		r = get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}}), prt(tt.cookie))
		if p := redirectParams(t, r); !strings.HasPrefix(p.Get("error_description"), "AADSTS"+tt.wantCode+":") {
			t.Errorf("%s silent: got %v", tt.name, p)
		}
	}

	// A nonce the server never issued asks for a new cookie via sso_nonce.
	r = get(t, c, authorizeURL("common", nil), prt(s.PRTCookie(UserAlice.UPN, true, "AwABAAEAAAACAOz_stale")))
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || loc == nil || !strings.HasSuffix(loc.Path, "/oauth2/v2.0/authorize") || !strings.HasPrefix(loc.Query().Get("sso_nonce"), noncePrefix) {
		t.Errorf("stale nonce: status %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestInteractiveSignIn walks the sign-in page like a browser: a wrong
// password, the right one, session cookies, then SSO from the cookie jar.
func TestInteractiveSignIn(t *testing.T) {
	s := start(t, Options{})
	c := browser(t, s)
	r := get(t, c, authorizeURL("organizations", url.Values{"login_hint": {UserAlice.UPN}}))
	cfg := pageConfig(t, r.body)
	if cfg["pgid"] != "ConvergedSignIn" || cfg["urlPost"] != "/organizations/login" || cfg["sFT"] == nil || cfg["sCtx"] == nil || cfg["canary"] == nil {
		t.Fatalf("sign-in $Config: %v", cfg)
	}
	form := url.Values{
		"login": {UserAlice.UPN}, "loginfmt": {UserAlice.UPN}, "passwd": {"wrong"},
		"ctx": {cfg["sCtx"].(string)}, "flowToken": {cfg["sFT"].(string)}, "canary": {cfg["canary"].(string)},
	}
	r = postForm(t, c, base+"/organizations/login", form)
	cfg2 := pageConfig(t, r.body)
	if r.StatusCode != 200 || cfg2["sErrorCode"] != "50126" || r.Header.Get("x-ms-clitelem") != "1,50126,0,," {
		t.Errorf("wrong password: status %d sErrorCode %v clitelem %q", r.StatusCode, cfg2["sErrorCode"], r.Header.Get("x-ms-clitelem"))
	}

	form.Set("canary", "forged")
	form.Set("passwd", UserAlice.Password)
	if r := postForm(t, c, base+"/organizations/login", form); pageConfig(t, r.body)["iErrorCode"] != "90100" {
		t.Errorf("forged canary: want error page 90100")
	}

	form.Set("canary", cfg["canary"].(string))
	r = postForm(t, c, base+"/organizations/login", form)
	p := redirectParams(t, r)
	if p.Get("code") == "" || p.Get("state") != "st-123" {
		t.Fatalf("sign-in redirect: %v", p)
	}
	cookies := strings.Join(r.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{
		"ESTSAUTH=1.AW8A", "; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
		"ESTSAUTHPERSISTENT=", "ESTSAUTHLIGHT=+", "buid=", "fpc=", "esctx=",
		"x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly", "stsservicecookie=estsfd",
	} {
		if !strings.Contains(cookies, want) {
			t.Errorf("Set-Cookie lacks %q:\n%s", want, cookies)
		}
	}
	decodeTokenOK(t, redeem(t, c, "organizations", p.Get("code"), testVerifier))

	// The jar now carries the session: a silent request succeeds.
	r = get(t, c, authorizeURL("organizations", url.Values{"prompt": {"none"}}))
	if p := redirectParams(t, r); p.Get("code") == "" {
		t.Errorf("SSO from jar: got %v", p)
	}

	// After sign-out the session is gone.
	get(t, c, base+"/common/oauth2/v2.0/logout")
	r = get(t, c, authorizeURL("organizations", url.Values{"prompt": {"none"}}))
	if p := redirectParams(t, r); p.Get("error") != "login_required" {
		t.Errorf("after logout: got %v", p)
	}
}

func TestRevokeUserEndsSession(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Now: clock.Now})
	c := s.HTTPClient()
	ck := s.SessionCookieFor(UserAlice.UPN)
	clock.Advance(2e9)
	s.RevokeUser(UserAlice.UPN)
	r := get(t, c, authorizeURL("common", url.Values{"prompt": {"none"}}), ck)
	if p := redirectParams(t, r); p.Get("error") != "login_required" {
		t.Errorf("revoked session: got %v", p)
	}
}

func TestAuthorizeV1(t *testing.T) {
	s := start(t, Options{})
	c := s.HTTPClient()
	q := url.Values{
		"client_id": {AppPublic.ClientID}, "response_type": {"code"}, "redirect_uri": {"http://localhost"},
		"resource": {"https://graph.microsoft.com"}, "state": {"v1-state"}, "prompt": {"none"},
	}
	r := get(t, c, base+"/contoso.onmicrosoft.com/oauth2/authorize?"+q.Encode(), s.SessionCookieFor(UserAlice.UPN))
	p := redirectParams(t, r)
	if p.Get("code") == "" || p.Get("session_state") == "" || p.Get("state") != "v1-state" {
		t.Fatalf("v1 authorize: %v", p)
	}
	tok := decodeTokenOK(t, postForm(t, c, base+"/contoso.onmicrosoft.com/oauth2/token", url.Values{
		"client_id": {AppPublic.ClientID}, "grant_type": {"authorization_code"}, "code": {p.Get("code")}, "redirect_uri": {"http://localhost"},
	}))
	if tok.Resource != "https://graph.microsoft.com" || tok.Scope != "User.Read" {
		t.Errorf("v1 redemption: resource %q scope %q", tok.Resource, tok.Scope)
	}
}

func TestPRTHeaderAndLifecycle(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" {
		t.Errorf("Addr before Start: got %q, want empty", s.Addr())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Errorf("second Start: got nil error")
	}
	req, _ := http.NewRequest(http.MethodGet, authorizeURL("common", nil), nil)
	req.Header.Set(CookiePRT, s.PRTCookie(UserBob.UPN, true, s.Nonce()))
	if p := redirectParams(t, do(t, s.HTTPClient(), req)); p.Get("client_info") != clientInfo(&UserBob) {
		t.Errorf("PRT header: got %v", p)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := New(Options{Addr: "no-port"}); err == nil {
		t.Errorf("New with a bad Addr: got nil error")
	}
}

// TestStaySignedIn walks the "Stay signed in?" interrupt of a tenant that
// asks: the password post answers with the KmsiInterrupt page, whose No
// keeps the session to the browser's lifetime and whose Yes adds the
// persistent cookie; a forged flow token is refused.
func TestStaySignedIn(t *testing.T) {
	s := start(t, Options{StaySignedIn: true})
	for _, tt := range []struct {
		option     string
		persistent bool
	}{{"3", false}, {"1", true}} {
		c := browser(t, s)
		cfg := pageConfig(t, get(t, c, authorizeURL("organizations", nil)).body)
		r := postForm(t, c, base+"/organizations/login", url.Values{
			"loginfmt": {UserAlice.UPN}, "passwd": {UserAlice.Password},
			"ctx": {cfg["sCtx"].(string)}, "flowToken": {cfg["sFT"].(string)}, "canary": {cfg["canary"].(string)},
		})
		kmsi := pageConfig(t, r.body)
		if r.StatusCode != 200 || kmsi["pgid"] != "KmsiInterrupt" || kmsi["urlPost"] != "/kmsi" || !strings.Contains(r.body, `id="idSIButton9"`) {
			t.Fatalf("after the password: status %d $Config %v", r.StatusCode, kmsi)
		}
		if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "ESTSAUTH=") {
			t.Errorf("the session cookie came before the user answered the interrupt")
		}
		form := url.Values{
			"LoginOptions": {tt.option}, "type": {"28"},
			"ctx": {kmsi["sCtx"].(string)}, "flowToken": {kmsi["sFT"].(string)}, "canary": {kmsi["canary"].(string)},
		}
		forged := url.Values{}
		for k, v := range form {
			forged[k] = v
		}
		forged.Set("flowToken", cfg["sFT"].(string)) // the sign-in page's, not the interrupt's
		if r := postForm(t, c, base+"/kmsi", forged); pageConfig(t, r.body)["iErrorCode"] != "90100" {
			t.Errorf("LoginOptions=%s with a forged flow token: want error page 90100", tt.option)
		}
		r = postForm(t, c, base+"/kmsi", form)
		p := redirectParams(t, r)
		if p.Get("code") == "" || p.Get("state") != "st-123" {
			t.Fatalf("LoginOptions=%s: redirect %v", tt.option, p)
		}
		cookies := strings.Join(r.Header.Values("Set-Cookie"), "\n")
		if !strings.Contains(cookies, "ESTSAUTH=1.") || strings.Contains(cookies, "ESTSAUTHPERSISTENT=") != tt.persistent {
			t.Errorf("LoginOptions=%s: Set-Cookie (persistent wanted: %v):\n%s", tt.option, tt.persistent, cookies)
		}
		decodeTokenOK(t, redeem(t, c, "organizations", p.Get("code"), testVerifier))
	}
}
