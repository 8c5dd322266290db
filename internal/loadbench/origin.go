package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aadproxy/aadproxy/certs"
)

// Paths the origin serves.
const (
	pathSmall = "/common/discovery/instance"
	pathBig   = "/static/js/app.js"
	pathChunk = "/static/js/chunk.js"
	pathToken = "/common/oauth2/v2.0/token"
)

// Sizes of the origin's larger answers.
const (
	bigSize   = 1 << 20
	chunkSize = 256 << 10
)

// smallBody is a small JSON answer, like Entra's discovery endpoints.
var smallBody = bytes.Repeat([]byte(`{"tenant_discovery_endpoint":"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"}`), 4)

// origin is the HTTPS server every target reaches, on 127.0.0.1 with a
// certificate for that IP, so no proxy needs a host mapping.
type origin struct {
	srv    *http.Server
	base   string // https://127.0.0.1:PORT
	ca     *certs.CA
	caFile string
	big    []byte
	chunk  []byte
	// bigType is big's Content-Type.
	bigType string
}

// startOrigin starts the origin; binary makes the 1 MiB answer random bytes
// instead of JavaScript-like text.
func startOrigin(dir string, binary bool) (*origin, error) {
	ca, err := certs.New(certs.Options{CommonName: "loadbench origin CA"})
	if err != nil {
		return nil, fmt.Errorf("origin CA: %w", err)
	}
	o := &origin{ca: ca, caFile: filepath.Join(dir, "origin-ca.pem"), chunk: jsLike(chunkSize, 2)}
	o.big, o.bigType = jsLike(bigSize, 1), jsType
	if binary {
		o.big, o.bigType = randomBytes(bigSize), "application/octet-stream"
	}
	if err := os.WriteFile(o.caFile, ca.CertPEM(), 0o600); err != nil {
		return nil, fmt.Errorf("write origin CA: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	o.base = "https://" + l.Addr().String()
	o.srv = &http.Server{
		Handler: http.HandlerFunc(o.serve),
		// Clients send no SNI for an IP, so the leaf is issued for the
		// fallback host, with an IP SAN.
		TLSConfig: certs.NewIssuer(ca, certs.IssuerOptions{}).ServerConfig("127.0.0.1"),
		// record-lag kills a proxy mid-response; that is not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go o.srv.ServeTLS(l, "", "")
	return o, nil
}

func (o *origin) close() { o.srv.Close() }

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-ms-request-id", guid())
	switch {
	case r.URL.Path == pathSmall:
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.Write(smallBody)
	case r.URL.Path == pathBig:
		o.file(w, o.big, o.bigType)
	case r.URL.Path == pathChunk:
		o.file(w, o.chunk, jsType)
	case r.URL.Path == pathToken && r.Method == http.MethodPost:
		io.Copy(io.Discard, r.Body)
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store, no-cache")
		h.Set("Pragma", "no-cache")
		h.Set("x-ms-ests-server", "2.1.19633.6 - NEULR1 ProdSlices")
		h.Set("x-ms-clitelem", "1,70008,0,,")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(entraError())
	default:
		http.NotFound(w, r)
	}
}

const jsType = "text/javascript; charset=utf-8"

func (o *origin) file(w http.ResponseWriter, b []byte, ctype string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}

// entraError is the token endpoint's answer to an expired authorization
// code, with fresh IDs each time. Its length never changes.
func entraError() []byte {
	trace, corr := guid(), guid()
	return fmt.Appendf(nil, `{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Trace ID: %s Correlation ID: %s Timestamp: 2026-12-04 10:00:00Z","error_codes":[70008],"timestamp":"2026-12-04 10:00:00Z","trace_id":"%s","correlation_id":"%s","error_uri":"https://login.microsoftonline.com/error?code=70008"}`,
		trace, corr, trace, corr)
}

func guid() string {
	a, b := rand.Uint64(), rand.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// jsLike returns n bytes of minified-JavaScript-like text, the kind of
// bundle a sign-in page loads: compressible and valid UTF-8, unlike random
// bytes, so a recorder treats it as text.
func jsLike(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	words := []string{"msal", "account", "token", "authority", "cache", "request", "response", "scopes",
		"redirectUri", "tenantId", "claims", "nonce", "state", "correlationId", "telemetry", "interaction",
		"popup", "silent", "refresh", "expiresOn", "homeAccountId", "idTokenClaims", "loginHint", "prompt"}
	w := func() string { return words[r.IntN(len(words))] }
	b := bytes.NewBufferString("/*! app.js (loadbench fixture) */\n\"use strict\";\n")
	for b.Len() < n {
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(b, "function %s%d(e,t){return e.%s===t?%d:this.%s(e)}", w(), r.IntN(1000), w(), r.IntN(100000), w())
		case 1:
			fmt.Fprintf(b, "var %s%d=\"https://login.microsoftonline.com/%s/oauth2/v2.0/%s?%s=%d\";", w(), r.IntN(100), w(), w(), w(), r.IntN(1e6))
		case 2:
			fmt.Fprintf(b, "const %s={%s:!0,%s:%d,%s:[\"%s\",\"%s\"]};", w(), w(), w(), r.IntN(9999), w(), w(), w())
		case 3:
			fmt.Fprintf(b, "if(%s.%s&&!%s.%s){throw new Error(\"%s: %s missing\")}else{%s.%s=Date.now()+%d}", w(), w(), w(), w(), w(), w(), w(), w(), r.IntN(3600)*1000)
		case 4:
			fmt.Fprintf(b, "e.exports.%s=async function(e){const t=await fetch(e.%s,{method:\"POST\"});return t.json()};", w(), w())
		default:
			b.WriteByte('\n')
		}
	}
	return b.Bytes()[:n]
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(3, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
