package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds one request; nothing on loopback should come near it.
const requestTimeout = 30 * time.Second

// transport is the client side for one target and scenario: keep-alive with
// one idle connection per client, or a new connection (CONNECT + TLS through
// a proxy) per request. proxyAddr is "" for the direct target.
func transport(sc *scenario, proxyAddr string, o *origin) *http.Transport {
	tr := &http.Transport{
		MaxIdleConnsPerHost: sc.clients,
		DisableKeepAlives:   sc.fresh,
		// Bodies are counted as the origin sent them.
		DisableCompression: true,
		// A custom TLS config turns net/http's h2 off unless forced.
		ForceAttemptHTTP2: sc.h2,
	}
	if proxyAddr == "" {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.ca.Pool()}
		return tr
	}
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr})
	// Trust whatever CA the proxy presents: the benchmark measures speed,
	// and verifying the origin is the proxy's job (--upstream-ca).
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return tr
}

// loadOpts bound one load run.
type loadOpts struct {
	clients int
	tag     string    // the lb query parameter that names this run in a recording
	until   time.Time // stop starting requests at this time
	limit   int64     // stop after this many requests; 0 for no limit
	// killed, when set, means the target was killed on purpose: errors from
	// then on end a client quietly instead of failing the run.
	killed *atomic.Bool
}

// loadResult is what the clients saw.
type loadResult struct {
	n       int64 // responses received whole with the expected status
	bytes   int64 // response body bytes in those responses
	elapsed time.Duration
	hist    histogram
	err     error // the first failed request, if any
}

// load runs o.clients clients in parallel against base, each sending the
// scenario's request and reading the whole answer, until o.until or o.limit.
func load(ctx context.Context, tr *http.Transport, sc *scenario, base string, o loadOpts) loadResult {
	client := &http.Client{Transport: tr, Timeout: requestTimeout}
	var (
		issued, n, bytes atomic.Int64
		mu               sync.Mutex
		res              loadResult
		wg               sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h histogram
			defer func() {
				mu.Lock()
				res.hist.merge(&h)
				mu.Unlock()
			}()
			for time.Now().Before(o.until) && ctx.Err() == nil {
				i := issued.Add(1)
				if o.limit > 0 && i > o.limit {
					return
				}
				t0 := time.Now()
				got, err := do(ctx, client, sc, base, o.tag, i)
				if err != nil {
					if ctx.Err() != nil || (o.killed != nil && o.killed.Load()) {
						return
					}
					mu.Lock()
					if res.err == nil {
						res.err = err
					}
					mu.Unlock()
					return
				}
				h.add(time.Since(t0))
				n.Add(1)
				bytes.Add(got)
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n, res.bytes = n.Load(), bytes.Load()
	if res.err == nil && ctx.Err() != nil {
		res.err = ctx.Err()
	}
	return res
}

// do sends request i of a run and reads the whole answer. It returns the
// body size, or an error unless status and size are what the origin sends.
func do(ctx context.Context, client *http.Client, sc *scenario, base, tag string, i int64) (int64, error) {
	u := base + sc.path + "?lb=" + tag
	var body io.Reader
	if sc.method == http.MethodPost {
		body = strings.NewReader(tokenRequest(tag, i))
	}
	req, err := http.NewRequestWithContext(ctx, sc.method, u, body)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return n, fmt.Errorf("%s %s: read body: %w", sc.method, u, err)
	}
	if resp.StatusCode != sc.status {
		return n, fmt.Errorf("%s %s: status %d, want %d", sc.method, u, resp.StatusCode, sc.status)
	}
	if n != sc.bodyLen {
		return n, fmt.Errorf("%s %s: got %d body bytes, want %d", sc.method, u, n, sc.bodyLen)
	}
	return n, nil
}

// tokenRequest is an authorization-code redemption like MSAL's, with a code
// of its own so rules that track codes across flows see distinct ones.
func tokenRequest(tag string, i int64) string {
	return url.Values{
		"grant_type":   {"authorization_code"},
		"client_id":    {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
		"code":         {fmt.Sprintf("1.AXoAloadbench.%s.%d", tag, i)},
		"redirect_uri": {"http://localhost:8400/"},
		"scope":        {"https://graph.microsoft.com/.default offline_access openid profile"},
	}.Encode()
}

// histogram keeps latencies in buckets growing by histGrowth from 1 µs, so
// quantiles are within about 1% whatever the run's length, in fixed memory.
type histogram struct {
	counts [histBuckets]int64
	total  int64
}

const (
	histBuckets = 1400 // 1 µs × 1.02^1400 is far beyond any timeout
	histGrowth  = 1.02
)

var logGrowth = math.Log(histGrowth)

func (h *histogram) add(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/logGrowth)+1, histBuckets-1)
	}
	h.counts[i]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(h.total)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= want {
			return time.Duration(math.Pow(histGrowth, float64(i)) * float64(time.Microsecond))
		}
	}
	return time.Duration(math.Pow(histGrowth, histBuckets) * float64(time.Microsecond))
}
