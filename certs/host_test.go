package certs

import (
	"crypto/x509"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantIP bool
	}{
		{"example.com", "example.com", false},
		{"Example.COM:443", "example.com", false},
		{"example.com.", "example.com", false},
		{"example.com:", "example.com", false},
		{" example.com ", "example.com", false},
		{"_dmarc.example.com", "_dmarc.example.com", false},
		{"localhost", "localhost", false},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", false},
		{"Bücher.example", "xn--bcher-kva.example", false},
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1:8080", "10.0.0.1", true},
		{"::1", "::1", true},
		{"[::1]", "::1", true},
		{"[::1]:443", "::1", true},
		{"[2001:DB8::1]:443", "2001:db8::1", true},
		{"fe80::1%eth0", "fe80::1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
	}
	for _, tt := range tests {
		got, err := normalizeHost(tt.in)
		if err != nil {
			t.Errorf("normalizeHost(%q): %v", tt.in, err)
			continue
		}
		if got.name != tt.want || got.ip.IsValid() != tt.wantIP {
			t.Errorf("normalizeHost(%q): got %q (IP %v), want %q (IP %v)", tt.in, got.name, got.ip.IsValid(), tt.want, tt.wantIP)
		}
	}

	bad := []string{
		"", ":443", "exa mple.com", "a..b", ".example.com", "example.com:https", "example.com:-1",
		"example.com:99999", "[::1", "::1]", "a/b", "a\x00b", "\xff\xfe", strings.Repeat("a", 64) + ".com",
		strings.Repeat("a.", 127) + "aa", "*.example.com",
	}
	for _, in := range bad {
		if got, err := normalizeHost(in); err == nil {
			t.Errorf("normalizeHost(%q): got %q, want error", in, got.name)
		}
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "Example.COM:443", "[::1]:443", "fe80::1%eth0", "10.0.0.1:80", "Bücher.example",
		"", "[", "]:", "a..b", "::ffff:1.2.3.4", "xn--zz", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := normalizeHost(s)
		if err != nil {
			return
		}
		// A normalized name is its own normal form, so cache keys are stable.
		again, err := normalizeHost(h.name)
		if err != nil || again.name != h.name {
			t.Fatalf("normalizeHost(%q) = %q, which normalizes to %q, %v", s, h.name, again.name, err)
		}
		if !h.ip.IsValid() {
			if err := checkDNSName(h.name); err != nil {
				t.Fatalf("normalizeHost(%q) = %q, not a valid DNS name: %v", s, h.name, err)
			}
		}
	})
}

func FuzzParsePair(f *testing.F) {
	ca, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		f.Fatal(err)
	}
	keyPEM := pemBlock("PRIVATE KEY", keyDER)
	f.Add(ca.CertPEM(), keyPEM)
	f.Add(ca.CertPEM(), []byte("garbage"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), keyPEM)
	f.Add(ca.CertPEM(), pemBlock("EC PRIVATE KEY", keyDER))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		got, err := parsePair(certPEM, keyPEM)
		if err != nil {
			return
		}
		if !got.key.PublicKey.Equal(got.cert.PublicKey) || !got.cert.IsCA {
			t.Fatalf("parsePair accepted a pair that is not a matching CA")
		}
	})
}
