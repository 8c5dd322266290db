package inspecttest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

func TestParseRequest(t *testing.T) {
	const text = "POST /contoso.onmicrosoft.com/oauth2/v2.0/token HTTP/1.1\n" +
		"Host: login.microsoftonline.com\n" +
		"content-type: application/x-www-form-urlencoded\n" +
		"X-Client-SKU: MSAL.Go\n" +
		"Cookie: a=1\n" +
		"Cookie: b=2\n" +
		"\n" +
		"grant_type=password&username=u%40contoso.test\n"
	req, err := ParseRequest(text)
	if err != nil {
		t.Fatalf("ParseRequest: %v", err)
	}
	wantHeader := flow.Headers{
		{Name: "Host", Value: "login.microsoftonline.com"},
		{Name: "content-type", Value: "application/x-www-form-urlencoded"},
		{Name: "X-Client-SKU", Value: "MSAL.Go"},
		{Name: "Cookie", Value: "a=1"},
		{Name: "Cookie", Value: "b=2"},
	}
	if req.Method != "POST" || req.URL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || req.Proto != "HTTP/1.1" {
		t.Errorf("ParseRequest: got %s %s %s, want POST https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token HTTP/1.1", req.Method, req.URL, req.Proto)
	}
	if !reflect.DeepEqual(req.Header, wantHeader) {
		t.Errorf("ParseRequest headers: got %v, want %v (order, casing and repeats kept)", req.Header, wantHeader)
	}
	if got := string(req.Body.Raw); got != "grant_type=password&username=u%40contoso.test" || req.Body.Size != int64(len(got)) {
		t.Errorf("ParseRequest body: got %q (size %d), want the form without the txtar newline", got, req.Body.Size)
	}

	abs, err := ParseRequest("GET https://login.microsoftonline.com/common/discovery/instance?x=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n")
	if err != nil || abs.URL != "https://login.microsoftonline.com/common/discovery/instance?x=1" || abs.Body.Raw != nil {
		t.Errorf("ParseRequest(absolute form): got (%+v, %v), want the absolute URL and no body", abs, err)
	}
	for _, bad := range []string{"", "GET / HTTP/1.1\n\n", "NOT A REQUEST LINE\nHost: x\n\n", "GET / HTTP/1.1\nHost x\n\n"} {
		if r, err := ParseRequest(bad); err == nil {
			t.Errorf("ParseRequest(%q): got %+v, want an error", bad, r)
		}
	}
}

func TestParseResponse(t *testing.T) {
	const text = "HTTP/1.1 200 OK\n" +
		"Content-Type: text/html; charset=utf-8\n" +
		"Content-Encoding: gzip\n" +
		"x-ms-clitelem: 1,50011,0,,\n" +
		"Set-Cookie: fpc=A; path=/\n" +
		"Set-Cookie: x-ms-gateway-slice=estsfd; path=/\n" +
		"\n" +
		"<html>$Config={}</html>\n"
	resp, err := ParseResponse(text)
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if resp.Status != 200 || resp.Reason != "OK" || resp.Proto != "HTTP/1.1" || len(resp.Header.Values("set-cookie")) != 2 {
		t.Errorf("ParseResponse: got %d %q %s headers %v", resp.Status, resp.Reason, resp.Proto, resp.Header)
	}
	if resp.Body.Encoding != "gzip" || string(resp.Body.Raw) == "<html>$Config={}</html>" {
		t.Errorf("ParseResponse body: got encoding %q raw %q, want gzip wire bytes", resp.Body.Encoding, resp.Body.Raw)
	}
	if got := resp.Body.Text(); got != "<html>$Config={}</html>" {
		t.Errorf("ParseResponse body decoded: got %q, want the fixture text", got)
	}
	if _, err := ParseResponse("HTTP/1.1 200 OK\nContent-Encoding: br\n\nx\n"); err == nil {
		t.Errorf("ParseResponse(br body): got nil error, want one (only gzip is supported)")
	}
	r, err := ParseResponse("HTTP/1.1 302 Found\r\nLocation: https://app.test/#error=x\r\nContent-Length: 3\r\n\r\nabcdef")
	if err != nil || r.Reason != "Found" || string(r.Body.Raw) != "abc" {
		t.Errorf("ParseResponse(Content-Length 3): got (%+v, %v), want reason Found and body abc", r, err)
	}
}

func TestParseTxtar(t *testing.T) {
	comment, files := ParseTxtar("about\n-- a --\nx\n-- b 2 --\ny\nz\n-- not a marker--\n-- c --")
	want := []File{{"a", "x\n"}, {"b 2", "y\nz\n-- not a marker--\n"}, {"c", ""}}
	if comment != "about\n" || !reflect.DeepEqual(files, want) {
		t.Errorf("ParseTxtar: got (%q, %q), want (%q, %q)", comment, files, "about\n", want)
	}
}

