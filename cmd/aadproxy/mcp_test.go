package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/demo"
	"github.com/aadproxy/aadproxy/proxy"
)

// mcpClient starts `aadproxy mcp ARGS` (this test binary as aadproxy) and
// connects the Go SDK's client to it over stdio.
func mcpClient(t *testing.T, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"mcp"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "aadproxy-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to aadproxy mcp: %v\nstderr: %s", err, stderr.String())
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls a tool and decodes its JSON text answer into v. It
// returns the tool error's text, "" on success.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, v any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		return text.String()
	}
	if len(text.String()) > 32<<10 {
		t.Errorf("%s: answer of %d bytes is over the 32 KiB cap", name, len(text.String()))
	}
	if v != nil {
		if err := json.Unmarshal([]byte(text.String()), v); err != nil {
			t.Fatalf("%s: answer is not JSON: %v\n%.500s", name, err, text.String())
		}
	}
	return ""
}

type mcpTransaction struct {
	ID       int    `json:"id"`
	Protocol string `json:"protocol"`
	Outcome  string `json:"outcome"`
	Code     int    `json:"code"`
	Steps    []struct {
		Flow   int  `json:"flow"`
		Failed bool `json:"failed"`
	} `json:"steps"`
	Decisive *struct{ Rule string } `json:"decisive"`
	Support  *struct {
		CorrelationID, RequestID, TraceID, Timestamp, Tenant, ClientID, Text string
		Code                                                                 int
	} `json:"support"`
}

