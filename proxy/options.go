package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxBody is how many bytes of each body are kept for inspection.
// Bodies stream to the client whole whatever the cap.
const DefaultMaxBody = 10 << 20

// DefaultCaptureMemory bounds the bytes held by all captures in progress
// together. Without it, many concurrent downloads would hold clients ×
// MaxBody; with it, a capture that finds the budget spent keeps what it has,
// marked truncated, while the client still receives every byte.
const DefaultCaptureMemory = 128 << 20

// DialFunc dials a network address. Tests give the proxy one that reaches
// loopback only, so nothing a client does in the background leaves the
// machine.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configures a Proxy. Use Default() and change what you need; New
// never modifies the caller's Options.
type Options struct {
	// Intercept adds host patterns to the identity hosts that are decrypted.
	Intercept []string
	// InterceptAll decrypts every host except client-certificate hosts.
	InterceptAll bool
	// MapRemote sends a host's traffic to another address ("host" or
	// "host:port") while keeping the Host header and SNI the client asked for.
	MapRemote map[string]string
	// UpstreamRoots are trusted in addition to the system roots.
	UpstreamRoots []*x509.Certificate
	// UpstreamInsecure skips upstream certificate verification.
	UpstreamInsecure bool
	// UpstreamProxy chains through another proxy. The environment's
	// HTTP(S)_PROXY is never used: a shell that exports aadproxy's own
	// address would make it proxy to itself.
	UpstreamProxy *url.URL
	// MaxBody caps the captured copy of each body.
	MaxBody int64
	// CaptureMemory bounds the bytes held by captures in progress, across
	// every exchange (default DefaultCaptureMemory).
	CaptureMemory int64
	// Tag labels every flow (aadproxy run: the command's name).
	Tag string
	// Auth is "user:password": clients beyond loopback must send it as
	// Proxy-Authorization: Basic (407 otherwise).
	Auth string
	// AllowClients lets clients from these networks in without Auth.
	AllowClients []netip.Prefix
	// AllowUpstream exempts these networks from the dial policy (metadata
	// and link-local always, and this machine's networks when listening
	// beyond loopback).
	AllowUpstream []netip.Prefix
	// Dial replaces the upstream dialer (tests: loopback only).
	Dial DialFunc
	// ResponseHeaderTimeout bounds the wait for an upstream's response head
	// (--upstream-timeout); the client then gets a 504.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout ends a response body whose upstream sends nothing for
	// this long (--idle-timeout); 0 never does. Server-sent events and
	// WebSockets are never cut.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds TLS handshakes with clients and upstreams.
	HandshakeTimeout time.Duration
	// RequestHeaderTimeout bounds how long a client may take to send a
	// request head (slowloris); it then gets a 408 and a flow records it
	// (default DefaultRequestHeaderTimeout).
	RequestHeaderTimeout time.Duration
	// HTTP1 keeps every decrypted connection on HTTP/1.1 (--http1). By
	// default a client that offers h2 gets it when the upstream speaks it.
	// An UpstreamProxy implies HTTP1.
	HTTP1 bool
}

// DefaultRequestHeaderTimeout is how long a client may take to send a
// request head.
const DefaultRequestHeaderTimeout = 30 * time.Second

// Default returns the options aadproxy starts with.
func Default() Options {
	return Options{
		MaxBody:               DefaultMaxBody,
		CaptureMemory:         DefaultCaptureMemory,
		ResponseHeaderTimeout: DefaultUpstreamTimeout,
		IdleTimeout:           DefaultIdleTimeout,
		HandshakeTimeout:      15 * time.Second,
		RequestHeaderTimeout:  DefaultRequestHeaderTimeout,
	}
}

// Validate reports the first problem with o.
func (o Options) Validate() error {
	if o.MaxBody < 0 {
		return errors.New("max body must not be negative")
	}
	if o.CaptureMemory < 0 {
		return errors.New("capture memory must not be negative")
	}
	for host, addr := range o.MapRemote {
		if host == "" || addr == "" {
			return fmt.Errorf("map-remote %q=%q: both sides are needed", host, addr)
		}
	}
	if o.UpstreamProxy != nil && o.UpstreamProxy.Scheme != "http" && o.UpstreamProxy.Scheme != "https" {
		return fmt.Errorf("upstream proxy %s: scheme must be http or https", o.UpstreamProxy)
	}
	if _, err := NewScope(o.Intercept, o.InterceptAll); err != nil {
		return err
	}
	return nil
}

// ParseMapRemote parses "HOST=ADDR" as given to --map-remote.
func ParseMapRemote(s string) (host, addr string, err error) {
	host, addr, ok := strings.Cut(s, "=")
	host, addr = normalizeHost(host), strings.TrimSpace(addr)
	if !ok || host == "" || addr == "" {
		return "", "", fmt.Errorf("map-remote %q: want HOST=ADDR, e.g. login.microsoftonline.com=127.0.0.1:9443", s)
	}
	return host, addr, nil
}

// LoopbackOnly wraps a dialer so it refuses every address that is not on
// the loopback interface. Tests use it to prove nothing leaves the machine.
func LoopbackOnly(next DialFunc) DialFunc {
	if next == nil {
		var d net.Dialer
		next = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("dial %s: refused, this proxy may reach loopback only", addr)
		}
		return next(ctx, network, addr)
	}
}
