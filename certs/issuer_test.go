package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLeafVerifies(t *testing.T) {
	ca := newTestCA(t, Options{})
	iss := NewIssuer(ca, IssuerOptions{})
	tests := []struct {
		host   string
		dns    string // want a DNS SAN and CN of this name
		ip     string // or an IP SAN
		verify string // name the client checks
	}{
		{host: "login.microsoftonline.com", dns: "login.microsoftonline.com"},
		{host: "Login.MicrosoftOnline.COM:443", dns: "login.microsoftonline.com"},
		{host: "graph.microsoft.com.", dns: "graph.microsoft.com"},
		{host: "bücher.example", dns: "xn--bcher-kva.example"},
		{host: "127.0.0.1", ip: "127.0.0.1"},
		{host: "127.0.0.1:8443", ip: "127.0.0.1"},
		{host: "::1", ip: "::1"},
		{host: "[::1]:443", ip: "::1"},
		{host: "[fe80::1%eth0]:443", ip: "fe80::1"},
	}
	for _, tt := range tests {
		before := time.Now()
		c, err := iss.Leaf(tt.host)
		if err != nil {
			t.Errorf("Leaf(%q): %v", tt.host, err)
			continue
		}
		leaf := c.Leaf
		if leaf == nil {
			t.Errorf("Leaf(%q).Leaf: got nil, want the parsed leaf", tt.host)
			continue
		}
		if len(c.Certificate) != 2 || !bytes.Equal(c.Certificate[0], leaf.Raw) || !bytes.Equal(c.Certificate[1], ca.CertDER()) {
			t.Errorf("Leaf(%q) chain: got %d certificates, want [leaf, CA]", tt.host, len(c.Certificate))
		}
		opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: tt.dns}
		if tt.ip != "" {
			opts.DNSName = tt.ip // Verify treats an IP literal here as an IP SAN check
			if got := leaf.IPAddresses; len(got) != 1 || !got[0].Equal(net.ParseIP(tt.ip)) || len(leaf.DNSNames) != 0 {
				t.Errorf("Leaf(%q) SANs: got IPs %v DNS %v, want IP %s only", tt.host, got, leaf.DNSNames, tt.ip)
			}
		} else {
			if got := leaf.DNSNames; len(got) != 1 || got[0] != tt.dns || len(leaf.IPAddresses) != 0 {
				t.Errorf("Leaf(%q) SANs: got DNS %v IPs %v, want DNS %s only", tt.host, got, leaf.IPAddresses, tt.dns)
			}
			if got := leaf.Subject.CommonName; got != tt.dns {
				t.Errorf("Leaf(%q) CN: got %q, want %q", tt.host, got, tt.dns)
			}
		}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("Leaf(%q).Verify(%s): %v", tt.host, opts.DNSName, err)
		}
		// Certificates store whole seconds, hence the one-second slack.
		if latest := before.Add(-LeafBackdate + time.Second); leaf.NotBefore.After(latest) {
			t.Errorf("Leaf(%q).NotBefore: got %v, want at or before %v", tt.host, leaf.NotBefore, latest)
		}
		if leaf.NotAfter.After(ca.Cert().NotAfter) {
			t.Errorf("Leaf(%q).NotAfter: got %v, after the CA's %v", tt.host, leaf.NotAfter, ca.Cert().NotAfter)
		}
		if got := leaf.NotAfter.Sub(leaf.NotBefore); got != LeafValidity+LeafBackdate {
			t.Errorf("Leaf(%q) lifetime: got %v, want %v", tt.host, got, LeafValidity+LeafBackdate)
		}
		if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
			t.Errorf("Leaf(%q): got ExtKeyUsage %v IsCA %v, want ServerAuth only and not a CA", tt.host, leaf.ExtKeyUsage, leaf.IsCA)
		}
		if !bytes.Equal(leaf.AuthorityKeyId, ca.Cert().SubjectKeyId) {
			t.Errorf("Leaf(%q).AuthorityKeyId: got %x, want the CA's %x", tt.host, leaf.AuthorityKeyId, ca.Cert().SubjectKeyId)
		}
		if key, ok := c.PrivateKey.(*ecdsa.PrivateKey); !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(leaf.PublicKey) {
			t.Errorf("Leaf(%q).PrivateKey: got %T, want the leaf's ECDSA P-256 key", tt.host, c.PrivateKey)
		}
	}
}

