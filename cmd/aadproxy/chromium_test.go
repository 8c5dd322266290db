package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/fakests"
)

// chromiumFlags keep headless Chromium from reaching anything on its own:
// no background networking, component updates, sync, QUIC or first-run work.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
	"--metrics-recording-only", "--disable-features=OptimizationHints,MediaRouter,Translate",
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	requireInCI(t, "Debian's chromium is not installed")
	return ""
}

func TestHeadlessChromiumLoadsTheSignInPageThroughTheBinary(t *testing.T) {
	browser := chromiumPath(t)
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	b := startBinary(t, "--home", home, "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	authorize := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID +
		"/oauth2/v2.0/authorize?client_id=" + fakests.AppPublic.ClientID +
		"&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=openid&state=chromium-e2e"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{}, chromiumFlags...),
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		"--proxy-server=http://"+b.addr,
		"--ignore-certificate-errors-spki-list="+ca.SPKIHash(),
		"--dump-dom", authorize)
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, _ := cmd.CombinedOutput() // Chromium's exit status is not the test: the captured flow is
	flows := b.waitLines(t, 1, func(m map[string]any) bool {
		u, _ := m["url"].(string)
		return m["type"] == "flow" && strings.Contains(u, "/oauth2/v2.0/authorize") && strings.Contains(u, "state=chromium-e2e")
	})
	if flows[0]["status"] != 200.0 || flows[0]["method"] != "GET" {
		t.Errorf("authorize flow from Chromium: %v\nchromium said: %s", flows[0], truncateForLog(out))
	}
	// The page Chromium rendered is the fake's sign-in page, fetched via the proxy.
	if !strings.Contains(string(out), "Sign in") {
		t.Logf("chromium output: %s", truncateForLog(out))
	}
}

func truncateForLog(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
