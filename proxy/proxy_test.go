package proxy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/bombtest"
	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

const loginHost = "login.microsoftonline.com"

// entraLike answers like the token endpoint: lower-case x-ms headers and
// repeated Set-Cookie lines, so header fidelity can be checked.
func entraLike(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/gzip":
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, `{"error":"invalid_grant","error_codes":[50143]}`)
		zw.Close()
	case "/big":
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
		for i := 0; i < 320; i++ {                              // 20 MiB
			w.Write(chunk)
		}
	default:
		h := w.Header()
		h["x-ms-request-id"] = []string{"3b3a0f01-0000-0000-0000-000000000001"}
		h["Set-Cookie"] = []string{"fpc=A1; path=/; secure; HttpOnly; SameSite=None", "esctx=B2; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None"}
		h.Set("Content-Type", "application/json; charset=utf-8")
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"echo":%q,"ae":%q}`, body, r.Header.Get("Accept-Encoding"))
	}
}

func startPair(t *testing.T, opts proxy.Options) (*proxytest.Proxy, *proxytest.Origin) {
	t.Helper()
	origin := proxytest.StartOrigin(t, http.HandlerFunc(entraLike))
	opts.MapRemote = map[string]string{loginHost: origin.Addr(), "www.example.com": origin.Addr(), "device.login.microsoftonline.com": origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	return proxytest.Start(t, opts), origin
}

func TestInterceptsIdentityHostAndKeepsWireHeaders(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	req, _ := http.NewRequest("POST", "https://"+loginHost+"/common/oauth2/v2.0/token", strings.NewReader("grant_type=client_credentials"))
	req.Header["client-request-id"] = []string{"c0ffee00-0000-0000-0000-000000000000"}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "grant_type=client_credentials") {
		t.Fatalf("origin did not get the body: %s", body)
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Request.URL != "https://"+loginHost+"/common/oauth2/v2.0/token" || f.Status() != 200 {
		t.Errorf("flow: got %s %d", f.Request.URL, f.Status())
	}
	if got := f.Request.Header.Get("client-request-id"); got != "c0ffee00-0000-0000-0000-000000000000" {
		t.Errorf("request header client-request-id: got %q", got)
	}
	if !hasName(f.Request.Header, "client-request-id") {
		t.Errorf("request header casing lost: %v", f.Request.Header)
	}
	if !hasName(f.Response.Header, "x-ms-request-id") {
		t.Errorf("response header casing lost: %v", f.Response.Header)
	}
	if got := f.Response.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("repeated Set-Cookie lines: got %v, want 2", got)
	}
	if string(f.Request.Body.Raw) != "grant_type=client_credentials" || !strings.Contains(string(f.Response.Body.Raw), "echo") {
		t.Errorf("bodies: request %q response %q", f.Request.Body.Raw, f.Response.Body.Raw)
	}
	if f.ClientTLS == nil || f.ServerTLS == nil || f.ServerTLS.ServerName != loginHost {
		t.Errorf("TLS info: client %+v server %+v", f.ClientTLS, f.ServerTLS)
	}
	if f.ClientTLS != nil && f.ClientTLS.ALPN != "http/1.1" && f.ClientTLS.ALPN != "" {
		t.Errorf("client ALPN %q: HTTP/2 interception must stay off", f.ClientTLS.ALPN)
	}
	if f.Timings.Start.IsZero() || f.Done.Before(f.Timings.Start) || f.Timings.Wait < 0 {
		t.Errorf("timings: %+v done %v", f.Timings, f.Done)
	}
}

// hasName reports whether a header with exactly this casing is present.
func hasName(h flow.Headers, name string) bool {
	for _, kv := range h {
		if kv.Name == name {
			return true
		}
	}
	return false
}

func TestLeafChainsToOurCANotGoproxys(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	conn := connectThrough(t, p.Addr, loginHost+":443")
	tc := tls.Client(conn, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake with our CA as the only root: %v", err)
	}
	defer tc.Close()
	chain := tc.ConnectionState().PeerCertificates
	if len(chain) < 2 || !bytes.Equal(chain[len(chain)-1].Raw, p.CA.CertDER()) {
		t.Errorf("presented chain does not end with our CA (%d certs)", len(chain))
	}
	if strings.Contains(chain[0].Issuer.String(), "GoProxy") {
		t.Errorf("leaf issued by goproxy's public CA: %s", chain[0].Issuer)
	}
}

func TestUpstreamVerificationIsOn(t *testing.T) {
	origin := proxytest.StartOrigin(t, http.HandlerFunc(entraLike))
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	// No UpstreamRoots: the origin's CA is unknown, so the proxy must refuse.
	p := proxytest.Start(t, opts)
	resp, err := p.Client().Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "--upstream-ca") {
		t.Fatalf("untrusted upstream: got %d %q, want 502 with a hint", resp.StatusCode, body)
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Error == "" || !f.Response.Synthetic {
		t.Errorf("flow: error %q synthetic %v", f.Error, f.Response.Synthetic)
	}

	opts.UpstreamInsecure = true
	p2 := proxytest.Start(t, opts)
	resp, err = p2.Client().Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with UpstreamInsecure: got %d, want 200", resp.StatusCode)
	}
}

func TestEnvironmentProxyIsIgnored(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	p, origin := startPair(t, proxy.Default())
	resp, err := p.Client().Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with HTTPS_PROXY set: got %d, want 200 (the environment must not chain the proxy)", resp.StatusCode)
	}
	// A tunnelled host must not go through the environment's proxy either.
	conn := connectThrough(t, p.Addr, "www.example.com:443")
	tc := tls.Client(conn, &tls.Config{ServerName: "www.example.com", RootCAs: origin.CA.Pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tunnel with HTTPS_PROXY set: %v", err)
	}
	tc.Close()
}

func TestCompressedBodiesPassUntouched(t *testing.T) {
	p, origin := startPair(t, proxy.Default())
	req, _ := http.NewRequest("GET", "https://"+loginHost+"/gzip", nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	direct := fetchDirect(t, origin, "/gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(viaProxy, direct) {
		t.Fatalf("client did not receive the origin's gzip bytes (encoding %q)", resp.Header.Get("Content-Encoding"))
	}
	f := p.WaitFlows(t, 1)[0]
	dec, err := f.Response.Body.Decoded()
	if err != nil || !strings.Contains(string(dec), "50143") {
		t.Errorf("decoded capture: %q, %v", dec, err)
	}
	// The client's Accept-Encoding reached the origin.
	resp, err = p.Client().Do(req.Clone(req.Context()))
	if err == nil {
		resp.Body.Close()
	}
	req2, _ := http.NewRequest("GET", "https://"+loginHost+"/echo", nil)
	req2.Header.Set("Accept-Encoding", "br")
	resp, err = p.Client().Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"ae":"br"`) {
		t.Errorf("origin saw Accept-Encoding other than the client's: %s", b)
	}
}

