package ui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

// errorFlow is a token call Entra refused with 50143.
func errorFlow(i int) *flow.Flow {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	body := `{"error":"interaction_required","error_description":"AADSTS50143: Session mismatch. Trace ID: 0b7c2f3e-1111-4222-8333-944455556666 Correlation ID: 5a6b7c8d-1111-4222-8333-944455556666 Timestamp: 2026-12-04 10:00:00Z","error_codes":[50143],"correlation_id":"5a6b7c8d-1111-4222-8333-944455556666"}`
	return &flow.Flow{
		Index: i,
		Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}, {Name: "Cookie", Value: "ESTSAUTH=abc123secretvalue"}},
			Body:   flow.Body{Raw: []byte("grant_type=authorization_code&client_id=11111111-2222-3333-4444-555555555555&code=0.AXYZsecretcode"), Size: 98}},
		Response: &flow.Response{Status: 400, Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "application/json"}, {Name: "x-ms-request-id", Value: "0b7c2f3e-1111-4222-8333-944455556666"},
				{Name: "Set-Cookie", Value: "fpc=AbC; path=/; secure; HttpOnly"}},
			Body: flow.Body{Raw: []byte(body), Size: int64(len(body))}},
		Timings: flow.Timings{Start: start, Wait: 20 * time.Millisecond},
		Done:    start.Add(25 * time.Millisecond),
	}
}

// plainFlow is ordinary traffic without identity material.
func plainFlow(i int, size int) *flow.Flow {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return &flow.Flow{
		Index:    i,
		Request:  &flow.Request{Method: "GET", URL: fmt.Sprintf("https://cdn.example.com/app/%d.js", i), Proto: "HTTP/1.1", Header: flow.Headers{{Name: "Accept", Value: "*/*"}}},
		Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: flow.Headers{{Name: "Content-Type", Value: "text/javascript"}}, Body: flow.Body{Raw: []byte(strings.Repeat("x", size)), Size: int64(size)}},
		Timings:  flow.Timings{Start: start},
		Done:     start.Add(time.Millisecond),
	}
}

// fakeControls records what the page asked of the capture.
type fakeControls struct {
	mu      sync.Mutex
	paused  bool
	cleared int
}

func (c *fakeControls) Pause(string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	return true
}
func (c *fakeControls) Resume(string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	return true
}
func (c *fakeControls) Paused() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.paused }
func (c *fakeControls) Clear()       { c.mu.Lock(); defer c.mu.Unlock(); c.cleared++ }

type testServer struct {
	*Server
	url      string // http://127.0.0.1:PORT
	controls *fakeControls
}

func startServer(t *testing.T, so StoreOptions) *testServer {
	t.Helper()
	store := NewStore(so)
	c := &fakeControls{}
	srv, err := NewServer(store, Options{Mode: "live", Proxy: "127.0.0.1:8080", Controls: c,
		Bundle: func(w io.Writer, har string, raw bool) error {
			_, err := io.WriteString(w, "zip of "+filepath.Base(har))
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close(); store.Close() })
	return &testServer{Server: srv, url: "http://" + l.Addr().String(), controls: c}
}

// feed passes flows through a rule engine into the store, as the pipeline does.
func feed(t testing.TB, s *Store, flows ...*flow.Flow) {
	t.Helper()
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		s.Flow(f, eng.Add(f))
	}
}

func (ts *testServer) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (ts *testServer) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + ts.Token()}
}

func TestTokenIsExchangedForAStrictHttpOnlyCookie(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	resp, _ := ts.do(t, "GET", "/?token="+ts.Token(), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("token link: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value != ts.Token() {
		t.Fatalf("cookie: %+v, want HttpOnly SameSite=Strict with the token", c)
	}
	withCookie := map[string]string{"Cookie": cookieName + "=" + c.Value}
	if resp, body := ts.do(t, "GET", "/", withCookie); resp.StatusCode != 200 || !strings.Contains(body, "<script src=") {
		t.Errorf("page with the cookie: %d %.80q", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/api/status", withCookie); resp.StatusCode != 200 {
		t.Errorf("API with the cookie: %d", resp.StatusCode)
	}
	for name, hdr := range map[string]map[string]string{
		"no token":     nil,
		"wrong cookie": {"Cookie": cookieName + "=" + strings.Repeat("0", 64)},
		"wrong bearer": {"Authorization": "Bearer nope"},
	} {
		if resp, _ := ts.do(t, "GET", "/api/flows", hdr); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: /api/flows %d, want 401", name, resp.StatusCode)
		}
		if resp, body := ts.do(t, "GET", "/", hdr); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<script") {
			t.Errorf("%s: page %d, want 401 without the app", name, resp.StatusCode)
		}
	}
	if resp, _ := ts.do(t, "GET", "/?token=wrong", nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) > 0 {
		t.Errorf("wrong token link: %d with cookies %v", resp.StatusCode, resp.Cookies())
	}
}

