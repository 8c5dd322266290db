package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// upstream makes connections to origin servers: map-remote, the optional
// loopback-only dialer, TLS with verification on, and a tap on each
// connection so response headers keep their wire casing.
type upstream struct {
	opts      Options
	dial      DialFunc
	tlsConfig *tls.Config
	guard     *guard
	// checksEach says the dialer applies the policy to each address it
	// dials (the default dialer), so names need no resolving first.
	checksEach bool
	// h2Config offers h2 before http/1.1 (HTTP/2 probes and dials).
	h2Config *tls.Config
	// spares holds connections that HTTP/2 probes made to upstreams that
	// chose http/1.1, for the HTTP/1.1 transport's next dial there.
	spares spares
}

func newUpstream(o Options) (*upstream, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, c := range o.UpstreamRoots {
		roots.AddCert(c)
	}
	u := &upstream{opts: o, dial: o.Dial, guard: newGuard()}
	u.guard.restrict(false, o.AllowUpstream)
	if u.dial == nil {
		// The policy sees every address this dialer tries, after resolution.
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: u.guard.control}
		u.dial = d.DialContext
		u.checksEach = true
	}
	u.tlsConfig = &tls.Config{
		RootCAs:    roots,
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
	u.tlsConfig.InsecureSkipVerify = o.UpstreamInsecure
	u.h2Config = u.tlsConfig.Clone()
	u.h2Config.NextProtos = []string{"h2", "http/1.1"}
	return u, nil
}

// mapAddr applies --map-remote to addr ("host:port").
func (u *upstream) mapAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	to, ok := u.opts.MapRemote[normalizeHost(host)]
	if !ok {
		return addr
	}
	if _, _, err := net.SplitHostPort(to); err == nil {
		return to
	}
	return net.JoinHostPort(to, port)
}

// dialTCP dials addr after map-remote; used for CONNECT tunnels and plain HTTP.
// The guard refuses aadproxy's own listeners, whatever name reached them.
func (u *upstream) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	to := u.mapAddr(addr)
	if to != addr {
		// --map-remote names its target: the policy's ranges do not apply.
		ctx = context.WithValue(ctx, exemptKey{}, true)
	}
	to, err := u.guard.check(ctx, to, u.checksEach)
	if err != nil {
		return nil, err
	}
	return u.dial(ctx, network, to)
}

// dialPlain dials for plain-HTTP requests and taps the connection.
func (u *upstream) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	start := time.Now()
	c, err := u.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := newTapConn(c)
	tc.dialTime = time.Since(start)
	return tc, nil
}

// dialTLS dials and completes the TLS handshake itself, so the tap sees
// plaintext and the handshake can be timed. SNI is the host the client asked
// for, even when map-remote sends the bytes elsewhere. A connection left by
// an HTTP/2 probe that the upstream answered with http/1.1 is used first, so
// the probe's handshake is not paid twice.
func (u *upstream) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := u.spares.take(addr); c != nil {
		return c, nil
	}
	return u.dialTLSWith(ctx, network, addr, u.tlsConfig)
}

// dialTLSWith is dialTLS with base's ALPN protocols, and never a spare.
func (u *upstream) dialTLSWith(ctx context.Context, network, addr string, base *tls.Config) (*tapConn, error) {
	start := time.Now()
	raw, err := u.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	dialed := time.Since(start)
	host, _, _ := net.SplitHostPort(addr)
	cfg := base.Clone()
	cfg.ServerName = host
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, u.opts.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	cs := tc.ConnectionState()
	tap := newTapConn(tc)
	tap.tlsState = &cs
	tap.dialTime = dialed
	tap.tlsTime = time.Since(start) - dialed
	return tap, nil
}

// transport builds the upstream http.Transport. Compression stays off so
// the client receives the origin's bytes untouched; idle connections are
// kept generously because net/http's default of 2 per host throttles a
// proxy (see PERF.md).
func (u *upstream) transport() *http.Transport {
	tr := &http.Transport{
		Proxy:                 nil, // never the environment
		DialContext:           u.dialPlain,
		DialTLSContext:        u.dialTLS,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: u.opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   u.opts.HandshakeTimeout,
	}
	if u.opts.UpstreamProxy != nil {
		// Chained: the transport speaks CONNECT to the upstream proxy and does
		// TLS itself; DialTLSContext is bypassed, so headers fall back to
		// net/http's canonical casing.
		tr.Proxy = http.ProxyURL(u.opts.UpstreamProxy)
		tr.DialContext = u.dialTCP
		tr.DialTLSContext = nil
		tr.TLSClientConfig = u.tlsConfig.Clone()
	}
	return tr
}
