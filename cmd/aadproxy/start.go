package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/console"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/internal/launch"
	"github.com/aadproxy/aadproxy/internal/pipeline"
	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/trace"
	"github.com/aadproxy/aadproxy/ui"
)

// startOptions are the flags of `aadproxy start`.
type startOptions struct {
	listen           string
	home             string
	intercept        stringList
	interceptAll     bool
	mapRemote        stringList
	upstreamCA       stringList
	upstreamInsecure bool
	upstreamProxy    string
	maxBody          int64
	record           string
	recordMax        int64
	json             bool
	quiet            bool
	offline          bool
	http1            bool
	upstreamTimeout  time.Duration
	idleTimeout      time.Duration
	auth             string // --auth USER:PASS, or "auto"
	allowClients     stringList
	allowUpstream    stringList
	ui               string // the inspector's address; "" the default
	noUI             bool
	open             bool
	systemProxy      bool // start only: point the OS's proxy setting here (sysproxy.go)
}

// defaultStartOptions holds the defaults that flags do not set by
// themselves (sizes, whose flag type has no default of its own).
func defaultStartOptions() startOptions {
	return startOptions{maxBody: proxy.DefaultMaxBody, recordMax: trace.DefaultMaxSize}
}

func startFlags(name string, o *startOptions, stderr io.Writer) *flagSet {
	fs := newFlagSet(name, stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (loopback unless you mean otherwise)")
	fs.StringVar(&o.home, "home", "", "folder for the CA and data (default $AADPROXY_HOME or the user config dir + /aadproxy)")
	fs.Var(&o.intercept, "intercept", "also decrypt hosts matching `PATTERN` (repeatable; *.contoso.com matches subdomains)")
	fs.BoolVar(&o.interceptAll, "intercept-all", false, "decrypt every host (client-certificate hosts stay tunnelled)")
	fs.Var(&o.mapRemote, "map-remote", "send `HOST=ADDR` traffic to ADDR, keeping Host and SNI (repeatable)")
	fs.Var(&o.upstreamCA, "upstream-ca", "also trust the CA certificates in `FILE` upstream (repeatable)")
	fs.BoolVar(&o.upstreamInsecure, "upstream-insecure", false, "do not verify upstream certificates (dangerous)")
	fs.StringVar(&o.upstreamProxy, "upstream-proxy", "", "chain through the proxy at `URL` (the environment's HTTPS_PROXY is never used)")
	fs.Var(sizeFlag{&o.maxBody}, "max-body", "capture at most `SIZE` of each body (e.g. 10MiB); bodies always stream whole")
	fs.StringVar(&o.record, "record", "", "record flows to `FILE.har` (valid after every flow, even after kill -9)")
	fs.Var(sizeFlag{&o.recordMax}, "record-max", "stop recording bodies once the recording is `SIZE` (flows keep their metadata; 0: no limit)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per line (flows, findings, notices)")
	fs.BoolVar(&o.quiet, "quiet", false, "print only findings and warnings")
	fs.BoolVar(&o.offline, "offline", false, "connect to loopback addresses only (with --map-remote: tests and demos that must not leave the machine)")
	fs.BoolVar(&o.http1, "http1", false, "keep decrypted connections on HTTP/1.1 (by default a client that offers h2 gets it when the upstream speaks it)")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", proxy.DefaultUpstreamTimeout, "wait at most `DURATION` for an upstream's response head (then 504)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", proxy.DefaultIdleTimeout, "cut a response body whose upstream sends nothing for `DURATION` (0: never; event streams and WebSockets never are)")
	fs.StringVar(&o.auth, "auth", "", "ask clients beyond loopback for `USER:PASS` (Basic proxy authentication); \"auto\" makes a password and prints it")
	fs.Var(&o.allowClients, "allow-clients", "let clients from `CIDR` use the proxy without --auth (repeatable)")
	fs.Var(&o.allowUpstream, "allow-upstream", "let the proxy reach `CIDR` although the dial policy refuses it (link-local, metadata; private ranges when listening beyond loopback) (repeatable)")
	uiFlags(fs, o)
	return &flagSet{fs}
}

func parseStart(args []string, stderr io.Writer) (startOptions, error) {
	o := defaultStartOptions()
	fs := startFlags("start", &o, stderr)
	fs.BoolVar(&o.systemProxy, "system-proxy", false, "point the OS's proxy setting (Windows, macOS, GNOME) at aadproxy while it runs; restored when it stops")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	return o, o.validate()
}

func (o startOptions) validate() error {
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usagef("--listen %q: %v", o.listen, err)
	}
	if err := o.validateUI(); err != nil {
		return err
	}
	if _, err := prefixes("--allow-clients", o.allowClients); err != nil {
		return err
	}
	if _, err := prefixes("--allow-upstream", o.allowUpstream); err != nil {
		return err
	}
	if o.upstreamTimeout <= 0 || o.idleTimeout < 0 {
		return usagef("--upstream-timeout must be positive and --idle-timeout not negative (Go durations: 30s, 2m)")
	}
	if o.auth != "" && o.auth != "auto" && !strings.Contains(o.auth, ":") {
		return usagef("--auth %q: want USER:PASS, or auto", o.auth)
	}
	if host, _, _ := net.SplitHostPort(o.listen); !isLoopbackHost(host) && o.auth == "" && len(o.allowClients) == 0 {
		return usagef("--listen %s reaches beyond this machine: anyone who can connect could use the proxy and read what it captures. "+
			"Add --auth USER:PASS (or --auth auto), or --allow-clients CIDR for the networks you trust", o.listen)
	}
	for _, m := range o.mapRemote {
		if _, _, err := proxy.ParseMapRemote(m); err != nil {
			return usageError{err}
		}
	}
	if o.upstreamProxy != "" {
		u, err := url.Parse(o.upstreamProxy)
		if err != nil || u.Host == "" {
			return usagef("--upstream-proxy %q: want a URL like http://proxy.corp:3128", o.upstreamProxy)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return usagef("--upstream-proxy %q: only http:// and https:// proxies can be chained (not %s://)", o.upstreamProxy, u.Scheme)
		}
	}
	for _, f := range o.upstreamCA {
		if _, err := readCerts(f); err != nil {
			return usageError{err}
		}
	}
	if _, err := proxy.NewScope(o.intercept, o.interceptAll); err != nil {
		return usageError{err}
	}
	return nil
}

