package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/internal/browsertest"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/trace"
)

// webAppHost is the test app's name: a real-looking one, because Chromium
// sends localhost past any proxy; --map-remote sends it to loopback.
const webAppHost = "webapp.contoso.com"

// A real browser signs in through the proxy: headless Chromium opens a small
// web app (the fake's confidential client, on a real-looking name mapped
// to loopback), is sent to the fake Entra's sign-in page, types the
// password, answers "Stay signed in?", and comes back by form_post; the app
// redeems the code through the proxy. Then, with third-party cookies
// blocked (DevTools' Network.setCookieControls, as Chrome's "Block
// third-party cookies" setting does), the app renews silently in a hidden
// iframe (prompt=none), which reaches Entra without its session cookie. The
// recording of it all is analysed like any trace: one successful
// authorization-code sign-in whose steps are the browser's own, no cookie
// alarm on the interactive sign-in, and the silent renewal's failure
// explained by the cookie rules.
func TestBrowserSignsInThroughTheProxy(t *testing.T) {
	sts, err := fakests.New(fakests.Options{StaySignedIn: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })

	ca, err := certs.New(certs.Options{CommonName: "sign-in test CA"})
	if err != nil {
		t.Fatal(err)
	}
	app := startWebApp(t)
	po := demoProxyOptions(sts)
	po.MapRemote[webAppHost] = app.addr
	po.Intercept = append(po.Intercept, webAppHost)
	po.UpstreamRoots = append(po.UpstreamRoots, app.ca.Cert())
	rec := filepath.Join(t.TempDir(), "signin.har")
	s, err := openSession(startOptions{listen: "127.0.0.1:0", noUI: true, quiet: true, record: rec}, po, ca, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()
	// The app's back channel goes through the proxy too, as an app run
	// under `aadproxy run` would.
	app.setClient(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxy.ClientURL(s.listener.Addr().String())),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}})

	ctx := browsertest.New(t, browsertest.Options{Proxy: "http://" + s.listener.Addr().String(), SPKIHash: ca.SPKIHash()})

	// Interactive: the sign-in page, the password, "Stay signed in?", and
	// back to the app by form_post.
	browsertest.Run(t, ctx, chromedp.Navigate("https://"+webAppHost+"/login"))
	browsertest.WaitJS(t, ctx, `document.querySelector('#i0116') !== null && document.title.includes('Sign in')`, 30*time.Second)
	browsertest.Screenshot(t, ctx, "1-sign-in-page")
	browsertest.Run(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#i0116"), fakests.UserAlice.UPN),
		chromedp.SendKeys(chromedp.CSS("#i0118"), fakests.UserAlice.Password),
		chromedp.Click(chromedp.CSS("#idSIButton9")),
	)
	browsertest.WaitJS(t, ctx, `document.querySelector('#kmsiTitle') !== null`, 30*time.Second)
	browsertest.Screenshot(t, ctx, "2-stay-signed-in")
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS("#idSIButton9")))
	browsertest.WaitJS(t, ctx, `document.querySelector('#user') !== null`, 30*time.Second)
	if got := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#user').textContent`)); got != fakests.UserAlice.UPN {
		t.Fatalf("the app says it is signed in as %q, want %q", got, fakests.UserAlice.UPN)
	}
	browsertest.Screenshot(t, ctx, "3-signed-in")

	// Silent renewal in a hidden iframe, third-party cookies blocked. The
	// test says so through DevTools rather than trusting the profile's
	// default (headless Chromium 156 blocks them already; a default can
	// change, the setting cannot).
	cctx, cancel := context.WithTimeout(ctx, browsertest.ActionTimeout)
	_, err = chromedp.Call(cctx, network.SetCookieControls, network.SetCookieControlsParams{EnableThirdPartyCookieRestriction: true})
	cancel()
	if err != nil {
		t.Fatalf("block third-party cookies: %v", err)
	}
	browsertest.Run(t, ctx, chromedp.Navigate("https://"+webAppHost+"/renew"))
	browsertest.WaitJS(t, ctx, `(() => { const f = document.querySelector('#renew'); const d = f && f.contentDocument; return !!(d && d.querySelector('#error')); })()`, 30*time.Second)
	renewErr := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#renew').contentDocument.querySelector('#error').textContent`))
	browsertest.Screenshot(t, ctx, "4-silent-renewal-blocked")
	if !strings.Contains(renewErr, "login_required") {
		t.Errorf("the silent renewal ended in %q, want login_required (third-party cookies blocked)", renewErr)
	}
	browsertest.NoErrors(t, ctx)

	s.pipe.Sync()
	closed = true
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runAnalyze([]string{"--json", rec}, &out, &errb); code != 1 && code != 0 {
		t.Fatalf("analyze the recording: exit %d: %s", code, errb.String())
	}
	var res struct {
		Flows        int               `json:"flows"`
		Transactions []txn.Transaction `json:"transactions"`
		Findings     []inspect.Finding `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out.String())
	}
	flows := readFlowsOf(t, rec)

	// What the browser sent, step by step, is in the recording.
	steps := []struct {
		what   string
		match  func(method, u string) bool
		status int
	}{
		{"the app's sign-in redirect", func(m, u string) bool { return m == "GET" && u == "https://"+webAppHost+"/login" }, 302},
		{"authorize", func(m, u string) bool {
			return m == "GET" && strings.Contains(u, "/oauth2/v2.0/authorize?") && !strings.Contains(u, "prompt=none")
		}, 200},
		{"the credential post", func(m, u string) bool {
			return m == "POST" && strings.HasSuffix(u, "/"+fakests.TenantContoso.ID+"/login")
		}, 200},
		{"stay signed in", func(m, u string) bool { return m == "POST" && strings.HasSuffix(u, "/kmsi") }, 200},
		{"the form_post back to the app", func(m, u string) bool { return m == "POST" && u == "https://"+webAppHost+"/signin-oidc" }, 302},
		{"the app's code redemption", func(m, u string) bool { return m == "POST" && strings.HasSuffix(u, "/oauth2/v2.0/token") }, 200},
		{"the silent renewal", func(m, u string) bool { return m == "GET" && strings.Contains(u, "prompt=none") }, 200},
	}
	at := map[string]int{}
	for _, st := range steps {
		i := slices.IndexFunc(flows, func(f flowLine) bool { return st.match(f.method, f.url) })
		if i < 0 {
			t.Errorf("no flow for %s in the recording of %d flows", st.what, len(flows))
			continue
		}
		at[st.what] = i
		if flows[i].status != st.status {
			t.Errorf("%s (flow %d, %s %s): status %d, want %d", st.what, i, flows[i].method, flows[i].url, flows[i].status, st.status)
		}
	}
	if f, ok := at["the credential post"]; ok && !strings.Contains(flows[f].reqBody, "passwd=") {
		t.Errorf("the credential post has no passwd field: %.200s", flows[f].reqBody)
	}
	if f, ok := at["the silent renewal"]; ok && strings.Contains(flows[f].cookie, "ESTSAUTH") {
		t.Errorf("the silent renewal carried ESTSAUTH although third-party cookies were blocked: %s", flows[f].cookie)
	}
	if f, ok := at["stay signed in"]; ok && !strings.Contains(flows[f].setCookie, "ESTSAUTHPERSISTENT=") {
		t.Errorf("\"Yes\" to stay signed in set no persistent cookie: %s", flows[f].setCookie)
	}

	// One successful authorization-code sign-in holding the browser's steps.
	var signIn *txn.Transaction
	for i := range res.Transactions {
		tr := &res.Transactions[i]
		if tr.Outcome == txn.Succeeded && slices.Contains(tr.Flows, at["the app's code redemption"]) {
			signIn = tr
		}
	}
	if signIn == nil {
		t.Fatalf("no successful sign-in holds the code redemption (flow %d); transactions: %+v", at["the app's code redemption"], res.Transactions)
	}
	for _, what := range []string{"authorize", "the credential post", "stay signed in", "the form_post back to the app"} {
		if i, ok := at[what]; ok && !slices.Contains(signIn.Flows, i) {
			t.Errorf("the sign-in transaction %v lacks %s (flow %d)", signIn.Flows, what, i)
		}
	}
	if signIn.Protocol != txn.ProtoAuthCodePKCE || signIn.ClientID != fakests.AppConfidential.ClientID {
		t.Errorf("sign-in transaction: protocol %q client %q", signIn.Protocol, signIn.ClientID)
	}

	// The cookie rules: quiet on the interactive sign-in, and the silent
	// renewal explained.
	renewal := at["the silent renewal"]
	var explained []string
	for _, f := range res.Findings {
		if f.Severity >= inspect.Warning && slices.Contains(signIn.Flows, f.Flow) {
			t.Errorf("a %s on the healthy interactive sign-in: %s [%s] flow %d: %s", f.Severity, f.Title, f.Rule, f.Flow, f.Evidence)
		}
		if f.Flow == renewal && (f.Rule == "interaction-required" || f.Rule == "cookie-dropped") {
			explained = append(explained, f.Rule)
			if f.Rule == "interaction-required" && !strings.Contains(f.Evidence, "third-party cookies") {
				t.Errorf("interaction-required does not name third-party cookies: %s", f.Evidence)
			}
		}
	}
	if !slices.Contains(explained, "interaction-required") {
		t.Errorf("the blocked silent renewal (flow %d) got no interaction-required finding; findings: %+v", renewal, res.Findings)
	}
	t.Logf("the blocked silent renewal is explained by %v", explained)
}

// webApp is the test's confidential web app: /login sends the browser to
// Entra with state, nonce and PKCE in a SameSite=None correlation cookie,
// /signin-oidc takes the form_post and redeems the code over the back
// channel, / says who is signed in, /renew renews silently in an iframe.
type webApp struct {
	addr   string
	ca     *certs.CA
	mu     sync.Mutex
	client *http.Client
}

func (a *webApp) setClient(c *http.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.client = c
}

func startWebApp(t *testing.T) *webApp {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "web app test CA"})
	if err != nil {
		t.Fatal(err)
	}
	a := &webApp{ca: ca}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	srv := &http.Server{Handler: a.routes(), TLSConfig: certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig(webAppHost), ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return a
}

const correlationCookie = ".AspNetCore.Correlation.webapp"

func (a *webApp) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.authorize(w, ""), http.StatusFound)
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Renewing</title></head><body><p>Renewing the session silently.</p><iframe id="renew" style="display:none" src="%s"></iframe></body></html>`, html.EscapeString(a.authorize(w, "none")))
	})
	mux.HandleFunc("POST /signin-oidc", a.callback)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("app_session")
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Contoso web app</title></head><body><h1>Welcome</h1><p>Signed in as <span id="user">%s</span></p></body></html>`, html.EscapeString(c.Value))
	})
	return mux
}

// authorize returns the authorize URL of a new sign-in and sets its
// correlation cookie: state, nonce and the PKCE verifier.
func (a *webApp) authorize(w http.ResponseWriter, prompt string) string {
	state, nonce, verifier := randText(), randText(), randText()+randText()
	sum := sha256.Sum256([]byte(verifier))
	http.SetCookie(w, &http.Cookie{
		Name: correlationCookie, Value: state + "." + nonce + "." + verifier, Path: "/signin-oidc",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode,
	})
	q := url.Values{
		"client_id":             {fakests.AppConfidential.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {"https://" + webAppHost + "/signin-oidc"},
		"response_mode":         {"form_post"},
		"scope":                 {"openid profile offline_access User.Read"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if prompt != "" {
		q.Set("prompt", prompt)
	}
	return "https://login.microsoftonline.com/" + fakests.TenantContoso.ID + "/oauth2/v2.0/authorize?" + q.Encode()
}

// callback takes Entra's form_post: an error is shown (in the silent
// iframe, where the test reads it), a code is redeemed and the app's
// session set.
func (a *webApp) callback(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><p id="error">%s</p></body></html>`, html.EscapeString(msg))
	}
	if e := r.PostForm.Get("error"); e != "" {
		fail(http.StatusOK, e+": "+r.PostForm.Get("error_description"))
		return
	}
	c, err := r.Cookie(correlationCookie)
	parts := []string{}
	if err == nil {
		parts = strings.SplitN(c.Value, ".", 3)
	}
	if len(parts) != 3 || parts[0] != r.PostForm.Get("state") {
		fail(http.StatusBadRequest, "state does not match the correlation cookie")
		return
	}
	a.mu.Lock()
	client := a.client
	a.mu.Unlock()
	resp, err := client.PostForm("https://login.microsoftonline.com/"+fakests.TenantContoso.ID+"/oauth2/v2.0/token", url.Values{
		"client_id":     {fakests.AppConfidential.ClientID},
		"client_secret": {fakests.AppConfidential.Secret},
		"grant_type":    {"authorization_code"},
		"code":          {r.PostForm.Get("code")},
		"redirect_uri":  {"https://" + webAppHost + "/signin-oidc"},
		"code_verifier": {parts[2]},
	})
	if err != nil {
		fail(http.StatusBadGateway, "redeem: "+err.Error())
		return
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.IDToken == "" {
		fail(http.StatusBadGateway, fmt.Sprintf("redeem: HTTP %d %s %v", resp.StatusCode, tok.Error, err))
		return
	}
	claims := jwtClaims(tok.IDToken)
	if claims["nonce"] != parts[1] {
		fail(http.StatusBadRequest, "the id_token's nonce does not match")
		return
	}
	upn, _ := claims["preferred_username"].(string)
	http.SetCookie(w, &http.Cookie{Name: correlationCookie, Path: "/signin-oidc", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	http.SetCookie(w, &http.Cookie{Name: "app_session", Value: upn, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// flowLine is what the test reads of a recorded flow.
type flowLine struct {
	method, url, reqBody, cookie, setCookie string
	status                                  int
}

// readFlowsOf reads a recording's flows in order.
func readFlowsOf(t *testing.T, path string) []flowLine {
	t.Helper()
	var out []flowLine
	_, _, err := trace.Open(path, func(_ int, f *flow.Flow) error {
		l := flowLine{status: f.Status()}
		if f.Request != nil {
			l.method, l.url = f.Request.Method, f.Request.URL
			l.cookie = strings.Join(f.Request.Header.Values("Cookie"), "; ")
			body, _ := f.Request.Body.Decoded()
			l.reqBody = string(body)
		}
		if f.Response != nil {
			l.setCookie = strings.Join(f.Response.Header.Values("Set-Cookie"), "\n")
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatalf("read the recording: %v", err)
	}
	return out
}

func jwtClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func randText() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
