package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/net/websocket"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/browsertest"
	"github.com/aadproxy/aadproxy/internal/fakests"
)

// wsAppHost is a page with a WebSocket, on a real-looking name (Chromium
// sends localhost past any proxy) mapped to loopback.
const wsAppHost = "live.contoso.com"

// startWSApp serves a page that opens a WebSocket back to its host, and an
// echo behind it, over TLS that offers h2 like any modern server.
func startWSApp(t *testing.T) (addr string, ca *certs.CA) {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "websocket app test CA"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Live</title></head><body><p id="state">connecting</p><script>
const ws = new WebSocket('wss://%s/ws');
ws.onopen = () => ws.send('echo over the proxy (page on %s)');
ws.onmessage = (e) => { document.querySelector('#state').textContent = 'echo: ' + e.data; };
ws.onerror = () => { document.querySelector('#state').textContent = 'websocket error'; };
</script></body></html>`, wsAppHost, r.Proto)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig(wsAppHost)
	tlsConf.NextProtos = []string{"h2", "http/1.1"}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(ln, tlsConf))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ca
}

// Headless Chromium through the proxy speaks h2 to the fake Entra (DevTools
// reports the protocol of each response, and the recording says HTTP/2.0),
// and a page's WebSocket still works: Chromium opens it on an HTTP/1.1
// connection of its own, which the proxy relays.
func TestBrowserSpeaksH2AndWebSocketsThroughTheProxy(t *testing.T) {
	sts, err := fakests.New(fakests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })
	ca, err := certs.New(certs.Options{CommonName: "h2 browser test CA"})
	if err != nil {
		t.Fatal(err)
	}
	wsAddr, wsCA := startWSApp(t)
	po := demoProxyOptions(sts)
	po.MapRemote[wsAppHost] = wsAddr
	po.Intercept = append(po.Intercept, wsAppHost)
	po.UpstreamRoots = append(po.UpstreamRoots, wsCA.Cert())
	rec := filepath.Join(t.TempDir(), "h2.har")
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

	ctx := browsertest.New(t, browsertest.Options{Proxy: "http://" + s.listener.Addr().String(), SPKIHash: ca.SPKIHash()})
	var mu sync.Mutex
	protocols := map[string]string{} // URL → DevTools' protocol of its response
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok {
			mu.Lock()
			protocols[e.Response.URL] = e.Response.Protocol
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, browsertest.ActionTimeout)
	_, err = chromedp.Call(cctx, network.Enable, network.EnableParams{})
	cancel()
	if err != nil {
		t.Fatalf("enable DevTools' network events: %v", err)
	}

	authorize := authorizeURL("h2-browser")
	browsertest.Run(t, ctx, chromedp.Navigate(authorize))
	browsertest.WaitJS(t, ctx, `document.querySelector('#i0116') !== null && document.title.includes('Sign in')`, 30*time.Second)
	browsertest.Run(t, ctx, chromedp.Navigate("https://"+wsAppHost+"/"))
	browsertest.WaitJS(t, ctx, `document.querySelector('#state').textContent.startsWith('echo: ')`, 30*time.Second)
	state := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#state').textContent`))
	browsertest.Screenshot(t, ctx, "websocket-beside-h2")
	if state != "echo: echo over the proxy (page on HTTP/2.0)" {
		t.Errorf("the page says %q, want the echo of a page served over HTTP/2.0", state)
	}
	mu.Lock()
	for _, u := range []string{authorize, "https://" + wsAppHost + "/"} {
		if protocols[u] != "h2" {
			t.Errorf("DevTools protocol of %s: %q, want h2 (all: %v)", u, protocols[u], protocols)
		}
	}
	mu.Unlock()

	s.pipe.Sync()
	closed = true
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	flows := readRecording(t, rec)
	find := func(ok func(*flow.Flow) bool) *flow.Flow {
		if i := slices.IndexFunc(flows, ok); i >= 0 {
			return flows[i]
		}
		return nil
	}
	if f := find(func(f *flow.Flow) bool { return f.Request.URL == authorize }); f == nil || f.Request.Proto != "HTTP/2.0" || f.Status() != 200 {
		t.Errorf("authorize in the recording: %+v, want a 200 over HTTP/2.0", f)
	}
	if f := find(func(f *flow.Flow) bool { return strings.HasSuffix(f.Request.URL, "/ws") }); f == nil || f.Status() != http.StatusSwitchingProtocols || f.Request.Proto != "HTTP/1.1" {
		t.Errorf("the WebSocket upgrade in the recording: %+v, want a 101 over HTTP/1.1", f)
	}
	for _, l := range sts.Log() {
		if l.Proto != "HTTP/2.0" {
			t.Errorf("the fake Entra got %s %s over %s, want HTTP/2.0", l.Method, l.Path, l.Proto)
		}
	}
}
