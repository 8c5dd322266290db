package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// The policy is judged on addresses alone: nothing here dials, so a broken
// refusal cannot reach a real metadata service.
func TestDialPolicyRefusesMetadataAndInStrictModeThisMachine(t *testing.T) {
	g := newGuard()
	g.localAddrs = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.10"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	ctx := context.Background()
	refused := func(addr string) bool {
		ap := netip.MustParseAddrPort(addr)
		err := g.refuseAddr(ctx, ap.Addr(), int(ap.Port()))
		if err != nil && !errors.Is(err, ErrDialRefused) {
			t.Fatalf("%s: %v is not a refusal", addr, err)
		}
		return err != nil
	}
	always := []string{"169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[fe80::1]:443", "[fd00:ec2::254]:80", "100.100.100.200:80", "168.63.129.16:80"}
	private := []string{"127.0.0.1:9443", "[::1]:22", "10.1.2.3:80", "172.16.0.1:80", "192.168.1.1:80", "[fd12::1]:80", "192.0.2.10:8080", "0.0.0.0:80"}
	public := []string{"20.190.151.7:443", "[2603:1036::1]:443"}
	for _, a := range always {
		if !refused(a) {
			t.Errorf("%s: not refused", a)
		}
	}
	for _, a := range append(private, public...) {
		if refused(a) {
			t.Errorf("%s refused on a loopback-only proxy", a)
		}
	}
	g.restrict(true, nil)
	for _, a := range append(always, private...) {
		if !refused(a) {
			t.Errorf("%s: not refused in strict mode", a)
		}
	}
	for _, a := range public {
		if refused(a) {
			t.Errorf("%s refused in strict mode", a)
		}
	}
	// --allow-upstream and --map-remote name what the user means.
	g.restrict(true, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	if refused("10.1.2.3:80") || !refused("192.168.1.1:80") {
		t.Errorf("--allow-upstream 10.0.0.0/8 not applied")
	}
	exempt := context.WithValue(ctx, exemptKey{}, true)
	if err := g.refuseAddr(exempt, netip.MustParseAddr("169.254.169.254"), 80); err != nil {
		t.Errorf("a --map-remote target was refused: %v", err)
	}
	// aadproxy's own ports stay refused, map-remote or not.
	g.protect(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}, "the web inspector")
	if err := g.refuseAddr(exempt, netip.MustParseAddr("127.0.0.1"), 8081); err == nil {
		t.Errorf("the inspector's port reached through --map-remote")
	}
}

func TestCheckResolvesNamesOnceAndRefusesWhatTheyName(t *testing.T) {
	g := newGuard()
	g.resolve = func(ctx context.Context, host string) ([]net.IP, error) {
		if host == "metadata.google.internal" {
			return []net.IP{net.ParseIP("169.254.169.254")}, nil
		}
		return []net.IP{net.ParseIP("20.190.151.7")}, nil
	}
	if _, err := g.check(context.Background(), "metadata.google.internal:80", false); !errors.Is(err, ErrDialRefused) {
		t.Errorf("a name for the metadata address: %v", err)
	}
	if to, err := g.check(context.Background(), "login.microsoftonline.com:443", false); err != nil || to != "20.190.151.7:443" {
		t.Errorf("a public name: %q %v, want its one resolved address", to, err)
	}
}
