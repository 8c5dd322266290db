// Package browsertest starts Debian's headless Chromium for tests and drives
// it with chromedp, so that every browser test of the project (the web
// inspector's, the launcher's) starts, waits, fails and keeps screenshots the
// same way.
//
// It owns the browser processes it starts, their profiles and the artifact
// directories it creates. It must not let a browser reach anything but
// loopback: every browser gets flags that turn off Chromium's own network
// traffic, and one started without a proxy gets a refusing proxy of its own,
// so that a request for any non-loopback address ends on 127.0.0.1.
//
// The helpers take the testing.TB and fail the test themselves (t.Fatalf), so
// call them from the test's goroutine.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

const (
	// ActionTimeout bounds one call of Run or Get. It is generous because a
	// loaded two-core CI machine can take seconds for what takes milliseconds
	// on a laptop.
	ActionTimeout = 60 * time.Second

	// startTimeout bounds Chromium's start, up to its first blank tab.
	startTimeout = 60 * time.Second

	// closeTimeout bounds the graceful close at the end of the test; after
	// it the browser is killed.
	closeTimeout = 15 * time.Second

	// pageInfoTimeout bounds the look at the page that a failure message
	// includes; a dead or hung page must not hide the original error.
	pageInfoTimeout = 10 * time.Second

	// outputKeep is how much of Chromium's stderr a failed test logs.
	outputKeep = 16 << 10

	// textExcerpt is how many characters of the page's text a failure shows.
	textExcerpt = 1500

	defaultWidth, defaultHeight = 1400, 900
)

// ChromiumEnv names the environment variable that overrides where the
// Chromium binary is; see New.
const ChromiumEnv = "AADPROXY_CHROMIUM"

// ArtifactsEnv names the environment variable that sets where screenshots
// are kept; see ArtifactDir.
const ArtifactsEnv = "AADPROXY_ARTIFACTS"

// Options configure one browser. The zero value is a usable default: no
// proxy (and still no network), a 1400x900 window.
type Options struct {
	// Proxy is the proxy for every request, as "http://127.0.0.1:PORT".
	// Chromium sends loopback hosts (127.0.0.1, localhost) direct whatever
	// the proxy, so a test that wants its traffic proxied uses a real host
	// name the proxy maps to loopback. Empty means a refusing proxy that
	// browsertest starts on 127.0.0.1: loopback still works, everything else
	// fails with ERR_TUNNEL_CONNECTION_FAILED (or a 403 for plain HTTP).
	Proxy string

	// SPKIHash is the value of --ignore-certificate-errors-spki-list: the
	// base64 SHA-256 of the public key that Chromium trusts for any host
	// (certs.CA.SPKIHash). Optional.
	SPKIHash string

	// DownloadDir is where downloads land, under the server's file name
	// (Browser.setDownloadBehavior "allow"), with Browser.downloadProgress
	// events on so that a test can wait for one with
	// chromedp.BrowserEvents(ctx, browser.DownloadProgress). Optional;
	// without it headless Chromium's default applies.
	DownloadDir string

	// WindowWidth and WindowHeight are the size of the first tab's viewport
	// in CSS pixels, and so of its screenshots (the device scale factor is
	// 1). Zero means 1400x900.
	WindowWidth, WindowHeight int
}

// Validate reports the first problem with o.
func (o Options) Validate() error {
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil {
			return fmt.Errorf("proxy %q: %w", o.Proxy, err)
		}
		switch u.Scheme {
		case "http", "https", "socks5":
		default:
			return fmt.Errorf("proxy %q: want an http, https or socks5 URL", o.Proxy)
		}
		if u.Host == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("proxy %q: want scheme://host:port and nothing else", o.Proxy)
		}
	}
	if strings.ContainsAny(o.SPKIHash, " ,\n") {
		return fmt.Errorf("spki hash %q: want one base64 hash", o.SPKIHash)
	}
	if o.DownloadDir != "" && !filepath.IsAbs(o.DownloadDir) {
		return fmt.Errorf("download dir %q: want an absolute path", o.DownloadDir)
	}
	if o.WindowWidth < 0 || o.WindowHeight < 0 || (o.WindowWidth == 0) != (o.WindowHeight == 0) {
		return fmt.Errorf("window size %dx%d: want both positive, or both zero for the default", o.WindowWidth, o.WindowHeight)
	}
	return nil
}

