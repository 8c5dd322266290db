package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/inspect/txn"
)

const tokenReq = "POST https://login.microsoftonline.com/5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60/oauth2/v2.0/token HTTP/1.1\r\n" +
	"Host: login.microsoftonline.com\r\nclient-request-id: 0b85d88e-ef12-492f-9811-69032d1e807f\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n" +
	"client_id=c8f1e2d3-6a7b-4c8d-9e0f-1a2b3c4d5e6f&client_secret=REDACTED&grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"

const tokenResp = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json; charset=utf-8\r\nDate: Tue, 24 Nov 2026 07:01:33 GMT\r\n" +
	"x-ms-request-id: 038435ed-57d6-46b7-b34b-574265fa3301\r\n\r\n" +
	`{"error":"invalid_client","error_description":"AADSTS7000215: The secret is not right. <script>alert(1)</script>\r\nTrace ID: 038435ed-57d6-46b7-b34b-574265fa3301\r\nCorrelation ID: 0b85d88e-ef12-492f-9811-69032d1e807f\r\nTimestamp: 2026-11-24 07:01:31Z","error_codes":[7000215],"timestamp":"2026-11-24 07:01:31Z","trace_id":"038435ed-57d6-46b7-b34b-574265fa3301","correlation_id":"0b85d88e-ef12-492f-9811-69032d1e807f"}`

func sample(t *testing.T) *Report {
	t.Helper()
	f, err := inspecttest.ParseExchange(tokenReq, tokenResp)
	if err != nil {
		t.Fatal(err)
	}
	f.Index = 0
	f.Timings.Start = time.Date(2026, 11, 24, 7, 1, 31, 0, time.UTC) // the server's Date is 2 s later
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	findings := append(eng.Add(f), eng.Finish()...)
	g := txn.NewGrouper()
	g.Add(f)
	return Build("signin.har", []*flow.Flow{f}, findings, g.Transactions(), time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
}

func TestFailureCarriesWhatSupportAsksFor(t *testing.T) {
	r := sample(t)
	if len(r.Failures) != 1 {
		t.Fatalf("got %d failures, want 1", len(r.Failures))
	}
	var md bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"AADSTS7000215 InvalidClientSecret",
		"| Correlation ID | 0b85d88e-ef12-492f-9811-69032d1e807f |",
		"| Request ID (x-ms-request-id) | 038435ed-57d6-46b7-b34b-574265fa3301 |",
		"| Trace ID | 038435ed-57d6-46b7-b34b-574265fa3301 |",
		"| Timestamp (UTC) | 2026-11-24 07:01:31Z |",
		"| Tenant | 5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60 |",
		"| client_id | c8f1e2d3-6a7b-4c8d-9e0f-1a2b3c4d5e6f |",
		"| Endpoint | POST https://login.microsoftonline.com/5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60/oauth2/v2.0/token |",
		"client 2s behind the server",
		"aadsts-error",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	var page bytes.Buffer
	if err := sample(t).HTML(&page); err != nil {
		t.Fatal(err)
	}
	s := page.String()
	if strings.Contains(s, "<script>alert(1)</script>") {
		t.Errorf("HTML did not escape a message from the trace")
	}
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).MatchString(s) {
		t.Errorf("HTML loads an external resource")
	}
	for _, want := range []string{"AADSTS7000215", "0b85d88e-ef12-492f-9811-69032d1e807f", "2026-11-24 07:01:31Z"} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestHealthyStepsAreNotFailures(t *testing.T) {
	resp := strings.Replace(strings.Replace(tokenResp, "7000215", "70016", -1), "invalid_client", "authorization_pending", 1)
	f, err := inspecttest.ParseExchange(tokenReq, resp)
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := inspect.NewEngine(rules.All(), inspect.Options{})
	r := Build("x", []*flow.Flow{f}, eng.Add(f), nil, time.Now())
	if len(r.Failures) != 0 {
		t.Errorf("authorization_pending counted as a failure: %+v", r.Failures)
	}
}