func TestLeafOtherHostFails(t *testing.T) {
	ca := newTestCA(t, Options{})
	c, err := NewIssuer(ca, IssuerOptions{}).Leaf("login.microsoftonline.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login.live.com", "127.0.0.1"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err == nil {
			t.Errorf("leaf for login.microsoftonline.com verifies for %s", name)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: newTestCA(t, Options{}).Pool(), DNSName: "login.microsoftonline.com"}); err == nil {
		t.Errorf("leaf verifies against another CA")
	}
}

func TestLeafBadHost(t *testing.T) {
	iss := NewIssuer(newTestCA(t, Options{}), IssuerOptions{})
	for _, host := range []string{"", " ", "exa mple.com", "a..b", "example.com:https", "example.com:70000", "/etc/passwd", "[::1"} {
		if c, err := iss.Leaf(host); err == nil {
			t.Errorf("Leaf(%q): got certificate for %v, want error", host, c.Leaf.DNSNames)
		}
	}
	if hits, misses := iss.Stats(); hits != 0 || misses != 0 {
		t.Errorf("Stats after bad hosts: got %d hits %d misses, want 0 0", hits, misses)
	}
}

func TestLeafClampedToCA(t *testing.T) {
	ca := newTestCA(t, Options{Validity: 3 * 24 * time.Hour})
	c, err := NewIssuer(ca, IssuerOptions{}).Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Leaf.NotAfter, ca.Cert().NotAfter; !got.Equal(want) {
		t.Errorf("Leaf.NotAfter under a CA expiring in 2 days: got %v, want the CA's %v", got, want)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "example.com"}); err != nil {
		t.Errorf("clamped leaf does not verify: %v", err)
	}
}

func TestLeafExpiredCA(t *testing.T) {
	_, err := NewIssuer(expiredCA(t), IssuerOptions{}).Leaf("example.com")
	if !errors.Is(err, ErrCAExpired) {
		t.Errorf("Leaf with an expired CA: got %v, want ErrCAExpired", err)
	}
}

func wantStats(t *testing.T, iss *Issuer, step string, hits, misses int64) {
	t.Helper()
	if h, m := iss.Stats(); h != hits || m != misses {
		t.Errorf("%s: Stats got %d hits %d misses, want %d %d", step, h, m, hits, misses)
	}
}

func TestLeafCache(t *testing.T) {
	iss := NewIssuer(newTestCA(t, Options{}), IssuerOptions{})
	a, err := iss.Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, iss, "first Leaf", 0, 1)
	for _, host := range []string{"example.com", "EXAMPLE.com:443", "example.com."} {
		b, err := iss.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		if b != a {
			t.Errorf("Leaf(%q) after Leaf(example.com): got a new certificate, want the cached one", host)
		}
	}
	wantStats(t, iss, "repeated Leaf", 3, 1)
	if _, err := iss.Leaf("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Leaf("[::ffff:127.0.0.1]:443"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, iss, "IPv4 and its mapped IPv6 form", 4, 2)
}

func TestLeafEviction(t *testing.T) {
	iss := NewIssuer(newTestCA(t, Options{}), IssuerOptions{CacheSize: 2})
	steps := []struct {
		host string
		hit  bool
	}{
		{"a.example", false},
		{"b.example", false},
		{"a.example", true},  // a is now the most recently used
		{"c.example", false}, // evicts b
		{"a.example", true},
		{"c.example", true},
		{"b.example", false}, // signed again; evicts a
		{"a.example", false},
	}
	var hits, misses int64
	for i, s := range steps {
		if _, err := iss.Leaf(s.host); err != nil {
			t.Fatal(err)
		}
		if s.hit {
			hits++
		} else {
			misses++
		}
		wantStats(t, iss, fmt.Sprintf("step %d Leaf(%s)", i, s.host), hits, misses)
	}
	if got := iss.cache.Len(); got != 2 {
		t.Errorf("cache length: got %d, want 2", got)
	}
}

