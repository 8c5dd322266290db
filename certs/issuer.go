package certs

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// LeafValidity is how long a leaf certificate is valid after it is signed.
// A week keeps leaves short-lived — a leaf or its key copied out of a trace
// or a memory dump is soon worthless, and it stays far below the CA/Browser
// Forum and Apple lifetime limits — while a proxy left running for days still
// re-signs each host only about once a week.
const LeafValidity = 7 * 24 * time.Hour

// LeafBackdate is how far before signing a leaf's NotBefore is set, so
// clients whose clock runs slightly slow accept it.
const LeafBackdate = time.Hour

// LeafRenewBefore is the remaining lifetime below which a cached leaf is
// signed again rather than served.
const LeafRenewBefore = 24 * time.Hour

// DefaultCacheSize is the number of leaves an Issuer keeps when
// IssuerOptions leaves CacheSize at zero.
const DefaultCacheSize = 1024

// IssuerOptions configures an Issuer. The zero value is valid.
type IssuerOptions struct {
	// CacheSize bounds the number of cached leaves; zero or less means
	// DefaultCacheSize.
	CacheSize int
}

// Default returns a copy of o with empty fields set to their defaults.
func (o IssuerOptions) Default() IssuerOptions {
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	return o
}

// Issuer signs leaf certificates with a CA and caches them per host. It is
// safe for concurrent use.
type Issuer struct {
	ca     *CA
	cache  *lru.Cache[string, *tls.Certificate]
	flight singleflight.Group
	now    func() time.Time // replaced in tests

	hits, misses atomic.Int64
}

// NewIssuer returns an Issuer signing with ca. It panics if ca is nil, which
// is a programming error.
func NewIssuer(ca *CA, opts IssuerOptions) *Issuer {
	if ca == nil {
		panic("certs: NewIssuer called with a nil CA")
	}
	opts = opts.Default()
	cache, err := lru.New[string, *tls.Certificate](opts.CacheSize)
	if err != nil {
		// lru.New fails only for a non-positive size, which Default rules out.
		panic(fmt.Sprintf("certs: create leaf cache: %v", err))
	}
	return &Issuer{ca: ca, cache: cache, now: time.Now}
}

// CA returns the CA the Issuer signs with.
func (i *Issuer) CA() *CA { return i.ca }

// Leaf returns a certificate for host, a DNS name or an IP literal, with or
// without a port. The chain holds the leaf and then the CA, because
// Chromium's SPKI pinning matches the CA's key and only sees what the server
// presents. Leaves are cached; concurrent calls for one host sign once.
func (i *Issuer) Leaf(host string) (*tls.Certificate, error) {
	h, err := normalizeHost(host)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	now := i.now()
	if c, ok := i.cache.Get(h.name); ok && i.fresh(c, now) {
		i.hits.Add(1)
		return c, nil
	}
	signed := false
	v, err, _ := i.flight.Do(h.name, func() (any, error) {
		// Another caller may have filled the cache between our lookup and
		// this flight starting.
		if c, ok := i.cache.Get(h.name); ok && i.fresh(c, now) {
			return c, nil
		}
		c, err := i.sign(h, now)
		if err != nil {
			return nil, err
		}
		signed = true
		i.cache.Add(h.name, c)
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %s: %w", h.name, err)
	}
	if signed {
		i.misses.Add(1)
	} else {
		i.hits.Add(1)
	}
	return v.(*tls.Certificate), nil
}

// fresh reports whether a cached leaf may still be served at now. A leaf
// near expiry is renewed, unless the CA's own expiry capped it and signing
// again would not extend it.
func (i *Issuer) fresh(c *tls.Certificate, now time.Time) bool {
	if !now.Before(c.Leaf.NotAfter) {
		return false
	}
	if c.Leaf.NotAfter.Sub(now) >= LeafRenewBefore {
		return true
	}
	return !c.Leaf.NotAfter.Before(i.ca.cert.NotAfter)
}

func (i *Issuer) sign(h hostName, now time.Time) (*tls.Certificate, error) {
	if err := i.ca.checkUsable(now); err != nil {
		return nil, err
	}
	// Every leaf carries the CA's own key pair. Chromium's
	// --ignore-certificate-errors-spki-list (156) matches only the leaf's
	// key, so one stable key is what lets a single SPKI hash (SPKIHash) work
	// for every host; it also saves a key generation per host. The proxy
	// holds the CA key anyway, so this adds no exposure (mitmproxy does the
	// same).
	key := i.ca.key
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(LeafValidity)
	if ca := i.ca.cert.NotAfter; notAfter.After(ca) {
		notAfter = ca
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"aadproxy"}},
		NotBefore:             now.Add(-LeafBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		AuthorityKeyId:        i.ca.cert.SubjectKeyId,
	}
	if h.ip.IsValid() {
		tmpl.IPAddresses = []net.IP{h.ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{h.name}
		if len(h.name) <= 64 {
			tmpl.Subject.CommonName = h.name
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.ca.cert, &key.PublicKey, i.ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed leaf: %w", err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, i.ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// ServerConfig returns a TLS config for the client-facing side of an
// intercepted connection. It serves the leaf for the client's SNI, or for
// fallbackHost when the client sent none (clients never send SNI for IP
// hosts, so the proxy passes the CONNECT target). ALPN offers only
// http/1.1: HTTP/2 interception stays off until flows are proven to be seen
// on it (goproxy issue #766).
func (i *Issuer) ServerConfig(fallbackHost string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			host := hello.ServerName
			if host == "" {
				host = fallbackHost
			}
			if host == "" {
				return nil, errors.New("leaf certificate: client sent no server name and there is no fallback host")
			}
			return i.Leaf(host)
		},
	}
}

// Stats reports how many Leaf calls were served without signing (from the
// cache, or by sharing a concurrent caller's signing) and how many signed a
// new leaf.
func (i *Issuer) Stats() (hits, misses int64) {
	return i.hits.Load(), i.misses.Load()
}
