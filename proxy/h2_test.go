package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// protoEcho answers like entraLike and says which protocol reached it.
func protoEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Origin-Proto", r.Proto)
	w.Header().Set("X-Origin-Cookie", r.Header.Get("Cookie"))
	entraLike(w, r)
}

func startH2Pair(t *testing.T, opts proxy.Options, h2Origin bool) (*proxytest.Proxy, *proxytest.Origin) {
	t.Helper()
	var origin *proxytest.Origin
	if h2Origin {
		origin = proxytest.StartOriginH2(t, http.HandlerFunc(protoEcho))
	} else {
		origin = proxytest.StartOrigin(t, http.HandlerFunc(protoEcho))
	}
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	return proxytest.Start(t, opts), origin
}

func post(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "fpc=A1; esctx=B2")
	req.Header.Set("Client-Request-Id", "0e2e0000-0000-4000-8000-0000000000h2")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestH2ClientGetsH2WhenTheUpstreamSpeaksIt(t *testing.T) {
	p, origin := startH2Pair(t, proxy.Default(), true)
	resp := post(t, p.ClientH2(false), "https://"+loginHost+"/oauth2/v2.0/token", "grant_type=client_credentials")
	if resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Origin-Proto") != "HTTP/2.0" {
		t.Fatalf("client got %s, origin saw %q: want HTTP/2.0 on both sides", resp.Proto, resp.Header.Get("X-Origin-Proto"))
	}
	if got := resp.Header.Get("X-Origin-Cookie"); got != "fpc=A1; esctx=B2" {
		t.Errorf("origin's cookie: got %q, want the crumbs joined", got)
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Request.Proto != "HTTP/2.0" || f.Response.Proto != "HTTP/2.0" {
		t.Errorf("flow protocols: request %q, response %q; want HTTP/2.0", f.Request.Proto, f.Response.Proto)
	}
	if f.Request.URL != "https://"+loginHost+"/oauth2/v2.0/token" || f.Status() != 200 {
		t.Errorf("flow: %s %d", f.Request.URL, f.Status())
	}
	// Go's HTTP/2 client sends the cookie as crumbs; the flow holds one
	// header joined with "; ", as RFC 9113 §8.2.3 asks.
	if got := f.Request.Header.Values("cookie"); len(got) != 1 || got[0] != "fpc=A1; esctx=B2" {
		t.Errorf("flow cookie headers: got %q, want one joined value", got)
	}
	for _, h := range []flow.Headers{f.Request.Header, f.Response.Header} {
		for _, kv := range h {
			if strings.HasPrefix(kv.Name, ":") || kv.Name != strings.ToLower(kv.Name) {
				t.Errorf("flow header %q: HTTP/2 headers are lowercase, pseudo-headers are left out", kv.Name)
			}
		}
	}
	if got := f.Request.Header.Get("client-request-id"); got != "0e2e0000-0000-4000-8000-0000000000h2" {
		t.Errorf("client-request-id: got %q", got)
	}
	if got := f.Response.Header.Values("set-cookie"); len(got) != 2 {
		t.Errorf("set-cookie: got %q, want both lines", got)
	}
	if string(f.Request.Body.Raw) != "grant_type=client_credentials" || !strings.Contains(string(f.Response.Body.Raw), "client_credentials") {
		t.Errorf("bodies: request %q, response %q", f.Request.Body.Raw, f.Response.Body.Raw)
	}
	if f.ServerTLS == nil || f.ServerTLS.ALPN != "h2" || f.ClientTLS == nil || f.ClientTLS.ALPN != "h2" {
		t.Errorf("TLS: client %+v, server %+v; want h2 on both", f.ClientTLS, f.ServerTLS)
	}
	if f.Timings.Connect < 0 || f.Timings.TLS < 0 || f.Timings.Wait < 0 {
		t.Errorf("timings of the first request on the probe's connection: %+v", f.Timings)
	}
	if n := origin.Handshakes.Load(); n != 1 {
		t.Errorf("origin handshakes: %d, want 1 (the probe's connection carries the request)", n)
	}
}

