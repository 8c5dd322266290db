package certs

import (
	"crypto/x509"
	"net"
	"strings"
)

// Name constraints make the CA safe enough to leave trusted: a root whose
// critical Name Constraints permit only the hosts aadproxy decrypts cannot
// be used, even with its key stolen, to impersonate any other site to a
// client that enforces them (Chrome since 112, NSS, OpenSSL and Go do, on a
// trusted root too).

// loopbackRanges are the only IP addresses a constrained CA vouches for.
// Without an IP constraint, RFC 5280 leaves IP addresses unconstrained, and
// a stolen key could sign for any address.
var loopbackRanges = []*net.IPNet{
	{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// constrain adds critical Name Constraints permitting domains (each with
// its subdomains, RFC 5280's dNSName rule) and loopback addresses to a CA
// template, and limits the CA to TLS server authentication: an EKU on a CA
// constrains the leaves under it for NSS, Chrome, OpenSSL and Go, so the
// key cannot sign code or mail either. No domains leaves tmpl unconstrained.
func constrain(tmpl *x509.Certificate, domains []string) {
	if len(domains) == 0 {
		return
	}
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = append([]string(nil), domains...)
	tmpl.PermittedIPRanges = loopbackRanges
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
}

// Constrained reports whether the CA carries Name Constraints.
func (ca *CA) Constrained() bool {
	c := ca.cert
	return len(c.PermittedDNSDomains) > 0 || len(c.ExcludedDNSDomains) > 0 ||
		len(c.PermittedIPRanges) > 0 || len(c.ExcludedIPRanges) > 0
}

// PermittedDomains returns the DNS domains a constrained CA may vouch for
// (nil when it is unconstrained).
func (ca *CA) PermittedDomains() []string {
	return append([]string(nil), ca.cert.PermittedDNSDomains...)
}

// Permits reports whether a leaf this CA signs for host (a name or an IP,
// with or without a port) passes the CA's Name Constraints, so whether the
// proxy may decrypt it. An unconstrained CA permits every host. It follows
// RFC 5280 as Go's verifier does: a constraint "example.com" covers
// example.com and its subdomains, ".example.com" only the subdomains, and a
// name form with no constraint of its kind is not limited.
func (ca *CA) Permits(host string) bool {
	h, err := normalizeHost(host)
	if err != nil {
		return false
	}
	c := ca.cert
	if h.ip.IsValid() {
		ip := net.IP(h.ip.AsSlice())
		for _, r := range c.ExcludedIPRanges {
			if r.Contains(ip) {
				return false
			}
		}
		if len(c.PermittedIPRanges) == 0 {
			return true
		}
		for _, r := range c.PermittedIPRanges {
			if r.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, d := range c.ExcludedDNSDomains {
		if domainCovers(d, h.name) {
			return false
		}
	}
	if len(c.PermittedDNSDomains) == 0 {
		return true
	}
	for _, d := range c.PermittedDNSDomains {
		if domainCovers(d, h.name) {
			return true
		}
	}
	return false
}

func domainCovers(constraint, name string) bool {
	constraint = strings.ToLower(constraint)
	if strings.HasPrefix(constraint, ".") {
		return strings.HasSuffix(name, constraint)
	}
	return name == constraint || strings.HasSuffix(name, "."+constraint)
}