// checkDemoTools calls every tool over the demo's flows, however they were
// obtained (a recording or a live proxy).
func checkDemoTools(t *testing.T, cs *mcp.ClientSession, wantSource string) {
	ctx := context.Background()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range tools.Tools {
		names[tl.Name] = true
	}
	for _, want := range []string{"status", "list_flows", "get_flow", "list_transactions", "get_transaction", "list_findings", "explain_code", "support_ticket", "analyze_file"} {
		if !names[want] {
			t.Errorf("tool %s missing (have %v)", want, names)
		}
	}
	if names["clear"] || names["pause"] {
		t.Errorf("control tools offered without --allow-control")
	}

	var st struct {
		Source    string
		Flows     int
		Errors    int
		Sanitized bool
	}
	if msg := callTool(t, cs, "status", nil, &st); msg != "" || st.Source != wantSource || st.Flows < 10 || st.Errors == 0 || !st.Sanitized {
		t.Fatalf("status: %q %+v", msg, st)
	}

	// The 50143 sign-in, its finding and support fields.
	var txns struct {
		Transactions []mcpTransaction
		Total        int
	}
	if msg := callTool(t, cs, "list_transactions", map[string]any{"outcome": "failed"}, &txns); msg != "" || txns.Total < 5 {
		t.Fatalf("list_transactions: %q %+v", msg, txns)
	}
	var failed50143 *mcpTransaction
	for i, tr := range txns.Transactions {
		if tr.Code == 50143 {
			failed50143 = &txns.Transactions[i]
		}
	}
	if failed50143 == nil || failed50143.Decisive == nil || failed50143.Decisive.Rule != "domain-hint-mismatch" {
		t.Fatalf("the 50143 sign-in: %+v", failed50143)
	}
	var one mcpTransaction
	callTool(t, cs, "get_transaction", map[string]any{"id": failed50143.ID}, &one)
	if one.Support == nil || one.Support.Code != 50143 || one.Support.CorrelationID == "" || one.Support.TraceID == "" || one.Support.ClientID == "" {
		t.Errorf("get_transaction's support block: %+v", one.Support)
	}
	var ticket struct {
		Transaction int
		Code        int
		Text        string
		Timestamp   string
	}
	callTool(t, cs, "support_ticket", map[string]any{"transaction": failed50143.ID}, &ticket)
	if ticket.Code != 50143 || !strings.Contains(ticket.Text, "Correlation ID: ") || !strings.Contains(ticket.Text, "SessionMismatch") || ticket.Timestamp == "" {
		t.Errorf("support_ticket: %+v", ticket)
	}

	// Flows: filtered, paged, newest first, and one in full.
	var flows struct {
		Flows []struct {
			ID   int
			Mark string
			Path string
		}
		Total    int
		NextPage *int `json:"next_page"`
	}
	callTool(t, cs, "list_flows", map[string]any{"aadsts": 50143}, &flows)
	if flows.Total != 1 || !strings.HasPrefix(flows.Flows[0].Mark, "AADSTS50143 · ") {
		t.Fatalf("list_flows aadsts 50143: %+v", flows)
	}
	id50143 := flows.Flows[0].ID
	callTool(t, cs, "list_flows", map[string]any{"page_size": 3}, &flows)
	if len(flows.Flows) != 3 || flows.NextPage == nil || *flows.NextPage != 1 || flows.Flows[0].ID < flows.Flows[2].ID {
		t.Errorf("list_flows page 0 of 3: %+v", flows)
	}
	last := flows.Total/3 + 1
	flows.Flows, flows.NextPage = nil, nil // absent fields keep old values
	callTool(t, cs, "list_flows", map[string]any{"page_size": 3, "page": last}, &flows)
	if len(flows.Flows) != 0 || flows.NextPage != nil {
		t.Errorf("list_flows past the end: %+v", flows)
	}
	var flow struct {
		Request struct{ URL string }
		Decoded struct {
			Errors []struct {
				Code     int
				Playbook string
			}
		}
		Findings []struct{ Rule string }
	}
	callTool(t, cs, "get_flow", map[string]any{"id": id50143}, &flow)
	if len(flow.Decoded.Errors) == 0 || flow.Decoded.Errors[0].Code != 50143 || len(flow.Findings) == 0 || !strings.Contains(flow.Request.URL, "domain_hint=") {
		t.Errorf("get_flow %d: %+v", id50143, flow)
	}
	if msg := callTool(t, cs, "get_flow", map[string]any{"id": 99999}, nil); !strings.Contains(msg, "no flow 99999") {
		t.Errorf("get_flow of an unknown id: %q, want a tool error", msg)
	}

	var fs struct {
		Findings []struct {
			Rule, Evidence, Fix string
			Code                int
		}
		Total int
	}
	callTool(t, cs, "list_findings", map[string]any{"severity": "error", "code": 140001}, &fs)
	if fs.Total == 0 || fs.Findings[0].Fix == "" || fs.Findings[0].Evidence == "" {
		t.Errorf("list_findings 140001: %+v", fs)
	}
	var ex struct {
		Code  int
		Name  string
		Known bool
		Text  string
	}
	callTool(t, cs, "explain_code", map[string]any{"code": "AADSTS140001"}, &ex)
	if ex.Code != 140001 || !ex.Known || !strings.Contains(ex.Text, "InvalidSessionKey") {
		t.Errorf("explain_code 140001: %+v", ex)
	}
}

func TestMCPServerOverAFileWithARealClient(t *testing.T) {
	rec := demoRecording(t)
	cs := mcpClient(t, "--from", rec)
	checkDemoTools(t, cs, "demo.har")

	// analyze_file reads another trace, and refuses what is not one.
	var an struct {
		Flows        int
		Transactions []mcpTransaction
	}
	if msg := callTool(t, cs, "analyze_file", map[string]any{"path": rec}, &an); msg != "" || an.Flows < 10 || len(an.Transactions) < 5 {
		t.Errorf("analyze_file: %q %+v", msg, an)
	}
	bad := filepath.Join(t.TempDir(), "secret.har")
	os.WriteFile(bad, []byte("password=hunter2-not-json"), 0o600)
	if msg := callTool(t, cs, "analyze_file", map[string]any{"path": bad}, nil); msg == "" || strings.Contains(msg, "hunter2") {
		t.Errorf("analyze_file of a bad file: %q, want an error that does not quote it", msg)
	}
	if msg := callTool(t, cs, "analyze_file", map[string]any{"path": "/etc/passwd"}, nil); !strings.Contains(msg, "only .har and .saz") {
		t.Errorf("analyze_file /etc/passwd: %q", msg)
	}
	// The server keeps serving after errors.
	var st struct{ Flows int }
	if msg := callTool(t, cs, "status", nil, &st); msg != "" || st.Flows < 10 {
		t.Errorf("status after errors: %q %+v", msg, st)
	}
}

