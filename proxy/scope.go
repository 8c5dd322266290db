package proxy

import (
	"fmt"
	"net"
	"path"
	"strings"
)

// IdentityHosts are the Microsoft identity hosts aadproxy decrypts by default.
// A leading "*." matches any subdomain (not the bare domain).
var IdentityHosts = []string{
	"login.microsoftonline.com",
	"login.microsoft.com",
	"login.windows.net",
	"sts.windows.net",
	"login.live.com",
	"autologon.microsoftazuread-sso.com",
	"*.login.microsoft.com", // regional ESTS
	"*.b2clogin.com",
	"*.ciamlogin.com",
	"login.microsoftonline.us",
	"login.usgovcloudapi.net",
	"login-us.microsoftonline.com",
	"login.chinacloudapi.cn",
	"login.partner.microsoftonline.cn",
	"autologon.microsoft.us",
}

// ClientCertHosts authenticate the client with a TLS certificate. Decrypting
// them strips that certificate, so device and certificate-based sign-in fail
// (Entra answers AADSTS50192). They are tunnelled untouched unless the user
// names one exactly with --intercept.
var ClientCertHosts = []string{
	"device.login.microsoftonline.com",
	"certauth.login.microsoftonline.com",
	"*.certauth.login.microsoftonline.com",
	"enterpriseregistration.windows.net",
	"device.login.microsoftonline.us",
	"certauth.login.microsoftonline.us",
	"*.certauth.login.microsoftonline.us",
	"enterpriseregistration.microsoftonline.us",
}

// ClientCertReason explains why a client-certificate host is tunnelled.
const ClientCertReason = "it authenticates with a TLS client certificate; decrypting it breaks device and certificate sign-in (Entra answers AADSTS50192)"

// Decision says what the proxy does with a host.
type Decision int

const (
	// Tunnel relays the connection byte for byte without decrypting it.
	Tunnel Decision = iota
	// Intercept decrypts and captures the traffic.
	Intercept
)

func (d Decision) String() string {
	if d == Intercept {
		return "intercept"
	}
	return "tunnel"
}

// Scope decides which hosts are decrypted. It is immutable after NewScope and
// safe for concurrent use.
type Scope struct {
	patterns []string // identity hosts plus the user's --intercept patterns
	explicit map[string]bool
	all      bool
}

// NewScope builds a scope from the user's extra patterns. A pattern is a host
// name, "*.domain" for its subdomains, or any path.Match glob ("*" alone is
// rejected: use --intercept-all).
func NewScope(extra []string, all bool) (*Scope, error) {
	s := &Scope{all: all, explicit: map[string]bool{}}
	s.patterns = append(s.patterns, IdentityHosts...)
	for _, p := range extra {
		p = normalizeHost(p)
		if p == "" {
			return nil, fmt.Errorf("empty --intercept pattern")
		}
		if p == "*" {
			return nil, fmt.Errorf("--intercept %q would decrypt everything: use --intercept-all", p)
		}
		if _, err := path.Match(p, "x"); err != nil {
			return nil, fmt.Errorf("bad --intercept pattern %q: %w", p, err)
		}
		s.patterns = append(s.patterns, p)
		if !strings.ContainsAny(p, "*?[") {
			s.explicit[p] = true
		}
	}
	return s, nil
}

// Decide returns what to do with host (a name or IP, with or without port)
// and, for a tunnelled client-certificate host, why.
func (s *Scope) Decide(host string) (d Decision, reason string) {
	h := normalizeHost(host)
	if matchAny(ClientCertHosts, h) && !s.explicit[h] {
		return Tunnel, ClientCertReason
	}
	if s.all || matchAny(s.patterns, h) {
		return Intercept, ""
	}
	return Tunnel, ""
}

// IsClientCertHost reports whether host is one of ClientCertHosts.
func IsClientCertHost(host string) bool { return matchAny(ClientCertHosts, normalizeHost(host)) }

// ExplicitClientCertHosts lists the client-certificate hosts the user named
// exactly, which will be decrypted against advice.
func (s *Scope) ExplicitClientCertHosts() []string {
	var out []string
	for h := range s.explicit {
		if IsClientCertHost(h) {
			out = append(out, h)
		}
	}
	return out
}

func matchAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if matchHost(p, host) {
			return true
		}
	}
	return false
}

func matchHost(pattern, host string) bool {
	if strings.HasPrefix(pattern, "*.") && !strings.ContainsAny(pattern[2:], "*?[") {
		return strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1
	}
	if !strings.ContainsAny(pattern, "*?[") {
		return pattern == host
	}
	ok, _ := path.Match(pattern, host)
	return ok
}

// normalizeHost lower-cases host, strips a port, brackets and a trailing dot.
func normalizeHost(host string) string {
	host = strings.TrimSpace(strings.ToLower(host))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.TrimSuffix(host, ".")
}

// Bypasses reports whether a NO_PROXY entry ("login.microsoftonline.com",
// ".microsoftonline.com", "*.b2clogin.com", "*") would make a client skip
// the proxy for a host this scope decrypts. Loopback entries never do:
// aadproxy does not decrypt loopback by name.
func (s *Scope) Bypasses(entry string) bool {
	e := normalizeHost(entry)
	if e == "" {
		return false
	}
	if e == "*" {
		return true
	}
	e = strings.TrimPrefix(strings.TrimPrefix(e, "*"), ".")
	if e == "localhost" || net.ParseIP(e) != nil && net.ParseIP(e).IsLoopback() || strings.Contains(e, "/") {
		return false // loopback names, addresses and CIDR ranges
	}
	if s.all {
		return true
	}
	for _, p := range s.patterns {
		base, wild := strings.CutPrefix(p, "*.")
		switch {
		case strings.ContainsAny(base, "*?["):
			if ok, _ := path.Match(p, e); ok {
				return true
			}
		case e == base || strings.HasSuffix(base, "."+e):
			return true // the entry names the host or a parent domain
		case wild && strings.HasSuffix(e, "."+base):
			return true // a subdomain the wildcard decrypts
		}
	}
	return false
}
