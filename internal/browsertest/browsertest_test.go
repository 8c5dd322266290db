package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

const testPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>browsertest page</title></head>
<body>
<h1 id="greeting">hello</h1>
<button id="go">go</button>
<button id="boom">boom</button>
<a id="download" href="/report.txt">report</a>
<script>
document.getElementById("go").addEventListener("click", () => {
	document.getElementById("greeting").textContent = "clicked";
});
document.getElementById("boom").addEventListener("click", () => {
	throw new Error("deliberate boom");
});
</script>
</body></html>`

// testServer is a test's web server on 127.0.0.1. It serves testPage and a
// few others, and as a proxy it serves http://aadproxy.test/ alone and
// records what it was asked for.
type testServer struct {
	*httptest.Server
	mu      sync.Mutex
	proxied []string
}

func (s *testServer) proxiedRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.proxied...)
}

func pageServer(t *testing.T, tls bool) *testServer {
	t.Helper()
	s := &testServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || r.URL.IsAbs() {
			s.mu.Lock()
			s.proxied = append(s.proxied, r.Method+" "+r.RequestURI)
			s.mu.Unlock()
		}
		switch {
		case r.URL.IsAbs() && r.URL.Host == "aadproxy.test":
			fmt.Fprint(w, `<!doctype html><title>proxied</title><p id="via">served by the test proxy</p>`)
		case r.URL.IsAbs():
			http.Error(w, "the test proxy serves aadproxy.test only", http.StatusForbidden)
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, testPage)
		case r.URL.Path == "/tall":
			fmt.Fprint(w, `<!doctype html><body style="margin:0"><div style="height:3000px">tall</div>`)
		case r.URL.Path == "/csp":
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			fmt.Fprint(w, `<!doctype html><p>csp</p><script>document.title = "inline script ran"</script>`)
		case r.URL.Path == "/report.txt":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Disposition", `attachment; filename="report.txt"`)
			fmt.Fprint(w, "downloaded bytes\n")
		default:
			http.NotFound(w, r)
		}
	})
	if tls {
		s.Server = httptest.NewUnstartedServer(h)
		// A browser that refuses the certificate is part of the test.
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.StartTLS()
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.Listener.Addr().String(), "127.0.0.1:") {
		t.Fatalf("test server listens on %s, want 127.0.0.1", s.Listener.Addr())
	}
	return s
}

func TestBrowserClickScreenshotAndErrors(t *testing.T) {
	srv := pageServer(t, false)
	const width, height = 1000, 700
	ctx := New(t, Options{WindowWidth: width, WindowHeight: height})

	Run(t, ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("#go")))
	if got := Get(t, ctx, chromedp.Title()); got != "browsertest page" {
		t.Errorf("Title: got %q, want %q", got, "browsertest page")
	}
	// Loading the page (and its missing favicon) is no error.
	NoErrors(t, ctx)

	Run(t, ctx, chromedp.Click(chromedp.CSS("#go")))
	WaitJS(t, ctx, `document.getElementById("greeting").textContent === "clicked"`, 10*time.Second)
	if got := Get(t, ctx, chromedp.Text(chromedp.CSS("#greeting"))); got != "clicked" {
		t.Errorf("Text(#greeting) after the click: got %q, want %q", got, "clicked")
	}

	path := Screenshot(t, ctx, "clicked")
	if filepath.Dir(path) != ArtifactDir(t) || filepath.Base(path) != "clicked.png" {
		t.Errorf("Screenshot path: got %s, want clicked.png in %s", path, ArtifactDir(t))
	}
	checkPNG(t, path, width, height)
	if fi, err := os.Stat(ArtifactDir(t)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("ArtifactDir mode: got %v (%v), want drwx------", fi.Mode(), err)
	}

	Run(t, ctx,
		chromedp.Click(chromedp.CSS("#boom")),
		chromedp.Evaluate[chromedp.Void](`console.error("logged", {code: 7}); console.log("not an error")`),
	)
	errs := Errors(t, ctx)
	if len(errs) != 2 ||
		!strings.HasPrefix(errs[0], "exception: Uncaught Error: deliberate boom ("+srv.URL) ||
		!strings.HasPrefix(errs[1], "console.error: logged Object") {
		t.Errorf("Errors after the throw and console.error: got %q, want the exception then the console.error", errs)
	}

	// A Content-Security-Policy violation is an error too; the log keeps
	// what came before.
	Run(t, ctx, chromedp.Navigate(srv.URL+"/csp"))
	errs = Errors(t, ctx)
	if len(errs) != 3 || !strings.HasPrefix(errs[2], "log.security: Executing inline script violates the following Content Security Policy") {
		t.Errorf("Errors after a CSP violation: got %q, want a third, log.security error", errs)
	}

	// A full-page screenshot is as tall as the page.
	Run(t, ctx, chromedp.Navigate(srv.URL+"/tall"))
	checkPNG(t, Screenshot(t, ctx, "tall"), width, 3000)
}

// TestFailureMessages checks that the helpers fail, and say where the page
// was and what it showed.
func TestFailureMessages(t *testing.T) {
	// The deliberate failures' screenshots are no one's artifacts.
	t.Setenv(ArtifactsEnv, t.TempDir())
	srv := pageServer(t, false)
	ctx := New(t, Options{})
	Run(t, ctx, chromedp.Navigate(srv.URL))

	tests := []struct {
		name string
		f    func(tb testing.TB)
		want []string
	}{
		{"Run", func(tb testing.TB) { Run(tb, ctx, chromedp.Evaluate[chromedp.Void](`undefinedFunction()`)) },
			[]string{"browsertest.Run:", "undefinedFunction", "page: " + srv.URL, "hello", "screenshot: "}},
		{"Get", func(tb testing.TB) { Get(tb, ctx, chromedp.Evaluate[int](`"not a number"`)) },
			[]string{"browsertest.Get:", "page: " + srv.URL}},
		{"WaitJS false", func(tb testing.TB) { WaitJS(tb, ctx, `1 === 2`, 200*time.Millisecond) },
			[]string{`browsertest.WaitJS("1 === 2"): not true within 200ms`, "page: " + srv.URL}},
		{"WaitJS throws", func(tb testing.TB) { WaitJS(tb, ctx, `no.such.thing`, 200*time.Millisecond) },
			[]string{"last evaluation failed", "no is not defined"}},
		{"Errors of another context", func(tb testing.TB) { Errors(tb, context.Background()) },
			[]string{"not a context from browsertest.New"}},
	}
	for _, tt := range tests {
		fake := &fatalRecorder{TB: t}
		fake.run(func() { tt.f(fake) })
		if !fake.fatal {
			t.Errorf("%s: did not fail the test", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(fake.msg, w) {
				t.Errorf("%s: failure message lacks %q:\n%s", tt.name, w, fake.msg)
			}
		}
	}
	// The test's own evaluations that threw are no errors of the page.
	if errs := Errors(t, ctx); len(errs) != 0 {
		t.Errorf("Errors after failed evaluations: got %q, want none", errs)
	}
}

// TestOptions checks Proxy, SPKIHash and DownloadDir, and that a browser
// without them reaches neither a non-loopback host nor an untrusted TLS
// server.
func TestOptions(t *testing.T) {
	plain := pageServer(t, false)
	tlsSrv := pageServer(t, true)
	sum := sha256.Sum256(tlsSrv.Certificate().RawSubjectPublicKeyInfo)
	spki := base64.StdEncoding.EncodeToString(sum[:])

	t.Run("defaults", func(t *testing.T) {
		ctx := New(t, Options{})
		// Plain HTTP to a non-loopback host ends at the refusing proxy,
		// which answers for it.
		Run(t, ctx, chromedp.Navigate("http://aadproxy.test/"))
		if got := Get(t, ctx, chromedp.Text(chromedp.CSS("body"))); !strings.Contains(got, "tests reach loopback only") {
			t.Errorf("http://aadproxy.test/ without a proxy: got %q, want the refusing proxy's answer", got)
		}
		// So does HTTPS, as a refused tunnel.
		actx, cancel := context.WithTimeout(ctx, ActionTimeout)
		defer cancel()
		err := chromedp.Do(actx, chromedp.Navigate("https://aadproxy.test/"))
		var le *chromedp.LoadError
		if !errors.As(err, &le) || le.ErrorText != "net::ERR_TUNNEL_CONNECTION_FAILED" {
			t.Errorf("https://aadproxy.test/ without a proxy: got %v, want net::ERR_TUNNEL_CONNECTION_FAILED", err)
		}
		// A TLS server whose key is not pinned is refused.
		err = chromedp.Do(actx, chromedp.Navigate(tlsSrv.URL))
		if !errors.As(err, &le) || !strings.Contains(le.ErrorText, "CERT") {
			t.Errorf("Navigate(%s) without SPKIHash: got %v, want a certificate error", tlsSrv.URL, err)
		}
	})

	t.Run("set", func(t *testing.T) {
		downloads := t.TempDir()
		ctx := New(t, Options{Proxy: plain.URL, SPKIHash: spki, DownloadDir: downloads})

		Run(t, ctx, chromedp.Navigate("http://aadproxy.test/"))
		if got := Get(t, ctx, chromedp.Text(chromedp.CSS("#via"))); got != "served by the test proxy" {
			t.Errorf("http://aadproxy.test/ through Proxy: got %q, want the test proxy's page", got)
		}

		Run(t, ctx, chromedp.Navigate(tlsSrv.URL), chromedp.WaitVisible(chromedp.CSS("#download")))
		dctx, cancel := context.WithTimeout(ctx, ActionTimeout)
		defer cancel()
		progress := chromedp.BrowserEvents(dctx, browser.DownloadProgress) // ends with dctx
		Run(t, ctx, chromedp.Click(chromedp.CSS("#download")))
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("waiting for the download: %v", err)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				break
			}
			if ev.State == browser.DownloadProgressStateCanceled {
				t.Fatalf("download canceled")
			}
		}
		got, err := os.ReadFile(filepath.Join(downloads, "report.txt"))
		if err != nil || string(got) != "downloaded bytes\n" {
			t.Errorf("downloaded report.txt: got %q (%v), want %q", got, err, "downloaded bytes\n")
		}

		// Chromium's own background requests (sign-in, component updates)
		// never reach the test's proxy, where they would be flows.
		for _, r := range plain.proxiedRequests() {
			if !strings.HasPrefix(r, "GET http://aadproxy.test/") {
				t.Errorf("the proxy was asked for %q; want only what the test asked for", r)
			}
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{Options{Proxy: "http://127.0.0.1:8080", SPKIHash: "abc=", DownloadDir: "/tmp/x", WindowWidth: 800, WindowHeight: 600}, true},
		{Options{Proxy: "127.0.0.1:8080"}, false},
		{Options{Proxy: "ftp://127.0.0.1:21"}, false},
		{Options{Proxy: "http://127.0.0.1:8080/path"}, false},
		{Options{SPKIHash: "a,b"}, false},
		{Options{DownloadDir: "relative"}, false},
		{Options{WindowWidth: 800}, false},
		{Options{WindowWidth: -1, WindowHeight: 600}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v): got %v, want ok=%v", tt.o, err, tt.ok)
		}
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"TestX", "TestX"},
		{"TestX/sub_case", "TestX_sub_case"},
		{"TestX/../../etc", "TestX_.._.._etc"},
		{"..", "_.."},
		{"", "_"},
	}
	for _, tt := range tests {
		if got := safeName(tt.in); got != tt.want {
			t.Errorf("safeName(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// checkPNG fails t unless path is a PNG of width x height.
func checkPNG(t *testing.T, path string, width, height int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("screenshot size: got %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// only the goroutine of run, so that a test can check how a helper fails.
type fatalRecorder struct {
	testing.TB
	mu    sync.Mutex
	fatal bool
	msg   string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f on a goroutine of its own, as t.Run would, and waits for it.
func (r *fatalRecorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}
