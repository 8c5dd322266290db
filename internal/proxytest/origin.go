package proxytest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// Origin is a TLS test server whose certificates come from its own CA, so it
// can answer as any host name (login.microsoftonline.com, …) that a test maps
// to it with MapRemote.
type Origin struct {
	*httptest.Server
	CA *certs.CA
	// Handshakes counts the TLS handshakes clients began with the origin.
	Handshakes atomic.Int64
}

// StartOrigin starts a TLS origin serving h over HTTP/1.1 only; it stops
// when the test ends.
func StartOrigin(t testing.TB, h http.Handler) *Origin {
	t.Helper()
	return startOrigin(t, h, false)
}

// StartOriginH2 is StartOrigin speaking HTTP/2 as well (ALPN h2, http/1.1).
func StartOriginH2(t testing.TB, h http.Handler) *Origin {
	t.Helper()
	return startOrigin(t, h, true)
}

func startOrigin(t testing.TB, h http.Handler, h2 bool) *Origin {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "origin test CA"})
	if err != nil {
		t.Fatal(err)
	}
	o := &Origin{CA: ca}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig("localhost")
	if h2 {
		srv.EnableHTTP2 = true
		srv.TLS.NextProtos = []string{"h2", "http/1.1"}
	}
	srv.TLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		o.Handshakes.Add(1)
		return nil, nil
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	o.Server = srv
	return o
}

// Addr is the origin's host:port.
func (o *Origin) Addr() string { return strings.TrimPrefix(o.URL, "https://") }

// Roots is what to pass as proxy.Options.UpstreamRoots.
func (o *Origin) Roots() []*x509.Certificate { return []*x509.Certificate{o.CA.Cert()} }