// quietFlags keep Chromium from reaching anything on its own: no background
// networking, component or safe-browsing updates, sync, QUIC, first-run
// work, crash uploads, pings or network time queries. They extend chromedp's
// defaults (headless, no extensions, no default apps…) and cmd/aadproxy's
// Chromium flags. Chromium 156 still asks update.googleapis.com (component
// updater) and accounts.google.com/ListAccounts (the identity manager, at
// every start) with all of them set, hence the last three flags.
var quietFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("no-sandbox", true), // as root, and in containers without user namespaces
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-default-apps", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("disable-domain-reliability", true),
	chromedp.Flag("disable-breakpad", true),
	chromedp.Flag("no-pings", true),
	chromedp.Flag("metrics-recording-only", true),
	// chromedp's default list sets disable-features too; a flag set again
	// keeps one value, so this one carries chromedp's entries as well.
	chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,"+
		"DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"+
		"InterestFeedContentSuggestions,PrivacySandboxSettings4,NetworkTimeServiceQuerying"),
	// Names Chromium would resolve itself (when a host is not proxied)
	// resolve to nothing, except loopback.
	chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.0.0.1"),
	// No flag turns these two off. Aimed at names that bypass the proxy and
	// resolve to nothing, they fail at once, reaching neither the network
	// nor the caller's proxy (where they would show up as flows). Not
	// loopback: Chromium treats the GAIA origin apart (process isolation,
	// sign-in headers), and a test's own server is on loopback.
	chromedp.Flag("gaia-url", "http://gaia.invalid/"),
	chromedp.Flag("component-updater", "url-source=http://component-updater.invalid/"),
	chromedp.Flag("proxy-bypass-list", "gaia.invalid;component-updater.invalid"),
	// Screenshots are the size of the window, whatever the host's display.
	chromedp.Flag("force-device-scale-factor", "1"),
	chromedp.Flag("lang", "en-US"),
}

