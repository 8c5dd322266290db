package main

// End-to-end tests: real clients (curl, MSAL Go, headless Chromium) through
// the real aadproxy binary or session against the fake STS, loopback only.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/trace"
)

// The test binary doubles as the aadproxy binary: with this variable set it
// runs main's dispatcher on its arguments instead of the tests.
const runMainEnv = "AADPROXY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// binary is a running aadproxy process.
type binary struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	lines  []map[string]any
	stderr bytes.Buffer
	added  chan struct{}
	exited chan error
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// startBinary runs `aadproxy start ARGS...` and waits until it listens.
func startBinary(t *testing.T, args ...string) *binary {
	t.Helper()
	b := &binary{added: make(chan struct{}, 1), exited: make(chan error, 1)}
	b.cmd = exec.Command(os.Args[0], append([]string{"start", "--listen", "127.0.0.1:0", "--json", "--offline"}, args...)...)
	b.cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	stdout, _ := b.cmd.StdoutPipe()
	stderr, _ := b.cmd.StderrPipe()
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				b.mu.Lock()
				b.lines = append(b.lines, m)
				b.mu.Unlock()
				select {
				case b.added <- struct{}{}:
				default:
				}
			}
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.mu.Lock()
			b.stderr.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
		b.exited <- b.cmd.Wait()
	}()
	select {
	case b.addr = <-ready:
	case err := <-b.exited:
		t.Fatalf("aadproxy exited before listening: %v\n%s", err, b.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("aadproxy did not start:\n%s", b.stderr.String())
	}
	return b
}

// waitLines waits for JSON lines matching ok until n are seen.
func (b *binary) waitLines(t *testing.T, n int, ok func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		var got []map[string]any
		for _, l := range b.lines {
			if ok(l) {
				got = append(got, l)
			}
		}
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.added:
		case <-deadline:
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Fatalf("waited for %d matching lines, have %d; all lines: %v\nstderr: %s", n, len(got), b.lines, b.stderr.String())
		}
	}
}

func isType(typ string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == typ }
}

func findingCode(code int) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == "finding" && m["code"] == float64(code) }
}

// stsFixture starts the fake STS and writes its CA where --upstream-ca can read it.
func stsFixture(t *testing.T) (*fakests.Server, string) {
	t.Helper()
	sts, err := fakests.New(fakests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Close() })
	caFile := filepath.Join(t.TempDir(), "sts-ca.pem")
	if err := os.WriteFile(caFile, sts.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return sts, caFile
}

func tokenURL() string {
	return "https://login.microsoftonline.com/" + fakests.TenantContoso.ID + "/oauth2/v2.0/token"
}

func TestCurlThroughTheBinary(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	rec := filepath.Join(t.TempDir(), "signin.har")
	b := startBinary(t, "--home", home, "--record", rec,
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	caPath := filepath.Join(home, "aadproxy-ca.pem")
	form := url.Values{
		"client_id":     {fakests.AppConfidential.ClientID},
		"client_secret": {fakests.AppConfidential.SecretID}, // the ID, not the value
		"grant_type":    {"client_credentials"},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	out, err := exec.Command(curl, "-sS", "--proxy", "http://"+b.addr, "--cacert", caPath,
		"-H", "client-request-id: 0e2e0000-0000-4000-8000-00000000c0de", "--data", form.Encode(), tokenURL()).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("AADSTS7000215")) {
		t.Fatalf("curl got %s, want the AADSTS7000215 error body", out)
	}
	b.waitLines(t, 1, findingCode(7000215))
	flows := b.waitLines(t, 1, isType("flow"))
	if flows[0]["status"] != 401.0 || flows[0]["url"] != tokenURL() {
		t.Errorf("flow line: %v", flows[0])
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-b.exited; err != nil {
		t.Fatalf("aadproxy did not stop cleanly on SIGTERM: %v\n%s", err, b.stderr.String())
	}
	got := readRecording(t, rec)
	if len(got) != 1 || got[0].Status() != 401 || got[0].Request.Header.Get("client-request-id") != "0e2e0000-0000-4000-8000-00000000c0de" {
		t.Fatalf("recording: %d flows, first %+v", len(got), got)
	}
	if fi, err := os.Stat(rec); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("recording mode: %v %v, want 0600", fi.Mode(), err)
	}
	// The recording analyses to the same finding, and the error level exits 1.
	var stdout, stderr bytes.Buffer
	code := run([]string{"analyze", "--json", rec}, &stdout, &stderr)
	if code != exitFindings || !strings.Contains(stdout.String(), `"code": 7000215`) {
		t.Errorf("analyze: exit %d, output %s %s", code, stdout.String(), stderr.String())
	}
}

func readRecording(t *testing.T, path string) []*flow.Flow {
	t.Helper()
	var got []*flow.Flow
	if _, err := trace.ReadFile(path, func(_ int, f *flow.Flow) error { got = append(got, f); return nil }); err != nil {
		t.Fatalf("read recording %s: %v", path, err)
	}
	return got
}

func TestKill9KeepsEveryCompletedFlow(t *testing.T) {
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	rec := filepath.Join(t.TempDir(), "crash.har")
	b := startBinary(t, "--home", home, "--record", rec,
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: b.addr}),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	const n = 25
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https%%3A%%2F%%2Flogin.microsoftonline.com%%2Fcommon%%2Foauth2%%2Fv2.0%%2Fauthorize&i=%d", i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	printed := b.waitLines(t, n, isType("flow"))
	b.cmd.Process.Kill() // SIGKILL: no chance to flush or close
	<-b.exited
	got := readRecording(t, rec)
	if len(got) < len(printed) {
		t.Fatalf("after kill -9 the recording holds %d flows; %d were printed as complete", len(got), len(printed))
	}
	for i, f := range got[:len(printed)] {
		if !strings.HasSuffix(f.Request.URL, fmt.Sprintf("&i=%d", i)) || f.Status() != 200 {
			t.Errorf("flow %d after kill -9: %s %d", i, f.Request.URL, f.Status())
		}
	}
}

