package fakests

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const base = "https://login.microsoftonline.com"

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs a server for one test over real TLS on loopback.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// browser returns a client with a cookie jar that does not follow redirects.
func browser(t *testing.T, s *Server) *http.Client {
	t.Helper()
	c := s.HTTPClient()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Jar = jar
	return c
}

type response struct {
	*http.Response
	body string
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return response{resp, string(b)}
}

func get(t *testing.T, c *http.Client, u string, cookies ...*http.Cookie) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	return do(t, c, req)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, c, req)
}

// tokenError is the token endpoint's error JSON as a test reads it.
type tokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
	SubError         string `json:"suberror"`
}

func decodeTokenError(t *testing.T, r response) tokenError {
	t.Helper()
	var e tokenError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("decode error body %q: %v", r.body, err)
	}
	return e
}

// tokenOK is a success body as a test reads it.
type tokenOK struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    any    `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ClientInfo   string `json:"client_info"`
	Resource     string `json:"resource"`
	ExpiresOn    any    `json:"expires_on"`
}

func decodeTokenOK(t *testing.T, r response) tokenOK {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d, body %s", r.StatusCode, r.body)
	}
	var ok tokenOK
	if err := json.Unmarshal([]byte(r.body), &ok); err != nil {
		t.Fatalf("decode token body %q: %v", r.body, err)
	}
	return ok
}

// jwtClaims decodes a JWT's payload without checking the signature.
func jwtClaims(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("jwt %q: %d parts", tok, len(parts))
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatalf("jwt header: %v", err)
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("jwt payload: %v", err)
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pb, &claims); err != nil {
		t.Fatal(err)
	}
	return header, claims
}

var configRE = regexp.MustCompile(`(?s)//<!\[CDATA\[\s*\$Config=(.*?);\s*//\]\]>`)

// pageConfig cuts $Config out of an ESTS page the way tools do.
func pageConfig(t *testing.T, page string) map[string]any {
	t.Helper()
	m := configRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no $Config in page:\n%s", page)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("$Config JSON: %v\n%s", err, m[1])
	}
	return cfg
}

// authorizeURL builds an authorize URL for AppPublic with PKCE.
func authorizeURL(tenant string, extra url.Values) string {
	q := url.Values{
		"client_id":             {AppPublic.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {"http://localhost:8400/"},
		"scope":                 {"openid profile offline_access User.Read"},
		"state":                 {"st-123"},
		"nonce":                 {"n-456"},
		"code_challenge":        {s256(testVerifier)},
		"code_challenge_method": {"S256"},
		"client_info":           {"1"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return base + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk.pkce-verifier"

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return b64.EncodeToString(sum[:])
}

// redirectParams reads the parameters of a 302 to the app, from the query
// or the fragment.
func redirectParams(t *testing.T, r response) url.Values {
	t.Helper()
	if r.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302; body %s", r.StatusCode, r.body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", r.Header.Get("Location"), err)
	}
	raw := u.RawQuery
	if u.Fragment != "" {
		raw = u.EscapedFragment()
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("Location params %q: %v", raw, err)
	}
	return q
}

// redeem exchanges a code for AppPublic.
func redeem(t *testing.T, c *http.Client, tenant, code, verifier string) response {
	t.Helper()
	return postForm(t, c, base+"/"+tenant+"/oauth2/v2.0/token", url.Values{
		"client_id":     {AppPublic.ClientID},
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {"http://localhost:8400/"},
		"code_verifier": {verifier},
		"scope":         {"openid profile offline_access User.Read"},
		"client_info":   {"1"},
	})
}
