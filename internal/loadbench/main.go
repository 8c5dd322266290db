// Command loadbench is aadproxy's load benchmark: it runs the real aadproxy
// binary and a bare goproxy MITM engine as separate processes beside a
// direct baseline, drives keep-alive HTTPS load through each in turn
// (alternating, several rounds), and reports requests per second and each
// proxy's own CPU per request from /proc — the number that travels between
// machines (see shared/PERF.md). Everything stays on loopback.
//
//	go run ./internal/loadbench -clients 32 -seconds 5 -rounds 3
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/aadproxy/aadproxy/certs"
)

const host = "login.microsoftonline.com"

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-serve-goproxy" {
		serveBareGoproxy(os.Args[2], os.Args[3])
		return
	}
	clients := flag.Int("clients", 32, "concurrent keep-alive clients")
	seconds := flag.Float64("seconds", 5, "length of each measurement")
	rounds := flag.Int("rounds", 3, "rounds; targets alternate within a round")
	bin := flag.String("aadproxy", "", "aadproxy binary (default: build ./cmd/aadproxy)")
	flag.Parse()
	if err := run(*clients, time.Duration(*seconds*float64(time.Second)), *rounds, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	cmd  *exec.Cmd // nil for direct
	tr   *http.Transport
	rps  []float64
	cpu  []float64 // µs of proxy CPU per request
}

func run(clients int, d time.Duration, rounds int, bin string) error {
	dir, err := os.MkdirTemp("", "loadbench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "aadproxy")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/aadproxy").CombinedOutput(); err != nil {
			return fmt.Errorf("build aadproxy: %v\n%s", err, out)
		}
	}
	// The origin: a small JSON answer, like Entra's discovery endpoints.
	originCA, err := certs.New(certs.Options{CommonName: "loadbench origin CA"})
	if err != nil {
		return err
	}
	body := strings.Repeat(`{"tenant_discovery_endpoint":"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"}`, 4)
	ol, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	origin := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("x-ms-request-id", "3b3a0f01-0000-0000-0000-000000000001")
			io.WriteString(w, body)
		}),
		TLSConfig: certs.NewIssuer(originCA, certs.IssuerOptions{}).ServerConfig(host),
	}
	go origin.ServeTLS(ol, "", "")
	defer origin.Close()
	originAddr := ol.Addr().String()
	caFile := filepath.Join(dir, "origin-ca.pem")
	os.WriteFile(caFile, originCA.CertPEM(), 0o600)

	var targets []*target
	targets = append(targets, &target{name: "direct", tr: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: originCA.Pool()}, MaxIdleConnsPerHost: clients,
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, n, originAddr)
		},
	}})
	self, _ := os.Executable()
	bare, err := startProxy("goproxy", exec.Command(self, "-serve-goproxy", originAddr, caFile), dir, clients)
	if err != nil {
		return err
	}
	targets = append(targets, bare)
	for _, rec := range []bool{false, true} {
		name, args := "aadproxy", []string{"start", "--listen", "127.0.0.1:0", "--offline", "--quiet", "--home", filepath.Join(dir, "home"),
			"--map-remote", host + "=" + originAddr, "--upstream-ca", caFile}
		if rec {
			name, args = "aadproxy+record", append(args, "--record", filepath.Join(dir, "rec.har"))
		}
		t, err := startProxy(name, exec.Command(bin, args...), dir, clients)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	defer func() {
		for _, t := range targets {
			if t.cmd != nil {
				// SIGTERM lets aadproxy close its recording (and write a CPU
				// profile when AADPROXY_CPUPROFILE is set).
				t.cmd.Process.Signal(syscall.SIGTERM)
				t.cmd.Wait()
			}
		}
	}()

	u := "https://" + host + "/common/discovery/instance?api-version=1.1"
	for r := 0; r < rounds; r++ {
		for _, t := range targets {
			load(t, u, clients, time.Second) // warm up connections
			rps, cpu, err := measure(t, u, clients, d)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.rps, t.cpu = append(t.rps, rps), append(t.cpu, cpu)
			fmt.Fprintf(os.Stderr, "round %d %-16s %8.0f req/s  %6.1f µs proxy CPU/req\n", r+1, t.name, rps, cpu)
		}
	}
	base := median(targets[1].rps)
	baseCPU := median(targets[1].cpu)
	fmt.Printf("\n%d clients, keep-alive, %s × %d rounds, medians:\n", clients, d, rounds)
	fmt.Printf("%-16s %10s %12s %16s %14s\n", "target", "req/s", "vs goproxy", "proxy CPU µs/req", "CPU vs goproxy")
	for _, t := range targets {
		cpu, cpuRatio := "-", "-"
		if t.cmd != nil {
			cpu = fmt.Sprintf("%.1f", median(t.cpu))
			cpuRatio = fmt.Sprintf("%.2f×", median(t.cpu)/baseCPU)
		}
		fmt.Printf("%-16s %10.0f %11.2f× %16s %14s\n", t.name, median(t.rps), median(t.rps)/base, cpu, cpuRatio)
	}
	return nil
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// startProxy starts a proxy process and waits for its address on stderr.
// No setsid: every process stays in the benchmark's CPU-share group.
func startProxy(name string, cmd *exec.Cmd, dir string, clients int) (*target, error) {
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		sent := false
		for {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			if m := listenRE.FindStringSubmatch(seen.String()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
			if err != nil {
				return
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start", name)
	}
	// Trust whatever CA the proxy presents: the benchmark measures speed, and
	// the origin's own verification is the proxy's job.
	tr := &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: a}),
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: clients,
	}
	return &target{name: name, cmd: cmd, tr: tr}, nil
}

