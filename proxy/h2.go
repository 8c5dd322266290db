package proxy

// HTTP/2. aadproxy terminates the client's TLS itself, so it chooses the
// protocol the client speaks. It offers h2 only when the upstream speaks it:
// during the client's ClientHello it asks the upstream (ALPN h2, http/1.1),
// remembers the answer per host:port, and keeps the connection it made for
// the requests that follow, so no handshake is paid twice. A client on h2
// is served by x/net's HTTP/2 server with the same handler as HTTP/1.1, and
// its requests go upstream over x/net's HTTP/2 client connections on tapped
// connections (net/http would never negotiate h2 over a connection that is
// not a *tls.Conn). A client on HTTP/1.1 is relayed over HTTP/1.1, as
// before: WebSocket upgrades, wire header casing and order stay where they
// exist.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/aadproxy/aadproxy/flow"
)

const (
	// alpnTTL is how long an upstream's ALPN answer is trusted; after it
	// the next h2-capable client's handshake asks again.
	alpnTTL = 10 * time.Minute
	// alpnMax bounds the cache: a proxy that sees more hosts forgets
	// expired answers, then arbitrary ones, and asks again.
	alpnMax = 4096
	// probeTimeout bounds how long a client's handshake waits for the
	// upstream's answer; a slower (or unreachable) upstream gets
	// http/1.1, and the request then meets today's errors (502, 504).
	probeTimeout = 5 * time.Second
	// spareTTL is how long a probe's HTTP/1.1 connection waits for the
	// request that follows the client's handshake.
	spareTTL = 2 * time.Second
	// failedProbeTTL is how long an upstream that could not be asked (down,
	// or slower than probeTimeout) is taken to speak http/1.1.
	failedProbeTTL = 30 * time.Second
	// sparesPerHost bounds probe connections kept per host:port.
	sparesPerHost = 4
	// h2IdleTimeout closes upstream HTTP/2 connections idle this long,
	// like the HTTP/1.1 transport's idle connections.
	h2IdleTimeout = 90 * time.Second
)

// errNotH2 says an upstream answered an HTTP/2 dial with http/1.1; the
// request goes over HTTP/1.1 instead.
var errNotH2 = errors.New("upstream chose http/1.1")

// errH2HeaderTimeout is the HTTP/2 side's --upstream-timeout; its text is
// the one net/http uses, so the client gets the same 504 and hint.
var errH2HeaderTimeout = errors.New("http2: timeout awaiting response headers")

// addrKey is host:port in one spelling (lowercase, no trailing dot, port
// 443 when none is given), the key of the ALPN cache and the pools.
func addrKey(addr string) string {
	port := "443"
	if _, p, err := net.SplitHostPort(addr); err == nil {
		port = p
	}
	return net.JoinHostPort(normalizeHost(addr), port)
}

// alpnCache remembers whether each upstream host:port speaks h2.
type alpnCache struct {
	mu sync.Mutex
	m  map[string]alpnAnswer
}

type alpnAnswer struct {
	h2    bool
	until time.Time
}

func (c *alpnCache) get(key string) (h2, ok bool) {
	c.mu.Lock()
	a, found := c.m[key]
	c.mu.Unlock()
	if !found || time.Now().After(a.until) {
		return false, false
	}
	return a.h2, true
}

func (c *alpnCache) set(key string, h2 bool) { c.setFor(key, h2, alpnTTL) }