func fetchDirect(t *testing.T, o *proxytest.Origin, path string) []byte {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.CA.Pool(), ServerName: "localhost"}, DisableCompression: true}}
	req, _ := http.NewRequest("GET", o.URL+path, nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestHugeBodyStreamsWithCaptureCapped(t *testing.T) {
	opts := proxy.Default()
	opts.MaxBody = 1 << 20
	p, _ := startPair(t, opts)
	resp, err := p.Client().Get("https://" + loginHost + "/big")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != 20<<20 {
		t.Fatalf("client got %d bytes, %v; want 20 MiB", n, err)
	}
	f := p.WaitFlows(t, 1)[0]
	b := f.Response.Body
	if !b.Truncated || int64(len(b.Raw)) != opts.MaxBody || b.Size != 20<<20 {
		t.Errorf("capture: truncated %v, kept %d, size %d", b.Truncated, len(b.Raw), b.Size)
	}
}

// TestBombsRelayUntouchedAndDecodeCapped fetches compression bombs of every
// coding (and a nested chain) at once: each client receives the origin's
// compressed bytes untouched, and each flow's decoded view is cut at
// --max-body, or at the lower opaque limit for an image.
func TestBombsRelayUntouchedAndDecodeCapped(t *testing.T) {
	const size = 64 << 20 // far beyond any limit; the decode stops there
	encs := append(bombtest.Encodings, "deflate, gzip")
	bombs := map[string][]byte{}
	for _, enc := range encs {
		b, err := bombtest.Body(enc, size)
		if err != nil {
			t.Fatal(err)
		}
		bombs[enc] = b
	}
	origin := proxytest.StartOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := r.URL.Query().Get("enc")
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		w.Header().Set("Content-Encoding", enc)
		w.Write(bombs[enc])
	}))
	opts := proxy.Default()
	opts.MaxBody = 2 << 20
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	p := proxytest.Start(t, opts)
	client := p.Client()
	client.Transport.(*http.Transport).DisableCompression = true
	types := map[string]string{}
	for i, enc := range encs {
		types[enc] = "application/json"
		if i == 0 {
			types[enc] = "image/png"
		}
	}
	var wg sync.WaitGroup
	for _, enc := range encs {
		wg.Go(func() {
			resp, err := client.Get("https://" + loginHost + "/bomb?enc=" + url.QueryEscape(enc) + "&type=" + url.QueryEscape(types[enc]))
			if err != nil {
				t.Error(err)
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, bombs[enc]) || resp.Header.Get("Content-Encoding") != enc {
				t.Errorf("%s bomb: the client got %d bytes (%v) under %q, want the origin's %d untouched", enc, len(got), err, resp.Header.Get("Content-Encoding"), len(bombs[enc]))
			}
		})
	}
	wg.Wait()
	for _, f := range p.WaitFlows(t, len(encs)) {
		b := &f.Response.Body
		enc := b.Encoding
		want := opts.MaxBody
		if types[enc] == "image/png" {
			want = flow.OpaqueDecodeLimit
		}
		if b.DecodeLimit != want {
			t.Errorf("%s bomb (%s): decode limit %d, want %d", enc, types[enc], b.DecodeLimit, want)
		}
		data, err := b.Decoded()
		if limit, ok := flow.IsCut(err); !ok || limit != want || int64(len(data)) != want {
			t.Errorf("%s bomb: decoded %d bytes, %v; want a view cut at %d", enc, len(data), err, want)
		}
	}
}

