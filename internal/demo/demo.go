// Package demo drives sign-in scenarios against the fake STS through a
// proxy, the way an app and a browser would, so `aadproxy demo` shows real
// findings without an Azure tenant. Each scenario is ordinary protocol
// traffic; what goes wrong is what a misconfigured app or device would send.
// It must not reach anything but the proxy it is given.
package demo

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/internal/fakests"
)

// Scenario is one sign-in story.
type Scenario struct {
	Title string
	// Expect names the AADSTS code the scenario provokes (0: it succeeds).
	Expect int
	Run    func(ctx context.Context, c *Client) error
}

// Client sends requests through the proxy to login.microsoftonline.com.
type Client struct {
	HTTP *http.Client
	STS  *fakests.Server
	// UserAgent names the client; each scenario is a separate browser, and
	// rules that follow a browser's cookies tell browsers apart by it.
	UserAgent string
}

// NewClient returns a client that uses proxyURL and trusts roots (the
// proxy's CA), and never follows redirects: each 302 is a protocol step. It
// keeps cookies like a browser; Reset starts a fresh browser profile.
func NewClient(proxyURL *url.URL, roots *x509.CertPool, sts *fakests.Server) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{
		HTTP: &http.Client{
			Jar: jar,
			Transport: &http.Transport{
				Proxy:           http.ProxyURL(proxyURL),
				TLSClientConfig: &tls.Config{RootCAs: roots},
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		},
		STS: sts,
	}
}

const login = "https://login.microsoftonline.com"

var (
	contoso  = fakests.TenantContoso
	webApp   = fakests.AppConfidential
	spa      = fakests.AppPublic
	alice    = fakests.UserAlice
	redirect = "http://localhost"
)

// All lists the demo's scenarios in the order they run.
func All() []Scenario {
	return []Scenario{
		{"A web app gets a token for Microsoft Graph (client credentials)", 0, clientCredentials(webApp.Secret)},
		{"The same app sends its secret's ID instead of the secret's value", 7000215, clientCredentials(webApp.SecretID)},
		{"Silent sign-in (prompt=none) with no session cookie", 50058, silentNoSession},
		{"Silent sign-in whose domain_hint names another tenant than the signed-in user's", 50143, domainHintMismatch},
		{"Browser SSO with a PRT cookie signed by a session key Entra no longer accepts", 140001, staleSessionKey},
		{"Sign-in with a redirect_uri that is not registered for the app", 50011, unregisteredRedirect},
		{"An authorization code redeemed twice (double submit)", 54005, codeRedeemedTwice},
	}
}

func clientCredentials(secret string) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		_, err := c.postForm(ctx, login+"/"+contoso.ID+"/oauth2/v2.0/token", url.Values{
			"client_id":     {webApp.ClientID},
			"client_secret": {secret},
			"scope":         {"https://graph.microsoft.com/.default"},
			"grant_type":    {"client_credentials"},
		}, nil)
		return err
	}
}

func authorizeURL(tenant string, extra url.Values) string {
	q := url.Values{
		"client_id":     {spa.ClientID},
		"response_type": {"code"},
		"redirect_uri":  {redirect},
		"scope":         {"openid profile offline_access"},
		"state":         {"demo-" + randomish(8)},
		"nonce":         {randomish(12)},
		"client_info":   {"1"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return login + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

func silentNoSession(ctx context.Context, c *Client) error {
	_, err := c.get(ctx, authorizeURL("organizations", url.Values{"prompt": {"none"}, "login_hint": {alice.UPN}}), nil)
	return err
}

func domainHintMismatch(ctx context.Context, c *Client) error {
	session := c.STS.SessionCookieFor(alice.UPN)
	_, err := c.get(ctx, authorizeURL("organizations", url.Values{"prompt": {"none"}, "domain_hint": {"fabrikam.com"}}), []*http.Cookie{session})
	return err
}

func staleSessionKey(ctx context.Context, c *Client) error {
	// Like a Windows browser: fetch a nonce, then send the PRT cookie.
	resp, err := c.postForm(ctx, login+"/common/oauth2/token", url.Values{"grant_type": {"srv_challenge"}}, nil)
	if err != nil {
		return err
	}
	var nonce struct{ Nonce string }
	if err := json.Unmarshal(resp, &nonce); err != nil || nonce.Nonce == "" {
		return fmt.Errorf("srv_challenge: no nonce in %q", resp)
	}
	prt := &http.Cookie{Name: "x-ms-RefreshTokenCredential", Value: c.STS.PRTCookie(alice.UPN, false, nonce.Nonce)}
	_, err = c.get(ctx, authorizeURL(contoso.ID, url.Values{"sso_nonce": {nonce.Nonce}}), []*http.Cookie{prt})
	return err
}

func unregisteredRedirect(ctx context.Context, c *Client) error {
	_, err := c.get(ctx, authorizeURL(contoso.ID, url.Values{"redirect_uri": {"https://app.contoso.com/signin-oidc-typo"}}), nil)
	return err
}

func codeRedeemedTwice(ctx context.Context, c *Client) error {
	verifier := randomish(43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	session := c.STS.SessionCookieFor(alice.UPN)
	loc, err := c.location(ctx, authorizeURL(contoso.ID, url.Values{
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}), []*http.Cookie{session})
	if err != nil {
		return err
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	code := u.Query().Get("code")
	if code == "" {
		return fmt.Errorf("authorize did not return a code: %s", loc)
	}
	form := url.Values{
		"client_id":     {spa.ClientID},
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirect},
		"code_verifier": {verifier},
		"scope":         {"openid profile offline_access"},
	}
	for i := 0; i < 2; i++ {
		if _, err := c.postForm(ctx, login+"/"+contoso.ID+"/oauth2/v2.0/token", form, nil); err != nil {
			return err
		}
	}
	return nil
}

// Reset forgets every cookie and takes a new User-Agent: a new browser.
func (c *Client) Reset(name string) {
	jar, _ := cookiejar.New(nil)
	c.HTTP.Jar = jar
	c.UserAgent = "aadproxy-demo/1 (" + name + ")"
}

// setCookies puts cookies in the jar for u, as if an earlier sign-in (or
// the device's SSO extension) had left them there.
func (c *Client) setCookies(u string, cookies []*http.Cookie) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return err
	}
	c.HTTP.Jar.SetCookies(parsed, cookies)
	return nil
}

func (c *Client) do(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("client-request-id", uuidish())
	ua := c.UserAgent
	if ua == "" {
		ua = "aadproxy-demo/1"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

func (c *Client) get(ctx context.Context, u string, cookies []*http.Cookie) ([]byte, error) {
	if err := c.setCookies(u, cookies); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	_, body, err := c.do(req)
	return body, err
}

func (c *Client) location(ctx context.Context, u string, cookies []*http.Cookie) (string, error) {
	if err := c.setCookies(u, cookies); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return "", err
	}
	resp, _, err := c.do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorize answered %d, want a redirect", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

func (c *Client) postForm(ctx context.Context, u string, form url.Values, h http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	_, body, err := c.do(req)
	return body, err
}