// setFor is set with an answer trusted for ttl.
func (c *alpnCache) setFor(key string, h2 bool, ttl time.Duration) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]alpnAnswer{}
	}
	if _, found := c.m[key]; !found && len(c.m) >= alpnMax {
		for k, a := range c.m {
			if now.After(a.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < alpnMax {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = alpnAnswer{h2: h2, until: now.Add(ttl)}
}

// spares holds the HTTP/1.1 connections of probes, each for a short while.
type spares struct {
	n  atomic.Int32 // how many are held: the HTTP/1.1 dial path reads only this when none is
	mu sync.Mutex
	m  map[string][]*spare
}

type spare struct {
	c     *tapConn
	timer *time.Timer
}

// put keeps c for the next take of key, closing it after spareTTL.
func (s *spares) put(key string, c *tapConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m[key]) >= sparesPerHost {
		c.Close()
		return
	}
	if s.m == nil {
		s.m = map[string][]*spare{}
	}
	sp := &spare{c: c}
	sp.timer = time.AfterFunc(spareTTL, func() {
		if s.remove(key, sp) {
			c.Close()
		}
	})
	s.m[key] = append(s.m[key], sp)
	s.n.Add(1)
}

// take returns a held connection for addr (host:port), or nil.
func (s *spares) take(addr string) *tapConn {
	if s.n.Load() == 0 {
		return nil // the usual case: no key to spell, no lock
	}
	key := addrKey(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[key]
	if len(list) == 0 {
		return nil
	}
	sp := list[len(list)-1]
	s.drop(key, len(list)-1)
	sp.timer.Stop()
	return sp.c
}

func (s *spares) remove(key string, sp *spare) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.m[key], sp); i >= 0 {
		s.drop(key, i)
		return true
	}
	return false
}

func (s *spares) drop(key string, i int) {
	list := slices.Delete(s.m[key], i, i+1)
	if len(list) == 0 {
		delete(s.m, key)
	} else {
		s.m[key] = list
	}
	s.n.Add(-1)
}

// closeAll closes every held connection (Shutdown).
func (s *spares) closeAll() {
	s.mu.Lock()
	m := s.m
	s.m = nil
	s.n.Store(0)
	s.mu.Unlock()
	for _, list := range m {
		for _, sp := range list {
			sp.timer.Stop()
			sp.c.Close()
		}
	}
}

// h2Upstream carries HTTP/2 clients' requests upstream: over HTTP/2 where
// the upstream speaks it, else over the HTTP/1.1 transport. It is the
// ConnPool of its x/net Transport, so the connections it dials (and those
// probes made) are tapped ones, timed like HTTP/1.1's.
type h2Upstream struct {
	u      *upstream
	t      *http2.Transport
	h1     http.RoundTripper
	alpn   alpnCache
	header time.Duration // --upstream-timeout

	mu     sync.Mutex
	conns  map[string][]*http2.ClientConn
	dials  map[string]*h2Dial
	closed bool
}

// h2Dial is one dial in progress for a host:port; everyone who needs a
// connection there waits for it.
type h2Dial struct {
	done chan struct{}
	err  error
}

func newH2Upstream(u *upstream, h1 http.RoundTripper, headerTimeout time.Duration) *h2Upstream {
	h := &h2Upstream{u: u, h1: h1, header: headerTimeout,
		conns: map[string][]*http2.ClientConn{}, dials: map[string]*h2Dial{}}
	h.t = &http2.Transport{
		ConnPool:           h,
		DisableCompression: true, // the client's Accept-Encoding goes as sent
		IdleConnTimeout:    h2IdleTimeout,
		ReadIdleTimeout:    60 * time.Second, // then a ping finds a dead connection
		PingTimeout:        15 * time.Second,
	}
	return h
}

// probe reports whether the upstream at hostport speaks h2, asking it when
// the cache does not know. The connection a probe makes is kept: an h2 one
// joins the pool, an http/1.1 one waits for the HTTP/1.1 transport's dial.
// An unreachable upstream, or one slower than probeTimeout, is false, and
// remembered so for failedProbeTTL: each client connection would
// otherwise wait for it again.
func (h *h2Upstream) probe(ctx context.Context, hostport string) bool {
	key := addrKey(hostport)
	if h2, ok := h.alpn.get(key); ok {
		return h2
	}
	d := h.startDial(ctx, key, hostport)
	if d == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	select {
	case <-d.done:
		if d.err != nil && !errors.Is(d.err, errNotH2) {
			h.alpn.setFor(key, false, failedProbeTTL)
		}
		return d.err == nil
	case <-ctx.Done():
		h.alpn.setFor(key, false, failedProbeTTL)
		return false
	}
}

// startDial returns the dial in progress for key, starting one if needed;
// nil once closed.
func (h *h2Upstream) startDial(ctx context.Context, key, addr string) *h2Dial {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	if d := h.dials[key]; d != nil {
		return d
	}
	d := &h2Dial{done: make(chan struct{})}
	h.dials[key] = d
	// The dial outlives a caller that stops waiting: its connection is
	// still good for the next request.
	go h.dial(context.WithoutCancel(ctx), key, addr, d)
	return d
}

func (h *h2Upstream) dial(ctx context.Context, key, addr string, d *h2Dial) {
	err := h.dialOnce(ctx, key, addr)
	h.mu.Lock()
	delete(h.dials, key)
	d.err = err
	h.mu.Unlock()
	close(d.done)
}

func (h *h2Upstream) dialOnce(ctx context.Context, key, addr string) error {
	tap, err := h.u.dialTLSWith(ctx, "tcp", addr, h.u.h2Config)
	if err != nil {
		return err
	}
	if tap.tlsState.NegotiatedProtocol != "h2" {
		h.alpn.set(key, false)
		h.u.spares.put(key, tap)
		return errNotH2
	}
	h.alpn.set(key, true)
	tap.plain = true
	cc, err := h.t.NewClientConn(tap)
	if err != nil {
		tap.Close()
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		cc.Close()
		return net.ErrClosed
	}
	h.conns[key] = append(h.conns[key], cc)
	h.mu.Unlock()
	return nil
}

// GetClientConn is the x/net Transport's way to a connection: a pooled one
// with room for a stream, else one dialed for it.
func (h *h2Upstream) GetClientConn(req *http.Request, addr string) (*http2.ClientConn, error) {
	key := addrKey(addr)
	for range 3 {
		h.mu.Lock()
		for _, cc := range h.conns[key] {
			if cc.ReserveNewRequest() {
				h.mu.Unlock()
				return cc, nil
			}
		}
		h.mu.Unlock()
		d := h.startDial(req.Context(), key, addr)
		if d == nil {
			return nil, net.ErrClosed
		}
		select {
		case <-d.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	return nil, errors.New("http2: no upstream connection could take the request")
}

// MarkDead forgets a connection that closed or went away.
func (h *h2Upstream) MarkDead(cc *http2.ClientConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, list := range h.conns {
		if i := slices.Index(list, cc); i >= 0 {
			list = slices.Delete(list, i, i+1)
			if len(list) == 0 {
				delete(h.conns, key)
			} else {
				h.conns[key] = list
			}
			return
		}
	}
}

// RoundTrip sends an HTTP/2 client's request upstream.
func (h *h2Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if h2, ok := h.alpn.get(addrKey(req.URL.Host)); ok && !h2 {
		return h.h1.RoundTrip(req)
	}
	if h.header <= 0 {
		return h.roundTripH2(req, req)
	}
	// x/net's Transport has no ResponseHeaderTimeout of its own. As
	// net/http's, the wait counts from the request's last byte written;
	// once the response is in, the timer can no longer cancel it.
	ctx, cancel := context.WithCancelCause(req.Context())
	ht := &headerTimer{cancel: cancel}
	ht.timer = time.AfterFunc(time.Hour, ht.fire)
	ht.timer.Stop()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { ht.arm(h.header) },
	})
	resp, err := h.roundTripH2(req, req.WithContext(ctx))
	if ht.answered() {
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, errH2HeaderTimeout
	}
	if err != nil || resp.Body == nil {
		cancel(nil)
		return resp, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// headerTimer is --upstream-timeout for one HTTP/2 request.
type headerTimer struct {
	timer  *time.Timer
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	done     bool // the round trip returned
	timedOut bool
}

// arm starts the wait, unless the answer is already in (x/net may report
// the request written after the response arrived).
func (t *headerTimer) arm(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.done {
		t.timer.Reset(d)
	}
}

func (t *headerTimer) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.done {
		t.timedOut = true
		t.cancel(errH2HeaderTimeout)
	}
}

// answered ends the timer and reports whether it had fired first.
func (t *headerTimer) answered() (timedOut bool) {
	t.mu.Lock()
	t.done = true
	timedOut = t.timedOut
	t.mu.Unlock()
	t.timer.Stop()
	return timedOut
}

// roundTripH2 tries HTTP/2 and falls back to HTTP/1.1 when the upstream
// turns out not to speak it (nothing was sent yet), or refuses the request
// over HTTP/2 with HTTP_1_1_REQUIRED: IIS and http.sys do that for Windows
// authentication (AD FS's integrated sign-in), and a browser talking to
// them directly retries over HTTP/1.1. The host is then remembered as
// HTTP/1.1, as the browser would.
func (h *h2Upstream) roundTripH2(orig, req *http.Request) (*http.Response, error) {
	resp, err := h.t.RoundTrip(req)
	if errors.Is(err, errNotH2) {
		return h.h1.RoundTrip(orig)
	}
	var se http2.StreamError
	if errors.As(err, &se) && se.Code == http2.ErrCodeHTTP11Required {
		retry, ok := resendable(orig)
		if ok {
			h.alpn.set(addrKey(orig.URL.Host), false)
			return h.h1.RoundTrip(retry)
		}
	}
	return resp, err
}

// resendable returns req ready to be sent again, when its body can be: it
// has none, or GetBody makes a new one.
func resendable(req *http.Request) (*http.Request, bool) {
	switch {
	case req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0:
		r := req.Clone(req.Context())
		r.Body = http.NoBody
		return r, true
	case req.GetBody != nil:
		body, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		r := req.Clone(req.Context())
		r.Body = body
		return r, true
	}
	return nil, false
}

// close closes every upstream HTTP/2 connection (Shutdown).
func (h *h2Upstream) close() {
	h.mu.Lock()
	h.closed = true
	var all []*http2.ClientConn
	for _, list := range h.conns {
		all = append(all, list...)
	}
	h.conns = map[string][]*http2.ClientConn{}
	h.mu.Unlock()
	for _, cc := range all {
		cc.Close()
	}
}

// cancelBody ends the request's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// toH2 drops the connection-specific fields of an HTTP/1.1 response that an
// HTTP/2 client is to receive (RFC 9113 §8.2.2): x/net's server passes
// Keep-Alive and Upgrade on, which browsers refuse as a protocol error, and
// takes "Connection: close" to mean closing the client's whole connection.
func toH2(req *http.Request, resp *http.Response) {
	if req.ProtoMajor != 2 || resp.ProtoMajor == 2 {
		return
	}
	h := resp.Header
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
		h.Del(name)
	}
}

// h2Headers lists an HTTP/2 message's header fields as the wire has them:
// lowercase names (HTTP/2 has no casing, and its field order is not kept by
// net/http, so they are sorted), pseudo-headers left out (the method, URL
// and status are the flow's own fields) and, on a request, the cookie
// crumbs already joined with "; " as RFC 9113 §8.2.3 asks.
func h2Headers(h http.Header) flow.Headers {
	out := make(flow.Headers, 0, len(h))
	for _, kv := range canonicalHeaders(h, "") {
		if strings.HasPrefix(kv.Name, ":") {
			continue
		}
		kv.Name = strings.ToLower(kv.Name)
		out = append(out, kv)
	}
	return out
}

// offerH2 makes cfg offer h2 to a client that offers it when the upstream
// at hostport speaks it (asking the upstream during the ClientHello). A
// client offering only h2 gets it whatever the upstream speaks.
func (p *Proxy) offerH2(cfg *tls.Config, hostport string) {
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if !slices.Contains(hello.SupportedProtos, "h2") {
			return nil, nil
		}
		onlyH2 := !slices.Contains(hello.SupportedProtos, "http/1.1")
		if !onlyH2 && !p.h2.probe(hello.Context(), hostport) {
			return nil, nil
		}
		c := cfg.Clone()
		c.GetConfigForClient = nil
		c.NextProtos = []string{"h2", "http/1.1"}
		return c, nil
	}
}