// TestCaptureMemoryIsBoundedAcrossExchanges holds two 20 MiB downloads open
// at once under a 3 MiB capture budget: together they keep at most the
// budget, each client still gets every byte, the shortfall is said once,
// and the budget comes back when the flows are handed over.
func TestCaptureMemoryIsBoundedAcrossExchanges(t *testing.T) {
	opts := proxy.Default()
	opts.MaxBody = 2 << 20
	opts.CaptureMemory = 3 << 20
	p, _ := startPair(t, opts)
	var wg sync.WaitGroup
	bodies := make([]io.ReadCloser, 2)
	for i := range bodies {
		resp, err := p.Client().Get("https://" + loginHost + "/big")
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = resp.Body
	}
	got := make([]int64, len(bodies))
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = io.Copy(io.Discard, b)
			b.Close()
		}()
	}
	wg.Wait()
	var kept int64
	for i, f := range p.WaitFlows(t, 2) {
		if got[i] != 20<<20 {
			t.Errorf("client %d got %d bytes, want 20 MiB", i, got[i])
		}
		kept += int64(len(f.Response.Body.Raw))
		if !f.Response.Body.Truncated || f.Response.Body.Size != 20<<20 {
			t.Errorf("flow %d: truncated %v, size %d", f.Index, f.Response.Body.Truncated, f.Response.Body.Size)
		}
	}
	if kept > opts.CaptureMemory || kept < opts.MaxBody {
		t.Errorf("the two captures kept %d bytes together; want between one --max-body (%d) and the budget (%d)", kept, opts.MaxBody, opts.CaptureMemory)
	}
	p.WaitNotice(t, func(n proxy.Notice) bool { return strings.Contains(n.Message, "memory bound") })
	// The budget is back: a third download alone is captured up to MaxBody.
	resp, err := p.Client().Get("https://" + loginHost + "/big")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if f := p.WaitFlows(t, 3)[2]; int64(len(f.Response.Body.Raw)) != opts.MaxBody {
		t.Errorf("after the flows were handed over, a capture kept %d bytes, want %d", len(f.Response.Body.Raw), opts.MaxBody)
	}
}

