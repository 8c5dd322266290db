package trace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/hartest"
)

func TestRecordingPassesHARSchema(t *testing.T) {
	hv := hartest.NewValidator(t)
	path := filepath.Join(t.TempDir(), "schema.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	flows := sampleFlows()
	// A request that never got an answer and no error either (the proxy
	// was stopped mid-exchange), with a binary, truncated request body.
	flows = append(flows, &flow.Flow{
		Request: &flow.Request{
			Method: "PUT", URL: "https://graph.microsoft.com/v1.0/me/photo/$value", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "image/jpeg"}},
			Body:   flow.Body{Raw: []byte{0xff, 0xd8, 0xff, 0xe0}, Size: 40000, Truncated: true},
		},
		Timings: flow.Timings{Start: testStart, DNS: -1, Connect: -1, TLS: -1, Send: -1, Wait: -1, Receive: -1},
	})
	// A flow with nothing but a request in it, as zero values.
	flows = append(flows, &flow.Flow{Request: &flow.Request{Method: "GET", URL: "http://example.test/"}})
	for _, f := range flows {
		if err := rec.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hv.Validate(path); err != nil {
		t.Fatalf("har-validator rejected the recording: %v", err)
	}
}

// TestHARSchemaValidatorRejects proves the validator check can fail: a
// response without a status must be rejected.
func TestHARSchemaValidatorRejects(t *testing.T) {
	hv := hartest.NewValidator(t)
	path := filepath.Join(t.TempDir(), "bad.har")
	e := EntryFromFlow(sampleFlows()[0])
	data, err := json.Marshal(HAR{Log: Log{Version: "1.2", Creator: Creator{Name: "x", Version: "1"}, Entries: []Entry{*e}}})
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), `"status":302,`, "", 1)
	if bad == string(data) {
		t.Fatal("test setup: status not found in the entry")
	}
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := hv.Validate(path); err == nil {
		t.Fatal("har-validator accepted a response without status")
	}
}
