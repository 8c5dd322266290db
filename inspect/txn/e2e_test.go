package txn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/decode"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// e2eClient drives the fake STS through the proxy like an app and its
// browser, one step per request.
type e2eClient struct {
	t    *testing.T
	http *http.Client
	n    int
}

const login = "https://login.microsoftonline.com"

func (c *e2eClient) do(method, u string, form url.Values, cookie *http.Cookie) (*http.Response, []byte) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c.n++
	req.Header.Set("client-request-id", fmt.Sprintf("e2e00000-0000-4000-8000-%012d", c.n))
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, b
}

func (c *e2eClient) authorize(extra url.Values, cookie *http.Cookie) (*http.Response, []byte) {
	q := url.Values{
		"client_id":     {fakests.AppPublic.ClientID},
		"response_type": {"code"},
		"redirect_uri":  {"http://localhost"},
		"scope":         {"openid profile offline_access User.Read"},
		"state":         {fmt.Sprintf("state-%d-abcdef", c.n)},
		"client_info":   {"1"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return c.do("GET", login+"/"+fakests.TenantContoso.ID+"/oauth2/v2.0/authorize?"+q.Encode(), nil, cookie)
}

func (c *e2eClient) token(form url.Values) map[string]any {
	c.t.Helper()
	_, b := c.do("POST", login+"/"+fakests.TenantContoso.ID+"/oauth2/v2.0/token", form, nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("token answer %q: %v", b, err)
	}
	return m
}

func codeFrom(t *testing.T, resp *http.Response) string {
	t.Helper()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("want a redirect with a code, got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return u.Query().Get("code")
}

func pkce() (verifier, challenge string) {
	verifier = "e2e-verifier-0123456789-0123456789-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestEndToEndFakeSTS drives several sign-ins, interleaved, through the
// real proxy to the fake STS and checks how the captured flows group.
func TestEndToEndFakeSTS(t *testing.T) {
	sts, err := fakests.New(fakests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })
	opts := proxy.Default()
	opts.MapRemote = map[string]string{"login.microsoftonline.com": sts.Addr()}
	opts.UpstreamRoots = []*x509.Certificate{sts.CA().Cert()}
	p := proxytest.Start(t, opts)
	c := &e2eClient{t: t, http: p.Client()}
	alice := fakests.UserAlice
	app := fakests.AppPublic.ClientID
	verifier, challenge := pkce()

	// 0: interactive PKCE sign-in, page first.
	_, page := c.authorize(url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, nil)
	cfg, err := decode.ParseConfig(page)
	if err != nil {
		t.Fatalf("sign-in page: %v", err)
	}
	str := func(k string) string { s, _ := cfg[k].(string); return s }

	// 1: meanwhile a daemon gets an app-only token.
	c.token(url.Values{"client_id": {fakests.AppConfidential.ClientID}, "client_secret": {fakests.AppConfidential.Secret},
		"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}})

	// 2, 3: the user signs in; the app redeems the code.
	resp, _ := c.do("POST", login+str("urlPost"), url.Values{"login": {alice.UPN}, "loginfmt": {alice.UPN}, "passwd": {alice.Password},
		"ctx": {str("sCtx")}, "flowToken": {str("sFT")}, "canary": {str("canary")}, "hpgrequestid": {str("sessionId")}}, nil)
	code := codeFrom(t, resp)
	tok := c.token(url.Values{"client_id": {app}, "grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"http://localhost"}, "code_verifier": {verifier}, "client_info": {"1"}})
	rt, _ := tok["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("code redemption: no refresh token in %v", tok)
	}

	// 4, 5, 6: SSO sign-in whose code is redeemed twice.
	resp, _ = c.authorize(url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, sts.SessionCookieFor(alice.UPN))
	code2 := codeFrom(t, resp)
	for range 2 {
		c.token(url.Values{"client_id": {app}, "grant_type": {"authorization_code"}, "code": {code2},
			"redirect_uri": {"http://localhost"}, "code_verifier": {verifier}})
	}

	// 7..10: device code, polled until the user approves it.
	_, b := c.do("POST", login+"/"+fakests.TenantContoso.ID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {app}, "scope": {"User.Read"}}, nil)
	var dc struct{ DeviceCode, UserCode string }
	if err := json.Unmarshal(b, &struct {
		DeviceCode *string `json:"device_code"`
		UserCode   *string `json:"user_code"`
	}{&dc.DeviceCode, &dc.UserCode}); err != nil || dc.DeviceCode == "" {
		t.Fatalf("devicecode answer %q: %v", b, err)
	}
	poll := url.Values{"client_id": {app}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.DeviceCode}}
	c.token(poll)
	c.token(poll)
	if err := sts.ApproveDeviceCode(dc.UserCode, alice.UPN); err != nil {
		t.Fatal(err)
	}
	c.token(poll)

	// 11: silent sign-in without a session.
	c.authorize(url.Values{"prompt": {"none"}, "login_hint": {alice.UPN}}, nil)

	// 12: the app refreshes the first sign-in's tokens.
	c.token(url.Values{"client_id": {app}, "grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_info": {"1"}, "scope": {"User.Read"}})

	// 13: a sign-in the user walks away from.
	c.authorize(nil, nil)

	flows := p.WaitFlows(t, 14)
	g := NewGrouper()
	for _, f := range flows {
		g.Add(f)
	}
	got := summary(g.Finish())
	want := []string{
		"0 auth-code-pkce succeeded [0 2 3 12]",
		"1 client-credentials succeeded [1]",
		"2 auth-code-pkce failed 54005 [4 5 6]",
		"3 device-code succeeded [7 8 9 10]",
		"4 auth-code failed 50058 [11]",
		"5 auth-code abandoned [13]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		for _, f := range flows {
			t.Logf("flow %d: %s %s -> %d", f.Index, f.Request.Method, f.Request.URL, f.Status())
		}
		t.Fatalf("Finish():\n got %q\nwant %q", got, want)
	}
	txs := g.Transactions()
	if txs[0].ClientID != app || txs[0].Tenant != fakests.TenantContoso.ID {
		t.Errorf("sign-in 0: client/tenant got %q/%q, want %q/%q", txs[0].ClientID, txs[0].Tenant, app, fakests.TenantContoso.ID)
	}
	if len(txs[0].CorrelationIDs) < 3 {
		t.Errorf("sign-in 0: CorrelationIDs got %v, want the client-request-ids of its flows", txs[0].CorrelationIDs)
	}
}
