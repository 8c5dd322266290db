package proxy

import (
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// admit decides whether the proxy serves r's client: loopback clients
// always; others when they are in Options.AllowClients or, with
// Options.Auth set, when they authenticate. A refused client is answered
// here (407 asks for credentials, 403 says it is not allowed) and admit
// returns false.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) bool {
	// The credentials are for aadproxy, never for the upstream.
	defer r.Header.Del("Proxy-Authorization")
	ip := clientIP(r.RemoteAddr)
	if ip.IsValid() && ip.IsLoopback() {
		return true
	}
	for _, pfx := range p.opts.AllowClients {
		if ip.IsValid() && pfx.Contains(ip) {
			return true
		}
	}
	if p.opts.Auth != "" {
		if p.authenticated(r) {
			return true
		}
		w.Header().Set("Proxy-Authenticate", `Basic realm="aadproxy"`)
		http.Error(w, "aadproxy: proxy authentication required (the user and password aadproxy printed when it started)", http.StatusProxyAuthRequired)
		return false
	}
	http.Error(w, "aadproxy: this client's address is not allowed to use the proxy (--allow-clients)", http.StatusForbidden)
	return false
}

// authenticated checks Proxy-Authorization: Basic against Options.Auth.
func (p *Proxy) authenticated(r *http.Request) bool {
	h := r.Header.Get("Proxy-Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, []byte(p.opts.Auth)) == 1
}

func clientIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// listensBeyondLoopback reports an address other clients can reach.
func listensBeyondLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return !ok || !ta.IP.IsLoopback()
}