func TestMCPServerWithAMalformedFileSaysSoAndKeepsServing(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "cut.har")
	os.WriteFile(bad, []byte(`{"log":{"version":"1.2","entries":[{"request":`), 0o600)
	cs := mcpClient(t, "--from", bad)
	if msg := callTool(t, cs, "status", nil, nil); !strings.Contains(msg, "could not be read") {
		t.Errorf("status over a malformed file: %q", msg)
	}
	var ex struct{ Code int }
	if msg := callTool(t, cs, "explain_code", map[string]any{"code": "50143"}, &ex); msg != "" || ex.Code != 50143 {
		t.Errorf("explain_code still works: %q %+v", msg, ex)
	}
}

func TestMCPServerReadsTheRunningProxy(t *testing.T) {
	sts, _ := stsFixture(t)
	ca, err := certs.New(certs.Options{CommonName: "mcp test CA"})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	// Before any proxy runs, the tools say how to start one.
	cs0 := mcpClient(t, "--home", home)
	if msg := callTool(t, cs0, "status", nil, nil); !strings.Contains(msg, "start one with `aadproxy`") {
		t.Errorf("status without a proxy: %q", msg)
	}

	o := startOptions{listen: "127.0.0.1:0", ui: "127.0.0.1:0", quiet: true}
	s, err := openSession(o, demoProxyOptions(sts), ca, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.writeRunFile(home, o); err != nil {
		t.Fatal(err)
	}
	client := demo.NewClient(proxy.ClientURL(s.listener.Addr().String()), ca.Pool(), sts)
	for i, sc := range demo.All() {
		client.Reset("scenario")
		if err := sc.Run(context.Background(), client); err != nil {
			t.Fatalf("scenario %d: %v", i+1, err)
		}
	}
	s.pipe.Sync()
	time.Sleep(400 * time.Millisecond) // the inspector regroups sign-ins every 300 ms

	// The same server process now finds it.
	checkDemoTools(t, cs0, "live proxy")

	// Control only when allowed.
	cs := mcpClient(t, "--home", home, "--allow-control")
	var paused struct{ Paused bool }
	if msg := callTool(t, cs, "pause", nil, &paused); msg != "" || !paused.Paused || !s.pipe.Paused() {
		t.Errorf("pause: %q %+v, pipeline paused %v", msg, paused, s.pipe.Paused())
	}
	callTool(t, cs, "resume", nil, nil)
	if s.pipe.Paused() {
		t.Errorf("resume left capture paused")
	}
}

// An assistant reads the server's stdout as JSON-RPC: nothing else may
// appear there, not even when a tool fails.
func TestMCPStdoutCarriesOnlyJSONRPC(t *testing.T) {
	rec := demoRecording(t)
	cmd := exec.Command(os.Args[0], "mcp", "--from", rec)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_flow","arguments":{"id":424242}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_transactions","arguments":{}}}`,
	}, "\n")+"\n")
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	ids := map[float64]bool{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for len(ids) < 4 && sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["jsonrpc"] != "2.0" {
			t.Fatalf("stdout line is not JSON-RPC: %q", line)
		}
		if id, ok := m["id"].(float64); ok {
			ids[id] = true
		}
	}
	stdin.Close()
	// After the client goes away the server exits, adding nothing.
	rest, _ := io.ReadAll(stdout)
	if len(strings.TrimSpace(string(rest))) > 0 {
		t.Errorf("stdout after the last answer: %q", rest)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("aadproxy mcp did not exit cleanly when stdin closed: %v", err)
	}
	for _, id := range []float64{1, 2, 3, 4} {
		if !ids[id] {
			t.Errorf("no answer to request %v", id)
		}
	}
}
