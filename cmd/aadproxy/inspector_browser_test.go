package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/internal/browsertest"
	"github.com/aadproxy/aadproxy/internal/demo"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

// rowsElemsJS lists the flow rows the page shows; rowsJS their text.
const (
	rowsElemsJS = `[...document.querySelectorAll('#flow-rows .row:not([hidden])')]`
	rowsJS      = rowsElemsJS + `.map(r => r.textContent)`
)

// The inspector as a person meets it: a live proxy with the fake Entra
// behind it, real HTTPS from the demo's client, and the page in headless
// Chromium. Screenshots of each view are kept as artifacts.
func TestInspectorShowsLiveSignInsInABrowser(t *testing.T) {
	sts, _ := stsFixture(t)
	ca, err := certs.New(certs.Options{CommonName: "inspector test CA"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSession(startOptions{listen: "127.0.0.1:0", ui: "127.0.0.1:0", quiet: true}, demoProxyOptions(sts), ca, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	downloads := t.TempDir()
	ctx := browsertest.New(t, browsertest.Options{DownloadDir: downloads})
	browsertest.Run(t, ctx, chromedp.Navigate(s.ui.url))
	browsertest.WaitJS(t, ctx, `document.querySelector('#flows-empty') && getComputedStyle(document.querySelector('#flows-empty')).display !== 'none'`, 30*time.Second)
	if u := browsertest.Get(t, ctx, chromedp.Location()); strings.Contains(u, "token=") {
		t.Errorf("the token stayed in the address bar: %s", u)
	}

	// Traffic after the page opened appears without a reload.
	client := demo.NewClient(proxy.ClientURL(s.listener.Addr().String()), ca.Pool(), sts)
	scenarios := demo.All()
	for i, sc := range scenarios {
		client.Reset(fmt.Sprintf("scenario %d", i+1))
		if err := sc.Run(context.Background(), client); err != nil {
			t.Fatalf("scenario %d: %v", i+1, err)
		}
	}
	s.pipe.Sync()
	n := s.pipe.Count()
	browsertest.WaitJS(t, ctx, fmt.Sprintf(`document.querySelectorAll('#flow-rows .row:not([hidden])').length === %d`, n), 30*time.Second)
	browsertest.WaitJS(t, ctx, rowsJS+`.some(t => t.includes('AADSTS50143 · domain-hint-mismatch'))`, 10*time.Second)
	browsertest.Screenshot(t, ctx, "flows")

	// The filter runs on the server and leaves only the matching flow.
	browsertest.Run(t, ctx, chromedp.SendKeys(chromedp.CSS("#filter"), "~aadsts 50143"))
	browsertest.WaitJS(t, ctx, rowsJS+`.length === 1 && `+rowsJS+`[0].includes('50143')`, 10*time.Second)
	browsertest.Screenshot(t, ctx, "filter")

	// Decoded: the id_token's claims.
	openFlow(t, ctx, "~bs id_token")
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS(`#detail-tabs [data-tab="decoded"]`)))
	browsertest.WaitJS(t, ctx, `(() => { const p = document.querySelector('#panel').textContent; return p.includes('id_token') && p.includes('tid') && p.includes('aud') })()`, 10*time.Second)
	browsertest.Screenshot(t, ctx, "decoded")

	// Cookies: ESTSAUTH being set, labelled.
	openFlow(t, ctx, `~hs "Set-Cookie: ESTSAUTH"`)
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS(`#detail-tabs [data-tab="cookies"]`)))
	browsertest.WaitJS(t, ctx, `(() => { const p = document.querySelector('#panel').textContent; return p.includes('ESTSAUTH') && /new/i.test(p) && /session/i.test(p) })()`, 10*time.Second)
	browsertest.Screenshot(t, ctx, "cookies")

	// Sign-ins: the 50143 sign-in with its failing step and support block.
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS("#tab-signins")))
	browsertest.WaitJS(t, ctx, `[...document.querySelectorAll('#txns .txn')].some(x => x.querySelector('.step.failed') && x.textContent.includes('domain-hint-mismatch') && x.querySelector('.support') && x.textContent.includes('50143'))`, 20*time.Second)
	browsertest.Screenshot(t, ctx, "signins")

	// Export of the shown flows: a sanitized HAR that still analyses to the
	// same finding.
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS("#tab-flows")))
	setFilter(t, ctx, "~d login")
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS("#export")))
	har := waitDownload(t, downloads, ".har")
	if left, err := sanitize.Check(har); err != nil || len(left) > 0 {
		t.Errorf("sanitize --check of the page's export: %d left, %v", len(left), err)
	}
	if got := rulesIn(t, har); !got["domain-hint-mismatch"] || !got["code-reused"] {
		t.Errorf("the export analyses to %v, want domain-hint-mismatch and code-reused kept", got)
	}

	// The picture in the README: every flow, the failing one open at its
	// decoded error. AADPROXY_README_SCREENSHOT=docs/inspector.png
	// regenerates it (see README, Tests).
	setFilter(t, ctx, "")
	browsertest.Run(t, ctx, chromedp.Evaluate[chromedp.Void](rowsElemsJS+`.find(r => r.textContent.includes('AADSTS50143')).click()`))
	browsertest.WaitJS(t, ctx, `document.querySelector('#detail-head') && document.querySelector('#detail-head').textContent.includes('authorize')`, 10*time.Second)
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS(`#detail-tabs [data-tab="decoded"]`)))
	browsertest.WaitJS(t, ctx, `document.querySelector('#panel').textContent.includes('SessionMismatch')`, 10*time.Second)
	shot := browsertest.Screenshot(t, ctx, "overview")
	if dst := os.Getenv("AADPROXY_README_SCREENSHOT"); dst != "" {
		data, err := os.ReadFile(shot)
		if err == nil {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			t.Errorf("README screenshot: %v", err)
		}
	}

	// The inspector is never reachable through the proxy.
	through := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy.ClientURL(s.listener.Addr().String()))}}
	req, _ := http.NewRequest("GET", "http://"+s.ui.listener.Addr().String()+"/api/flows", nil)
	req.Header.Set("Authorization", "Bearer "+s.ui.srv.Token())
	resp, err := through.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), `"flows"`) {
		t.Errorf("the inspector through the proxy: %d %.200s", resp.StatusCode, body)
	}
	browsertest.NoErrors(t, ctx)
}

