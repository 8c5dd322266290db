package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// upstreamCertHint tells an upstream certificate's problems apart, each
// with what to do about it: an expired certificate or a wrong name is not
// cured by --upstream-ca, and when --upstream-ca was given (withCA) the
// question is why the given CA did not vouch for it. mappedTo is the
// --map-remote target of host, if any.
func upstreamCertHint(host string, err error, withCA bool, mappedTo string) string {
	host = normalizeHost(host)
	var cert *x509.Certificate
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		cert = cve.UnverifiedCertificates[0]
	}
	var cie x509.CertificateInvalidError
	var hne x509.HostnameError
	var uae x509.UnknownAuthorityError
	switch {
	case errors.As(err, &cie) && cie.Reason == x509.Expired:
		const day = "2006-01-02 15:04 MST"
		if c := cie.Cert; c != nil && time.Now().Before(c.NotBefore) {
			return "the upstream's certificate for " + host + " is valid only from " + c.NotBefore.UTC().Format(day) +
				": set this machine's clock right, or wait; --upstream-insecure turns verification off"
		} else if c != nil {
			return "the upstream's certificate for " + host + " expired on " + c.NotAfter.UTC().Format(day) +
				": renew it on the server, or set this machine's clock right if it is wrong; --upstream-insecure turns verification off"
		}
		return "the upstream's certificate for " + host + " is expired or not yet valid: renew it on the server, or set this machine's clock right; --upstream-insecure turns verification off"
	case errors.As(err, &hne):
		names := "other names"
		if c := hne.Certificate; c != nil {
			names = certNames(c)
		}
		fix := "the server must present a certificate for " + host
		if mappedTo != "" {
			fix = "--map-remote sends " + host + " to " + mappedTo + ", which must present a certificate for " + host + " (the name aadproxy asks for in SNI)"
		}
		return "the upstream's certificate names " + names + ", not " + host + ": " + fix + "; --upstream-insecure turns verification off"
	case errors.As(err, &uae):
		issuer := "an unknown authority"
		if c := uae.Cert; c != nil {
			issuer = issuerName(c)
		} else if cert != nil {
			issuer = issuerName(cert)
		}
		if withCA {
			return "the upstream's certificate is signed by " + issuer + ", which is none of the --upstream-ca certificates and no system root: pass the CA that signed it"
		}
		return "the upstream's certificate is signed by " + issuer + ", which this machine does not trust: for a test server pass --upstream-ca FILE with that CA; --upstream-insecure turns verification off"
	case errors.As(err, &cie):
		return "the upstream's certificate is not acceptable (" + cie.Error() + "); --upstream-insecure turns verification off"
	}
	if withCA {
		return "the upstream's certificate is not trusted, although --upstream-ca was given; --upstream-insecure turns verification off"
	}
	return "the upstream's certificate is not trusted; for a test server pass --upstream-ca FILE (--upstream-insecure turns verification off)"
}

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no name"
	}
	if len(names) > 4 {
		names = append(names[:4], fmt.Sprintf("%d more", len(names)-4))
	}
	return strings.Join(names, ", ")
}

// issuerName names a certificate's issuer the way a person would look it up.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return fmt.Sprintf("%q", c.Issuer.CommonName)
	}
	if s := c.Issuer.String(); s != "" {
		return fmt.Sprintf("%q", s)
	}
	return "an unnamed authority"
}
