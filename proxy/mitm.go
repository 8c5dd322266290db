package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// serveMITM takes over a CONNECT connection for an intercepted host. It
// answers the CONNECT, terminates TLS with a leaf from our own CA, and serves
// the decrypted requests with a per-connection net/http server whose handler
// is goproxy. Doing the handshake and HTTP parsing here, rather than in
// goproxy's MITM loop, lets aadproxy report a client that rejects the CA,
// answer a malformed request with a 400 (goproxy's loop only closes the
// connection) and choose the protocol the client speaks: h2 when the client
// and the upstream both speak it (see h2.go), else http/1.1.
func (p *Proxy) serveMITM(connect *http.Request, host string, client net.Conn) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		return
	}
	hostname := normalizeHost(host)
	br := bufio.NewReader(client)
	client.SetReadDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	first, err := br.Peek(1)
	client.SetReadDeadline(time.Time{})
	if err != nil {
		client.Close()
		return
	}
	var conn net.Conn = &bufferedConn{Conn: client, r: br}
	scheme := "http"
	var clientTLS *flow.TLSInfo
	if first[0] == 0x16 { // TLS handshake record
		scheme = "https"
		hc := newHandshakeConn(conn) // for the alert of a client that rejects the CA
		conn = hc
		cfg := p.issuer.ServerConfig(hostname)
		if p.h2 != nil {
			p.offerH2(cfg, host)
		}
		tc := tls.Server(conn, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.reportHandshake(hostname, err, hc)
			tc.Close()
			return
		}
		hc.handshakeDone()
		cs := tc.ConnectionState()
		clientTLS = tlsInfo(&cs)
		conn = p.watchEarlyClose(tc, hostname)
		if cs.NegotiatedProtocol == "h2" {
			p.serveH2(conn, hostname, host, connect.RemoteAddr, clientTLS, tagOf(connect))
			return
		}
	}
	inner := newTapConn(conn)
	clientAddr := connect.RemoteAddr
	tag := tagOf(connect)
	inner.onServerError = func(reply []byte) {
		p.recordServerError(scheme, hostname, inner, reply, clientAddr, clientTLS)
	}
	marked := false // requests on one connection are served one at a time
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !marked && scheme == "https" {
				p.decrypted.Store(hostname, struct{}{})
				marked = true
			}
			inner.setPending(true)
			ri := &reqInfo{capture: true, start: time.Now(), clientAddr: clientAddr, clientTLS: clientTLS, tag: tag}
			ri.header, _ = inner.takeRequestHead(r.Method, r.RequestURI)
			r.URL.Scheme = scheme
			if r.Host == "" {
				r.Host = host
			}
			r.URL.Host = r.Host
			r.RemoteAddr = clientAddr
			p.gp.ServeHTTP(w, withReqInfo(r, ri))
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateIdle || s == http.StateHijacked {
				inner.setPending(false)
			}
		},
		ReadHeaderTimeout: p.opts.RequestHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	l := &oneConnListener{conn: inner, closed: make(chan struct{})}
	inner.onClose = l.done
	srv.Serve(l)
	<-l.closed // keep tracking until the connection ends
}

// reportHandshake turns a failed client handshake into a notice. A client
// that does not trust our CA says so, each kind in its own way
// (describeHandshake); tell the user how to trust it.
func (p *Proxy) reportHandshake(host string, err error, hc *handshakeConn) {
	msg, hint, _ := describeHandshake(host, err, hc)
	p.noticeOnce(host, Notice{Level: "warning", Host: host, Message: msg, Hint: hint})
}

// watchEarlyClose reports a client that closes the connection, or sends an
// alert, right after a successful handshake instead of a request: .NET and
// SChannel check the certificate only then. A bare close to a host where
// clients already send requests is a browser dropping a spare connection
// it opened ahead of need, and is not reported.
func (p *Proxy) watchEarlyClose(c net.Conn, host string) net.Conn {
	return &firstReadConn{Conn: c, since: time.Now(), report: func(err error) {
		msg, hint, ok := describeEarlyClose(host, err)
		if !ok {
			return
		}
		if _, served := p.decrypted.Load(host); served && hangup(err) {
			return // a browser dropping a spare (preconnected) connection
		}
		p.noticeOnce(host, Notice{Level: "warning", Host: host, Message: msg, Hint: hint})
	}}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return false
	}
	p.mitm[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mitm, c)
	p.mu.Unlock()
}

// bufferedConn replays bytes peeked from a connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// oneConnListener hands one connection to an http.Server.
type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
	taken  bool
	mu     sync.Mutex
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.taken {
		return nil, net.ErrClosed
	}
	l.taken = true
	return l.conn, nil
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
func (l *oneConnListener) done()          { l.once.Do(func() { close(l.closed) }) }
