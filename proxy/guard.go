package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// guard is the proxy's dial policy for its own doors: an upstream
// connection (plain, CONNECT, map-remote, whatever the name) that would
// land on a local address at a port aadproxy itself listens on — the proxy,
// the web inspector and its API — is refused. Otherwise a page sent through
// the proxy could reach the inspector from inside the browser (mitmproxy's
// CVE-2025-23217). The hardening work extends the same policy to
// link-local and metadata addresses.
type guard struct {
	mu      sync.RWMutex
	ports   map[int]string // port -> what listens there ("the proxy", "the web inspector")
	strict  bool           // the proxy serves clients beyond loopback
	allowed []netip.Prefix // --allow-upstream
	// resolve and localAddrs are replaceable in tests.
	resolve    func(ctx context.Context, host string) ([]net.IP, error)
	localAddrs func() ([]net.Addr, error)
}

func newGuard() *guard {
	return &guard{
		ports: map[int]string{},
		resolve: func(ctx context.Context, host string) ([]net.IP, error) {
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			ips := make([]net.IP, len(addrs))
			for i, a := range addrs {
				ips[i] = a.IP
			}
			return ips, err
		},
		localAddrs: net.InterfaceAddrs,
	}
}

// protect adds the port of addr ("host:port") under a name for messages.
func (g *guard) protect(addr net.Addr, what string) {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 {
		return
	}
	g.mu.Lock()
	g.ports[n] = what
	g.mu.Unlock()
}

// check applies the policy before a dialer that cannot report the
// addresses it dials (a replaced Options.Dial): it returns the address to
// dial instead of addr, resolved here once so a DNS answer cannot change
// between the check and the dial. The default dialer checks each address
// it dials instead (control), so names reach it unresolved.
func (g *guard) check(ctx context.Context, addr string, resolved bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return addr, nil
	}
	if resolved {
		return addr, nil
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if host == "localhost" {
		ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		if ips, err = g.resolve(ctx, host); err != nil {
			return "", err
		}
		if len(ips) == 0 {
			return "", fmt.Errorf("lookup %s: no addresses", host)
		}
	}
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		if err := g.refuseAddr(ctx, a, n); err != nil {
			return "", &refusal{addr, err.(*refusal).why}
		}
	}
	if net.ParseIP(host) != nil || host == "localhost" {
		return addr, nil
	}
	return net.JoinHostPort(ips[0].String(), port), nil
}

// isLocal reports an address of this machine: loopback, unspecified, or
// one of its interfaces' addresses.
func (g *guard) isLocal(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := g.localAddrs()
	if err != nil {
		return true // cannot tell: refuse rather than risk the inspector
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