func TestLeafConcurrentSignsOnce(t *testing.T) {
	iss := NewIssuer(newTestCA(t, Options{}), IssuerOptions{})
	const n = 64
	start := make(chan struct{})
	certs := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			<-start
			certs[g], errs[g] = iss.Leaf("login.microsoftonline.com:443")
		})
	}
	close(start)
	wg.Wait()
	for g := range n {
		if errs[g] != nil {
			t.Fatalf("Leaf in goroutine %d: %v", g, errs[g])
		}
		if certs[g] != certs[0] {
			t.Errorf("goroutine %d got a different certificate than goroutine 0", g)
		}
	}
	wantStats(t, iss, "64 concurrent Leaf calls", n-1, 1)
}

func TestLeafRenewsNearExpiry(t *testing.T) {
	iss := NewIssuer(newTestCA(t, Options{}), IssuerOptions{})
	base := time.Now()
	iss.now = func() time.Time { return base }
	first, err := iss.Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after time.Duration
		renew bool
	}{
		{LeafValidity - LeafRenewBefore - time.Minute, false},
		{LeafValidity - LeafRenewBefore + time.Minute, true},
		{LeafValidity + time.Hour, true}, // expired outright
	}
	for _, s := range steps {
		iss.now = func() time.Time { return base.Add(s.after) }
		c, err := iss.Leaf("example.com")
		if err != nil {
			t.Fatal(err)
		}
		if renewed := c != first; renewed != s.renew {
			t.Errorf("Leaf %v after signing: renewed=%v, want %v", s.after, renewed, s.renew)
		}
		if s.renew && !c.Leaf.NotAfter.After(first.Leaf.NotAfter) {
			t.Errorf("Leaf %v after signing: renewed NotAfter %v, want later than %v", s.after, c.Leaf.NotAfter, first.Leaf.NotAfter)
		}
		first = c
		base = base.Add(s.after)
	}
}

func TestLeafNoRenewLoopNearCAExpiry(t *testing.T) {
	// A CA with under a day left caps every leaf below LeafRenewBefore;
	// re-signing would not help, so the cached leaf must be served.
	ca := newTestCA(t, Options{Validity: CABackdate + 12*time.Hour})
	iss := NewIssuer(ca, IssuerOptions{})
	for range 3 {
		if _, err := iss.Leaf("example.com"); err != nil {
			t.Fatal(err)
		}
	}
	wantStats(t, iss, "three Leaf calls under a CA expiring in 12h", 2, 1)
}

// handshake runs a TLS handshake over an in-memory pipe and returns the
// client's and server's results.
func handshake(t *testing.T, server *tls.Config, client *tls.Config) (tls.ConnectionState, tls.ConnectionState, error, error) {
	t.Helper()
	sc, cc := net.Pipe()
	srv, cli := tls.Server(sc, server), tls.Client(cc, client)
	done := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err != nil {
			sc.Close() // unblock a client still waiting for our flight
		}
		done <- err
	}()
	cerr := cli.Handshake()
	if cerr != nil {
		cc.Close()
	}
	serr := <-done
	cs, ss := cli.ConnectionState(), srv.ConnectionState()
	// Closing the tls.Conns would send close_notify into a pipe nobody
	// reads; close the transport instead.
	cc.Close()
	sc.Close()
	return cs, ss, cerr, serr
}