// proxyOptions turns flags into proxy.Options.
func (o startOptions) proxyOptions() (proxy.Options, error) {
	po := proxy.Default()
	po.Intercept = append([]string(nil), o.intercept...)
	po.InterceptAll = o.interceptAll
	po.UpstreamInsecure = o.upstreamInsecure
	po.HTTP1 = o.http1
	po.MaxBody = o.maxBody
	po.Auth = o.auth
	po.ResponseHeaderTimeout, po.IdleTimeout = o.upstreamTimeout, o.idleTimeout
	po.AllowClients, _ = prefixes("--allow-clients", o.allowClients)
	po.AllowUpstream, _ = prefixes("--allow-upstream", o.allowUpstream)
	if o.offline {
		po.Dial = proxy.LoopbackOnly(nil)
	}
	if len(o.mapRemote) > 0 {
		po.MapRemote = map[string]string{}
		for _, m := range o.mapRemote {
			h, a, _ := proxy.ParseMapRemote(m)
			po.MapRemote[h] = a
		}
	}
	for _, f := range o.upstreamCA {
		certs, err := readCerts(f)
		if err != nil {
			return po, usageError{err}
		}
		po.UpstreamRoots = append(po.UpstreamRoots, certs...)
	}
	if o.upstreamProxy != "" {
		u, _ := url.Parse(o.upstreamProxy)
		po.UpstreamProxy = u
	}
	if err := po.Validate(); err != nil {
		return po, usageError{err} // every option came from a flag
	}
	return po, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --upstream-ca: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--upstream-ca %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--upstream-ca %s: no PEM certificate found", path)
	}
	return out, nil
}

