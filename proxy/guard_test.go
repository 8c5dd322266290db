package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// A page sent through the proxy must not reach aadproxy's own listeners
// (the web inspector), whatever name or method it uses; other local
// services on other ports stay reachable (tests and --map-remote need them).
func TestProxyRefusesToConnectToItsOwnListeners(t *testing.T) {
	secret := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "inspector data") })}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go secret.Serve(sl)
	defer secret.Close()
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other service") })}
	ol, _ := net.Listen("tcp", "127.0.0.1:0")
	go other.Serve(ol)
	defer other.Close()

	opts := proxy.Default()
	_, port, _ := net.SplitHostPort(sl.Addr().String())
	opts.MapRemote = map[string]string{"mapped.example": sl.Addr().String()}
	p := proxytest.Start(t, opts)
	p.Guard(sl.Addr(), "aadproxy's web inspector")

	for _, u := range []string{
		"http://" + sl.Addr().String() + "/api/flows",
		"http://localhost:" + port + "/api/flows",
		"http://[::1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
		"http://mapped.example/api/flows",
	} {
		resp, err := p.Client().Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "inspector data") || !strings.Contains(string(body), "never reachable through the proxy") {
			t.Errorf("GET %s through the proxy: %d %q, want 403 without the inspector's answer", u, resp.StatusCode, body)
		}
	}

	// CONNECT to the guarded port is refused too.
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT localhost:%s HTTP/1.1\r\nHost: localhost:%s\r\n\r\n", port, port)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
	if err == nil && resp.StatusCode == http.StatusOK {
		t.Errorf("CONNECT to the inspector's port succeeded")
	}

	// The proxy's own port is guarded from the start.
	resp2, err := p.Client().Get("http://" + p.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Errorf("GET the proxy through itself: %d, want 403", resp2.StatusCode)
	}

	// Another local port is not affected.
	resp3, err := p.Client().Get("http://" + ol.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp3.Body)
	resp3.Body.Close()
	if string(body) != "other service" {
		t.Errorf("a local service on another port: %d %q", resp3.StatusCode, body)
	}
}
