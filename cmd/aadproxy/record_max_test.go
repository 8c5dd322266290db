package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// TestRecordMaxKeepsMetadataOnly records through the real binary with a
// small --record-max: flows past it are recorded without their bodies
// (marked, sizes kept), the user is told once, and every flow is there.
func TestRecordMaxKeepsMetadataOnly(t *testing.T) {
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	rec := filepath.Join(t.TempDir(), "capped.har")
	b := startBinary(t, "--home", home, "--record", rec, "--record-max", "16KiB",
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: b.addr}),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	pad := strings.Repeat("p", 4<<10) // each entry is over 4 KiB
	const n = 8
	for i := range n {
		resp, err := client.Get(fmt.Sprintf("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https%%3A%%2F%%2Flogin.microsoftonline.com%%2Fcommon%%2Foauth2%%2Fv2.0%%2Fauthorize&i=%d&pad=%s", i, pad))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.waitLines(t, n, isType("flow"))
	capped := b.waitLines(t, 1, func(m map[string]any) bool {
		msg, _ := m["message"].(string)
		return m["type"] == "notice" && strings.Contains(msg, "has reached --record-max 16KiB")
	})
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-b.exited; err != nil {
		t.Fatalf("aadproxy did not stop cleanly: %v\n%s", err, b.stderr.String())
	}
	if len(capped) != 1 {
		t.Errorf("told %d times that the recording reached --record-max, want once", len(capped))
	}
	got := readRecording(t, rec)
	if len(got) != n {
		t.Fatalf("the recording holds %d flows, want %d", len(got), n)
	}
	whole := 0
	for i, f := range got {
		body := f.Response.Body
		switch {
		case !body.Truncated && strings.Contains(string(body.Raw), "tenant_discovery_endpoint"):
			if whole != i {
				t.Errorf("flow %d has its body after flow %d had none", i, whole)
			}
			whole++
		case body.Truncated && len(body.Raw) == 0 && body.Size > 0 && f.Status() == 200:
		default:
			t.Errorf("flow %d: status %d, body %d of %d bytes, truncated %v: want whole, or left out with its size", i, f.Status(), len(body.Raw), body.Size, body.Truncated)
		}
	}
	if whole == 0 || whole == n {
		t.Errorf("%d of %d flows kept their bodies under a 16 KiB limit", whole, n)
	}
}
