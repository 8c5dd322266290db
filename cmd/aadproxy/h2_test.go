package main

// HTTP/2 end to end: real clients offer h2 through the binary to the fake
// STS, which speaks it, and what aadproxy records matches an HTTP/1.1 run.

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/fakests"
)

// h2Run is what one proxy run made of the same requests.
type h2Run struct {
	versions   []string // curl's %{http_version} per request
	stsProtos  []string // the protocol each request reached the fake STS with
	handshakes int64    // TLS handshakes the fake STS saw
	flows      []*flow.Flow
	findings   []string // rule and code of each finding line, sorted
}

// curlRun sends the same requests with curl --http2, each on a connection
// of its own, through a fresh binary started with extra flags.
func curlRun(t *testing.T, curl string, sts *fakests.Server, stsCA string, extra ...string) h2Run {
	t.Helper()
	home := t.TempDir()
	rec := filepath.Join(t.TempDir(), "run.har")
	args := append([]string{"--home", home, "--record", rec,
		"--map-remote", "login.microsoftonline.com=" + sts.Addr(), "--upstream-ca", stsCA}, extra...)
	b := startBinary(t, args...)
	caPath := filepath.Join(home, "aadproxy-ca.pem")
	sts.ResetLog()
	shakes := sts.Handshakes()
	tenant := fakests.TenantContoso.ID
	form := url.Values{
		"client_id":     {fakests.AppConfidential.ClientID},
		"client_secret": {fakests.AppConfidential.SecretID}, // the ID, not the value: AADSTS7000215
		"grant_type":    {"client_credentials"},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	requests := [][]string{
		{"https://login.microsoftonline.com/" + tenant + "/v2.0/.well-known/openid-configuration"},
		{"--data", form.Encode(), tokenURL()},
		{"-b", "fpc=A1; esctx=B2", authorizeURL("h2")},
	}
	var run h2Run
	for _, r := range requests {
		cmd := exec.Command(curl, append([]string{"-sS", "--http2", "--proxy", "http://" + b.addr, "--cacert", caPath,
			"-H", "client-request-id: 0e2e0000-0000-4000-8000-00000000c0de", "-o", os.DevNull, "-w", "%{http_version}"}, r...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", r, err, out)
		}
		run.versions = append(run.versions, strings.TrimSpace(string(out)))
	}
	b.waitLines(t, len(requests), isType("flow"))
	b.waitLines(t, 1, findingCode(7000215))
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-b.exited; err != nil {
		t.Fatalf("aadproxy did not stop cleanly: %v\n%s", err, b.stderr.String())
	}
	for _, l := range b.lines {
		if l["type"] == "finding" {
			run.findings = append(run.findings, fmt.Sprintf("%v %v", l["rule"], l["code"]))
		}
	}
	slices.Sort(run.findings)
	for _, ex := range sts.Log() {
		run.stsProtos = append(run.stsProtos, ex.Proto)
	}
	run.handshakes = sts.Handshakes() - shakes
	run.flows = readRecording(t, rec)
	return run
}

func TestCurlHTTP2MatchesHTTP11(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	h2 := curlRun(t, curl, sts, stsCA)
	h1 := curlRun(t, curl, sts, stsCA, "--http1")

	for i := range h2.versions {
		if h2.versions[i] != "2" || h1.versions[i] != "1.1" {
			t.Errorf("request %d: curl negotiated %q by default and %q with --http1; want 2 and 1.1", i, h2.versions[i], h1.versions[i])
		}
	}
	for i := range h2.stsProtos {
		if h2.stsProtos[i] != "HTTP/2.0" || h1.stsProtos[i] != "HTTP/1.1" {
			t.Errorf("request %d reached the fake STS over %q by default, %q with --http1", i, h2.stsProtos[i], h1.stsProtos[i])
		}
	}
	// Three client connections, one upstream handshake: the probe made
	// during the first client's handshake carried every request.
	if h2.handshakes != 1 {
		t.Errorf("fake STS handshakes for 3 curl connections over HTTP/2: %d, want 1", h2.handshakes)
	}
	if len(h2.flows) != 3 || len(h1.flows) != 3 {
		t.Fatalf("recorded flows: %d over HTTP/2, %d over HTTP/1.1; want 3 each", len(h2.flows), len(h1.flows))
	}
	for i := range h2.flows {
		a, b := h2.flows[i], h1.flows[i]
		if a.Request.Proto != "HTTP/2.0" || a.Response.Proto != "HTTP/2.0" || b.Request.Proto != "HTTP/1.1" {
			t.Errorf("flow %d: recorded %s/%s and %s; want HTTP/2.0 and HTTP/1.1", i, a.Request.Proto, a.Response.Proto, b.Request.Proto)
		}
		if a.Request.Method != b.Request.Method || a.Request.URL != b.Request.URL || a.Status() != b.Status() ||
			string(a.Request.Body.Raw) != string(b.Request.Body.Raw) {
			t.Errorf("flow %d differs: %s %s %d %q vs %s %s %d %q", i, a.Request.Method, a.Request.URL, a.Status(), a.Request.Body.Raw,
				b.Request.Method, b.Request.URL, b.Status(), b.Request.Body.Raw)
		}
		if a.Response.Header.Get("Content-Type") != b.Response.Header.Get("Content-Type") || len(a.Response.Body.Raw) == 0 {
			t.Errorf("flow %d response: %q (%d bytes) vs %q", i, a.Response.Header.Get("Content-Type"), len(a.Response.Body.Raw), b.Response.Header.Get("Content-Type"))
		}
		if got := a.Request.Header.Get("client-request-id"); got != "0e2e0000-0000-4000-8000-00000000c0de" {
			t.Errorf("flow %d: client-request-id %q", i, got)
		}
		for _, kv := range append(slices.Clone(a.Request.Header), a.Response.Header...) {
			if strings.HasPrefix(kv.Name, ":") || kv.Name != strings.ToLower(kv.Name) {
				t.Errorf("flow %d: HTTP/2 header %q, want lowercase names and no pseudo-headers", i, kv.Name)
			}
		}
		if a.Timings.Wait < 0 || b.Timings.Wait < 0 {
			t.Errorf("flow %d: wait %v over HTTP/2, %v over HTTP/1.1", i, a.Timings.Wait, b.Timings.Wait)
		}
	}
	if got := h2.flows[2].Request.Header.Values("cookie"); len(got) != 1 || got[0] != "fpc=A1; esctx=B2" {
		t.Errorf("HTTP/2 cookie header: %q, want one value joined with \"; \"", got)
	}
	if !slices.Equal(h2.findings, h1.findings) || len(h2.findings) == 0 {
		t.Errorf("findings differ:\nHTTP/2:   %v\nHTTP/1.1: %v", h2.findings, h1.findings)
	}
}
