// Package certs owns aadproxy's local certificate authority and the
// short-lived leaf certificates it signs on the fly for TLS interception.
//
// It creates, stores and loads the CA (a unique ECDSA P-256 key per install,
// kept 0600 in a 0700 folder), and it issues cached leaves for the proxy's
// MITM server side and for test servers such as the fake STS. It must not
// touch the proxy engine, flows or trust stores: installing the CA into a
// browser or OS trust store is the command line's job, and goproxy's types
// never appear here.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"
)

// DefaultCommonName is the CA subject's common name when Options leaves it empty.
const DefaultCommonName = "aadproxy local CA"

// MaxCAValidity is both the default and the largest accepted CA validity.
// 825 days is the longest lifetime Apple platforms accept for TLS
// certificates; keeping the CA within it means a stolen CA key stops being
// useful on its own, and users re-trust a fresh CA every couple of years.
const MaxCAValidity = 825 * 24 * time.Hour

// CABackdate is how far before its creation the CA's NotBefore is set. The CA
// is made once per install, so a generous margin costs nothing and lets
// clients whose clock runs up to a day slow still accept it.
const CABackdate = 24 * time.Hour

// Options configures a new CA. The zero value is valid.
type Options struct {
	// CommonName is the CA subject's CN; empty means DefaultCommonName.
	CommonName string
	// Validity is NotAfter minus NotBefore; zero means MaxCAValidity.
	// It must be longer than CABackdate and at most MaxCAValidity.
	Validity time.Duration
	// PermittedDomains, when set, makes a name-constrained CA (see
	// constrain.go): it can only vouch for these DNS domains, each with
	// its subdomains, and for loopback addresses.
	PermittedDomains []string
}

// Default returns a copy of o with empty fields set to their defaults.
func (o Options) Default() Options {
	if o.CommonName == "" {
		o.CommonName = DefaultCommonName
	}
	if o.Validity == 0 {
		o.Validity = MaxCAValidity
	}
	return o
}

// Validate reports whether o, after defaults, describes an acceptable CA.
func (o Options) Validate() error {
	o = o.Default()
	if o.Validity <= CABackdate {
		return fmt.Errorf("ca validity %v must be longer than the %v backdate", o.Validity, CABackdate)
	}
	if o.Validity > MaxCAValidity {
		return fmt.Errorf("ca validity %v exceeds the maximum of %v (825 days)", o.Validity, MaxCAValidity)
	}
	if len(o.CommonName) > 64 {
		// RFC 5280's upper bound for a CN; some clients reject longer ones.
		return fmt.Errorf("ca common name is %d bytes, more than 64", len(o.CommonName))
	}
	for _, d := range o.PermittedDomains {
		if h, err := normalizeHost(d); err != nil || h.ip.IsValid() || h.name != d {
			return fmt.Errorf("ca permitted domain %q: want a lower-case DNS name without a trailing dot", d)
		}
	}
	return nil
}

// CA is a certificate authority: a self-signed ECDSA P-256 certificate and
// its private key. A CA is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte

	mu   sync.Mutex
	path string // cert file it was loaded from or saved to; "" while in memory only
}

// New creates an in-memory CA with a fresh key and a random serial number.
// It does not write anything; see Save and LoadOrCreate.
func New(opts Options) (*CA, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	opts = opts.Default()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new ca: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	notBefore := time.Now().Add(-CABackdate).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         opts.CommonName,
			Organization:       []string{"aadproxy"},
			OrganizationalUnit: []string{installLabel()},
		},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(opts.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Leaves are signed directly by this CA, never by an intermediate.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		SubjectKeyId:   ski,
	}
	constrain(tmpl, opts.PermittedDomains)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new ca: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new ca: parse own certificate: %w", err)
	}
	return newCA(cert, key), nil
}

func newCA(cert *x509.Certificate, key *ecdsa.PrivateKey) *CA {
	return &CA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
	}
}

// installLabel names the user and machine a CA was made for, so two installs
// can be told apart in one trust store.
func installLabel() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	label := name + "@" + host
	if len(label) > 64 {
		label = label[:64]
	}
	return label
}

// randomSerial returns a positive, non-zero 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID follows RFC 7093 method 1: the leftmost 160 bits of the
// SHA-256 of the subjectPublicKey bits.
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha256.Sum256(b)
	return sum[:20], nil
}

// Cert returns the CA certificate. Callers must not modify it.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate PEM-encoded, as written to disk.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// CertDER returns the CA certificate's DER bytes.
func (ca *CA) CertDER() []byte { return bytes.Clone(ca.cert.Raw) }

// CertPath returns the file the CA certificate was loaded from or last saved
// to, or "" for a CA that exists only in memory.
func (ca *CA) CertPath() string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.path
}

func (ca *CA) setPath(p string) {
	ca.mu.Lock()
	ca.path = p
	ca.mu.Unlock()
}

// SPKIHash returns base64(SHA-256(SubjectPublicKeyInfo)) of the CA, the form
// Chromium's --ignore-certificate-errors-spki-list takes. Leaves are issued
// over the CA's key (see Issuer.sign), so the hash matches every leaf.
func (ca *CA) SPKIHash() string {
	sum := sha256.Sum256(ca.cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Fingerprint returns the SHA-256 of the CA certificate's DER as upper-case
// hex pairs joined by colons, the way trust store UIs show it.
func (ca *CA) Fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// Pool returns a new certificate pool holding only this CA, for clients that
// should trust aadproxy and nothing else (tests, the fake STS's clients).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ErrCAExpired is returned (wrapped) when a CA is past its NotAfter.
var ErrCAExpired = errors.New("ca certificate has expired")

// checkUsable reports whether the CA can sign leaves at t.
func (ca *CA) checkUsable(t time.Time) error {
	if !t.Before(ca.cert.NotAfter) {
		return fmt.Errorf("%w on %s; regenerate it", ErrCAExpired, ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
