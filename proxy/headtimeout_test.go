package proxy_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// TestSlowClientIsRecordedAsHeaderTimeout: a client that sends half a
// request head and then nothing (slowloris) is cut at the header timeout,
// gets a 408, and is recorded as such — not as a malformed request —
// whether the half ends inside a header line (net/http would close
// silently) or inside the request line (net/http would answer 400), on
// the proxy's own listener and inside a decrypted connection.
func TestSlowClientIsRecordedAsHeaderTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name string
		mitm bool
		half string
	}{
		{"plain, inside a header", false, "GET http://" + loginHost + "/x HTTP/1.1\r\nHost: " + loginHost + "\r\nUser-Agent: slo"},
		{"plain, inside the request line", false, "GET http://" + loginHost + "/x HT"},
		{"decrypted, inside a header", true, "GET /x HTTP/1.1\r\nHost: " + loginHost + "\r\nAccept: text/ht"},
		{"decrypted, inside the request line", true, "GET /x HT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := proxy.Default()
			opts.RequestHeaderTimeout = timeout
			p, _ := startPair(t, opts)
			var c net.Conn
			if tt.mitm {
				raw := connectThrough(t, p.Addr, loginHost+":443")
				tc := tls.Client(raw, &tls.Config{ServerName: loginHost, RootCAs: p.CA.Pool()})
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				c = tc
			} else {
				var err error
				if c, err = net.Dial("tcp", p.Addr); err != nil {
					t.Fatal(err)
				}
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.half); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading the answer to half a head: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("half a head: got %d %q, want 408", resp.StatusCode, body)
			}
			f := p.WaitFlows(t, 1)[0]
			want := "client sent no complete request head within " + timeout.String()
			if f.Status() != http.StatusRequestTimeout || !strings.Contains(f.Error, want) || strings.Contains(f.Error, "malformed") {
				t.Errorf("flow: status %d error %q, want 408 and %q", f.Status(), f.Error, want)
			}
			if !strings.Contains(string(f.Request.Body.Raw), tt.half) {
				t.Errorf("flow keeps %q, want what the client sent: %q", f.Request.Body.Raw, tt.half)
			}
		})
	}
}

// TestQuietConnectionIsNoFlow: a client that connects and says nothing
// until the header timeout is not a request, and is not recorded; a
// malformed request is still recorded as malformed.
func TestQuietConnectionIsNoFlow(t *testing.T) {
	opts := proxy.Default()
	opts.RequestHeaderTimeout = 200 * time.Millisecond
	p := proxytest.Start(t, opts)
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a quiet connection got %d bytes, want it closed", n)
	}
	bad, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	io.WriteString(bad, "GET http://"+loginHost+"/x HTTP/1.1\r\nHost "+loginHost+"\r\n\r\n")
	f := p.WaitFlows(t, 1)
	if len(f) != 1 || f[0].Status() != 400 || !strings.Contains(f[0].Error, "malformed") {
		t.Errorf("flows %d, first status %d error %q; want only the malformed request's 400", len(f), f[0].Status(), f[0].Error)
	}
}