func TestHandshake(t *testing.T) {
	ca := newTestCA(t, Options{})
	iss := NewIssuer(ca, IssuerOptions{})
	tests := []struct {
		name       string
		fallback   string
		client     *tls.Config
		wantOK     bool
		wantErr    string // client-side error when !wantOK
		wantSNI    string
		wantLeafOf string // DNS or IP SAN the presented leaf must carry
	}{
		{
			name:     "SNI",
			fallback: "ignored.example",
			client: &tls.Config{RootCAs: ca.Pool(), ServerName: "login.microsoftonline.com",
				NextProtos: []string{"h2", "http/1.1"}},
			wantOK: true, wantSNI: "login.microsoftonline.com", wantLeafOf: "login.microsoftonline.com",
		},
		{
			// Go sends no SNI for an IP ServerName, like browsers.
			name:     "no SNI uses fallback",
			fallback: "127.0.0.1:443",
			client:   &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"},
			wantOK:   true, wantSNI: "", wantLeafOf: "127.0.0.1",
		},
		{
			name:    "empty pool",
			client:  &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "login.microsoftonline.com"},
			wantErr: "unknown authority",
		},
		{
			name:    "other CA",
			client:  &tls.Config{RootCAs: newTestCA(t, Options{}).Pool(), ServerName: "login.microsoftonline.com"},
			wantErr: "unknown authority",
		},
		{
			name:    "no SNI and no fallback",
			client:  &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"},
			wantErr: "internal error",
		},
		{
			name:     "TLS 1.1 client",
			fallback: "example.com",
			client: &tls.Config{RootCAs: ca.Pool(), ServerName: "example.com",
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
			wantErr: "protocol version not supported",
		},
	}
	for _, tt := range tests {
		cs, ss, cerr, serr := handshake(t, iss.ServerConfig(tt.fallback), tt.client)
		if !tt.wantOK {
			if cerr == nil || !strings.Contains(cerr.Error(), tt.wantErr) {
				t.Errorf("%s: client handshake: got %v, want error containing %q", tt.name, cerr, tt.wantErr)
			}
			continue
		}
		if cerr != nil || serr != nil {
			t.Errorf("%s: handshake: client %v, server %v", tt.name, cerr, serr)
			continue
		}
		if ss.ServerName != tt.wantSNI {
			t.Errorf("%s: server saw SNI %q, want %q", tt.name, ss.ServerName, tt.wantSNI)
		}
		if cs.NegotiatedProtocol != "" && cs.NegotiatedProtocol != "http/1.1" {
			t.Errorf("%s: ALPN got %q, want http/1.1 or none", tt.name, cs.NegotiatedProtocol)
		}
		if len(tt.client.NextProtos) > 0 && cs.NegotiatedProtocol != "http/1.1" {
			t.Errorf("%s: ALPN with client offering %v: got %q, want http/1.1", tt.name, tt.client.NextProtos, cs.NegotiatedProtocol)
		}
		if len(cs.PeerCertificates) != 2 || !bytes.Equal(cs.PeerCertificates[1].Raw, ca.CertDER()) {
			t.Errorf("%s: presented chain has %d certificates, want [leaf, CA]", tt.name, len(cs.PeerCertificates))
			continue
		}
		if err := cs.PeerCertificates[0].VerifyHostname(tt.wantLeafOf); err != nil {
			t.Errorf("%s: presented leaf: %v", tt.name, err)
		}
	}
}

func TestServerConfigSettings(t *testing.T) {
	cfg := NewIssuer(newTestCA(t, Options{}), IssuerOptions{}).ServerConfig("example.com")
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion: got %x, want TLS 1.2", cfg.MinVersion)
	}
	if !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) {
		t.Errorf("NextProtos: got %q, want [http/1.1]", cfg.NextProtos)
	}
}

func BenchmarkLeafCached(b *testing.B) {
	iss := NewIssuer(newTestCA(b, Options{}), IssuerOptions{})
	if _, err := iss.Leaf("login.microsoftonline.com"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Leaf("login.microsoftonline.com:443"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafSign(b *testing.B) {
	iss := NewIssuer(newTestCA(b, Options{}), IssuerOptions{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if _, err := iss.Leaf(fmt.Sprintf("h%d.example.com", n)); err != nil {
			b.Fatal(err)
		}
	}
}

// Chromium's --ignore-certificate-errors-spki-list matches the leaf's key
// only, so every leaf must carry the key SPKIHash names.
func TestLeavesShareTheSPKIChromiumPins(t *testing.T) {
	ca, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	iss := NewIssuer(ca, IssuerOptions{})
	for _, host := range []string{"login.microsoftonline.com", "graph.microsoft.com", "127.0.0.1"} {
		leaf, err := iss.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(leaf.Leaf.RawSubjectPublicKeyInfo)
		if got := base64.StdEncoding.EncodeToString(sum[:]); got != ca.SPKIHash() {
			t.Errorf("Leaf(%q) SPKI hash %s, want the CA's %s", host, got, ca.SPKIHash())
		}
	}
}
