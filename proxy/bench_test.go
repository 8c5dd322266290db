package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/internal/pipeline"
	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/trace"
)

// BenchmarkKeepAlive compares, in one run on one machine, a small keep-alive
// HTTPS GET sent directly, through the bare goproxy MITM engine (our CA,
// the same upstream tuning), and through aadproxy with capture, inspection
// and recording on. Compare the sub-benchmarks' ns/op as ratios (benchstat);
// PERF.md's goal is aadproxy ≥ 0.9× the bare engine.
func BenchmarkKeepAlive(b *testing.B) {
	body := strings.Repeat(`{"token_type":"Bearer","expires_in":3599}`, 10)
	origin := proxytest.StartOrigin(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	target := "https://" + loginHost + "/common/discovery/instance?api-version=1.1"

	b.Run("direct", func(b *testing.B) {
		tr := &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: origin.CA.Pool(), ServerName: loginHost},
			MaxIdleConnsPerHost: 256,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, origin.Addr())
			},
		}
		runClients(b, tr, target)
	})
	b.Run("goproxy", func(b *testing.B) {
		addr, ca := startBareGoproxy(b, origin)
		runClients(b, proxiedTransport(addr, ca), target)
	})
	// aadproxy in stages, to see what each costs: capture only, then the
	// rule engine, then the recorder too (what `aadproxy start --record` runs).
	for _, stage := range []struct {
		name            string
		inspect, record bool
	}{{"aadproxy-capture", false, false}, {"aadproxy-inspect", true, false}, {"aadproxy", true, true}} {
		b.Run(stage.name, func(b *testing.B) {
			addr, ca := startAadproxy(b, origin, stage.inspect, stage.record)
			runClients(b, proxiedTransport(addr, ca), target)
		})
	}
}

func runClients(b *testing.B, tr *http.Transport, target string) {
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.SetParallelism(16) // 32 clients on this project's 2-core machines, as in PERF.md
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func proxiedTransport(addr string, ca *certs.CA) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: addr}),
		TLSClientConfig:     &tls.Config{RootCAs: ca.Pool()},
		MaxIdleConnsPerHost: 256,
	}
}

// startBareGoproxy runs goproxy's own MITM loop with our CA and a transport
// tuned like aadproxy's: the engine without aadproxy's capture.
func startBareGoproxy(b *testing.B, origin *proxytest.Origin) (string, *certs.CA) {
	ca, err := certs.New(certs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	iss := certs.NewIssuer(ca, certs.IssuerOptions{})
	gp := goproxy.NewProxyHttpServer()
	roots := origin.CA.Pool()
	gp.Tr = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, origin.Addr())
		},
	}
	gp.KeepAcceptEncoding = true
	gp.OnRequest().HandleConnectFunc(func(host string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		return &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: func(h string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
			return iss.ServerConfig(strings.Split(h, ":")[0]), nil
		}}, host
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: gp}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String(), ca
}

// startAadproxy runs aadproxy as `aadproxy start` does: capture, then
// optionally the inspect engine with every rule and the recorder, and a
// console that discards.
func startAadproxy(b *testing.B, origin *proxytest.Origin, withInspect, withRecord bool) (string, *certs.CA) {
	ca, err := certs.New(certs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var insp pipeline.Inspector
	if withInspect {
		eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
		if err != nil {
			b.Fatal(err)
		}
		insp = eng
	}
	var rec *trace.Recorder
	var prec pipeline.Recorder
	if withRecord {
		rec, err = trace.Create(filepath.Join(b.TempDir(), "bench.har"), "aadproxy", "bench")
		if err != nil {
			b.Fatal(err)
		}
		prec = rec
	}
	pipe := pipeline.New(insp, prec, discard{})
	opts := proxy.Default()
	opts.MapRemote = map[string]string{loginHost: origin.Addr()}
	opts.UpstreamRoots = origin.Roots()
	p, err := proxy.New(opts, ca, proxy.Events{Flow: pipe.Flow, Notice: pipe.Notice})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(l)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		pipe.Close()
		if rec != nil {
			rec.Close()
		}
	})
	return l.Addr().String(), ca
}

type discard struct{}

func (discard) Flow(*flow.Flow, []inspect.Finding) {}
func (discard) Notice(proxy.Notice)                {}
func (discard) Final([]inspect.Finding)            {}
func (discard) Dropped(int64)                      {}

// BenchmarkFreshTLS is a new connection (CONNECT, TLS handshake, one GET)
// per request through aadproxy with capture on, 8 clients, as loadbench's
// fresh-tls-c8. It shows what HTTP/2 support costs a client that does not
// offer h2 ("default" beside "http1-option", which turns HTTP/2 off), and
// what a client that offers h2 pays ("h2-client": each connection is served
// by the HTTP/2 server; upstream, one connection carries every request).
// Compare ns/op as ratios in one run (-count 6, benchstat).
func BenchmarkFreshTLS(b *testing.B) {
	body := strings.Repeat(`{"token_type":"Bearer","expires_in":3599}`, 10)
	origin := proxytest.StartOriginH2(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	target := "https://" + loginHost + "/common/discovery/instance?api-version=1.1"
	for _, bc := range []struct {
		name            string
		http1, clientH2 bool
	}{{"http1-option", true, false}, {"default", false, false}, {"h2-client", false, true}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := proxy.Default()
			opts.HTTP1 = bc.http1
			opts.MapRemote = map[string]string{loginHost: origin.Addr()}
			opts.UpstreamRoots = origin.Roots()
			p := proxytest.Start(b, opts)
			tr := proxiedTransport(p.Addr, p.CA)
			tr.DisableKeepAlives = true
			tr.ForceAttemptHTTP2 = bc.clientH2
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			b.SetParallelism(4) // 8 clients on 2 cores
			cpu0 := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(target)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.StopTimer()
			// CPU time travels better than wall time on a shared machine
			// (it counts the client and the origin too, alike in each case).
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