// session is a running proxy with its pipeline and its web inspector,
// shared by start and demo.
type session struct {
	proxy    *proxy.Proxy
	pipe     *pipeline.Pipeline
	recorder *trace.Recorder
	listener net.Listener
	ca       *certs.CA
	served   chan error
	ui       *inspector // nil with --no-ui
}

// openSession starts the proxy described by o with ca, listening on
// o.listen, and its inspector unless o.noUI. Under --json the inspector's
// address is the first line on stdout.
func openSession(o startOptions, po proxy.Options, ca *certs.CA, stdout, stderr io.Writer) (*session, error) {
	s := &session{ca: ca, served: make(chan error, 1)}
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var rec pipeline.Recorder
	if o.record != "" {
		if s.recorder, err = trace.Create(o.record, "aadproxy", version); err != nil {
			return nil, fmt.Errorf("open recording: %w", err)
		}
		rec = s.recorder
		s.recorder.LimitBodies(o.recordMax, func() {
			s.pipe.Notice(proxy.Notice{Level: "warning", Message: fmt.Sprintf(
				"the recording %s has reached --record-max %s: later flows are recorded without their bodies", o.record, sizeFlag{&o.recordMax})})
		})
	}
	outs := []pipeline.Output{console.New(stdout, console.Options{JSON: o.json, Quiet: o.quiet})}
	var store *ui.Store
	if !o.noUI {
		store = ui.NewStore(ui.StoreOptions{})
		outs = append(outs, store)
	}
	s.pipe = pipeline.New(eng, rec, outs...)
	fail := func(err error) (*session, error) {
		s.pipe.Close()
		if store != nil {
			store.Close()
		}
		if s.recorder != nil {
			s.recorder.Close()
		}
		return nil, err
	}
	s.proxy, err = proxy.New(po, ca, proxy.Events{Flow: s.pipe.Flow, Notice: s.pipe.Notice})
	if err != nil {
		return fail(err)
	}
	s.listener, err = net.Listen("tcp", o.listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", o.listen, err))
	}
	if store != nil {
		s.ui, err = openInspector(o, store, ui.Options{
			Mode: "live", Proxy: s.listener.Addr().String(), Recording: o.record, Version: version,
			Controls: newLiveControls(s), Bundle: writeBundle,
		}, stderr)
		if err != nil {
			s.listener.Close()
			return fail(err)
		}
		s.proxy.Guard(s.ui.listener.Addr(), "aadproxy's web inspector")
		if o.json {
			line, _ := json.Marshal(map[string]string{"type": "ui", "url": s.ui.url})
			fmt.Fprintf(stdout, "%s\n", line)
		}
	}
	go func() { s.served <- s.proxy.Serve(s.listener) }()
	return s, nil
}

// close stops the proxy, drains the pipeline and closes the recording.
func (s *session) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.proxy.Shutdown(ctx)
	s.pipe.Close()
	if s.ui != nil {
		s.ui.close()
	}
	if s.recorder != nil {
		if err := s.recorder.Close(); err != nil {
			return fmt.Errorf("close recording: %w", err)
		}
	}
	if s.pipe.Unrecorded() > 0 {
		return errRecordingIncomplete // summarize says how many and why
	}
	return nil
}

// errRecordingIncomplete ends a run whose recording lost flows: it exits 1
// after the summary has counted them.
var errRecordingIncomplete = errors.New("the recording is incomplete")

