// Package proxy is aadproxy's MITM engine: it accepts proxy connections,
// decides per host whether to decrypt (Scope), relays traffic through
// goproxy, and turns each intercepted exchange into a flow.Flow.
//
// goproxy's types stay inside this package. Its unsafe defaults are
// overridden here: the built-in CA (whose private key is public) is never
// used, the upstream transport verifies certificates, the environment's
// proxy variables are ignored, and Accept-Encoding is passed through. The
// package must not decode or judge traffic (inspect/ does) nor write files
// (trace/ does).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
	"golang.org/x/net/http2"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
)

// Notice is something the user should know that is not a flow: a host
// tunnelled for a reason, a client that rejected the CA.
type Notice struct {
	Level   string `json:"level"` // "info" or "warning"
	Host    string `json:"host"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Events receives what the proxy produces. Both callbacks are called from
// request goroutines. Notice must not block. Flow is called once the
// exchange is complete; it may wait, within a bound, for a working recorder
// (internal/pipeline's back-pressure), but must never wait without one.
type Events struct {
	Flow   func(*flow.Flow)
	Notice func(Notice)
}

// Proxy is a running MITM proxy. Create it with New and serve it with Serve.
type Proxy struct {
	opts   Options
	scope  *Scope
	ca     *certs.CA
	issuer *certs.Issuer
	up     *upstream
	tr     *http.Transport
	gp     *goproxy.ProxyHttpServer
	events Events
	srv    *http.Server
	// h2 carries HTTP/2 clients' requests upstream; nil with Options.HTTP1
	// (or an upstream proxy), when every decrypted connection is HTTP/1.1.
	h2     *h2Upstream
	h2srv  *http2.Server
	h2base *http.Server

	mu      sync.Mutex
	mitm    map[net.Conn]struct{} // hijacked connections, closed on shutdown
	noticed map[string]bool
	// decrypted holds the hosts a client has sent a request to through a
	// decrypted connection: some client there trusts the CA, so a spare
	// connection it drops unused is no sign of distrust.
	decrypted sync.Map
	budget    captureBudget
	shutdown  bool
}

// New builds a proxy that signs leaves with ca.
func New(opts Options, ca *certs.CA, ev Events) (*Proxy, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts // never modify the caller's options
	def := Default()
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = def.ResponseHeaderTimeout
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = def.HandshakeTimeout
	}
	if o.CaptureMemory == 0 {
		o.CaptureMemory = def.CaptureMemory
	}
	if o.RequestHeaderTimeout == 0 {
		o.RequestHeaderTimeout = def.RequestHeaderTimeout
	}
	scope, err := NewScope(o.Intercept, o.InterceptAll)
	if err != nil {
		return nil, err
	}
	up, err := newUpstream(o)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		opts:    o,
		scope:   scope,
		ca:      ca,
		issuer:  certs.NewIssuer(ca, certs.IssuerOptions{}),
		up:      up,
		tr:      up.transport(),
		events:  ev,
		mitm:    map[net.Conn]struct{}{},
		noticed: map[string]bool{},
	}
	p.budget.left.Store(o.CaptureMemory)
	if !o.HTTP1 && o.UpstreamProxy == nil {
		// Chained, the HTTP/1.1 transport speaks CONNECT and TLS itself:
		// there is no tapped connection to run HTTP/2 over.
		p.h2 = newH2Upstream(up, p.tr, o.ResponseHeaderTimeout)
		p.h2srv, p.h2base = newH2Server()
	}
	p.gp = p.newEngine()
	p.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serveProxy),
		ReadHeaderTimeout: o.RequestHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, tapKey{}, c)
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			tc, ok := c.(*tapConn)
			switch {
			case !ok:
			case s == http.StateIdle:
				tc.setPending(false)
			case s == http.StateHijacked:
				// CONNECT: the bytes from here on are a tunnel or our MITM's,
				// not HTTP for this server to parse or reply to.
				tc.detach()
			}
		},
	}
	return p, nil
}

type tapKey struct{}

// newEngine configures goproxy with aadproxy's overrides.
func (p *Proxy) newEngine() *goproxy.ProxyHttpServer {
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = log.New(io.Discard, "", 0)
	gp.Tr = p.tr                 // verification on, no environment proxy
	gp.KeepAcceptEncoding = true // the client negotiates compression with the origin
	gp.KeepDestinationHeaders = false
	gp.AllowHTTP2 = false // goproxy's h2 MITM path skips request handlers (issue #766)
	gp.CertStore = nil    // leaves come from our own issuer, never GoproxyCa
	gp.ConnectDial = nil
	gp.ConnectDialWithReq = func(req *http.Request, network, addr string) (net.Conn, error) {
		return p.dialTunnel(req.Context(), network, addr)
	}
	gp.NonproxyHandler = http.HandlerFunc(p.serveLocal)
	gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		ctx.RoundTripper = goproxy.RoundTripperFunc(func(req *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
			return p.roundTrip(req)
		})
		return r, nil
	})
	gp.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		d, reason := p.scope.Decide(host)
		if reason != "" {
			p.noticeOnce(host, Notice{Level: "info", Host: normalizeHost(host), Message: "tunnelled untouched: " + reason})
		}
		if d == Intercept && !p.ca.Permits(host) {
			// A leaf for it would fail every client's validation.
			d = Tunnel
			p.noticeOnce(host, Notice{Level: "warning", Host: normalizeHost(host),
				Message: "tunnelled, not decrypted: the CA's name constraints do not cover " + normalizeHost(host),
				Hint:    "to decrypt it, widen them: aadproxy ca regenerate --constrain --intercept " + normalizeHost(host) + " (then trust the new CA)"})
		}
		if d == Tunnel {
			return &goproxy.ConnectAction{Action: goproxy.ConnectAccept}, host
		}
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
			p.serveMITM(req, host, client)
		}}, host
	})
	return gp
}

// dialTunnel reaches the target of a tunnelled CONNECT, through the
// upstream proxy when one is configured.
func (p *Proxy) dialTunnel(ctx context.Context, network, addr string) (net.Conn, error) {
	if u := p.opts.UpstreamProxy; u != nil {
		dial := p.gp.NewConnectDialToProxy(u.String())
		if dial == nil {
			return nil, fmt.Errorf("upstream proxy %s: unsupported", u)
		}
		return dial(network, addr)
	}
	return p.up.dialTCP(ctx, network, addr)
}

// Serve accepts proxy clients on l until Shutdown. Its port joins the
// addresses the proxy never connects to (Guard).
func (p *Proxy) Serve(l net.Listener) error { return p.ServeTagged(l, "") }

// ServeTagged is Serve with every flow of l's clients tagged tag (aadproxy
// run --attach: a listener of the command's own on a running proxy). A
// proxy may serve several listeners at once.
func (p *Proxy) ServeTagged(l net.Listener, tag string) error {
	p.Guard(l.Addr(), "aadproxy itself")
	if listensBeyondLoopback(l.Addr()) {
		// Its clients are other machines: this machine's own networks are
		// not theirs to reach.
		p.up.guard.restrict(true, p.opts.AllowUpstream)
	}
	err := p.srv.Serve(tapListener{Listener: l, p: p, tag: tag})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Guard makes the proxy refuse every upstream connection to addr's port on
// a local address, however the client named it: what for aadproxy's own
// listeners (the web inspector) so a page sent through the proxy cannot
// reach them. what names the listener in the error the client gets.
func (p *Proxy) Guard(addr net.Addr, what string) { p.up.guard.protect(addr, what) }

// Shutdown stops accepting, closes intercepted connections and waits for
// plain requests in flight until ctx ends. Flows cut short are still
// emitted, with an error.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.shutdown = true
	for c := range p.mitm {
		c.Close()
	}
	p.mu.Unlock()
	err := p.srv.Shutdown(ctx)
	p.tr.CloseIdleConnections()
	if p.h2 != nil {
		p.h2.close()
	}
	p.up.spares.closeAll()
	return err
}

// serveProxy handles every request on the proxy's own listener.
func (p *Proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	tap, _ := r.Context().Value(tapKey{}).(*tapConn)
	if tap != nil {
		tap.setPending(true)
	}
	if (r.Method == http.MethodConnect || r.URL.IsAbs()) && !p.admit(w, r) {
		return
	}
	if r.Method == http.MethodConnect || !r.URL.IsAbs() {
		p.gp.ServeHTTP(w, r)
		return
	}
	d, _ := p.scope.Decide(r.URL.Host)
	ri := &reqInfo{capture: d == Intercept, start: time.Now(), clientAddr: r.RemoteAddr, tag: tagOf(r)}
	if ri.capture && tap != nil {
		ri.header, _ = tap.takeRequestHead(r.Method, r.RequestURI)
	}
	p.gp.ServeHTTP(w, withReqInfo(r, ri))
}

// serveLocal answers requests addressed to the proxy itself: a short page
// and the CA certificate, so a device can fetch it through the proxy.
func (p *Proxy) serveLocal(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ca.pem", "/aadproxy-ca.pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Content-Disposition", `attachment; filename="aadproxy-ca.pem"`)
		w.Write(p.ca.CertPEM())
	case "/":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "aadproxy is running.\n\nUse this address as your HTTP and HTTPS proxy.\nCA certificate to trust: /ca.pem (SHA-256 %s)\n", p.ca.Fingerprint())
	default:
		http.Error(w, "aadproxy: this is a proxy; send absolute-form requests or CONNECT", http.StatusNotFound)
	}
}

func (p *Proxy) noticeOnce(host string, n Notice) {
	key := normalizeHost(host) + "\x00" + n.Message
	p.mu.Lock()
	seen := p.noticed[key]
	p.noticed[key] = true
	p.mu.Unlock()
	if !seen {
		p.emitNotice(n)
	}
}

func (p *Proxy) emitNotice(n Notice) {
	if p.events.Notice != nil {
		p.events.Notice(n)
	}
}

func (p *Proxy) emitFlow(f *flow.Flow) {
	if p.events.Flow != nil {
		p.events.Flow(f)
	}
}

// recordServerError turns net/http's own reply to a malformed request, or
// the tap's 408 to a client too slow to send its head, into a flow, so the
// bad input is visible and recorded.
func (p *Proxy) recordServerError(scheme, host string, tap *tapConn, reply []byte, clientAddr string, clientTLS *flow.TLSInfo) {
	statusLine, rest, _ := strings.Cut(string(reply), "\r\n")
	_, body, _ := strings.Cut(rest, "\r\n\r\n")
	status := statusOf([]byte(statusLine))
	if status < 0 {
		status = http.StatusBadRequest
	}
	errText := "malformed request from the client: " + strings.TrimSpace(body)
	if cut, n := tap.headTimeout(); cut {
		errText = fmt.Sprintf("client sent no complete request head within %s (%d bytes of it, then nothing)", p.opts.RequestHeaderTimeout, n)
	}
	sent := tap.recent(4096)
	now := time.Now()
	f := &flow.Flow{
		Index: -1,
		Tag:   p.opts.Tag,
		Request: &flow.Request{
			Method: "", URL: scheme + "://" + host + "/", Proto: "",
			Body: flow.Body{Raw: sent, Size: int64(len(sent))},
		},
		Response: &flow.Response{
			Status: status, Reason: http.StatusText(status), Proto: "HTTP/1.1", Synthetic: true,
			Header: flow.Headers{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}, {Name: "Connection", Value: "close"}},
			Body:   flow.Body{Raw: []byte(body), Size: int64(len(body))},
		},
		Error:      errText,
		Timings:    flow.Timings{Start: now, DNS: -1, Connect: -1, TLS: -1, Send: -1, Wait: -1, Receive: -1},
		ClientAddr: clientAddr,
		ClientTLS:  clientTLS,
		Done:       now,
	}
	p.emitFlow(f)
}

// tapListener wraps accepted connections in taps, so wire headers can be
// recovered and net/http's own 400 replies to malformed requests recorded.
type tapListener struct {
	tag string
	net.Listener
	p *Proxy
}

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := newTapConn(c)
	tc.tag = l.tag
	client := c.RemoteAddr().String()
	tc.onServerError = func(reply []byte) {
		l.p.recordServerError("http", "aadproxy", tc, reply, client, nil)
	}
	return tc, nil
}

// ClientURL returns the URL clients use for a proxy listening on addr, for
// their Transport.Proxy.
func ClientURL(addr string) *url.URL { return &url.URL{Scheme: "http", Host: addr} }

// tagOf is the tag of the listener r's connection came in on.
func tagOf(r *http.Request) string {
	if tc, ok := r.Context().Value(tapKey{}).(*tapConn); ok {
		return tc.tag
	}
	return ""
}