func TestMSALGoThroughTheProxy(t *testing.T) {
	sts, _ := stsFixture(t)
	ca, err := certs.New(certs.Options{CommonName: "e2e CA"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var mu sync.Mutex
	rec := filepath.Join(t.TempDir(), "msal.har")
	s, err := openSession(startOptions{listen: "127.0.0.1:0", json: true, record: rec, noUI: true}, demoProxyOptions(sts), ca, lockedWriter{&out, &mu}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()
	httpClient := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxy.ClientURL(s.listener.Addr().String())),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	authority := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID
	scopes := []string{"https://graph.microsoft.com/.default"}

	cred, _ := confidential.NewCredFromSecret(fakests.AppConfidential.Secret)
	app, err := confidential.New(authority, fakests.AppConfidential.ClientID, cred, confidential.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AcquireTokenByCredential(context.Background(), scopes)
	if err != nil || res.AccessToken == "" {
		t.Fatalf("MSAL through the proxy: %v", err)
	}

	bad, _ := confidential.NewCredFromSecret("not-the-secret")
	app2, _ := confidential.New(authority, fakests.AppConfidential.ClientID, bad, confidential.WithHTTPClient(httpClient))
	_, err = app2.AcquireTokenByCredential(context.Background(), scopes)
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("MSAL with a wrong secret: got %v, want AADSTS7000215", err)
	}
	closed = true
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	text := out.String()
	mu.Unlock()
	if !strings.Contains(text, `"code":7000215`) {
		t.Errorf("aadproxy did not report 7000215:\n%s", text)
	}
	// MSAL's client-request-id reached the fake STS and sits on a captured
	// flow: the traffic really went through the proxy.
	seen := map[string]bool{}
	for _, ex := range sts.Log() {
		if ex.ClientRequestID != "" {
			seen[ex.ClientRequestID] = true
		}
	}
	found := false
	flows := readRecording(t, rec)
	for _, f := range flows {
		if id := f.Request.Header.Get("client-request-id"); id != "" && seen[id] {
			found = true
		}
	}
	if !found {
		t.Errorf("no captured flow carries a client-request-id the STS saw (%d flows, %d ids)", len(flows), len(seen))
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// requireInCI skips outside CI and fails under CI=true, where every
// end-to-end client must be present.
func requireInCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this test must run)", why)
	}
	t.Skipf("SKIPPING: %s; run ./scripts/test to install it", why)
}

// authorizeURL is the fake Entra's authorize URL for the public client, with state.
func authorizeURL(state string) string {
	return "https://login.microsoftonline.com/" + fakests.TenantContoso.ID + "/oauth2/v2.0/authorize?client_id=" +
		fakests.AppPublic.ClientID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=openid&state=" + state
}