// New starts a headless Chromium for t and returns the chromedp context of
// its first tab; the browser is closed when the test ends. The profile is
// fresh and removed at the end (chromedp makes it under os.TempDir, and
// kills every process still using it before it removes it), and so is
// Chromium's HOME, so nothing of the user's is read or written. The tab's
// viewport is WindowWidth x WindowHeight, and its errors are collected from
// the start for Errors.
//
// The binary is $AADPROXY_CHROMIUM when set; else Debian's real binary
// /usr/lib/chromium/chromium, not the /usr/bin/chromium wrapper, whose
// /etc/chromium.d scripts add flags (remote extensions, which also drop the
// wrapper's own --disable-background-networking) and Google API keys; else
// chromium or chromium-browser on PATH. When none is found the test is
// skipped, or fails when CI=true.
//
// New fails the test when Chromium does not start within a minute; the
// browser's stderr is logged when the test fails.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("browsertest.New: %v", err)
	}
	bin := chromiumPath(t)
	if o.WindowWidth == 0 {
		o.WindowWidth, o.WindowHeight = defaultWidth, defaultHeight
	}
	proxy := o.Proxy
	if proxy == "" {
		proxy = startSink(t)
	}

	// Not t.TempDir: Chromium's crash handler, detached from the browser,
	// writes here and can outlive it by a moment, which t.TempDir's one
	// removal does not forgive.
	home, err := os.MkdirTemp("", "browsertest-home-")
	if err != nil {
		t.Fatalf("browsertest.New: %v", err)
	}
	opts := slices.Clone(chromedp.DefaultExecAllocatorOptions[:])
	opts = append(opts, quietFlags...)
	opts = append(opts,
		chromedp.ExecPath(bin),
		chromedp.ProxyServer(proxy),
		chromedp.WindowSize(o.WindowWidth, o.WindowHeight),
		chromedp.NoInheritEnv,
		chromedp.Env(browserEnv(home)...),
	)
	if o.SPKIHash != "" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", o.SPKIHash))
	}
	out := &tailBuffer{max: outputKeep}
	opts = append(opts, chromedp.CombinedOutput(out))

	// The browser's life is bound to the context of the first Run, so it
	// starts from a context without a deadline; the cleanup below ends it.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	pageLog := &errorLog{}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(pageLog.add))
	pageLog.tab = chromedp.FromContext(ctx)
	ctx = context.WithValue(ctx, errorLogKey{}, pageLog)

	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, closeTimeout)
		err := chromedp.Cancel(cctx) // graceful: Browser.close, then kill
		cancel()
		cancelCtx()
		cancelAlloc() // waits until the process is reaped and the profile removed
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("browsertest: closing chromium: %v", err)
		}
		if err := removeAll(home, 5*time.Second); err != nil {
			t.Logf("browsertest: remove chromium's HOME: %v", err)
		}
		if t.Failed() {
			t.Logf("browsertest: chromium %s said (last %d bytes, without D-Bus complaints):\n%s", bin, outputKeep, withoutDBus(out.String()))
		}
	})

	// A timer, not a deadline on ctx: see above.
	timedOut := make(chan struct{})
	timer := time.AfterFunc(startTimeout, func() { close(timedOut); cancelAlloc() })
	start := time.Now()
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		<-timedOut
		t.Fatalf("browsertest.New: %s did not start within %v: %v", bin, startTimeout, err)
	}
	if err != nil {
		t.Fatalf("browsertest.New: start %s: %v", bin, err)
	}
	// Headless Chromium 156 keeps a browser frame: a 1000x700 window has a
	// 1000x557 viewport. So the viewport is set apart, to the size asked for.
	vctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	err = chromedp.Do(vctx, chromedp.EmulateViewport(int64(o.WindowWidth), int64(o.WindowHeight)))
	cancel()
	if err != nil {
		t.Fatalf("browsertest.New: set the viewport to %dx%d: %v", o.WindowWidth, o.WindowHeight, err)
	}
	if o.DownloadDir != "" {
		dctx, cancel := context.WithTimeout(ctx, ActionTimeout)
		_, err := chromedp.CallBrowser(dctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior:      browser.SetDownloadBehaviorBehaviorAllow,
			DownloadPath:  o.DownloadDir,
			EventsEnabled: new(true),
		})
		cancel()
		if err != nil {
			t.Fatalf("browsertest.New: set the download directory to %s: %v", o.DownloadDir, err)
		}
	}
	t.Logf("browsertest: %s started in %v (proxy %s)", bin, time.Since(start).Round(time.Millisecond), proxy)
	return ctx
}

// chromiumPath finds the browser binary; see New.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("browsertest: %s=%s: %v", ChromiumEnv, p, err)
		}
		return p
	}
	candidates := []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser"}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	why := fmt.Sprintf("no Chromium found (tried %s and $%s)", strings.Join(candidates, ", "), ChromiumEnv)
	if os.Getenv("CI") == "true" {
		t.Fatalf("browsertest: %s (CI=true: browser tests must run)", why)
	}
	t.Skipf("SKIPPING: %s; run ./scripts/test to install it", why)
	return ""
}

// removeAll removes dir, trying again for up to limit while a process that
// outlived the browser still writes in it.
func removeAll(dir string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := os.RemoveAll(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// browserEnv is Chromium's whole environment: the test's HOME instead of the
// user's, and nothing else of the Go process's but PATH, TMPDIR and TZ, so
// that no proxy variable, key or display of the developer's reaches it.
func browserEnv(home string) []string {
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
	}
	for _, name := range []string{"PATH", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// startSink starts a refusing proxy on 127.0.0.1 and returns its URL, for
// a browser started without a proxy: whatever Chromium asks for that is not
// loopback ends there, refused with a 403, instead of on the network, and
// the end of the test logs it, which shows a test (or Chromium itself)
// reaching out.
func startSink(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("browsertest: start the sink: %v", err)
	}
	var (
		mu      sync.Mutex
		refused []string
	)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			target := r.Host
			if r.Method != http.MethodConnect {
				target = r.URL.String()
			}
			mu.Lock()
			if len(refused) < 100 {
				refused = append(refused, target)
			}
			mu.Unlock()
			http.Error(w, "browsertest: tests reach loopback only", http.StatusForbidden)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go srv.Serve(l)
	// Registered before New's cleanup, so it runs after the browser is gone.
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(refused) > 0 {
			t.Logf("browsertest: the sink refused to proxy: %s", strings.Join(refused, ", "))
		}
	})
	return "http://" + l.Addr().String()
}

