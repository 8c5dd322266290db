package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/proxy"
)

var off = false

func sample() (*flow.Flow, []inspect.Finding) {
	start := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	f := &flow.Flow{
		Index:    3,
		Request:  &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?prompt=none"},
		Response: &flow.Response{Status: 302, Body: flow.Body{Size: 2048}},
		Timings:  flow.Timings{Start: start},
		Done:     start.Add(42 * time.Millisecond),
	}
	fs := []inspect.Finding{{Rule: "aadsts-error", Severity: inspect.Error, Code: 50143, Flow: 3, Title: "AADSTS50143 SessionMismatch", Evidence: "domain_hint fabrikam.com", Fix: "drop the hint"}}
	return f, fs
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{JSON: true})
	f, fs := sample()
	p.Flow(f, fs)
	p.Notice(proxy.Notice{Level: "warning", Host: "h", Message: "m"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %s", len(lines), buf.String())
	}
	var fl map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &fl); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"type": "flow", "flow": 3.0, "method": "GET", "status": 302.0, "duration_ms": 42.0} {
		if fl[k] != want {
			t.Errorf("flow line %s: got %v, want %v", k, fl[k], want)
		}
	}
	var fd map[string]any
	json.Unmarshal([]byte(lines[1]), &fd)
	for k, want := range map[string]any{"type": "finding", "flow": 3.0, "rule": "aadsts-error", "severity": "error", "code": 50143.0, "fix": "drop the hint"} {
		if fd[k] != want {
			t.Errorf("finding line %s: got %v, want %v", k, fd[k], want)
		}
	}
	if !strings.Contains(lines[2], `"type":"notice"`) {
		t.Errorf("notice line: %s", lines[2])
	}
}

func TestTextWithoutColor(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Color: &off})
	f, fs := sample()
	p.Flow(f, fs)
	out := buf.String()
	for _, want := range []string{"GET", "login.microsoftonline.com/organizations/oauth2/v2.0/authorize", "302", "42ms", "AADSTS50143 SessionMismatch", "fix: drop the hint"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes with colour off: %q", out)
	}
}

func TestQuietHidesCleanFlows(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, Options{Quiet: true, Color: &off})
	f, _ := sample()
	p.Flow(f, nil)
	p.Notice(proxy.Notice{Level: "info", Message: "tunnelled"})
	if buf.Len() != 0 {
		t.Errorf("quiet printed %q", buf.String())
	}
}
