package decode

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func response(status int, body []byte, encoding string, headers ...string) *flow.Flow {
	resp := &flow.Response{Status: status, Proto: "HTTP/1.1", Body: flow.Body{Raw: body, Size: int64(len(body)), Encoding: encoding}}
	for i := 0; i+1 < len(headers); i += 2 {
		resp.Header = append(resp.Header, flow.Header{Name: headers[i], Value: headers[i+1]})
	}
	return &flow.Flow{Index: 0, Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"}, Response: resp}
}

// summary renders the parts of FlowErrors' result that identify each error.
func summary(errs []AADSTSError) string {
	var b bytes.Buffer
	for _, e := range errs {
		fmt.Fprintf(&b, "%s:%v:%s:%s;", e.Source, e.Codes, e.OAuthError, e.SubError)
	}
	return b.String()
}

func TestFlowErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *flow.Flow
		want string
	}{
		{"nil flow", nil, ""},
		{"no response", &flow.Flow{Request: &flow.Request{}}, ""},
		{"token JSON deduplicated against clitelem", response(400, []byte(sampleROPC50076), "",
			"Content-Type", "application/json; charset=utf-8", "x-ms-clitelem", "1,50076,0,,"),
			"token-json:[50076]:invalid_grant:basic_action;"},
		{"gzipped error page: $Config beats clitelem", response(200, gz(sampleConvergedError), "gzip",
			"Content-Type", "text/html; charset=utf-8", "X-MS-Clitelem", "1,50011,0,,"),
			"html-config:[50011]::;"},
		{"clitelem alone names a different code", response(200, []byte("<html>page</html>"), "",
			"Content-Type", "text/html", "x-ms-clitelem", "1,90102,3,,"),
			"clitelem:[90102]::3;"},
		{"success clitelem", response(200, []byte(sampleSuccessV2), "", "Content-Type", "application/json", "x-ms-clitelem", "1,0,0,,"), ""},
		{"fragment redirect", response(302, nil, "", "Location", sampleFragment50058),
			"redirect-fragment:[50058]:login_required:;"},
		{"cancel redirect", response(302, nil, "", "Location", sampleCancel),
			"redirect-query:[]:access_denied:cancel;"},
		{"form_post error", response(200, []byte(sampleFormPostError), "", "Content-Type", "text/html; charset=utf-8"),
			"form-post:[65004]:access_denied:;"},
		{"form_post error, mixed-case tags", response(200, []byte(strings.ReplaceAll(sampleFormPostError, "<form", "<Form")), "", "Content-Type", "text/html"),
			"form-post:[65004]:access_denied:;"},
		{"Graph CAE challenge", response(401, []byte(`{"error":{"code":"InvalidAuthenticationToken","message":"Continuous access evaluation resulted in challenge"}}`), "",
			"WWW-Authenticate", sampleGraphCAE), "www-authenticate:[]:insufficient_claims:;"},
		{"multi-code body", response(400, []byte(sampleV1MultiCode), ""), "token-json:[70002 70008]:invalid_grant:;"},
		{"body and redirect with different codes", response(302, []byte(sampleCABlock), "", "Location", sampleRedirect50105),
			"token-json:[53003]:invalid_grant:message_only;redirect-query:[50105]:interaction_required:;"},
		{"corrupt gzip", response(200, []byte("not gzip at all"), "gzip", "Content-Type", "text/html"), ""},
		{"truncated JSON", response(400, []byte(sampleROPC50076[:100]), ""), ""},
	}
	for _, tt := range tests {
		if got := summary(FlowErrors(tt.f)); got != tt.want {
			t.Errorf("FlowErrors(%s): got %q, want %q", tt.name, got, tt.want)
		}
	}
}