func TestOutOfScopeHostIsTunnelledUndecrypted(t *testing.T) {
	p, origin := startPair(t, proxy.Default())
	conn := connectThrough(t, p.Addr, "www.example.com:443")
	tc := tls.Client(conn, &tls.Config{ServerName: "www.example.com", RootCAs: origin.CA.Pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tunnel handshake against the origin's own CA: %v", err)
	}
	tc.Close()
	if got := tc.ConnectionState().PeerCertificates[0]; bytes.Equal(got.Raw, p.CA.CertDER()) || got.Issuer.CommonName != "origin test CA" {
		t.Errorf("tunnelled host presented %q, want the origin's own certificate", got.Issuer.CommonName)
	}
	if n := len(p.Flows()); n != 0 {
		t.Errorf("tunnelled traffic was captured: %d flows", n)
	}
}

func TestClientCertHostIsTunnelledWithNotice(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	conn := connectThrough(t, p.Addr, "device.login.microsoftonline.com:443")
	conn.Close()
	n := p.WaitNotice(t, func(n proxy.Notice) bool { return n.Host == "device.login.microsoftonline.com" })
	if !strings.Contains(n.Message, "AADSTS50192") {
		t.Errorf("notice %q does not say why", n.Message)
	}
}

func TestClientRejectingCAIsReportedAndProxyKeepsServing(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	conn := connectThrough(t, p.Addr, loginHost+":443")
	tc := tls.Client(conn, &tls.Config{ServerName: loginHost}) // system roots: our CA unknown
	if err := tc.Handshake(); err == nil {
		t.Fatal("a client without our CA completed the handshake")
	}
	tc.Close()
	n := p.WaitNotice(t, func(n proxy.Notice) bool { return n.Level == "warning" && n.Host == loginHost })
	if !strings.Contains(n.Hint, "aadproxy ca install") {
		t.Errorf("notice hint %q does not say how to trust the CA", n.Hint)
	}
	resp, err := p.Client().Get("https://" + loginHost + "/after")
	if err != nil {
		t.Fatalf("proxy stopped serving after a rejected handshake: %v", err)
	}
	resp.Body.Close()
}

func TestMalformedRequestGets400AndAFlow(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	conn := connectThrough(t, p.Addr, loginHost+":443")
	tc := tls.Client(conn, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool()})
	if _, err := io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: "+loginHost+"\r\nBad Header Line\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tc.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed request: got %d, want 400", resp.StatusCode)
	}
	f := p.WaitFlows(t, 1)[0]
	if !strings.Contains(f.Error, "malformed") || f.Status() != 400 || !bytes.Contains(f.Request.Body.Raw, []byte("Bad Header Line")) {
		t.Errorf("flow: error %q status %d sent %q", f.Error, f.Status(), f.Request.Body.Raw)
	}
	// The proxy keeps serving.
	resp2, err := p.Client().Get("https://" + loginHost + "/after")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
}

func TestUpstreamResetGives502(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // reset
		}
	}()
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: l.Addr().String()}
	p := proxytest.Start(t, opts)
	resp, err := p.Client().Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("upstream reset: got %d, want 502", resp.StatusCode)
	}
	if f := p.WaitFlows(t, 1)[0]; f.Error == "" {
		t.Errorf("flow has no error")
	}
}

func TestPlainHTTPInScopeIsCaptured(t *testing.T) {
	origin := proxytest.StartOrigin(t, http.HandlerFunc(entraLike))
	plain := &http.Server{Handler: http.HandlerFunc(entraLike)}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go plain.Serve(l)
	defer plain.Close()
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: l.Addr().String(), "other.example": l.Addr().String()}
	opts.UpstreamRoots = origin.Roots()
	p := proxytest.Start(t, opts)
	for _, u := range []string{"http://other.example/x", "http://" + loginHost + "/x"} {
		resp, err := p.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fl := p.WaitFlows(t, 1)
	if len(fl) != 1 || fl[0].Request.URL != "http://"+loginHost+"/x" {
		t.Errorf("flows: got %d (first %v), want only the in-scope host", len(fl), fl[0].Request.URL)
	}
}

// connectThrough opens a CONNECT tunnel to target through the proxy.
func connectThrough(t *testing.T, proxyAddr, target string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	return c
}

func TestMalformedPlainRequestGets400AndAFlow(t *testing.T) {
	p, _ := startPair(t, proxy.Default())
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET http://login.microsoftonline.com/x HTTP/1.1\r\nHost login.microsoftonline.com\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed plain request: got %d, want 400", resp.StatusCode)
	}
	f := p.WaitFlows(t, 1)[0]
	if f.Status() != 400 || !strings.Contains(f.Error, "malformed") {
		t.Errorf("flow: status %d error %q", f.Status(), f.Error)
	}
}

func TestUpstreamTimeoutGives504(t *testing.T) {
	block := make(chan struct{})
	origin := proxytest.StartOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer close(block)
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	opts.ResponseHeaderTimeout = 200 * time.Millisecond
	p := proxytest.Start(t, opts)
	resp, err := p.Client().Get("https://" + loginHost + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "--upstream-timeout") {
		t.Errorf("upstream timeout: got %d %q, want 504 naming --upstream-timeout", resp.StatusCode, body)
	}
	if f := p.WaitFlows(t, 1)[0]; !strings.Contains(f.Error, "timeout") {
		t.Errorf("flow error %q does not say timeout", f.Error)
	}
}