// setFilter replaces the filter box's text and waits for the list to follow.
func setFilter(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	// The whole expression at once, as a paste: typed key by key on a
	// loaded machine, a pause would send half an expression (a 400).
	js, _ := json.Marshal(expr)
	browsertest.Run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector('#filter'); f.value = `+string(js)+`; f.dispatchEvent(new Event('input', {bubbles: true})); })()`))
	time.Sleep(400 * time.Millisecond) // the box waits for typing to pause
	browsertest.WaitJS(t, ctx, `!document.querySelector('#filter-error').textContent.trim()`, 10*time.Second)
}

// openFlow filters down to one flow and opens it.
func openFlow(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	setFilter(t, ctx, expr)
	browsertest.WaitJS(t, ctx, rowsJS+`.length === 1`, 10*time.Second)
	browsertest.Run(t, ctx, chromedp.Click(chromedp.CSS("#flow-rows .row:not([hidden])")))
	browsertest.WaitJS(t, ctx, `document.querySelector('#detail-tabs') && document.querySelector('#panel').textContent.length > 0`, 10*time.Second)
}

// waitDownload waits for a finished download ending in ext.
func waitDownload(t *testing.T, dir, ext string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ext) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s download in %s", ext, dir)
	return ""
}

// rulesIn analyses a trace and returns the rules that spoke.
func rulesIn(t *testing.T, path string) map[string]bool {
	t.Helper()
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	if _, _, err := trace.Open(path, func(i int, f *flow.Flow) error {
		f.Index = i
		for _, fd := range eng.Add(f) {
			got[fd.Rule] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// What a hostile page in the same browser can try: the inspector on
// another port of 127.0.0.1 is same-site (ports do not count), so the
// SameSite cookie alone does not stop it; the Origin and Sec-Fetch-Site
// checks must.
func TestInspectorRefusesOtherPagesInTheSameBrowser(t *testing.T) {
	sts, _ := stsFixture(t)
	ca, err := certs.New(certs.Options{CommonName: "inspector test CA"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSession(startOptions{listen: "127.0.0.1:0", ui: "127.0.0.1:0", quiet: true}, demoProxyOptions(sts), ca, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	client := demo.NewClient(proxy.ClientURL(s.listener.Addr().String()), ca.Pool(), sts)
	if err := demo.All()[0].Run(context.Background(), client); err != nil {
		t.Fatal(err)
	}
	s.pipe.Sync()
	base := "http://" + s.ui.listener.Addr().String()
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><title>evil</title><p id="out">waiting</p>`)
	})}
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(el)
	defer evil.Close()

	ctx := browsertest.New(t, browsertest.Options{})
	// Without the token, or with a wrong one, the page is not served.
	browsertest.Run(t, ctx, chromedp.Navigate(base+"/"))
	if txt := browsertest.Get(t, ctx, chromedp.Text(chromedp.CSS("body"))); !strings.Contains(txt, "open the link with ?token=") {
		t.Errorf("the page without a token says %q", txt)
	}
	browsertest.Run(t, ctx, chromedp.Navigate(base+"/?token=0000"))
	if txt := browsertest.Get(t, ctx, chromedp.Text(chromedp.CSS("body"))); !strings.Contains(txt, "not this run's") {
		t.Errorf("the page with a wrong token says %q", txt)
	}
	// Now the browser holds the real cookie, as a user's would.
	browsertest.Run(t, ctx, chromedp.Navigate(s.ui.url))
	browsertest.WaitJS(t, ctx, `document.querySelectorAll('#flow-rows .row:not([hidden])').length > 0`, 30*time.Second)

	// Another site's page tries the live channel and a state change.
	browsertest.Run(t, ctx, chromedp.Navigate("http://"+el.Addr().String()+"/"))
	js := fmt.Sprintf(`new Promise(done => {
		const results = {};
		const es = new EventSource(%[1]q + "/api/events", {withCredentials: true});
		es.onmessage = () => { results.events = "received"; es.close(); finish(); };
		es.onerror = () => { results.events = "refused"; es.close(); finish(); };
		fetch(%[1]q + "/api/clear", {method: "POST", mode: "no-cors", credentials: "include"})
			.then(() => { results.clear = "sent"; finish(); }, () => { results.clear = "failed"; finish(); });
		function finish() { if (results.events && results.clear) done(JSON.stringify(results)); }
	})`, base)
	got := browsertest.Get(t, ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if !strings.Contains(got, `"events":"refused"`) {
		t.Errorf("another site opened the live channel: %s", got)
	}
	if st := s.ui.store; st != nil {
		var status struct{ Flows int }
		if code := apiGet(t, s.ui.url, "/api/status", &status); code != 200 || status.Flows == 0 {
			t.Errorf("another site's POST /api/clear emptied the inspector (status %d, %d flows)", code, status.Flows)
		}
	}
}