// newH2Server is the HTTP/2 server for decrypted client connections. x/net
// offers no extended CONNECT (RFC 8441) unless GODEBUG asks for it, so a
// browser opens its WebSockets on HTTP/1.1 connections, which goproxy
// relays.
func newH2Server() (*http2.Server, *http.Server) {
	return &http2.Server{IdleTimeout: 2 * time.Minute},
		&http.Server{ErrorLog: log.New(io.Discard, "", 0)}
}

// serveH2 serves a decrypted connection that negotiated h2 until it ends.
// hostname is host (the CONNECT target) without its port.
func (p *Proxy) serveH2(c net.Conn, hostname, host, clientAddr string, clientTLS *flow.TLSInfo, tag string) {
	var marked atomic.Bool
	p.h2srv.ServeConn(c, &http2.ServeConnOpts{
		BaseConfig: p.h2base,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodConnect {
				// A CONNECT inside a decrypted connection has nowhere to go
				// (goproxy would need to hijack an HTTP/2 stream).
				http.Error(w, "aadproxy: CONNECT inside a decrypted HTTP/2 connection is not supported", http.StatusMethodNotAllowed)
				return
			}
			if !marked.Load() && marked.CompareAndSwap(false, true) {
				// This client sends requests here: a spare connection it
				// drops later is not distrust (watchEarlyClose).
				p.decrypted.Store(hostname, struct{}{})
			}
			ri := &reqInfo{capture: true, start: time.Now(), clientAddr: clientAddr, clientTLS: clientTLS, tag: tag,
				header: h2Headers(r.Header)}
			r.URL.Scheme = "https"
			if r.Host == "" {
				r.Host = host
			}
			r.URL.Host = r.Host
			r.RemoteAddr = clientAddr
			p.gp.ServeHTTP(w, withReqInfo(r, ri))
		}),
	})
}