const fixture = `A silent request then a retry.
-- request --
GET /common/oauth2/v2.0/authorize?prompt=none HTTP/1.1
Host: login.microsoftonline.com

-- response 1 --
HTTP/1.1 302 Found
Location: https://app.test/#error=login_required

-- request 2 --
GET /common/oauth2/v2.0/authorize HTTP/1.1
Host: login.microsoftonline.com

-- error --
connection reset by peer
-- want --
# comment
aadsts-error warning AADSTS50058 flow=0
other info 0
`

func TestParseFixture(t *testing.T) {
	fx, err := ParseFixture("f", fixture)
	if err != nil {
		t.Fatalf("ParseFixture: %v", err)
	}
	if len(fx.Flows) != 2 || fx.Flows[0].Index != 0 || fx.Flows[1].Index != 1 || fx.Flows[0].Response.Status != 302 || fx.Flows[1].Response != nil || fx.Flows[1].Error != "connection reset by peer" {
		t.Errorf("ParseFixture flows: got %+v", fx.Flows)
	}
	wantW := []Want{{"aadsts-error", inspect.Warning, 50058, 0}, {"other", inspect.Info, 0, -1}}
	if !reflect.DeepEqual(fx.Want, wantW) || !strings.HasPrefix(fx.Comment, "A silent") {
		t.Errorf("ParseFixture want: got %v, want %v", fx.Want, wantW)
	}
	for _, bad := range []string{
		"-- response --\nHTTP/1.1 200 OK\n\n",
		"-- want --\n",
		"-- request --\nGET / HTTP/1.1\nHost: x\n\n-- want --\nrule fatal 1\n",
		"-- request --\nGET / HTTP/1.1\nHost: x\n\n-- want --\nrule info x1\n",
		"-- request --\nGET / HTTP/1.1\nHost: x\n\n-- want --\nrule info 1 flow=a\n",
		"-- request --\nGET / HTTP/1.1\nHost: x\n\n-- extra --\n",
		"-- request --\nGET / HTTP/1.1\nHost: x\n\n-- response --\nHTTP/1.1 200 OK\n\n-- response --\nHTTP/1.1 200 OK\n\n",
	} {
		if fx, err := ParseFixture("bad", bad); err == nil {
			t.Errorf("ParseFixture(%q): got %+v, want an error", bad, fx)
		}
	}
}

func TestCheck(t *testing.T) {
	want := []Want{{"r", inspect.Error, 50058, -1}, {"r", inspect.Warning, 1, 2}}
	tests := []struct {
		name string
		got  []inspect.Finding
		n    int
		has  string
	}{
		{"exact", []inspect.Finding{{Rule: "r", Severity: inspect.Warning, Code: 1, Flow: 2}, {Rule: "r", Severity: inspect.Error, Code: 50058, Flow: 7}}, 0, ""},
		{"missing", []inspect.Finding{{Rule: "r", Severity: inspect.Error, Code: 50058}}, 1, "missing finding: r warning 1 flow=2"},
		{"wrong severity", []inspect.Finding{{Rule: "r", Severity: inspect.Warning, Code: 50058}, {Rule: "r", Severity: inspect.Warning, Code: 1, Flow: 2}}, 2, "unexpected finding: r warning 50058"},
		{"wrong flow", []inspect.Finding{{Rule: "r", Severity: inspect.Error, Code: 50058}, {Rule: "r", Severity: inspect.Warning, Code: 1, Flow: 3}}, 2, "missing finding: r warning 1 flow=2"},
		{"extra duplicate", []inspect.Finding{{Rule: "r", Severity: inspect.Error, Code: 50058}, {Rule: "r", Severity: inspect.Error, Code: 50058}, {Rule: "r", Severity: inspect.Warning, Code: 1, Flow: 2}}, 1, "unexpected finding"},
	}
	for _, tt := range tests {
		p := Check(want, tt.got)
		if len(p) != tt.n || (tt.has != "" && !strings.Contains(strings.Join(p, "\n"), tt.has)) {
			t.Errorf("Check(%s): got %q, want %d problems mentioning %q", tt.name, p, tt.n, tt.has)
		}
	}
}

func TestRunRules(t *testing.T) {
	fx, err := ParseFixture("f", fixture)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	r := &inspect.Rule{ID: "r", Title: "t", Doc: "d", Severity: inspect.Info, Run: func(p *inspect.Pass) error {
		seen = append(seen, p.Flow.Index)
		if !p.Options.Now().Equal(FixedNow) {
			return errors.New("clock not pinned")
		}
		return nil
	}}
	got, err := RunRules(fx, r)
	if err != nil || len(got) != 0 || !reflect.DeepEqual(seen, []int{0, 1}) {
		t.Errorf("RunRules: got (%v, %v) seen %v, want no findings and flows [0 1]", got, err, seen)
	}
	if _, err := RunRules(fx, &inspect.Rule{ID: "Bad"}); err == nil {
		t.Errorf("RunRules(invalid rule): got nil error, want one")
	}
}
