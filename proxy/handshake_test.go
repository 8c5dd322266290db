package proxy

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
)

// tlsOpError is how crypto/tls reports an alert: "local error: tls: …" or
// "remote error: tls: …".
type tlsAlert string

func (a tlsAlert) Error() string { return string(a) }

func alertErr(op, text string) error { return &net.OpError{Op: op, Err: tlsAlert(text)} }

func TestDescribeHandshake(t *testing.T) {
	plain := func(desc byte) *handshakeConn {
		// The end of a ClientHello, then the alert in the clear.
		return &handshakeConn{tail: []byte{0xab, 0xcd, 21, 3, 3, 0, 2, 2, desc}, wrote: true}
	}
	ccs := &handshakeConn{tail: []byte{0x14, 3, 3, 0, 1, 1}, wrote: true}
	reset := &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{Port: 443}, Addr: &net.TCPAddr{Port: 50123}, Err: syscall.ECONNRESET}
	tests := []struct {
		name     string
		err      error
		hc       *handshakeConn
		rejected bool
		msg      []string
		hint     []string
	}{
		{"OpenSSL alert in the clear (curl, Python)", alertErr("local error", "tls: bad record MAC"), plain(48), true,
			[]string{"rejected aadproxy's certificate", "unknown_ca", "bad record MAC"}, []string{"aadproxy ca install", "--cacert", "SSL_CERT_FILE"}},
		{"bad record MAC, alert not seen", alertErr("local error", "tls: bad record MAC"), &handshakeConn{}, true,
			[]string{"OpenSSL clients"}, []string{"aadproxy ca install", "CURL_CA_BUNDLE"}},
		{"Java's certificate_unknown", alertErr("remote error", "tls: unknown certificate"), nil, true,
			[]string{"rejected aadproxy's certificate"}, []string{"aadproxy ca install", "aadproxy run -- java"}},
		{"Java hangs up after the certificate", io.EOF, ccs, true,
			[]string{"after receiving aadproxy's certificate"}, []string{"aadproxy ca install", "Java"}},
		{"Go, Node: unknown_ca", alertErr("remote error", "tls: unknown certificate authority"), nil, true,
			[]string{"rejected aadproxy's certificate"}, []string{"aadproxy ca install", "aadproxy ca show"}},
		{"Go: bad_certificate", alertErr("remote error", "tls: bad certificate"), nil, true,
			[]string{"rejected"}, []string{"aadproxy ca install"}},
		{"gone before the certificate", reset, &handshakeConn{}, false,
			[]string{"closed the TLS handshake", "connection reset by peer"}, []string{"aadproxy ca install"}},
		{"another alert in the clear", alertErr("local error", "tls: bad record MAC"), plain(40), false,
			[]string{"alert 40"}, nil},
		{"not TLS", errors.New("tls: first record does not look like a TLS handshake"), &handshakeConn{}, false,
			[]string{"TLS handshake with the client failed"}, nil},
	}
	for _, tt := range tests {
		msg, hint, rejected := describeHandshake("login.microsoftonline.com", tt.err, tt.hc)
		if rejected != tt.rejected {
			t.Errorf("%s: rejected %v, want %v (%s)", tt.name, rejected, tt.rejected, msg)
		}
		for _, w := range tt.msg {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not say %q", tt.name, msg, w)
			}
		}
		for _, w := range tt.hint {
			if !strings.Contains(hint, w) {
				t.Errorf("%s: hint %q does not say %q", tt.name, hint, w)
			}
		}
		if tt.hint == nil && hint != "" {
			t.Errorf("%s: hint %q, want none", tt.name, hint)
		}
		if strings.Contains(msg, "50123") {
			t.Errorf("%s: message %q names the client's port: the notice would be said for every connection", tt.name, msg)
		}
	}
}

func TestDescribeEarlyClose(t *testing.T) {
	for _, tt := range []struct {
		err  error
		ok   bool
		want string
	}{
		{io.EOF, true, "right after the TLS handshake"},
		{alertErr("remote error", "tls: bad certificate"), true, "rejected aadproxy's certificate"},
		{net.ErrClosed, false, ""},
	} {
		msg, hint, ok := describeEarlyClose("login.microsoftonline.com", tt.err)
		if ok != tt.ok || !strings.Contains(msg, tt.want) || ok && !strings.Contains(hint, ".NET") {
			t.Errorf("describeEarlyClose(%v): %q %q %v, want %v and %q", tt.err, msg, hint, ok, tt.ok, tt.want)
		}
	}
}
