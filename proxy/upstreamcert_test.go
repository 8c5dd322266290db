package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// testCA is a CA that signs the leaves of the TLS servers below.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key}
}

// leaf issues a server certificate for names, valid from notBefore to notAfter.
func (ca testCA) leaf(t *testing.T, names []string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsServer serves on loopback with cert.
func tlsServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(entraLike))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the proxy's rejections are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestUpstreamCertificateErrorsAreToldApart sends requests through the
// proxy to real TLS servers on loopback whose certificates fail in
// different ways: each answer (and flow) says which way, with its own fix,
// and suggests --upstream-ca only when it was not given.
func TestUpstreamCertificateErrorsAreToldApart(t *testing.T) {
	ca := newTestCA(t, "Contoso Test CA")
	other := newTestCA(t, "Fabrikam Private CA")
	now := time.Now()
	valid := ca.leaf(t, []string{loginHost}, now.Add(-time.Hour), now.Add(time.Hour))
	tests := []struct {
		name   string
		cert   tls.Certificate
		withCA bool
		want   []string
		not    []string
	}{
		{"expired", ca.leaf(t, []string{loginHost}, now.Add(-72*time.Hour), now.Add(-24*time.Hour)), true,
			[]string{"expired on " + now.Add(-24*time.Hour).UTC().Format("2006-01-02"), "renew it on the server"}, []string{"--upstream-ca"}},
		{"expired, no CA given", ca.leaf(t, []string{loginHost}, now.Add(-72*time.Hour), now.Add(-24*time.Hour)), false,
			[]string{"expired on", "renew it on the server"}, []string{"pass --upstream-ca"}},
		{"not yet valid", ca.leaf(t, []string{loginHost}, now.Add(24*time.Hour), now.Add(72*time.Hour)), true,
			[]string{"valid only from " + now.Add(24*time.Hour).UTC().Format("2006-01-02"), "clock"}, []string{"--upstream-ca"}},
		{"wrong host", ca.leaf(t, []string{"app.fabrikam.test", "www.fabrikam.test"}, now.Add(-time.Hour), now.Add(time.Hour)), true,
			[]string{"names app.fabrikam.test, www.fabrikam.test, not " + loginHost, "--map-remote sends " + loginHost}, []string{"--upstream-ca"}},
		{"unknown authority, CA given", other.leaf(t, []string{loginHost}, now.Add(-time.Hour), now.Add(time.Hour)), true,
			[]string{`signed by "Fabrikam Private CA"`, "none of the --upstream-ca certificates", "pass the CA that signed it"}, []string{"pass --upstream-ca"}},
		{"unknown authority, no CA given", valid, false,
			[]string{`signed by "Contoso Test CA"`, "pass --upstream-ca FILE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tlsServer(t, tt.cert)
			opts := proxy.Default()
			opts.MapRemote = map[string]string{loginHost: addr}
			if tt.withCA {
				opts.UpstreamRoots = []*x509.Certificate{ca.cert}
			}
			p := proxytest.Start(t, opts)
			resp, err := p.Client().Get("https://" + loginHost + "/common/discovery/instance")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502: %s", resp.StatusCode, body)
			}
			f := p.WaitFlows(t, 1)[0]
			t.Log(f.Error)
			for _, text := range []string{string(body), f.Error} {
				for _, w := range tt.want {
					if !strings.Contains(text, w) {
						t.Errorf("%q does not say %q", text, w)
					}
				}
				for _, w := range tt.not {
					if strings.Contains(text, w) {
						t.Errorf("%q says %q", text, w)
					}
				}
			}
		})
	}
	// The same server with its CA given works: the failures above are the
	// certificates', not the setup's.
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: tlsServer(t, valid)}
	opts.UpstreamRoots = []*x509.Certificate{ca.cert}
	resp, err := proxytest.Start(t, opts).Client().Get("https://" + loginHost + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("valid certificate with its CA given: status %d, want 200", resp.StatusCode)
	}
}
