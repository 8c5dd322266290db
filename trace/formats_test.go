package trace

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// openAll reads every flow of path through Open.
func openAll(t *testing.T, path string) ([]*flow.Flow, string, error) {
	t.Helper()
	var flows []*flow.Flow
	n, format, err := Open(path, func(i int, f *flow.Flow) error {
		if i != len(flows) {
			t.Errorf("Open(%s): index %d, want %d", path, i, len(flows))
		}
		flows = append(flows, f)
		return nil
	})
	if n != len(flows) {
		t.Errorf("Open(%s): n = %d, delivered %d", path, n, len(flows))
	}
	return flows, format, err
}

// wantFlow is what a fixture test checks of one flow; zero fields are not
// checked, except that Status 0 means "no response".
type wantFlow struct {
	method, url string
	status      int
	start       time.Time
	wait        time.Duration
	dns         time.Duration
	reqHeader   [2]string // name, value of one request header
	respHeader  [2]string
	reqBody     string
	respBody    string // decoded view
	serverAddr  string
}

func checkFlow(t *testing.T, label string, f *flow.Flow, w wantFlow) {
	t.Helper()
	if f.Request.Method != w.method || f.Request.URL != w.url {
		t.Errorf("%s: request %s %s, want %s %s", label, f.Request.Method, f.Request.URL, w.method, w.url)
	}
	if got := f.Status(); got != w.status {
		t.Errorf("%s: status %d, want %d", label, got, w.status)
	}
	if !w.start.IsZero() && !f.Timings.Start.Equal(w.start) {
		t.Errorf("%s: start %v, want %v", label, f.Timings.Start, w.start)
	}
	if w.wait != 0 && f.Timings.Wait != w.wait {
		t.Errorf("%s: wait %v, want %v", label, f.Timings.Wait, w.wait)
	}
	if w.dns != 0 && f.Timings.DNS != w.dns {
		t.Errorf("%s: dns %v, want %v", label, f.Timings.DNS, w.dns)
	}
	if w.reqHeader[0] != "" {
		if got := f.Request.Header.Get(w.reqHeader[0]); got != w.reqHeader[1] {
			t.Errorf("%s: request header %s = %q, want %q", label, w.reqHeader[0], got, w.reqHeader[1])
		}
	}
	if w.respHeader[0] != "" && f.Response != nil {
		if got := f.Response.Header.Get(w.respHeader[0]); got != w.respHeader[1] {
			t.Errorf("%s: response header %s = %q, want %q", label, w.respHeader[0], got, w.respHeader[1])
		}
	}
	if w.reqBody != "" {
		if got := f.Request.Body.Text(); got != w.reqBody {
			t.Errorf("%s: request body %q, want %q", label, got, w.reqBody)
		}
	}
	if w.respBody != "" && f.Response != nil {
		if got := f.Response.Body.Text(); got != w.respBody {
			t.Errorf("%s: response body %q, want %q", label, got, w.respBody)
		}
	}
	if w.serverAddr != "" && f.ServerAddr != w.serverAddr {
		t.Errorf("%s: server address %q, want %q", label, f.ServerAddr, w.serverAddr)
	}
}

