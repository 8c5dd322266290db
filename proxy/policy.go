package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrDialRefused marks an upstream connection the dial policy refused; the
// client gets a 403 that says why.
var ErrDialRefused = errors.New("refused by aadproxy's dial policy")

// refusal is a refused dial: where and why.
type refusal struct {
	addr, why string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s", r.addr, r.why)
}

func (r *refusal) Unwrap() error { return ErrDialRefused }

// Ranges the policy refuses. Link-local holds the cloud metadata services
// (169.254.169.254 on AWS, Azure, GCP; fd00:ec2::254 on AWS over IPv6;
// Alibaba's 100.100.100.200 and Azure's WireServer 168.63.129.16 are
// named apart), which hand out credentials to whoever asks.
var (
	metadataPrefixes = mustPrefixes("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "168.63.129.16/32")
	// privatePrefixes are this machine and its networks, refused to
	// clients of a proxy that listens beyond loopback.
	privatePrefixes = mustPrefixes("127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128", "10.0.0.0/8", "172.16.0.0/12",
		"192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// exemptKey marks a dial the user named with --map-remote: the policy's
// ranges do not apply to it (aadproxy's own ports still do).
type exemptKey struct{}

// refuseAddr applies the policy to one resolved address. It is the one
// place every upstream connection passes: the default dialer calls it for
// each address it tries (ControlContext), other dialers before dialing.
func (g *guard) refuseAddr(ctx context.Context, ip netip.Addr, port int) error {
	ip = ip.Unmap() // ::ffff:169.254.169.254 is 169.254.169.254
	g.mu.RLock()
	what, guarded := g.ports[port]
	strict, allowed := g.strict, g.allowed
	g.mu.RUnlock()
	addr := netip.AddrPortFrom(ip, uint16(port)).String()
	if guarded && g.isLocal(net.IP(ip.AsSlice())) {
		return &refusal{addr, "that is " + what + ", which is never reachable through the proxy"}
	}
	if exempt, _ := ctx.Value(exemptKey{}).(bool); exempt {
		return nil
	}
	for _, p := range allowed {
		if p.Contains(ip) {
			return nil
		}
	}
	for _, p := range metadataPrefixes {
		if p.Contains(ip) {
			return &refusal{addr, "link-local and cloud metadata addresses are never reached through aadproxy (--allow-upstream CIDR, or --map-remote, names one you mean)"}
		}
	}
	if strict {
		for _, p := range privatePrefixes {
			if p.Contains(ip) {
				return &refusal{addr, "this proxy listens beyond loopback, so it does not reach this machine's loopback or private networks for its clients (--allow-upstream CIDR names one you mean)"}
			}
		}
		if g.isLocal(net.IP(ip.AsSlice())) {
			return &refusal{addr, "that is this machine, not reached for clients of a proxy listening beyond loopback"}
		}
	}
	return nil
}

// control is the default dialer's ControlContext: it sees each address
// actually dialed, after name resolution, so a DNS answer cannot slip past
// the policy.
func (g *guard) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	return g.refuseAddr(ctx, ap.Addr(), int(ap.Port()))
}

// restrict sets the policy's mode: strict for a proxy listening beyond
// loopback, and the ranges the user allows upstream.
func (g *guard) restrict(strict bool, allowed []netip.Prefix) {
	g.mu.Lock()
	g.strict, g.allowed = strict, allowed
	g.mu.Unlock()
}
