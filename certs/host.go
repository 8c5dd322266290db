package certs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// hostName is a host normalized for use as a cache key and a SAN: a
// lower-case ASCII DNS name without trailing dot, or an IP literal.
type hostName struct {
	name string     // cache key: DNS name or addr.String()
	ip   netip.Addr // valid for IP hosts
}

// normalizeHost turns a CONNECT target, Host header or SNI value into a
// hostName. It accepts an optional port and IPv6 brackets and zones. The
// value comes from the network, so anything odd is an error, never a panic.
func normalizeHost(s string) (hostName, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return hostName{}, errors.New("empty host")
	}
	if h, port, err := net.SplitHostPort(s); err == nil {
		if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				return hostName{}, fmt.Errorf("host %q: bad port %q", raw, port)
			}
		}
		s = h
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	// Zones only mean something on the local machine and cannot go in a SAN.
	if addr, err := netip.ParseAddr(s); err == nil {
		addr = addr.WithZone("").Unmap()
		return hostName{name: addr.String(), ip: addr}, nil
	}
	if !utf8.ValidString(s) {
		return hostName{}, fmt.Errorf("host %q: not valid UTF-8", raw)
	}
	if !isASCII(s) {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return hostName{}, fmt.Errorf("host %q: %w", raw, err)
		}
		s = a
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if err := checkDNSName(s); err != nil {
		return hostName{}, fmt.Errorf("host %q: %w", raw, err)
	}
	return hostName{name: s}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkDNSName accepts what may appear in a dNSName SAN that clients will
// match: letters, digits, hyphens and underscores (real hosts use them, even
// if RFC 952 does not) in non-empty labels of at most 63 bytes.
func checkDNSName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 253 {
		return fmt.Errorf("name is %d bytes, more than 253", len(s))
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q is longer than 63 bytes", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}
