package trace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// bodyFlow is a POST with a form body answered by a 200 with body.
func bodyFlow(i int, body []byte) *flow.Flow {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return &flow.Flow{
		Request: &flow.Request{
			Method: "POST", URL: fmt.Sprintf("https://app.example.com/upload?i=%d", i), Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
			Body:   flow.Body{Raw: []byte("name=value&i=" + fmt.Sprint(i)), Size: int64(len("name=value&i=") + len(fmt.Sprint(i)))},
		},
		Response: &flow.Response{
			Status: 200, Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "text/plain"}},
			Body:   flow.Body{Raw: body, Size: int64(len(body))},
		},
		Timings: flow.Timings{Start: start, Send: time.Millisecond, Wait: time.Millisecond, Receive: time.Millisecond},
	}
}

// TestRecorderLimitBodies shows --record-max at work: once the file has
// reached its limit, entries keep their metadata and sizes, their bodies
// are left out and marked, the limit is said once, and the file stays a
// valid HAR that reads back every flow.
func TestRecorderLimitBodies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "max.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	rec.LimitBodies(64<<10, func() { reached++ })
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<10) // 16 KiB of text
	const n = 10
	for i := 0; i < n; i++ {
		if err := rec.Write(bodyFlow(i, body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if reached != 1 {
		t.Errorf("reached called %d times, want once", reached)
	}
	got, err := readAllFlows(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("read %d flows, want %d", len(got), n)
	}
	kept := 0
	for i, f := range got {
		resp := f.Response
		if !strings.HasSuffix(f.Request.URL, fmt.Sprintf("?i=%d", i)) || resp.Status != 200 || resp.Body.Size != int64(len(body)) {
			t.Errorf("flow %d: %s %d size %d: metadata lost", i, f.Request.URL, resp.Status, resp.Body.Size)
		}
		switch {
		case bytes.Equal(resp.Body.Raw, body) && !resp.Body.Truncated && string(f.Request.Body.Raw) == fmt.Sprintf("name=value&i=%d", i):
			if kept != i {
				t.Errorf("flow %d has its bodies after flow %d had none", i, kept)
			}
			kept++
		case len(resp.Body.Raw) == 0 && resp.Body.Truncated && len(f.Request.Body.Raw) == 0 && f.Request.Body.Truncated:
		default:
			t.Errorf("flow %d: response body %d bytes (truncated %v), request body %q (truncated %v): want whole or left out and marked",
				i, len(resp.Body.Raw), resp.Body.Truncated, f.Request.Body.Raw, f.Request.Body.Truncated)
		}
	}
	// 64 KiB holds three entries of 16 KiB and a bit; the fourth one
	// starts past the limit.
	if kept < 3 || kept > 4 {
		t.Errorf("%d flows kept their bodies, want 3 or 4 under a 64 KiB limit", kept)
	}
	if data := readFileString(t, path); !strings.Contains(data, "the recording had reached its 64 KiB limit (--record-max)") {
		t.Error("no note says why the bodies were left out")
	}
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