func TestEveryAnswerCarriesTheBrowserProtections(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	for _, path := range []string{"/", "/app.js", "/api/status", "/api/nothing"} {
		resp, _ := ts.do(t, "GET", path, ts.bearer())
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, resp.Header.Get("X-Frame-Options"))
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS header present", path)
		}
	}
}

func TestForeignHostIsRefused(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.url, "http://"))
	for _, host := range []string{"evil.example:" + port, "attacker.com", "127.0.0.1.nip.io:" + port} {
		h := ts.bearer()
		h["Host"] = host
		if resp, _ := ts.do(t, "GET", "/api/flows", h); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d, want 421", host, resp.StatusCode)
		}
	}
	h := ts.bearer()
	h["Host"] = "localhost:" + port
	if resp, _ := ts.do(t, "GET", "/api/status", h); resp.StatusCode != 200 {
		t.Errorf("Host localhost:%s: %d, want 200", port, resp.StatusCode)
	}
}

func TestCrossSiteStateChangesAndLiveChannelAreRefused(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
	}{
		{"POST", "/api/pause", map[string]string{"Origin": "http://evil.example"}},
		{"POST", "/api/clear", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"POST", "/api/import", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"GET", "/api/events", map[string]string{"Origin": "http://evil.example"}},
		{"GET", "/api/events", map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		h := ts.bearer()
		for k, v := range tc.hdr {
			h[k] = v
		}
		if resp, _ := ts.do(t, tc.method, tc.path, h); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s with %v: %d, want 403", tc.method, tc.path, tc.hdr, resp.StatusCode)
		}
	}
	if ts.controls.Paused() || ts.controls.cleared > 0 {
		t.Errorf("a refused request changed the capture: paused %v cleared %d", ts.controls.Paused(), ts.controls.cleared)
	}
	h := ts.bearer()
	h["Origin"] = ts.url
	h["Sec-Fetch-Site"] = "same-origin"
	if resp, body := ts.do(t, "POST", "/api/pause", h); resp.StatusCode != 200 || !ts.controls.Paused() || !strings.Contains(body, `"paused":true`) {
		t.Errorf("same-origin pause: %d %s", resp.StatusCode, body)
	}
}

func TestFlowsDetailAndFilterOverTheAPI(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	feed(t, ts.Store(), plainFlow(0, 10), errorFlow(1), plainFlow(2, 10))
	var list struct {
		Flows []Summary `json:"flows"`
		Total int       `json:"total"`
	}
	_, body := ts.do(t, "GET", "/api/flows", ts.bearer())
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Total != 3 {
		t.Fatalf("flows: %v %s", err, body)
	}
	bad := list.Flows[1]
	if bad.Status != 400 || bad.Sev != "error" || !strings.HasPrefix(bad.Mark, "AADSTS50143 · ") || bad.Host != "login.microsoftonline.com" {
		t.Errorf("summary of the failing flow: %+v", bad)
	}
	_, body = ts.do(t, "GET", "/api/match?filter="+urlQuery("~aadsts 50143"), ts.bearer())
	if body != fmt.Sprintf("{\"ids\":[%d]}\n", bad.ID) {
		t.Errorf("match ~aadsts 50143: %s", body)
	}
	resp, body := ts.do(t, "GET", "/api/match?filter="+urlQuery("~c 4xx & ("), ts.bearer())
	if resp.StatusCode != 400 || !strings.Contains(body, `"pos"`) {
		t.Errorf("bad filter: %d %s", resp.StatusCode, body)
	}
	_, body = ts.do(t, "GET", fmt.Sprintf("/api/flows/%d", bad.ID), ts.bearer())
	var d Detail
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Decoded.Errors) == 0 || d.Decoded.Errors[0].Code != 50143 || !strings.Contains(d.Decoded.Errors[0].Playbook, "SessionMismatch") {
		t.Errorf("decoded errors: %+v", d.Decoded.Errors)
	}
	if len(d.Cookies.Sent) != 1 || d.Cookies.Sent[0].Name != "ESTSAUTH" || d.Cookies.Sent[0].Label == "" {
		t.Errorf("cookies sent: %+v", d.Cookies.Sent)
	}
	if len(d.Cookies.Set) != 1 || d.Cookies.Set[0].Change != "new" {
		t.Errorf("cookies set: %+v", d.Cookies.Set)
	}
	if d.Request.Header[0].Name != "Content-Type" || d.Response.Body.Text == "" || d.Decoded.Form["client_id"] == "" {
		t.Errorf("request headers %v, response text %q, form %v", d.Request.Header, d.Response.Body.Text, d.Decoded.Form)
	}
	if len(d.Findings) == 0 {
		t.Errorf("no findings in the detail")
	}
	// A captured body is never served with its own content type.
	resp, _ = ts.do(t, "GET", fmt.Sprintf("/api/flows/%d/body/response", bad.ID), ts.bearer())
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("body content type %q", ct)
	}
	// curl is sanitized unless asked.
	_, curl := ts.do(t, "GET", fmt.Sprintf("/api/flows/%d/curl", bad.ID), ts.bearer())
	_, raw := ts.do(t, "GET", fmt.Sprintf("/api/flows/%d/curl?raw=1", bad.ID), ts.bearer())
	if !strings.HasPrefix(curl, "curl -X 'POST'") || strings.Contains(curl, "abc123secretvalue") || strings.Contains(curl, "0.AXYZsecretcode") {
		t.Errorf("sanitized curl: %s", curl)
	}
	if !strings.Contains(raw, "abc123secretvalue") {
		t.Errorf("raw curl lost the cookie: %s", raw)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "&", "%26", "|", "%7C", "~", "%7E", "(", "%28", ")", "%29", "!", "%21")
	return r.Replace(s)
}

