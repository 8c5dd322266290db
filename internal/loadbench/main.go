// Command loadbench is aadproxy's load benchmark, the one the README quotes.
// It builds ./cmd/aadproxy, starts an HTTPS origin on 127.0.0.1 (its
// certificate carries that IP, so no proxy needs a host mapping), and drives
// each scenario through these targets, every one a separate process started
// in the benchmark's own session (no setsid: on these kernels a new session
// is its own CPU-share group, see shared/PERF.md):
//
//	direct    the clients talk to the origin themselves
//	goproxy   the bare goproxy MITM engine (this command run with
//	          -serve-goproxy): an ECDSA CA, an upstream transport tuned like
//	          aadproxy's, upstream connections kept when a client closes
//	          its own; the yardstick aadproxy must stay near
//	aadproxy  aadproxy start --listen 127.0.0.1:0 --offline --quiet
//	          --intercept-all --record FILE --home DIR --upstream-ca CA.pem
//	mitmdump  mitmproxy's mitmdump, when it is installed (Debian package
//	          mitmproxy), with a temporary confdir; skipped with a note
//	          otherwise
//
// Scenarios, chosen with -scenarios (comma-separated; default all):
//
//	small-c1        small JSON GET, keep-alive, 1 client
//	small-c32       small JSON GET, keep-alive, 32 clients
//	1mib-c4         1 MiB JavaScript-like downloads, 4 clients
//	                (reported as 1mib-bin-c4 with -binary: random bytes)
//	fresh-tls-c8    a new connection (CONNECT + TLS handshake) per request,
//	                8 clients
//	small-h2-c32    small-c32 with clients that offer h2 as browsers do:
//	                the origin and aadproxy speak it (the 32 clients share
//	                one connection), the engine answers HTTP/1.1
//	fresh-h2-c8     fresh-tls-c8 with clients that offer h2
//	entra-error-c8  form POSTs redeeming an authorization code at
//	                /common/oauth2/v2.0/token, answered 400 with Entra's
//	                AADSTS70008 JSON, 8 clients; aadproxy also runs with
//	                --json, and `aadproxy analyze --json` on its recording
//	                must give one aadsts-error finding per request
//	long-session    -flows small GETs (32 clients) through the engine and
//	                aadproxy only, for peak RSS; the recording must hold
//	                every flow
//	record-lag      256 KiB downloads through aadproxy, 8 clients, then
//	                kill -9 after -lag-after: the responses clients received
//	                whole minus the entries in the crash-cut recording must
//	                stay within the recorder's 64 MiB queue bound, plus one
//	                response per client waiting at hand-over
//
// Each scenario starts its targets afresh, so peak RSS (VmHWM) is that
// scenario's own. Targets alternate within a round, their order rotating
// between rounds, and each measurement follows a warm-up. The report gives,
// per scenario and target, medians over rounds of req/s, MiB/s, p50 and
// p99 latency (from a histogram of every request), the proxy's CPU per
// request (utime+stime from /proc/PID/stat, from the window's start until
// the process goes idle, so work it defers past the window, such as
// inspection or recording catching up, is charged to it and does not slow
// the next target), its peak RSS, and the ratios aadproxy ÷ engine (req/s,
// CPU per request, p99) and aadproxy ÷ mitmdump (req/s). Raw numbers drift
// between runs on shared machines; quote the ratios.
//
// Every request names its run in a query parameter (?lb=SCENARIO.TARGET.
// ROUND). After each scenario aadproxy is stopped with SIGTERM and its
// recording read back with the trace package: every request aadproxy
// answered must be an entry with its whole response body.
//
// Usage:
//
//	go run ./internal/loadbench [flags]
//
// Flags:
//
//	-scenarios LIST  scenarios to run, comma-separated (default all)
//	-seconds S       length of each measurement window (default 5)
//	-warmup S        warm-up before each window, not measured (default 1)
//	-rounds N        rounds; medians are over rounds (default 3)
//	-flows N         long-session's flow count (default 100000)
//	-lag-after S     record-lag: kill -9 aadproxy after S seconds (default 3)
//	-binary          1 MiB bodies are random bytes, not JavaScript-like text
//	-mitmdump        also measure mitmdump when installed (default true)
//	-markdown        also print the tables as Markdown for README.md, with
//	                 the command line
//	-smoke           CI mode: every scenario without mitmdump, one round of
//	                 0.5 s windows capped at 500 requests or 16 MiB of
//	                 bodies, long-session with 2000 flows, record-lag killed
//	                 after 0.5 s; fails only on errors (a proxy that dies, a
//	                 failed request, missing recording entries or findings,
//	                 a crash losing more than the bound), never on speed.
//	                 Flags given explicitly still apply.
//	-aadproxy PATH   aadproxy binary to measure (default: go build one)
//
// It exits 1 when a scenario fails and 2 on bad flags. Every address is
// 127.0.0.1, and every loop is bounded in count and time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/internal/pipeline"
)