// Run runs actions in the tab of ctx, in order, within ActionTimeout, and
// fails the test at the first error with the page's URL, title and the start
// of its text, and a screenshot in ArtifactDir.
func Run(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		fail(t, ctx, "browsertest.Run: %v", err)
	}
}

// Get runs one action that returns a value, such as chromedp.Text or
// chromedp.Evaluate[T], within ActionTimeout, and returns the value; it
// fails the test as Run does.
func Get[T any](t testing.TB, ctx context.Context, action chromedp.Action[T]) T {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(actx, action)
	if err != nil {
		fail(t, ctx, "browsertest.Get: %v", err)
	}
	return v
}

// WaitJS waits until the JavaScript expression expr is truthy in the page of
// ctx, and fails the test when it is not within timeout. The expression is
// evaluated from Go every 50ms, so the wait survives navigations; an
// evaluation that throws counts as false, and the last error is in the
// failure message.
func WaitJS(t testing.TB, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	check := "!!(" + expr + "\n)"
	var last error
	for {
		ectx, cancel := context.WithDeadline(ctx, deadline)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool](check))
		cancel()
		switch {
		case err == nil && ok:
			return
		case ctx.Err() != nil:
			fail(t, ctx, "browsertest.WaitJS(%q): %v", expr, ctx.Err())
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			last = err
		}
		if !time.Now().Before(deadline) {
			if last != nil {
				fail(t, ctx, "browsertest.WaitJS(%q): not true within %v; last evaluation failed: %v", expr, timeout, last)
			}
			fail(t, ctx, "browsertest.WaitJS(%q): not true within %v", expr, timeout)
		}
		<-tick.C
	}
}

// fail ends the test with msg and what the page showed.
func fail(t testing.TB, ctx context.Context, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Fatalf("%s\n%s", msg, describePage(t, ctx))
}

// describePage returns the page's URL, title, the start of its text and a
// failure screenshot's path, each replaced by why it could not be had.
func describePage(t testing.TB, ctx context.Context) string {
	t.Helper()
	if ctx.Err() != nil {
		return fmt.Sprintf("page: unavailable (%v)", ctx.Err())
	}
	pctx, cancel := context.WithTimeout(ctx, pageInfoTimeout)
	defer cancel()
	var b strings.Builder
	type pageInfo struct {
		URL   string `json:"url"`
		Title string `json:"title"`
		Text  string `json:"text"`
	}
	info, err := chromedp.Run(pctx, chromedp.Evaluate[pageInfo](`({url: location.href, title: document.title,
		text: document.body ? document.body.innerText : document.documentElement.textContent})`))
	if err != nil {
		fmt.Fprintf(&b, "page: unavailable (%v)\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "page: %s\ntitle: %q\ntext: %s\n", info.URL, info.Title, excerpt(info.Text, textExcerpt))
	png, err := chromedp.Run(pctx, chromedp.FullScreenshot(100))
	if err != nil {
		fmt.Fprintf(&b, "screenshot: none (%v)", err)
		return b.String()
	}
	path, err := writeArtifact(t, "failure", png)
	if err != nil {
		fmt.Fprintf(&b, "screenshot: none (%v)", err)
		return b.String()
	}
	fmt.Fprintf(&b, "screenshot: %s", path)
	return b.String()
}

// excerpt returns the first n characters of s, with blank lines squeezed,
// indented under the "text:" label.
func excerpt(s string, n int) string {
	var lines []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	s = strings.Join(lines, "\n  ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return "\n  " + s
}

// withoutDBus drops the lines of Chromium's output about the D-Bus it
// looks for at every start and that a container or CI machine lacks.
func withoutDBus(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it; Chromium writes from
// chromedp's goroutine while a cleanup reads.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

var _ io.Writer = (*tailBuffer)(nil)
