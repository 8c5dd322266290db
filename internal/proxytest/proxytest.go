// Package proxytest starts an aadproxy proxy on loopback for tests and
// collects what it emits. It dials loopback only, so a test can never reach
// the internet through it.
package proxytest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/proxy"
)

// Proxy is a running proxy under test.
type Proxy struct {
	*proxy.Proxy
	CA   *certs.CA
	Addr string // host:port of the proxy listener

	mu      sync.Mutex
	flows   []*flow.Flow
	notices []proxy.Notice
	changed chan struct{}
}

// Start starts a proxy with opts (Dial is forced to loopback only) and stops
// it when the test ends.
func Start(t testing.TB, opts proxy.Options) *Proxy {
	t.Helper()
	return StartOn(t, opts, "127.0.0.1:0")
}

// StartOn is Start listening on addr: a test of what a proxy reachable
// beyond loopback does listens on another address of this machine (its
// traffic still never leaves the machine, and the dialer still reaches
// loopback only).
func StartOn(t testing.TB, opts proxy.Options, addr string) *Proxy {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "aadproxy test CA"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Dial = proxy.LoopbackOnly(opts.Dial)
	tp := &Proxy{CA: ca, changed: make(chan struct{}, 1)}
	p, err := proxy.New(opts, ca, proxy.Events{Flow: tp.addFlow, Notice: tp.addNotice})
	if err != nil {
		t.Fatal(err)
	}
	tp.Proxy = p
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tp.Addr = l.Addr().String()
	go p.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return tp
}

func (p *Proxy) addFlow(f *flow.Flow) {
	p.mu.Lock()
	f.Index = len(p.flows)
	p.flows = append(p.flows, f)
	p.mu.Unlock()
	p.poke()
}

func (p *Proxy) addNotice(n proxy.Notice) {
	p.mu.Lock()
	p.notices = append(p.notices, n)
	p.mu.Unlock()
	p.poke()
}

func (p *Proxy) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// URL is the proxy's address as a URL for http.Transport.Proxy.
func (p *Proxy) URL() *url.URL { return proxy.ClientURL(p.Addr) }

// Client returns an HTTP client that uses the proxy and trusts its CA.
// Compression is left to the caller's headers so tests see wire bytes.
func (p *Proxy) Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              http.ProxyURL(p.URL()),
			TLSClientConfig:    &tls.Config{RootCAs: p.CA.Pool()},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// ClientH2 is Client offering h2 as well as http/1.1, as browsers do.
// With fresh set, each request has a connection (CONNECT and TLS) of its own.
func (p *Proxy) ClientH2(fresh bool) *http.Client {
	c := p.Client()
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = true
	tr.DisableKeepAlives = fresh
	return c
}

// WaitFlows waits until at least n flows completed (or the timeout passes,
// failing the test) and returns them.
func (p *Proxy) WaitFlows(t testing.TB, n int) []*flow.Flow {
	t.Helper()
	return p.wait(t, func() bool { return len(p.flows) >= n }, "flows")
}

// WaitNotice waits for a notice matching ok.
func (p *Proxy) WaitNotice(t testing.TB, ok func(proxy.Notice) bool) proxy.Notice {
	t.Helper()
	var found proxy.Notice
	p.wait(t, func() bool {
		for _, n := range p.notices {
			if ok(n) {
				found = n
				return true
			}
		}
		return false
	}, "notice")
	return found
}

// Flows returns the flows completed so far.
func (p *Proxy) Flows() []*flow.Flow {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*flow.Flow(nil), p.flows...)
}

// Notices returns the notices so far.
func (p *Proxy) Notices() []proxy.Notice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxy.Notice(nil), p.notices...)
}

func (p *Proxy) wait(t testing.TB, cond func() bool, what string) []*flow.Flow {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		if cond() {
			out := append([]*flow.Flow(nil), p.flows...)
			p.mu.Unlock()
			return out
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-deadline:
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("timed out waiting for %s: have %d flows, %d notices: %v", what, len(p.flows), len(p.notices), p.notices)
			return nil
		}
	}
}
