package proxytest

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// Origin is a TLS test server whose certificates come from its own CA, so it
// can answer as any host name (login.microsoftonline.com, …) that a test maps
// to it with MapRemote.
type Origin struct {
	*httptest.Server
	CA *certs.CA
}

// StartOrigin starts a TLS origin serving h; it stops when the test ends.
func StartOrigin(t testing.TB, h http.Handler) *Origin {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "origin test CA"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig("localhost")
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Origin{Server: srv, CA: ca}
}

// Addr is the origin's host:port.
func (o *Origin) Addr() string { return strings.TrimPrefix(o.URL, "https://") }

// Roots is what to pass as proxy.Options.UpstreamRoots.
func (o *Origin) Roots() []*x509.Certificate { return []*x509.Certificate{o.CA.Cert()} }
