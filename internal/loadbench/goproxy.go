package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/elazarl/goproxy"

	"github.com/aadproxy/aadproxy/certs"
)

// serveBareGoproxy runs goproxy's own MITM loop with a fresh ECDSA CA from
// certs/ and an upstream transport tuned like aadproxy's: the engine without
// aadproxy's capture, inspection or recording. It trusts the origin CA in
// caFile and dials loopback only.
func serveBareGoproxy(caFile string) {
	ca, err := certs.New(certs.Options{CommonName: "loadbench goproxy CA"})
	if err != nil {
		fatal(err)
	}
	iss := certs.NewIssuer(ca, certs.IssuerOptions{})
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fatal(err)
	}
	gp := goproxy.NewProxyHttpServer()
	gp.Tr = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: certsPool(pem)},
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("dial %s: the benchmark stays on loopback", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	gp.KeepAcceptEncoding = true
	// Keep the upstream connection alive when a client closes its own, as
	// aadproxy does: passing "Connection: close" on doubles the handshakes
	// of fresh-tls-c8 and would flatter aadproxy.
	gp.OnRequest().DoFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		r.Close = false
		return r, nil
	})
	gp.OnRequest().HandleConnectFunc(func(h string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		return &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: func(hh string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
			host, _, err := net.SplitHostPort(hh)
			if err != nil {
				host = strings.Trim(hh, "[]")
			}
			return iss.ServerConfig(host), nil
		}}, h
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "bare goproxy listening on %s\n", l.Addr())
	fatal(http.Serve(l, gp))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadbench -serve-goproxy:", err)
	os.Exit(1)
}
