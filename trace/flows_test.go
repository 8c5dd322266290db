package trace

import (
	"bytes"
	"compress/gzip"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// testStart is a fixed, millisecond-aligned start so timestamps round-trip
// through HAR's millisecond dates.
var testStart = time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// gz compresses s; writing to a bytes.Buffer cannot fail.
func gz(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

func body(s string) flow.Body { return flow.Body{Raw: []byte(s), Size: int64(len(s))} }

// sampleFlows covers the shapes the recorder must keep: repeated headers with
// odd casing, text, binary, compressed and truncated bodies, a form post, a
// request that got no response, and a 502 with an error.
func sampleFlows() []*flow.Flow {
	binary := []byte{0x00, 0xff, 0xfe, 0x80, 'P', 'N', 'G', 0x1a, 0x0a}
	zipped := gz(`{"access_token":"eyJ0eXAi.synthetic.sig","token_type":"Bearer"}`)
	return []*flow.Flow{
		{
			Index: 0,
			Request: &flow.Request{
				Method: "GET",
				URL:    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=abc&scope=openid%20profile&state=x",
				Proto:  "HTTP/1.1",
				Header: flow.Headers{
					{Name: "Host", Value: "login.microsoftonline.com"},
					{Name: "x-ms-RefreshTokenCredential", Value: "a"},
					{Name: "Cookie", Value: "esctx=abc; x-ms-gateway-slice=estsfd"},
					{Name: "Accept", Value: "text/html"},
					{Name: "accept", Value: "*/*"},
				},
			},
			Response: &flow.Response{
				Status: 302, Reason: "Found", Proto: "HTTP/1.1",
				Header: flow.Headers{
					{Name: "Location", Value: "https://app.example/cb?code=synthetic"},
					{Name: "Set-Cookie", Value: "esctx=def; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None"},
					{Name: "Set-Cookie", Value: "fpc=Aq; expires=Thu, 03-Apr-2025 05:06:07 GMT; path=/"},
					{Name: "Content-Length", Value: "0"},
				},
			},
			Timings: flow.Timings{
				Start: testStart, DNS: 1500 * time.Microsecond, Connect: 12 * time.Millisecond, TLS: 7250 * time.Microsecond,
				Send: 100 * time.Microsecond, Wait: 42 * time.Millisecond, Receive: 3 * time.Microsecond,
			},
			ClientAddr: "127.0.0.1:50123",
			ServerAddr: "20.190.151.7:443",
			ClientTLS:  &flow.TLSInfo{Version: "TLS 1.3", ALPN: "http/1.1", ServerName: "login.microsoftonline.com"},
			ServerTLS:  &flow.TLSInfo{Version: "TLS 1.3", ServerName: "login.microsoftonline.com"},
			Done:       testStart.Add(60 * time.Millisecond),
		},
		{
			Index: 1,
			Request: &flow.Request{
				Method: "POST",
				URL:    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
				Proto:  "HTTP/1.1",
				Header: flow.Headers{
					{Name: "Content-Type", Value: "application/x-www-form-urlencoded"},
					{Name: "Accept-Encoding", Value: "gzip"},
				},
				Body: body("grant_type=authorization_code&code=synthetic&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
			},
			Response: &flow.Response{
				Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: flow.Headers{
					{Name: "Content-Type", Value: "application/json; charset=utf-8"},
					{Name: "Content-Encoding", Value: "gzip"},
				},
				Body: flow.Body{Raw: zipped, Size: int64(len(zipped)), Encoding: "gzip"},
			},
			Timings: flow.Timings{Start: testStart.Add(time.Second), DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 80 * time.Millisecond, Receive: time.Millisecond},
			Done:    testStart.Add(time.Second + 82*time.Millisecond),
		},
		{
			Index: 2,
			Request: &flow.Request{
				Method: "GET", URL: "https://aadcdn.msftauth.net/logo.png", Proto: "HTTP/2.0",
				Header: flow.Headers{{Name: "Accept", Value: "image/*"}},
			},
			Response: &flow.Response{
				Status: 200, Proto: "HTTP/2.0",
				Header: flow.Headers{{Name: "Content-Type", Value: "image/png"}},
				Body:   flow.Body{Raw: binary, Size: int64(len(binary))},
			},
			Timings: flow.Timings{Start: testStart.Add(2 * time.Second), DNS: -1, Connect: -1, TLS: -1, Send: 0, Wait: 5 * time.Millisecond, Receive: 2 * time.Millisecond},
		},
		{
			Index: 3,
			Request: &flow.Request{
				Method: "GET", URL: "https://login.microsoftonline.com/big", Proto: "HTTP/1.1",
			},
			Response: &flow.Response{
				Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: flow.Headers{{Name: "Content-Type", Value: "text/html"}},
				Body:   flow.Body{Raw: []byte("<html><body>first part of a long pa"), Size: 1 << 20, Truncated: true},
			},
			Timings: flow.Timings{Start: testStart.Add(3 * time.Second), DNS: -1, Connect: -1, TLS: -1, Wait: time.Millisecond, Receive: 9 * time.Millisecond},
		},
		{
			Index: 4,
			Request: &flow.Request{
				Method: "GET", URL: "https://unreachable.example/", Proto: "HTTP/1.1",
				Header: flow.Headers{{Name: "User-Agent", Value: "curl/8"}},
			},
			Error:      "dial tcp: lookup unreachable.example: no such host",
			Timings:    flow.Timings{Start: testStart.Add(4 * time.Second), DNS: 2 * time.Millisecond, Connect: -1, TLS: -1, Send: -1, Wait: -1, Receive: -1},
			ClientAddr: "[::1]:40000",
		},
		{
			Index: 5,
			Request: &flow.Request{
				Method: "GET", URL: "https://login.microsoftonline.com/reset", Proto: "HTTP/1.1",
			},
			Response: &flow.Response{
				Status: 502, Reason: "Bad Gateway", Proto: "HTTP/1.1", Synthetic: true,
				Header: flow.Headers{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
				Body:   body("aadproxy: upstream failed: connection reset by peer\n"),
			},
			Error:      "read tcp 10.0.0.1:1->20.190.151.7:443: connection reset by peer",
			Timings:    flow.Timings{Start: testStart.Add(5 * time.Second), DNS: -1, Connect: 3 * time.Millisecond, TLS: -1, Send: 0, Wait: 0, Receive: 0},
			ServerAddr: "login.microsoftonline.com:443",
		},
	}
}