func runStart(args []string, stdout, stderr io.Writer) error {
	o, err := parseStart(args, stderr)
	if err != nil {
		return err
	}
	if o.auth == "auto" {
		pw, err := ui.NewToken()
		if err != nil {
			return err
		}
		o.auth = "aadproxy:" + pw[:24]
	}
	po, err := o.proxyOptions()
	if err != nil {
		return err
	}
	home, err := homeDir(o.home)
	if err != nil {
		return err
	}
	recoverSystemProxy(home, stderr)
	ca, created, err := certs.LoadOrCreate(home)
	if err != nil {
		return fmt.Errorf("load CA from %s: %w", home, err)
	}
	bundle, err := caBundle(home, ca)
	if err != nil {
		return err
	}
	tuneGC()
	s, err := openSession(o, po, ca, stdout, stderr)
	if err != nil {
		return err
	}
	if o.record != "" {
		if err := rememberRecording(home, o.record); err != nil {
			fmt.Fprintf(stderr, "! could not note the recording for `bundle --last`: %v\n", err)
		}
	}
	printBanner(stderr, o, s.listener.Addr().String(), ca, created, bundle)
	if s.ui != nil {
		s.ui.announce(stderr, o.open)
	}
	if err := s.writeRunFile(home, o); err != nil {
		fmt.Fprintf(stderr, "! could not write the run file (other aadproxy commands will not find this proxy): %v\n", err)
	}
	defer runfile.Remove(home, os.Getpid())

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	notifyHangup(sig)
	defer signal.Stop(sig)
	sp := startSystemProxy(home, o, s.listener.Addr().String(), stderr) // a signal meanwhile waits in sig
	defer sp.restore(stderr)
	select {
	case <-sig:
		fmt.Fprintln(stderr, "\nstopping…")
	case err := <-s.served:
		if err != nil {
			sp.restore(stderr)
			s.close()
			return err
		}
	}
	sp.restore(stderr) // before the proxy goes, so clients stop using it first
	return s.closeWithin(stopDeadline, sig, stderr)
}

// The proxy's live memory is bounded by design (the pipeline's queues, the
// rules' history, the captures in progress), so the collector may let the
// heap grow to three times it (GOGC 200) under a soft limit well below the
// 300 MiB aadproxy promises: fewer collections for the same work (peak RSS
// stays near 200 MiB in every scenario of the load benchmark).
const (
	gcPercent   = 200
	memoryLimit = 200 << 20
)

// tuneGC applies gcPercent and memoryLimit unless the environment sets
// GOGC or GOMEMLIMIT, which win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// stopDeadline is how long stopping may take: finishing exchanges in
// flight, then writing what is queued for the recorder (at most the
// pipeline's byte bound). A stalled disk or a second Ctrl-C cuts it short.
const stopDeadline = 9 * time.Second

// closeWithin closes the session, giving up after d or at a second signal,
// and says what the recording holds.
func (s *session) closeWithin(d time.Duration, sig <-chan os.Signal, stderr io.Writer) error {
	closed := make(chan error, 1)
	go func() { closed <- s.close() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-closed:
		s.summarize(stderr)
		return err
	case <-timer.C:
	case <-sig:
	}
	s.summarize(stderr)
	return fmt.Errorf("stopped before everything was saved: the recording holds what was written so far")
}

// summarize tells how many flows the recording holds and how many it lost.
func (s *session) summarize(stderr io.Writer) {
	if s.recorder == nil {
		return
	}
	fmt.Fprintf(stderr, "recorded %d of %d flows to %s\n", s.recorder.Count(), s.pipe.Count(), s.recorder.Path())
	if n := s.pipe.Unrecorded(); n > 0 {
		fmt.Fprintf(stderr, "! %d flows could not be recorded: %v\n", n, s.pipe.RecordError())
	}
}