// chainProxy is a minimal CONNECT-only upstream proxy that counts tunnels.
func chainProxy(t *testing.T, target string) (addr string, tunnels *atomic.Int64) {
	t.Helper()
	tunnels = new(atomic.Int64)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != "CONNECT" {
					return
				}
				up, err := net.Dial("tcp", target) // every tunnel goes to the origin
				if err != nil {
					return
				}
				defer up.Close()
				tunnels.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
				go io.Copy(up, br)
				io.Copy(c, up)
			}(c)
		}
	}()
	return l.Addr().String(), tunnels
}

func TestUpstreamProxyChainsInterceptedAndTunnelledTraffic(t *testing.T) {
	origin := proxytest.StartOrigin(t, http.HandlerFunc(entraLike))
	chain, tunnels := chainProxy(t, origin.Addr())
	opts := proxy.Default()
	opts.UpstreamRoots = origin.Roots()
	opts.UpstreamProxy = &url.URL{Scheme: "http", Host: chain}
	p := proxytest.Start(t, opts)
	resp, err := p.Client().Get("https://" + loginHost + "/via-chain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || tunnels.Load() != 1 {
		t.Fatalf("intercepted request: status %d, %d tunnels through the upstream proxy; want 200 and 1", resp.StatusCode, tunnels.Load())
	}
	conn := connectThrough(t, p.Addr, "www.example.com:443")
	tc := tls.Client(conn, &tls.Config{ServerName: "www.example.com", RootCAs: origin.CA.Pool()})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("tunnel through the upstream proxy: %v", err)
	}
	tc.Close()
	if tunnels.Load() != 2 {
		t.Errorf("tunnelled host did not go through the upstream proxy (%d tunnels)", tunnels.Load())
	}
}

// An upstream that sends its head and then goes silent is cut after the
// idle timeout, and the flow says so; a stream of server-sent events is not.
func TestSilentUpstreamBodyIsCutAfterTheIdleTimeout(t *testing.T) {
	block := make(chan struct{})
	origin := proxytest.StartOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "first part")
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer close(block)
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	opts.IdleTimeout = 300 * time.Millisecond
	p := proxytest.Start(t, opts)
	start := time.Now()
	client := p.Client()
	client.Timeout = 20 * time.Second // without the idle timeout the test fails here, not hangs
	resp, err := client.Get("https://" + loginHost + "/silent")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "first part") || time.Since(start) > 20*time.Second {
		t.Errorf("client got %q", body)
	}
	if f := p.WaitFlows(t, 1)[0]; !strings.Contains(f.Error, "--idle-timeout") {
		t.Errorf("flow error %q does not name the idle timeout", f.Error)
	}

	// Server-sent events may be quiet for long: still open after the timeout.
	resp, err = p.Client().Get("https://" + loginHost + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		got <- err
	}()
	select {
	case err := <-got:
		t.Errorf("an event stream was cut after %v: %v", time.Since(start), err)
	case <-time.After(3 * opts.IdleTimeout):
	}
}

// TestClientClosingAfterTheHandshakeGetsTheTrustHint: .NET and Windows
// SChannel check the certificate after the handshake, then close the
// connection instead of sending a request. A client that sends its request
// gets no such notice, and neither does a spare connection dropped unused
// on a host where requests already go through (a browser's preconnect).
func TestClientClosingAfterTheHandshakeGetsTheTrustHint(t *testing.T) {
	hangUp := func(p *proxytest.Proxy) {
		t.Helper()
		conn := connectThrough(t, p.Addr, loginHost+":443")
		tc := tls.Client(conn, &tls.Config{ServerName: loginHost, InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		tc.Close() // as a client that found the certificate untrusted
	}
	get := func(p *proxytest.Proxy) {
		t.Helper()
		resp, err := p.Client().Get("https://" + loginHost + "/first")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	p, _ := startPair(t, proxy.Default())
	hangUp(p)
	n := p.WaitNotice(t, func(n proxy.Notice) bool { return n.Level == "warning" && n.Host == loginHost })
	if !strings.Contains(n.Message, "right after the TLS handshake") || !strings.Contains(n.Hint, "aadproxy ca install") || !strings.Contains(n.Hint, ".NET") {
		t.Errorf("notice %+v: want the close after the handshake and the trust hint for .NET", n)
	}
	get(p)
	if got := len(p.Notices()); got != 1 {
		t.Errorf("%d notices, want only the one for the closed connection: %+v", got, p.Notices())
	}

	spare, _ := startPair(t, proxy.Default())
	get(spare)
	hangUp(spare)
	time.Sleep(300 * time.Millisecond) // the proxy reads the close at once; give it time to (wrongly) speak
	for _, n := range spare.Notices() {
		if n.Level == "warning" {
			t.Errorf("a spare connection dropped after requests went through was reported: %+v", n)
		}
	}
}