func TestExportIsASanitizedHARThatStillAnalyses(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	feed(t, ts.Store(), plainFlow(0, 10), errorFlow(1))
	resp, body := ts.do(t, "GET", "/api/export?filter="+urlQuery("~d login"), ts.bearer())
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), ".har") {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	path := filepath.Join(t.TempDir(), "export.har")
	os.WriteFile(path, []byte(body), 0o600)
	if left, err := sanitize.Check(path); err != nil || len(left) > 0 {
		t.Errorf("sanitize --check of the export: %v %v", left, err)
	}
	var codes []int
	n, _, err := trace.Open(path, func(i int, f *flow.Flow) error {
		f.Index = i
		eng, _ := inspect.NewEngine(rules.All(), inspect.Options{})
		for _, fd := range eng.Add(f) {
			codes = append(codes, fd.Code)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("export holds %d flows (%v), want the 1 the filter matched", n, err)
	}
	if len(codes) == 0 || codes[0] != 50143 {
		t.Errorf("the export's findings: %v, want 50143 kept", codes)
	}
	if strings.Contains(body, "abc123secretvalue") {
		t.Errorf("export holds the session cookie")
	}
}

func TestStoreKeepsItsBoundsAndSaysWhatLeft(t *testing.T) {
	s := NewStore(StoreOptions{MaxFlows: 50, DetailBytes: 64 << 10})
	defer s.Close()
	for i := 0; i < 200; i++ {
		s.Flow(plainFlow(i, 4<<10), nil)
	}
	c := s.counts()
	if c.Flows != 50 || c.Evicted != 150 || c.Seen != 200 {
		t.Errorf("counts %+v, want 50 held, 150 evicted", c)
	}
	es := s.snapshot()
	if es[0].index != 150 || es[len(es)-1].index != 199 {
		t.Errorf("held %d..%d, want the newest 150..199", es[0].index, es[len(es)-1].index)
	}
	gone := 0
	for _, e := range es {
		if e.gone.Load() {
			gone++
		}
	}
	s.mu.Lock()
	used := s.detailUsed
	s.mu.Unlock()
	if gone == 0 || gone == len(es) || used > 64<<10 {
		t.Errorf("%d of %d gone, %d detail bytes, want some gone within 64 KiB", gone, len(es), used)
	}
	if !es[0].gone.Load() || es[len(es)-1].gone.Load() {
		t.Errorf("the oldest details should go first")
	}
	if _, ok := s.detail(es[0].id, viewOpts{}); !ok {
		t.Errorf("a gone flow's summary must still answer")
	}
}

func eventScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return sc
}

// readEvents reads server-sent events until n arrive or the stream ends.
func readEvents(t *testing.T, sc *bufio.Scanner, n int) []event {
	t.Helper()
	var out []event
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(line[6:]), &e); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func TestLiveChannelAddsFlowsAndASlowTabResyncs(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	req, _ := http.NewRequest("GET", ts.url+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+ts.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	br := eventScanner(resp.Body)
	if ev := readEvents(t, br, 1); len(ev) != 1 || ev[0].Type != "hello" {
		t.Fatalf("first event %+v, want hello", ev)
	}
	ts.Store().Flow(plainFlow(0, 1), nil)
	if ev := readEvents(t, br, 1); len(ev) != 1 || ev[0].Type != "add" || ev[0].Flow == nil || ev[0].Flow.Index != 0 {
		t.Fatalf("after a flow: %+v, want add", ev)
	}
	// A tab that does not read loses events and is told to resync; the
	// store never waits for it.
	done := make(chan struct{})
	go func() {
		for i := 1; i <= 20*subscriberQueue; i++ {
			ts.Store().Flow(plainFlow(i, 1), nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the store waited for a tab that does not read")
	}
	// Read until the resync; the stream ends (with the body closed) if it
	// never comes.
	timer := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	defer timer.Stop()
	sawResync := false
	for !sawResync {
		ev := readEvents(t, br, 1)
		if len(ev) == 0 {
			break
		}
		sawResync = ev[0].Type == "resync"
	}
	if !sawResync {
		t.Errorf("a tab that fell %d events behind was not told to resync", 20*subscriberQueue)
	}
}

func TestClearEmptiesTheStoreAndAsksTheRulesToForget(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	feed(t, ts.Store(), errorFlow(0), errorFlow(1))
	h := ts.bearer()
	if resp, _ := ts.do(t, "POST", "/api/clear", h); resp.StatusCode != 200 {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
	if c := ts.Store().counts(); c.Flows != 0 || c.Errors != 0 || ts.controls.cleared != 1 {
		t.Errorf("after clear: %+v, controls cleared %d", c, ts.controls.cleared)
	}
}

// With ?sanitized=1 no answer carries a secret of the flows, while the
// same calls without it do (so the test can tell).
func TestSanitizedAnswersCarryNoSecrets(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	feed(t, ts.Store(), errorFlow(0), errorFlow(1))
	secrets := []string{"abc123secretvalue", "0.AXYZsecretcode"}
	paths := []string{"/api/flows", "/api/flows/0", "/api/flows/1", "/api/transactions", "/api/findings",
		"/api/flows/0/body/request", "/api/flows/0/curl"}
	raw := ""
	for _, p := range paths {
		_, body := ts.do(t, "GET", p, ts.bearer())
		raw += body
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		_, clean := ts.do(t, "GET", p+sep+"sanitized=1", ts.bearer())
		for _, secret := range secrets {
			if strings.Contains(clean, secret) {
				t.Errorf("%s?sanitized=1 carries %q:\n%.400s", p, secret, clean)
			}
		}
	}
	for _, secret := range secrets[:1] {
		if !strings.Contains(raw, secret) {
			t.Errorf("the raw answers never carried %q: the test proves nothing", secret)
		}
	}
	// Placeholders agree across calls: the same cookie, the same text.
	_, a := ts.do(t, "GET", "/api/flows/0?sanitized=1", ts.bearer())
	_, b := ts.do(t, "GET", "/api/flows/1?sanitized=1", ts.bearer())
	var da, db Detail
	json.Unmarshal([]byte(a), &da)
	json.Unmarshal([]byte(b), &db)
	if len(da.Cookies.Sent) != 1 || da.Cookies.Sent[0].Value != db.Cookies.Sent[0].Value || !strings.HasPrefix(da.Cookies.Sent[0].Value, "REDACTED") {
		t.Errorf("sanitized cookies: %+v vs %+v", da.Cookies.Sent, db.Cookies.Sent)
	}
}

func TestImportTakesTheFileNameThePageEncodes(t *testing.T) {
	ts := startServer(t, StoreOptions{})
	data, err := os.ReadFile(filepath.Join("..", "trace", "testdata", "chrome.har"))
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{"caf%C3%A9.har": "café.har", "..%2F..%2Fetc%2Fx.har": "x.har"} {
		req, _ := http.NewRequest("POST", ts.url+"/api/import", strings.NewReader(string(data)))
		req.Header.Set("Authorization", "Bearer "+ts.Token())
		req.Header.Set("X-Filename", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Imported int
			Name     string
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.Name != want || got.Imported == 0 {
			t.Errorf("X-Filename %s: imported %d as %q, want %q", header, got.Imported, got.Name, want)
		}
	}
}