func printBanner(w io.Writer, o startOptions, addr string, ca *certs.CA, created bool, bundle string) {
	fmt.Fprintf(w, "aadproxy %s listening on %s\n", version, addr)
	if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() {
		switch {
		case o.auth != "":
			fmt.Fprintf(w, "! listening beyond loopback on %s: clients other than this machine must authenticate as %s\n", addr, o.auth)
		default:
			fmt.Fprintf(w, "! listening beyond loopback on %s: clients from %s may use it without credentials\n", addr, strings.Join(o.allowClients, ", "))
		}
		fmt.Fprintf(w, "  it never reaches this machine's loopback or private networks for them (--allow-upstream CIDR names exceptions)\n")
	}
	if created {
		fmt.Fprintf(w, "created a new CA (unique to this install)\n")
	}
	fmt.Fprintf(w, "CA certificate: %s\n  SHA-256 %s\n", ca.CertPath(), ca.Fingerprint())
	scope := fmt.Sprintf("%d Microsoft identity hosts", len(proxy.IdentityHosts))
	if o.interceptAll {
		scope = "every host"
	}
	if len(o.intercept) > 0 {
		scope += " + " + strings.Join(o.intercept, ", ")
	}
	fmt.Fprintf(w, "decrypting: %s; everything else is tunnelled untouched\n", scope)
	if s, _ := proxy.NewScope(o.intercept, o.interceptAll); s != nil {
		for _, h := range s.ExplicitClientCertHosts() {
			fmt.Fprintf(w, "! decrypting %s as asked: %s — its sign-in will fail while intercepted\n", h, proxy.ClientCertReason)
		}
	}
	if o.upstreamInsecure {
		fmt.Fprintf(w, "! --upstream-insecure: upstream certificates are NOT verified; anyone on the path can impersonate Entra\n")
	}
	if o.record != "" {
		fmt.Fprintf(w, "recording to %s (private to you; share it only after `aadproxy sanitize`)\n", o.record)
	}
	printClientSettings(w, launch.Wiring{ProxyURL: "http://" + addr, Bundle: bundle, CACert: ca.CertPath()}, ca.SPKIHash())
	fmt.Fprintf(w, "More (system stores, each runtime by hand): aadproxy ca show.   Ctrl-C stops and saves.\n\n")
}

// printClientSettings prints the lines that point a shell's clients at the
// proxy. They come from the table `aadproxy env` and `aadproxy run` use
// (launch.Settings), so the three never disagree; variables that share
// their readers share a line.
func printClientSettings(w io.Writer, wr launch.Wiring, spkiHash string) {
	type line struct{ cmd, comment string }
	var lines []line
	var cur *line
	var curFor string
	for _, st := range launch.Settings(wr) {
		if st.For == "scripts" {
			continue // AADPROXY=1 is for scripts aadproxy runs
		}
		if cur == nil || st.For != curFor {
			lines = append(lines, line{cmd: "export", comment: st.For})
			cur, curFor = &lines[len(lines)-1], st.For
		}
		cur.cmd += " " + st.Name + "=" + shellWord(st.Value)
		if st.Also != "" {
			cur.comment += " (" + st.Also + ")"
		}
	}
	chromium := append([]string{"chromium"}, launch.ChromiumFlags(strings.TrimPrefix(wr.ProxyURL, "http://"), spkiHash, `"$(mktemp -d)"`)...)
	lines = append(lines, line{strings.Join(chromium, " "), "Chromium, Chrome, Edge: a fresh profile (or: aadproxy browser)"})
	width := 0
	for _, l := range lines {
		if n := len(l.cmd); n > width && n <= 72 {
			width = n
		}
	}
	fmt.Fprintf(w, "\nPoint a client at it (or let aadproxy do it: aadproxy run -- CMD, eval \"$(aadproxy env)\", aadproxy browser):\n")
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  # %s\n", width, l.cmd, l.comment)
	}
	fmt.Fprintf(w, "  # Java: aadproxy run -- java …, or eval \"$(aadproxy env)\" (JAVA_TOOL_OPTIONS: proxy properties and a trust store)\n")
	fmt.Fprintf(w, "  # .NET: aadproxy ca install (it reads the system store), and HTTPS_PROXY above\n")
}

// shellWord quotes v for a POSIX shell when it needs it (a macOS home has
// a space).
func shellWord(v string) string {
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@%+=,-", r)) {
			return posixQuote(v)
		}
	}
	return v
}

// sizeFlag parses sizes like 10MiB, 512k, 1048576.
type sizeFlag struct{ v *int64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return ""
	}
	n := *s.v
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

func parseSize(v string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB)", v)
	}
	return n * mult, nil
}

// prefixes parses CIDRs (a bare address is its own /32 or /128).
func prefixes(flagName string, vs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vs {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, usagef("%s %q: want a CIDR like 10.0.0.0/8 or an address", flagName, v)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// isLoopbackHost reports a listen host only this machine can reach.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