// lagBound is the most body bytes a crash may lose from a recording: the
// queue in front of the recorder is bounded to it.
const lagBound = pipeline.DefaultQueueBytes

// countedMax bounds long-session's run per target.
const countedMax = 10 * time.Minute

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-serve-goproxy" {
		serveBareGoproxy(os.Args[2])
		return
	}
	cfg := defaultConfig()
	scen := flag.String("scenarios", strings.Join(scenarioKeys(), ","), "scenarios to run, comma-separated")
	seconds := flag.Float64("seconds", cfg.seconds.Seconds(), "length of each measurement window in seconds")
	warmup := flag.Float64("warmup", cfg.warmup.Seconds(), "warm-up before each window in seconds")
	flag.IntVar(&cfg.rounds, "rounds", cfg.rounds, "rounds; targets alternate within a round")
	flag.IntVar(&cfg.flows, "flows", cfg.flows, "long-session's flow count")
	lagAfter := flag.Float64("lag-after", cfg.lagAfter.Seconds(), "record-lag: kill -9 aadproxy after this many seconds")
	flag.BoolVar(&cfg.binary, "binary", false, "1 MiB bodies are random bytes, not JavaScript-like text")
	flag.BoolVar(&cfg.mitmdump, "mitmdump", true, "also measure mitmdump when it is installed")
	flag.BoolVar(&cfg.markdown, "markdown", false, "also print Markdown tables for README.md")
	smoke := flag.Bool("smoke", false, "CI mode: every scenario briefly, fail only on errors")
	flag.StringVar(&cfg.aadproxy, "aadproxy", "", "aadproxy binary (default: build ./cmd/aadproxy)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loadbench: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	cfg.scenarios = strings.Split(*scen, ",")
	cfg.seconds = secondsFlag(*seconds)
	cfg.warmup = secondsFlag(*warmup)
	cfg.lagAfter = secondsFlag(*lagAfter)
	cfg.cmdline = strings.Join(append([]string{"go run ./internal/loadbench"}, os.Args[1:]...), " ")
	if *smoke {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		cfg = cfg.smoke(set)
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func secondsFlag(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// config is the benchmark's settings; see the package comment.
type config struct {
	scenarios []string
	seconds   time.Duration
	warmup    time.Duration
	rounds    int
	flows     int
	lagAfter  time.Duration
	binary    bool
	mitmdump  bool
	markdown  bool
	smokeMode bool
	aadproxy  string
	cmdline   string // for the Markdown report
}

func defaultConfig() config {
	return config{
		scenarios: scenarioKeys(),
		seconds:   5 * time.Second,
		warmup:    time.Second,
		rounds:    3,
		flows:     100_000,
		lagAfter:  3 * time.Second,
		mitmdump:  true,
		cmdline:   "go run ./internal/loadbench",
	}
}

// smoke returns c set for CI: short, one round, no mitmdump; settings named
// in set (flags given explicitly) are kept.
func (c config) smoke(set map[string]bool) config {
	c.smokeMode = true
	c.mitmdump = false
	for name, apply := range map[string]func(){
		"seconds":   func() { c.seconds = 500 * time.Millisecond },
		"warmup":    func() { c.warmup = 200 * time.Millisecond },
		"rounds":    func() { c.rounds = 1 },
		"flows":     func() { c.flows = 2000 },
		"lag-after": func() { c.lagAfter = 500 * time.Millisecond },
	} {
		if !set[name] {
			apply()
		}
	}
	return c
}

func (c config) validate() error {
	switch {
	case c.seconds <= 0 || c.seconds > time.Hour:
		return fmt.Errorf("-seconds %v: want more than 0 and at most an hour", c.seconds.Seconds())
	case c.warmup < 0 || c.warmup > time.Hour:
		return fmt.Errorf("-warmup %v: want 0 to an hour", c.warmup.Seconds())
	case c.rounds < 1 || c.rounds > 100:
		return fmt.Errorf("-rounds %d: want 1 to 100", c.rounds)
	case c.flows < 1 || c.flows > 10_000_000:
		return fmt.Errorf("-flows %d: want 1 to 10000000", c.flows)
	case c.lagAfter <= 0 || c.lagAfter > time.Hour:
		return fmt.Errorf("-lag-after %v: want more than 0 and at most an hour", c.lagAfter.Seconds())
	}
	known := map[string]bool{}
	for _, k := range scenarioKeys() {
		known[k] = true
	}
	for _, s := range c.scenarios {
		if !known[strings.TrimSpace(s)] {
			return fmt.Errorf("-scenarios: unknown scenario %q (have %s)", s, strings.Join(scenarioKeys(), ", "))
		}
	}
	return nil
}

type scenarioKind int

const (
	timed   scenarioKind = iota // every target for -seconds per round
	counted                     // -flows requests, engine and aadproxy
	crash                       // aadproxy killed under load
)

// scenario is one kind of load.
type scenario struct {
	key     string // as -scenarios names it
	name    string // as the report names it
	kind    scenarioKind
	clients int
	fresh   bool // a new connection per request
	h2      bool // clients offer h2 (ALPN h2, http/1.1)
	method  string
	path    string
	status  int
	bodyLen int64
}

func allScenarios(binary bool) []*scenario {
	big := "1mib-c4"
	if binary {
		big = "1mib-bin-c4"
	}
	get := func(key, name string, kind scenarioKind, clients int, path string, size int64) *scenario {
		return &scenario{key: key, name: name, kind: kind, clients: clients, method: http.MethodGet, path: path, status: http.StatusOK, bodyLen: size}
	}
	fresh := get("fresh-tls-c8", "fresh-tls-c8", timed, 8, pathSmall, int64(len(smallBody)))
	fresh.fresh = true
	smallH2 := get("small-h2-c32", "small-h2-c32", timed, 32, pathSmall, int64(len(smallBody)))
	smallH2.h2 = true
	freshH2 := get("fresh-h2-c8", "fresh-h2-c8", timed, 8, pathSmall, int64(len(smallBody)))
	freshH2.fresh, freshH2.h2 = true, true
	return []*scenario{
		get("small-c1", "small-c1", timed, 1, pathSmall, int64(len(smallBody))),
		get("small-c32", "small-c32", timed, 32, pathSmall, int64(len(smallBody))),
		get("1mib-c4", big, timed, 4, pathBig, bigSize),
		fresh,
		smallH2,
		freshH2,
		{key: "entra-error-c8", name: "entra-error-c8", kind: timed, clients: 8, method: http.MethodPost,
			path: pathToken, status: http.StatusBadRequest, bodyLen: int64(len(entraError()))},
		get("long-session", "long-session", counted, 32, pathSmall, int64(len(smallBody))),
		get("record-lag", "record-lag", crash, 8, pathChunk, chunkSize),
	}
}

func scenarioKeys() []string {
	var keys []string
	for _, s := range allScenarios(false) {
		keys = append(keys, s.key)
	}
	return keys
}

// Target names.
const (
	direct   = "direct"
	engine   = "goproxy"
	aadproxy = "aadproxy"
	mitmdump = "mitmdump"
)

// result is one target's measurements in one scenario.
type result struct {
	target string
	proxy  bool
	rps    []float64
	mibps  []float64
	cpu    []float64 // µs of the proxy's CPU per request
	p50    []time.Duration
	p99    []time.Duration
	rss    int64 // peak RSS in bytes
	// busy is how long the proxy kept working after each window (deferred
	// inspection or recording), counted in cpu.
	busy  []time.Duration
	notes []string
}

type scenarioResult struct {
	sc      *scenario
	results []*result
	checks  []string
	err     error
}

// target is a running target in one scenario.
type target struct {
	name     string
	p        *proc // nil for direct
	tr       *http.Transport
	res      *result
	answered map[string]int64 // per lb tag: requests answered whole
	record   string           // aadproxy's recording
	console  *consoleCounter  // aadproxy's --json output, entra-error only
}

// bench is one run of the benchmark.
type bench struct {
	cfg      config
	dir      string
	bin      string // aadproxy
	self     string // this binary, for -serve-goproxy
	origin   *origin
	mitmdump string // path, or "" when not measured
	log      io.Writer
}

func run(ctx context.Context, cfg config, out, logw io.Writer) error {
	dir, err := os.MkdirTemp("", "loadbench-*")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	b := &bench{cfg: cfg, dir: dir, bin: cfg.aadproxy, log: logw}
	if b.bin == "" {
		b.bin = filepath.Join(dir, "aadproxy")
		fmt.Fprintln(logw, "building aadproxy…")
		start := time.Now()
		// The import path, not ./cmd/aadproxy, so the test can build from
		// its own folder.
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/aadproxy/aadproxy/cmd/aadproxy")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build aadproxy: %w\n%s", err, out)
		}
		fmt.Fprintf(logw, "(built in %.1fs)\n", time.Since(start).Seconds())
	}
	if b.self, err = os.Executable(); err != nil {
		return fmt.Errorf("find own binary for the goproxy engine: %w", err)
	}
	if b.origin, err = startOrigin(dir, cfg.binary); err != nil {
		return err
	}
	defer b.origin.close()
	env := envInfo{cpus: runtime.NumCPU(), mitmdump: "not measured (-smoke)"}
	if cfg.mitmdump {
		if p, err := exec.LookPath("mitmdump"); err == nil {
			b.mitmdump = p
			env.mitmdump = mitmdumpVersion(ctx, p)
		} else {
			env.mitmdump = "not installed (Debian: apt-get install mitmproxy)"
			fmt.Fprintln(logw, "mitmdump is not installed (Debian: apt-get install mitmproxy): measuring without it")
		}
	} else if !cfg.smokeMode {
		env.mitmdump = "not measured (-mitmdump=false)"
	}

	want := map[string]bool{}
	for _, s := range cfg.scenarios {
		want[strings.TrimSpace(s)] = true
	}
	var results []*scenarioResult
	var errs []error
	for _, sc := range allScenarios(cfg.binary) {
		if !want[sc.key] || ctx.Err() != nil {
			continue
		}
		fmt.Fprintf(logw, "== %s\n", sc.name)
		start := time.Now()
		r := b.runScenario(ctx, sc)
		results = append(results, r)
		for _, c := range r.checks {
			fmt.Fprintf(logw, "   %s\n", c)
		}
		if r.err != nil {
			fmt.Fprintf(logw, "   FAILED: %v\n", r.err)
			errs = append(errs, fmt.Errorf("%s: %w", sc.name, r.err))
		}
		fmt.Fprintf(logw, "   (%s in %.1fs)\n", sc.name, time.Since(start).Seconds())
	}
	report(out, cfg, env, results)
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// runScenario starts fresh targets, loads them, stops them and checks
// aadproxy's recording.
func (b *bench) runScenario(ctx context.Context, sc *scenario) *scenarioResult {
	res := &scenarioResult{sc: sc}
	names := []string{direct, engine, aadproxy}
	if b.mitmdump != "" {
		names = append(names, mitmdump)
	}
	switch sc.kind {
	case counted:
		names = []string{engine, aadproxy}
	case crash:
		names = []string{aadproxy}
	}
	var ts []*target
	defer func() {
		for _, t := range ts {
			if t.p != nil {
				select {
				case <-t.p.exited:
				default:
					t.p.kill()
				}
			}
			if t.tr != nil {
				t.tr.CloseIdleConnections()
			}
			if t.record != "" {
				os.Remove(t.record)
			}
		}
	}()
	for _, n := range names {
		t, err := b.startTarget(ctx, sc, n)
		if err != nil {
			res.err = err
			return res
		}
		ts = append(ts, t)
		res.results = append(res.results, t.res)
	}
	var err error
	switch sc.kind {
	case timed:
		err = b.timed(ctx, sc, ts)
	case counted:
		err = b.counted(ctx, sc, ts)
	case crash:
		res.checks, err = b.crash(ctx, sc, ts[0])
		res.err = err
		return res
	}
	if err != nil {
		res.err = err
		return res
	}
	res.checks, res.err = b.finish(ctx, sc, ts)
	return res
}

// startTarget starts one target afresh for sc.
func (b *bench) startTarget(ctx context.Context, sc *scenario, name string) (*target, error) {
	t := &target{name: name, res: &result{target: name, proxy: name != direct}, answered: map[string]int64{}}
	var (
		p   *proc
		err error
	)
	switch name {
	case direct:
		t.tr = transport(sc, "", b.origin)
		return t, nil
	case engine:
		p, err = startProc(ctx, name, exec.Command(b.self, "-serve-goproxy", b.origin.caFile), nil, "")
	case aadproxy:
		t.record = filepath.Join(b.dir, sc.key+".har")
		args := []string{"start", "--listen", "127.0.0.1:0", "--offline", "--quiet", "--intercept-all",
			"--record", t.record, "--home", filepath.Join(b.dir, "home"), "--upstream-ca", b.origin.caFile}
		var stdout io.Writer
		if sc.key == "entra-error-c8" {
			// The console must keep up or drop and count; the count is
			// reported beside the recording's.
			t.console = &consoleCounter{}
			args, stdout = append(args, "--json"), t.console
		}
		p, err = startProc(ctx, name, exec.Command(b.bin, args...), stdout, "")
	case mitmdump:
		var port string
		if port, err = freePort(); err != nil {
			return nil, err
		}
		p, err = startProc(ctx, name, exec.Command(b.mitmdump, "--listen-host", "127.0.0.1", "--listen-port", port, "-q",
			"--set", "confdir="+filepath.Join(b.dir, "mitmproxy"),
			"--set", "ssl_verify_upstream_trusted_ca="+b.origin.caFile), nil, port)
	}
	if err != nil {
		return nil, err
	}
	t.p = p
	t.tr = transport(sc, p.addr, b.origin)
	return t, nil
}

// freePort returns a loopback port that was free a moment ago, for mitmdump,
// which cannot report one it picked itself.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// timed measures every target for -seconds per round, alternating, with the
// order rotating between rounds so no target always follows the same one.
func (b *bench) timed(ctx context.Context, sc *scenario, ts []*target) error {
	for r := 0; r < b.cfg.rounds; r++ {
		for k := range ts {
			t := ts[(k+r)%len(ts)]
			if b.cfg.warmup > 0 {
				tag := fmt.Sprintf("%s.%s.warm%d", sc.key, t.name, r+1)
				lr := load(ctx, t.tr, sc, b.origin.base, loadOpts{clients: sc.clients, tag: tag, until: time.Now().Add(b.cfg.warmup), limit: b.windowLimit(sc)})
				t.answered[tag] += lr.n
				if err := t.failed(lr, "warm-up", r); err != nil {
					return err
				}
				if t.p != nil {
					if _, _, _, err := settle(ctx, t.p.pid()); err != nil {
						return fmt.Errorf("%s: %w", t.name, err)
					}
				}
			}
			tag := fmt.Sprintf("%s.%s.r%d", sc.key, t.name, r+1)
			if err := b.measure(ctx, sc, t, r, loadOpts{clients: sc.clients, tag: tag, until: time.Now().Add(b.cfg.seconds), limit: b.windowLimit(sc)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Caps on one smoke window: what makes a smoke run slow is not the load
// but reading the recording back and aadproxy's inspection catching up.
const (
	smokeWindowBytes    = 16 << 20
	smokeWindowRequests = 500
)

// windowLimit caps a window's requests in smoke mode; 0 means no cap.
func (b *bench) windowLimit(sc *scenario) int64 {
	if !b.cfg.smokeMode {
		return 0
	}
	return max(int64(sc.clients), min(smokeWindowRequests, smokeWindowBytes/sc.bodyLen))
}

// counted sends -flows requests through each target, without a warm-up, so
// the recording should hold exactly that many entries.
func (b *bench) counted(ctx context.Context, sc *scenario, ts []*target) error {
	for _, t := range ts {
		tag := fmt.Sprintf("%s.%s.r1", sc.key, t.name)
		o := loadOpts{clients: sc.clients, tag: tag, until: time.Now().Add(countedMax), limit: int64(b.cfg.flows)}
		if err := b.measure(ctx, sc, t, 0, o); err != nil {
			return err
		}
		if got := t.answered[tag]; got != int64(b.cfg.flows) {
			return fmt.Errorf("%s: %d of %d flows within %s", t.name, got, b.cfg.flows, countedMax)
		}
	}
	return nil
}

// measure runs one measured load and records its numbers.
func (b *bench) measure(ctx context.Context, sc *scenario, t *target, r int, o loadOpts) error {
	var before int64
	if t.p != nil {
		var err error
		if before, err = cpuTicks(t.p.pid()); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	lr := load(ctx, t.tr, sc, b.origin.base, o)
	t.answered[o.tag] += lr.n
	if err := t.failed(lr, "measurement", r); err != nil {
		return err
	}
	res := t.res
	res.rps = append(res.rps, float64(lr.n)/lr.elapsed.Seconds())
	res.mibps = append(res.mibps, float64(lr.bytes)/(1<<20)/lr.elapsed.Seconds())
	res.p50 = append(res.p50, lr.hist.quantile(0.50))
	res.p99 = append(res.p99, lr.hist.quantile(0.99))
	line := fmt.Sprintf("%s round %d %-9s %8.0f req/s %8.1f MiB/s  p50 %s  p99 %s", sc.name, r+1, t.name,
		last(res.rps), last(res.mibps), ms(last(res.p50)), ms(last(res.p99)))
	if t.p != nil {
		after, busy, settled, err := settle(ctx, t.p.pid())
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		res.busy = append(res.busy, busy)
		if !settled {
			res.notes = append(res.notes, fmt.Sprintf("still busy %s after round %d", settleMax, r+1))
		}
		if lr.n > 0 {
			res.cpu = append(res.cpu, float64(after-before)*float64(tickDuration/time.Microsecond)/float64(lr.n))
		}
		rss, err := peakRSS(t.p.pid())
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		res.rss = max(res.rss, rss)
		line += fmt.Sprintf("  %6.1f µs CPU/req  peak RSS %s  busy %.1fs after", last(res.cpu), mib(res.rss), busy.Seconds())
	}
	fmt.Fprintln(b.log, line)
	return nil
}

// failed turns a failed load or a dead proxy into an error.
func (t *target) failed(lr loadResult, what string, r int) error {
	if t.p != nil {
		if err := t.p.alive(); err != nil {
			return fmt.Errorf("round %d %s: %w", r+1, what, err)
		}
	}
	if lr.err != nil {
		return fmt.Errorf("%s round %d %s: request failed: %w", t.name, r+1, what, lr.err)
	}
	if lr.n == 0 {
		return fmt.Errorf("%s round %d %s: no request completed", t.name, r+1, what)
	}
	return nil
}

// finish stops the targets and checks aadproxy's recording against what its
// clients received.
func (b *bench) finish(ctx context.Context, sc *scenario, ts []*target) ([]string, error) {
	var rec *target
	var stopErr error
	for _, t := range ts {
		if t.p == nil {
			continue
		}
		// Only aadproxy must exit cleanly: SIGTERM closes its recording.
		if err := t.p.stop(); err != nil && t.name == aadproxy {
			stopErr = err
		}
		if t.name == aadproxy {
			rec = t
		}
	}
	if stopErr != nil {
		return nil, stopErr
	}
	if rec == nil {
		return nil, nil
	}
	start := time.Now()
	r, err := readRecording(rec.record, sc.bodyLen)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "   (read the recording in %.1fs)\n", time.Since(start).Seconds())
	summary, err := r.checkAnswered(rec.answered)
	checks := []string{summary}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if sc.kind == counted && r.entries != b.cfg.flows {
		errs = append(errs, fmt.Errorf("the recording holds %d entries, want %d", r.entries, b.cfg.flows))
	}
	if rec.console != nil {
		s, err := checkFindings(ctx, b.bin, rec.record, r.entries)
		checks = append(checks, s, rec.console.summary())
		if err != nil {
			errs = append(errs, err)
		}
	}
	return checks, errors.Join(errs...)
}

// crash loads aadproxy with 256 KiB answers, kills it with SIGKILL after
// -lag-after, and compares the responses its clients received whole with
// the entries in the crash-cut recording.
func (b *bench) crash(ctx context.Context, sc *scenario, t *target) ([]string, error) {
	pid := t.p.pid()
	before, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	var (
		killed      atomic.Bool
		atKill, rss int64
		statErr     error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(b.cfg.lagAfter)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		if atKill, statErr = cpuTicks(pid); statErr == nil {
			rss, statErr = peakRSS(pid)
		}
		killed.Store(true)
		t.p.cmd.Process.Kill()
	}()
	tag := sc.key + ".aadproxy.r1"
	lr := load(ctx, t.tr, sc, b.origin.base, loadOpts{clients: sc.clients, tag: tag, until: time.Now().Add(b.cfg.lagAfter + time.Minute), killed: &killed})
	<-done
	<-t.p.exited
	if lr.err != nil {
		return nil, fmt.Errorf("request failed before the kill: %w", lr.err)
	}
	if statErr != nil {
		return nil, statErr
	}
	if lr.n == 0 {
		return nil, errors.New("no request completed before the kill")
	}
	res := t.res
	el := min(lr.elapsed, b.cfg.lagAfter).Seconds()
	res.rps = append(res.rps, float64(lr.n)/el)
	res.mibps = append(res.mibps, float64(lr.bytes)/(1<<20)/el)
	res.p50 = append(res.p50, lr.hist.quantile(0.50))
	res.p99 = append(res.p99, lr.hist.quantile(0.99))
	res.cpu = append(res.cpu, float64(atKill-before)*float64(tickDuration/time.Microsecond)/float64(lr.n))
	res.rss = rss

	r, err := readRecording(t.record, sc.bodyLen)
	if err != nil {
		return nil, err
	}
	recorded := r.perTag[tag]
	lag := lr.n - recorded
	lagBytes := lag * sc.bodyLen
	// Besides the queue, each connection may hold one flow its client has
	// already received while the hand-over waits for room in the queue.
	bound := int64(lagBound) + int64(sc.clients)*sc.bodyLen
	checks := []string{fmt.Sprintf("kill -9 after %s: clients received %d responses whole, the recording holds %d: lag %d flows = %.1f MiB (bound %d MiB queue + %d waiting hand-overs = %.0f MiB)",
		b.cfg.lagAfter, lr.n, recorded, lag, float64(lagBytes)/(1<<20), lagBound>>20, sc.clients, float64(bound)/(1<<20))}
	if r.damage != nil {
		checks = append(checks, "recording tail cut by the kill: "+r.damage.Error())
	}
	var errs []error
	if r.bad > 0 {
		errs = append(errs, fmt.Errorf("%d entries lack their whole response body; first %s", r.bad, r.firstBad))
	}
	if lagBytes > bound {
		errs = append(errs, fmt.Errorf("the crash lost %.1f MiB of answered responses, more than the %.0f MiB bound", float64(lagBytes)/(1<<20), float64(bound)/(1<<20)))
	}
	return checks, errors.Join(errs...)
}

func last[T any](xs []T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	return xs[len(xs)-1]
}

// envInfo describes the machine for the report.
type envInfo struct {
	cpus     int
	mitmdump string
}

func mitmdumpVersion(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "mitmdump (version unknown)"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return "mitmdump " + strings.TrimSpace(strings.TrimPrefix(first, "Mitmproxy:"))
}