func TestH2ProbeConnectionIsReusedForFreshClientConnections(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		t.Run(fmt.Sprintf("h2-origin=%v", h2), func(t *testing.T) {
			p, origin := startH2Pair(t, proxy.Default(), h2)
			c := p.ClientH2(true)
			want := "HTTP/1.1"
			if h2 {
				want = "HTTP/2.0"
			}
			const n = 5
			for i := range n {
				resp, err := c.Get(fmt.Sprintf("https://%s/x?i=%d", loginHost, i))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Proto != want {
					t.Errorf("request %d: client got %s, want %s", i, resp.Proto, want)
				}
			}
			p.WaitFlows(t, n)
			// One connection upstream: the first client's handshake probed
			// it, and it carried every request (HTTP/2 multiplexes; the
			// HTTP/1.1 transport took it from the probe and kept it alive).
			if got := origin.Handshakes.Load(); got != 1 {
				t.Errorf("origin handshakes for %d fresh client connections: %d, want 1", n, got)
			}
		})
	}
}

func TestHTTP1ClientStaysOnHTTP11(t *testing.T) {
	p, origin := startH2Pair(t, proxy.Default(), true)
	resp := post(t, p.Client(), "https://"+loginHost+"/t", "a=b")
	if resp.Proto != "HTTP/1.1" || resp.Header.Get("X-Origin-Proto") != "HTTP/1.1" {
		t.Errorf("client got %s, origin saw %s; want HTTP/1.1", resp.Proto, resp.Header.Get("X-Origin-Proto"))
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Request.Proto != "HTTP/1.1" || !hasName(f.Request.Header, "Client-Request-Id") {
		t.Errorf("flow: %s, headers %v; want HTTP/1.1 with wire casing", f.Request.Proto, f.Request.Header)
	}
	if n := origin.Handshakes.Load(); n != 1 {
		t.Errorf("origin handshakes: %d, want 1 (no probe for a client that offers no h2)", n)
	}
}

func TestHTTP1OptionTurnsH2Off(t *testing.T) {
	opts := proxy.Default()
	opts.HTTP1 = true
	p, _ := startH2Pair(t, opts, true)
	resp := post(t, p.ClientH2(false), "https://"+loginHost+"/t", "a=b")
	if resp.Proto != "HTTP/1.1" || resp.Header.Get("X-Origin-Proto") != "HTTP/1.1" {
		t.Errorf("with HTTP1: client got %s, origin saw %s; want HTTP/1.1", resp.Proto, resp.Header.Get("X-Origin-Proto"))
	}
	if f := p.WaitFlows(t, 1)[0]; f.Request.Proto != "HTTP/1.1" {
		t.Errorf("flow proto %s, want HTTP/1.1", f.Request.Proto)
	}
}

func TestH2ClientWithUnreachableUpstreamGets502OverHTTP11(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: addr}
	p := proxytest.Start(t, opts)
	resp, err := p.ClientH2(false).Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Proto != "HTTP/1.1" {
		t.Errorf("unreachable upstream: got %d over %s, want 502 over HTTP/1.1", resp.StatusCode, resp.Proto)
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Status() != http.StatusBadGateway || !strings.Contains(f.Error, "connection refused") {
		t.Errorf("flow: %d %q", f.Status(), f.Error)
	}
}

func TestH2UpstreamTimeoutGives504(t *testing.T) {
	release := make(chan struct{})
	origin := proxytest.StartOriginH2(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}))
	t.Cleanup(func() { close(release) })
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	opts.ResponseHeaderTimeout = 300 * time.Millisecond
	p := proxytest.Start(t, opts)
	c := p.ClientH2(false)
	for _, path := range []string{"/fast", "/slow"} {
		resp, err := c.Get("https://" + loginHost + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := http.StatusOK
		if path == "/slow" {
			want = http.StatusGatewayTimeout
		}
		if resp.StatusCode != want || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: got %d over %s, want %d over HTTP/2.0", path, resp.StatusCode, resp.Proto, want)
		}
	}
	if f := p.WaitFlows(t, 2)[1]; !strings.Contains(f.Error, "--upstream-timeout") {
		t.Errorf("flow error %q, want the --upstream-timeout hint", f.Error)
	}
}

