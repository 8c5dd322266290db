package proxy_test

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/proxytest"
	"github.com/aadproxy/aadproxy/proxy"
)

// A proxy listening beyond loopback asks its clients for credentials. The
// test reaches it from another address of this machine: the proxy's own
// view of the client is what matters, so it listens on a non-loopback
// address and the client dials that address.
func TestProxyBeyondLoopbackAsksForCredentials(t *testing.T) {
	ip := nonLoopbackIP(t)
	plain := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			http.Error(w, "the proxy's credentials reached the upstream", http.StatusTeapot)
		}
	})}
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	go plain.Serve(pl)
	defer plain.Close()
	opts := proxy.Default()
	opts.Auth = "alice:s3cret"
	opts.MapRemote = map[string]string{loginHost: pl.Addr().String()}
	p := startOn(t, opts, ip)
	target := "http://" + loginHost + "/x"
	for _, tc := range []struct {
		user *url.Userinfo
		want int
	}{
		{nil, http.StatusProxyAuthRequired},
		{url.UserPassword("alice", "wrong"), http.StatusProxyAuthRequired},
		{url.UserPassword("alice", "s3cret"), http.StatusOK},
	} {
		pu := &url.URL{Scheme: "http", Host: p.Addr, User: tc.user}
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
		resp, err := c.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("credentials %v: %d, want %d", tc.user, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusProxyAuthRequired && !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic") {
			t.Errorf("407 without Proxy-Authenticate: Basic")
		}
	}
	// CONNECT asks too.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT "+loginHost+":443 HTTP/1.1\r\nHost: "+loginHost+":443\r\n\r\n")
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), " 407 ") {
		t.Errorf("CONNECT without credentials: %q", buf[:n])
	}
	conn2, _ := net.Dial("tcp", p.Addr)
	defer conn2.Close()
	cred := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	io.WriteString(conn2, "CONNECT "+loginHost+":443 HTTP/1.1\r\nHost: "+loginHost+":443\r\nProxy-Authorization: Basic "+cred+"\r\n\r\n")
	n, _ = conn2.Read(buf)
	if !strings.Contains(string(buf[:n]), " 200 ") {
		t.Errorf("CONNECT with credentials: %q", buf[:n])
	}
}

func TestProxyBeyondLoopbackRefusesThisMachinesNetworks(t *testing.T) {
	ip := nonLoopbackIP(t)
	local := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "local secret") })}
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	go local.Serve(ll)
	defer local.Close()
	opts := proxy.Default()
	opts.AllowClients = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(ip), 32)}
	p := startOn(t, opts, ip)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: p.Addr})}}
	resp, err := c.Get("http://" + ll.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "local secret") {
		t.Errorf("the host's loopback through a proxy listening beyond it: %d %q", resp.StatusCode, body)
	}
}

// startOn starts a proxy listening on ip (not loopback), with the test's
// usual loopback-only dialer replaced by the default one: the dial policy
// under test is what must refuse.
func startOn(t *testing.T, opts proxy.Options, ip string) *proxytest.Proxy {
	t.Helper()
	return proxytest.StartOn(t, opts, net.JoinHostPort(ip, "0"))
}

// nonLoopbackIP is an address of this machine that is not loopback, or
// the test is skipped (a sandbox with loopback only).
func nonLoopbackIP(t *testing.T) string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}
