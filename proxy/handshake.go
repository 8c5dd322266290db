package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// A client that does not trust aadproxy's CA says so in different ways, and
// Go's TLS server words each differently:
//
//   - OpenSSL clients (curl, Python, Ruby, PHP, git) on TLS 1.3 reject the
//     certificate before they have switched to encrypted records, so their
//     alert (unknown_ca) arrives in the clear where Go expects ciphertext:
//     Go reports "local error: tls: bad record MAC".
//   - Java sends certificate_unknown ("remote error: tls: unknown
//     certificate"), or hangs up without an alert once it has read the
//     certificate (Go: "EOF").
//   - Go, Node and browsers send bad_certificate or unknown_ca.
//   - .NET and Windows SChannel check the certificate after the handshake:
//     the handshake succeeds and the client closes the connection (or
//     sends an alert) before its first request.
//
// handshakeConn keeps the last bytes a client sent during the handshake, so
// an alert sent in the clear can be read whatever Go made of it.
type handshakeConn struct {
	net.Conn
	tail  []byte // at most handshakeTail bytes; not written once done
	wrote bool   // aadproxy sent its part of the handshake (its certificate)
	done  bool
}

const handshakeTail = 32

func newHandshakeConn(c net.Conn) *handshakeConn { return &handshakeConn{Conn: c} }

func (c *handshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.done {
		c.tail = append(c.tail, p[:n]...)
		if len(c.tail) > handshakeTail {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-handshakeTail:]...)
		}
	}
	return n, err
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if !c.done {
		c.wrote = true
	}
	return c.Conn.Write(p)
}

// handshakeDone stops the recording. It must be called by the goroutine
// that ran the handshake, before the connection is handed on.
func (c *handshakeConn) handshakeDone() { c.done, c.tail = true, nil }

// plainAlert returns the description of a TLS alert record sent in the
// clear as the last thing the client sent (content type 21, two bytes of
// level and description).
func (c *handshakeConn) plainAlert() (byte, bool) {
	t := c.tail
	if len(t) < 7 {
		return 0, false
	}
	r := t[len(t)-7:]
	if r[0] != 21 || r[1] != 3 || r[3] != 0 || r[4] != 2 {
		return 0, false
	}
	return r[6], true
}

// alertNames are the TLS alerts a client sends about the server's
// certificate, by the names RFC 8446 gives them.
var alertNames = map[byte]string{
	42: "bad_certificate",
	43: "unsupported_certificate",
	44: "certificate_revoked",
	45: "certificate_expired",
	46: "certificate_unknown",
	48: "unknown_ca",
}

// rejectionPhrases are how Go words an alert it could read that rejects the
// certificate.
var rejectionPhrases = []string{
	"unknown certificate authority", // unknown_ca: Go, Node, browsers
	"bad certificate",               // bad_certificate
	"unknown certificate",           // certificate_unknown: Java
	"unsupported certificate",
	"expired certificate",
}

// trustHint is how to trust the CA, for any client; the hints below add
// what one family of clients needs.
const trustHint = "trust aadproxy's CA: `aadproxy ca install` for this machine, or for one program `aadproxy run -- CMD` or `eval \"$(aadproxy env)\"`"

const (
	openSSLHint = trustHint + " (curl: --cacert \"$(aadproxy ca path)\" or CURL_CA_BUNDLE; Python: SSL_CERT_FILE, and REQUESTS_CA_BUNDLE for requests)"
	javaHint    = trustHint + " (Java: `aadproxy run -- java …` gives it a trust store through JAVA_TOOL_OPTIONS; Debian's Java follows the system store after ca install)"
	dotnetHint  = trustHint + " (.NET and Windows apps check the certificate only after the handshake and read the system store: ca install)"
	otherHint   = trustHint + " (`aadproxy ca show` lists each runtime's setting)"
)

// describeHandshake says what a failed client handshake means: the
// message, a hint, and whether the client most likely rejected the CA.
func describeHandshake(host string, err error, hc *handshakeConn) (msg, hint string, rejected bool) {
	text := errText(err)
	if hc != nil {
		if d, ok := hc.plainAlert(); ok {
			name, cert := alertNames[d]
			if !cert {
				return fmt.Sprintf("the client ended the TLS handshake for %s with alert %d (%s)", host, d, text), "", false
			}
			return fmt.Sprintf("the client rejected aadproxy's certificate for %s (it sent TLS alert %s; Go reads that as %q)", host, name, text), openSSLHint, true
		}
	}
	for _, p := range rejectionPhrases {
		if strings.Contains(text, "remote error: tls: "+p) {
			hint := otherHint
			if p == "unknown certificate" {
				hint = javaHint
			}
			return fmt.Sprintf("the client rejected aadproxy's certificate for %s (%s)", host, text), hint, true
		}
	}
	if strings.Contains(text, "bad record MAC") {
		// The alert was not seen whole, but this is how OpenSSL's
		// rejection reads.
		return fmt.Sprintf("the client ended the TLS handshake for %s (%s), as OpenSSL clients (curl, Python) do when they reject the certificate", host, text), openSSLHint, true
	}
	if hangup(err) {
		if hc != nil && hc.wrote {
			// It read the certificate and gave up without saying why.
			return fmt.Sprintf("the client hung up on the TLS handshake for %s after receiving aadproxy's certificate (%s), as Java does when it does not trust the CA", host, text), javaHint, true
		}
		return fmt.Sprintf("the client closed the TLS handshake for %s (%s)", host, text), "if it does not trust aadproxy's CA, " + trustHint, false
	}
	return fmt.Sprintf("TLS handshake with the client failed for %s: %s", host, text), "", false
}

// errText is err without the connection's addresses, which differ each
// time: the notice is said once per host and message.
func errText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil && (op.Source != nil || op.Addr != nil) {
		return op.Err.Error()
	}
	return err.Error()
}

// hangup reports a peer that closed or reset the connection.
func hangup(err error) bool {
	text := err.Error()
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(text, "EOF") || strings.Contains(text, "reset by peer")
}

// earlyCloseWindow is how soon after the handshake a client that closes
// without a request is taken for one that rejected the certificate.
// Browsers close unused preconnections too, but only after seconds.
const earlyCloseWindow = 2 * time.Second

// firstReadConn watches the first read after a successful handshake: a
// client that checks the certificate only now (.NET, SChannel) closes the
// connection, or sends an alert, instead of a request.
type firstReadConn struct {
	net.Conn
	since  time.Time
	seen   bool
	report func(err error)
}

func (c *firstReadConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.seen {
		c.seen = true
		if n == 0 && err != nil && time.Since(c.since) < earlyCloseWindow {
			c.report(err)
		}
	}
	return n, err
}

// describeEarlyClose says what a close right after the handshake means.
func describeEarlyClose(host string, err error) (msg, hint string, ok bool) {
	text := errText(err)
	for _, p := range rejectionPhrases {
		if strings.Contains(text, "remote error: tls: "+p) {
			return fmt.Sprintf("the client rejected aadproxy's certificate for %s after the TLS handshake (%s)", host, text), dotnetHint, true
		}
	}
	if hangup(err) {
		return fmt.Sprintf("the client closed its connection to %s right after the TLS handshake, before any request", host), dotnetHint, true
	}
	return "", "", false
}