func TestOpenHARExports(t *testing.T) {
	cet := time.FixedZone("", 3600)
	cst := time.FixedZone("", 8*3600)
	tests := []struct {
		file  string
		flows []wantFlow
		extra func(t *testing.T, flows []*flow.Flow)
	}{
		{
			file: "firefox.har",
			flows: []wantFlow{
				{
					method: "GET", url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=00000000-0000-0000-0000-000000000001&response_type=code&scope=openid%20profile",
					status: 200, start: time.Date(2025, 3, 4, 6, 6, 7, 123e6, cet), wait: 140 * time.Millisecond, dns: 12 * time.Millisecond,
					reqHeader:  [2]string{"Cookie", "buid=synthetic-buid; fpc=AqSynthetic"},
					respHeader: [2]string{"content-encoding", "gzip"},
					respBody:   "<!DOCTYPE html><html><title>Sign in</title></html>",
					serverAddr: "20.190.151.7",
				},
				{
					method: "POST", url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/login", status: 302,
					wait:       233 * time.Millisecond,
					respHeader: [2]string{"location", "https://app.example/cb?code=synthetic-code&state=s1"},
					reqBody:    "login=alice%40contoso.com&passwd=synthetic&ctx=rQQIARAA&flowToken=AQABIQEAAAB",
				},
				{method: "GET", url: "https://aadcdn.msftauth.net/shared/1.0/content/images/favicon_a.ico", status: 200, respBody: "\x00\x00\x01\x00\x01\x00"},
			},
			extra: func(t *testing.T, flows []*flow.Flow) {
				// Firefox's body is decoded although the header says gzip:
				// Raw must not claim an encoding it does not have.
				if b := flows[0].Response.Body; b.Encoding != "" {
					t.Errorf("firefox flow 0: body encoding %q, want none (HAR content is decoded)", b.Encoding)
				}
				if got := flows[1].Timings.TLS; got >= 0 {
					t.Errorf("firefox flow 1: ssl -1 read as %v, want negative", got)
				}
				if n := len(flows[0].Response.Header.Values("set-cookie")); n != 2 {
					t.Errorf("firefox flow 0: %d Set-Cookie lines, want 2", n)
				}
			},
		},
		{
			file: "fiddler-everywhere.har",
			flows: []wantFlow{
				{
					method: "POST", url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", status: 400,
					start:      time.Date(2025, 3, 4, 5, 6, 9, 11440600, time.UTC),
					wait:       117600300 * time.Nanosecond,
					reqHeader:  [2]string{"x-client-SKU", "MSAL.NetCore"},
					respHeader: [2]string{"Transfer-Encoding", "chunked"},
					reqBody:    "client_id=00000000-0000-0000-0000-000000000001&grant_type=password&username=alice%40contoso.com&password=wrong&scope=openid+offline_access",
					respBody:   `{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password.","error_codes":[50126]}`,
				},
				{method: "GET", url: "https://graph.microsoft.com/v1.0/me", status: 401, reqHeader: [2]string{"Authorization", "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30."}},
			},
			extra: func(t *testing.T, flows []*flow.Flow) {
				if n := len(flows[1].Response.Header.Values("WWW-Authenticate")); n != 2 {
					t.Errorf("fiddler everywhere flow 1: %d WWW-Authenticate lines, want 2", n)
				}
				if got := flows[1].Timings.Connect; got >= 0 {
					t.Errorf("fiddler everywhere flow 1: connect %v, want negative", got)
				}
			},
		},
		{
			file: "charles.har",
			flows: []wantFlow{
				{
					method: "GET", url: "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
					status: 200, start: time.Date(2025, 3, 4, 13, 6, 7, 195e6, cst), wait: 56 * time.Millisecond,
					respBody: `{"tenant_discovery_endpoint":"https://login.microsoftonline.com/common"}`,
				},
				{method: "POST", url: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", status: 0, reqBody: "client_id=00000000-0000-0000-0000-000000000001&scope=openid+profile"},
			},
			extra: func(t *testing.T, flows []*flow.Flow) {
				if got := flows[0].Response.Reason; got != "" {
					t.Errorf("charles flow 0: statusText null read as %q", got)
				}
				if got := flows[0].Timings.DNS; got >= 0 {
					t.Errorf("charles flow 0: dns -1 read as %v", got)
				}
				if got := flows[1].Timings.Wait; got != 29978*time.Millisecond {
					t.Errorf("charles flow 1: integer wait read as %v", got)
				}
			},
		},
		{
			file: "chrome-sanitized.har",
			flows: []wantFlow{
				{
					method: "GET", url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=00000000-0000-0000-0000-000000000001&response_type=code&prompt=none&domain_hint=fabrikam.com",
					status: 302, start: time.Date(2025, 3, 4, 5, 6, 7, 400e6, time.UTC), wait: 92900 * time.Microsecond,
					reqHeader:  [2]string{":authority", "login.microsoftonline.com"},
					respHeader: [2]string{"location", "https://app.example/cb?error=login_required&error_description=AADSTS50058%3a+A+silent+sign-in+request+was+sent+but+no+user+is+signed+in."},
				},
				{
					method: "POST", url: "https://login.microsoftonline.com/common/oauth2/v2.0/token", status: 400,
					reqBody:  "client_id=00000000-0000-0000-0000-000000000001&grant_type=x",
					respBody: `{"error":"unsupported_grant_type","error_codes":[70003],"timestamp":"x"}`,
				},
			},
			extra: func(t *testing.T, flows []*flow.Flow) {
				for i, f := range flows {
					for _, name := range []string{"Cookie", "Authorization"} {
						if f.Request.Header.Has(name) {
							t.Errorf("chrome sanitized flow %d: has %s", i, name)
						}
					}
					if f.Response.Header.Has("Set-Cookie") {
						t.Errorf("chrome sanitized flow %d: has Set-Cookie", i)
					}
				}
			},
		},
		{
			file: "fiddler-classic.har",
			flows: []wantFlow{
				{
					method: "GET", url: "https://login.microsoftonline.com/common/.well-known/openid-configuration", status: 200,
					start: time.Date(2025, 3, 4, 6, 6, 7, 123456700, cet), wait: 60 * time.Millisecond,
					respBody: `{"issuer":"https://x/{tid}"}`,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			flows, format, err := openAll(t, "testdata/"+tt.file)
			if err != nil {
				t.Fatalf("Open(%s): %v", tt.file, err)
			}
			if format != FormatHAR {
				t.Errorf("Open(%s): format %q, want %q", tt.file, format, FormatHAR)
			}
			if len(flows) != len(tt.flows) {
				t.Fatalf("Open(%s): %d flows, want %d", tt.file, len(flows), len(tt.flows))
			}
			for i, w := range tt.flows {
				checkFlow(t, fmt.Sprintf("%s flow %d", tt.file, i), flows[i], w)
			}
			if tt.extra != nil {
				tt.extra(t, flows)
			}
		})
	}
}

// TestHARFixturesKeepToolFields checks that the fields the tools add of
// their own survive in Extra, so a converted file loses nothing.
func TestHARFixturesKeepToolFields(t *testing.T) {
	tests := []struct {
		file, where, field string
		entry              int
	}{
		{"firefox.har", "entry", "_securityState", 0},
		{"charles.har", "response", "_charlesStatus", 1},
		{"chrome-sanitized.har", "entry", "_resourceType", 0},
		{"chrome-sanitized.har", "timings", "_blocked_queueing", 0},
	}
	for _, tt := range tests {
		_, entries := readEntries(t, "testdata/"+tt.file)
		e := entries[tt.entry]
		var extra map[string][]byte
		switch tt.where {
		case "entry":
			extra = rawMap(e.Extra)
		case "response":
			extra = rawMap(e.Response.Extra)
		case "timings":
			extra = rawMap(e.Timings.Extra)
		}
		if _, ok := extra[tt.field]; !ok {
			t.Errorf("%s entry %d: %s.%s missing from Extra", tt.file, tt.entry, tt.where, tt.field)
		}
	}
	r, _ := readEntries(t, "testdata/firefox.har")
	if b := r.Log().Browser; b == nil || b.Name != "Firefox" {
		t.Errorf("firefox.har: browser %+v, want Firefox", b)
	}
}

func rawMap[V any](m map[string]V) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}

func TestFixtureSecretsAreSynthetic(t *testing.T) {
	// Fixtures are committed: a real-looking token would be a leak.
	for _, file := range []string{"firefox.har", "fiddler-everywhere.har", "charles.har", "chrome-sanitized.har", "fiddler-classic.har"} {
		flows, _, err := openAll(t, "testdata/"+file)
		if err != nil {
			t.Fatalf("Open(%s): %v", file, err)
		}
		for i, f := range flows {
			if a := f.Request.Header.Get("Authorization"); a != "" && !strings.HasSuffix(a, ".e30.") {
				t.Errorf("%s flow %d: Authorization %q is not the synthetic unsigned token", file, i, a)
			}
		}
	}
}