// measure runs the load for d and returns req/s and the proxy's CPU per
// request (utime+stime from /proc, in µs).
func measure(t *target, u string, clients int, d time.Duration) (float64, float64, error) {
	before := cpuTicks(t)
	start := time.Now()
	n, err := load(t, u, clients, d)
	el := time.Since(start)
	after := cpuTicks(t)
	if err != nil {
		return 0, 0, err
	}
	cpu := 0.0
	if t.cmd != nil && n > 0 {
		cpu = float64(after-before) * 1e6 / 100 / float64(n) // USER_HZ = 100
	}
	return float64(n) / el.Seconds(), cpu, nil
}

func load(t *target, u string, clients int, d time.Duration) (int64, error) {
	client := &http.Client{Transport: t.tr, Timeout: 30 * time.Second}
	var n atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				resp, err := client.Get(u)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("status %d", resp.StatusCode))
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return n.Load(), e.(error)
	}
	return n.Load(), nil
}

func cpuTicks(t *target) int64 {
	if t.cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 (utime), counted after "state"
	st, _ := strconv.ParseInt(fields[12], 10, 64) // field 15 (stime)
	return ut + st
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// serveBareGoproxy runs goproxy's own MITM loop with a fresh ECDSA CA from
// certs/ and an upstream transport tuned like aadproxy's: the engine without
// aadproxy's capture, inspection or recording.
func serveBareGoproxy(originAddr, caFile string) {
	ca, err := certs.New(certs.Options{CommonName: "loadbench goproxy CA"})
	if err != nil {
		panic(err)
	}
	iss := certs.NewIssuer(ca, certs.IssuerOptions{})
	pem, _ := os.ReadFile(caFile)
	roots := certsPool(pem)
	gp := goproxy.NewProxyHttpServer()
	gp.Tr = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, n, originAddr)
		},
	}
	gp.KeepAcceptEncoding = true
	gp.OnRequest().HandleConnectFunc(func(h string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		return &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: func(hh string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
			return iss.ServerConfig(strings.Split(hh, ":")[0]), nil
		}}, h
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "bare goproxy listening on %s\n", l.Addr())
	http.Serve(l, gp)
}