// A browser opens a WebSocket on a connection of its own that offers only
// http/1.1 (x/net's server offers no extended CONNECT), also to a host it
// speaks h2 with: the upgrade goes through goproxy's HTTP/1.1 relay.
func TestWebSocketBesideH2(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	mux.HandleFunc("/", protoEcho)
	origin := proxytest.StartOriginH2(t, mux)
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	p := proxytest.Start(t, opts)

	resp, err := p.ClientH2(false).Get("https://" + loginHost + "/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("page over %s, want HTTP/2.0", resp.Proto)
	}

	raw := connectThrough(t, p.Addr, loginHost+":443")
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool(), NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cfg, err := websocket.NewConfig("wss://"+loginHost+"/ws", "https://"+loginHost)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, tc)
	if err != nil {
		t.Fatalf("websocket handshake through the proxy: %v", err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := ws.Write([]byte("hello over ws")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := ws.Read(buf)
	if err != nil || string(buf[:n]) != "hello over ws" {
		t.Fatalf("echo: %q %v", buf[:n], err)
	}
	fl := p.WaitFlows(t, 2)
	if f := fl[1]; f.Status() != http.StatusSwitchingProtocols || f.Request.Proto != "HTTP/1.1" {
		t.Errorf("websocket flow: %d over %s", f.Status(), f.Request.Proto)
	}
}

// TestH2ServerOffersNoExtendedConnect: were SETTINGS_ENABLE_CONNECT_PROTOCOL
// sent, a browser would try its WebSockets over HTTP/2 streams, which the
// relay cannot carry.
func TestH2ServerOffersNoExtendedConnect(t *testing.T) {
	p, _ := startH2Pair(t, proxy.Default(), true)
	if _, err := p.ClientH2(false).Get("https://" + loginHost + "/warm"); err != nil {
		t.Fatal(err)
	}
	raw := connectThrough(t, p.Addr, loginHost+":443")
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool(), NextProtos: []string{"h2"}})
	if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("handshake: %v, ALPN %q", err, tc.ConnectionState().NegotiatedProtocol)
	}
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(tc)
	var hdr [9]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[3] != 0x4 {
		t.Fatalf("first frame: % x %v, want SETTINGS", hdr, err)
	}
	payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+6 <= len(payload); i += 6 {
		if id := int(payload[i])<<8 | int(payload[i+1]); id == 0x8 {
			t.Errorf("the proxy's HTTP/2 server sent SETTINGS_ENABLE_CONNECT_PROTOCOL")
		}
	}
}

func TestH2LeavesNoGoroutinesAfterShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		origin := proxytest.StartOriginH2(t, http.HandlerFunc(protoEcho))
		opts := proxy.Default()
		opts.MapRemote = map[string]string{loginHost: origin.Addr()}
		opts.UpstreamRoots = origin.Roots()
		p := proxytest.Start(t, opts)
		c := p.ClientH2(false)
		for i := range 3 {
			resp, err := c.Get(fmt.Sprintf("https://%s/x?i=%d", loginHost, i))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		p.WaitFlows(t, 3)
		c.CloseIdleConnections()
		ctxShutdown(t, p)
		origin.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after shutdown:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxShutdown(t *testing.T, p *proxytest.Proxy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestH2HugeBodyStreamsWithCaptureCapped(t *testing.T) {
	opts := proxy.Default()
	opts.MaxBody = 1 << 20
	p, _ := startH2Pair(t, opts, true)
	resp, err := p.ClientH2(false).Get("https://" + loginHost + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 20<<20 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("client got %d bytes over %s (%v), want 20 MiB over HTTP/2.0", n, resp.Proto, err)
	}
	f := p.WaitFlows(t, 1)[0]
	b := f.Response.Body
	if len(b.Raw) != 1<<20 || !b.Truncated || b.Size != 20<<20 {
		t.Errorf("captured %d of %d bytes, truncated %v; want the first 1 MiB of 20 MiB, truncated", len(b.Raw), b.Size, b.Truncated)
	}
}

// A client that offers only h2 gets it whatever the upstream speaks; an
// HTTP/1.1 upstream's connection-specific fields do not reach it (browsers
// refuse them on HTTP/2), while the flow keeps them as the upstream sent.
func TestH2OnlyClientToHTTP11Upstream(t *testing.T) {
	origin := proxytest.StartOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "keep-alive, X-Hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("X-Origin-Proto", r.Proto)
		io.WriteString(w, "ok")
	}))
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	p := proxytest.Start(t, opts)
	tr := &http2.Transport{DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		raw := connectThrough(t, p.Addr, addr)
		tc := tls.Client(raw, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool(), NextProtos: []string{"h2"}})
		return tc, tc.HandshakeContext(ctx)
	}}
	defer tr.CloseIdleConnections()
	for i := range 2 {
		resp, err := (&http.Client{Transport: tr}).Get("https://" + loginHost + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Origin-Proto") != "HTTP/1.1" || string(body) != "ok" {
			t.Fatalf("request %d: %s from an origin on %s: %q", i, resp.Proto, resp.Header.Get("X-Origin-Proto"), body)
		}
		for _, name := range []string{"Connection", "Keep-Alive", "X-Hop"} {
			if v := resp.Header.Get(name); v != "" {
				t.Errorf("request %d: the HTTP/2 client got %s: %s", i, name, v)
			}
		}
	}
	f := p.WaitFlows(t, 2)[0]
	if f.Request.Proto != "HTTP/2.0" || f.Response.Proto != "HTTP/1.1" || f.Response.Header.Get("Keep-Alive") != "timeout=5" {
		t.Errorf("flow: request %s, response %s %v", f.Request.Proto, f.Response.Proto, f.Response.Header)
	}
}

// An HTTP/2 upstream that refuses a request with HTTP_1_1_REQUIRED (IIS
// and http.sys, for Windows authentication) gets it again over HTTP/1.1,
// as a browser would do, and the client sees the answer, not a 502.
func TestH2UpstreamRequiringHTTP11GetsTheRequestOverHTTP11(t *testing.T) {
	ca, err := certs.New(certs.Options{CommonName: "origin test CA"})
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(protoEcho))
	srv.TLS = certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig("localhost")
	srv.TLS.NextProtos = []string{"h2", "http/1.1"}
	srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { refuseHTTP2(c, &refused) },
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	origin := &proxytest.Origin{Server: srv, CA: ca}
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	p := proxytest.Start(t, opts)

	resp, err := p.ClientH2(false).Get("https://" + loginHost + "/adfs/ls/wia")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Origin-Proto") != "HTTP/1.1" {
		t.Fatalf("client got %d, origin saw %q: want the answer over HTTP/1.1", resp.StatusCode, resp.Header.Get("X-Origin-Proto"))
	}
	if refused.Load() == 0 {
		t.Fatal("the origin never refused an HTTP/2 request: the test did not test the fallback")
	}
	if f := p.WaitFlows(t, 1)[0]; f.Status() != 200 {
		t.Errorf("flow: %d %s", f.Status(), f.Error)
	}
}

// refuseHTTP2 speaks just enough HTTP/2 to reset every stream with
// HTTP_1_1_REQUIRED, as http.sys does.
func refuseHTTP2(c *tls.Conn, refused *atomic.Int64) {
	defer c.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			refused.Add(1)
			fr.WriteRSTStream(f.StreamID, http2.ErrCodeHTTP11Required)
		}
	}
}
