// Package flow defines Flow, aadproxy's record of one HTTP exchange.
//
// A Flow is what every other part of aadproxy speaks: the proxy (proxy/)
// produces flows from live traffic, trace readers (trace/) produce them from
// HAR and SAZ files, and inspect/ and the sinks consume them. This package owns
// only the data model and its small helpers; it must not import goproxy,
// net/http server code or any sink, so that offline analysis and live capture
// share one shape.
package flow

import (
	"strings"
	"time"
	"unsafe"
)

// Header is one header line as it appeared on the wire: the original name
// casing is kept, and a repeated header is several Header values in order.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Headers is an ordered list of header lines.
type Headers []Header

// Get returns the first value of the named header (case-insensitive), or "".
func (h Headers) Get(name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv.Name, name) {
			return kv.Value
		}
	}
	return ""
}

// Values returns every value of the named header (case-insensitive), in order.
func (h Headers) Values(name string) []string {
	var out []string
	for _, kv := range h {
		if strings.EqualFold(kv.Name, name) {
			out = append(out, kv.Value)
		}
	}
	return out
}

// Has reports whether the named header is present (case-insensitive).
func (h Headers) Has(name string) bool {
	for _, kv := range h {
		if strings.EqualFold(kv.Name, name) {
			return true
		}
	}
	return false
}

// Body is a message body as captured. Raw holds the bytes as they crossed the
// wire (still compressed if Content-Encoding says so), capped by the capture
// limit; Size counts every byte seen, so Truncated bodies still report their
// true length. Use Decoded for the inspection view.
type Body struct {
	Raw       []byte `json:"-"`
	Size      int64  `json:"size"`
	Truncated bool   `json:"truncated,omitempty"`
	// Encoding is the Content-Encoding the body was sent with ("" for identity).
	Encoding string `json:"encoding,omitempty"`
	// DecodeLimit caps the decoded view (Decoded) in bytes; 0 means
	// DefaultDecodeLimit. The live proxy and the trace readers set it with
	// DecodeLimitFor (--max-body, less for opaque media types).
	DecodeLimit int64 `json:"-"`

	decoded unsafe.Pointer // Decoded's cache, a *decodedBody set atomically
}

// Request is the client's request.
type Request struct {
	Method string `json:"method"`
	// URL is the absolute URL (scheme://host/path?query).
	URL    string  `json:"url"`
	Proto  string  `json:"proto"`
	Header Headers `json:"headers"`
	Body   Body    `json:"body"`
}

// Response is the answer the client received. For a failed upstream exchange
// it is the 502 aadproxy made, and Flow.Error says why.
type Response struct {
	Status int     `json:"status"`
	Reason string  `json:"reason,omitempty"`
	Proto  string  `json:"proto"`
	Header Headers `json:"headers"`
	Body   Body    `json:"body"`
	// Synthetic marks a response that aadproxy made itself (a 502 for an
	// upstream failure, a 400 for a malformed request) rather than relayed.
	Synthetic bool `json:"synthetic,omitempty"`
}

// TLSInfo describes one TLS leg of an exchange.
type TLSInfo struct {
	Version    string `json:"version"`              // e.g. "TLS 1.3"
	ALPN       string `json:"alpn,omitempty"`       // negotiated protocol, "" if none
	ServerName string `json:"serverName,omitempty"` // SNI
}

// Timings are the phases of an exchange. A negative duration means the phase
// did not happen for this exchange (for example Connect on a reused
// connection), matching HAR's -1 convention.
type Timings struct {
	Start   time.Time     `json:"start"`
	DNS     time.Duration `json:"dns"`
	Connect time.Duration `json:"connect"`
	TLS     time.Duration `json:"tls"`
	Send    time.Duration `json:"send"`
	Wait    time.Duration `json:"wait"`
	Receive time.Duration `json:"receive"`
}

// Total is the time from the start of the exchange to the last response byte,
// counting only phases that happened.
func (t Timings) Total() time.Duration {
	var sum time.Duration
	for _, d := range []time.Duration{t.DNS, t.Connect, t.Send, t.Wait, t.Receive} {
		if d > 0 {
			sum += d
		}
	}
	// TLS is part of Connect in HAR's model; it is not added twice.
	return sum
}

// Flow is one HTTP exchange. Response may be nil (the request never got an
// answer) and Error may be set together with a Response (the body was cut
// short, or aadproxy answered 502 for a failed upstream).
type Flow struct {
	// Index is the flow's 0-based position in the recording, assigned when the
	// flow completes; -1 until then.
	Index    int       `json:"index"`
	Request  *Request  `json:"request"`
	Response *Response `json:"response,omitempty"`
	// Error describes a transport failure: dial, TLS, timeout, reset, or a
	// malformed message. Empty when the exchange completed normally.
	Error string `json:"error,omitempty"`

	Timings Timings `json:"timings"`

	// Tag names who made the flow when aadproxy knows (aadproxy run: the
	// command's name); "" otherwise.
	Tag string `json:"tag,omitempty"`

	ClientAddr string   `json:"clientAddr,omitempty"`
	ServerAddr string   `json:"serverAddr,omitempty"`
	ClientTLS  *TLSInfo `json:"clientTLS,omitempty"`
	ServerTLS  *TLSInfo `json:"serverTLS,omitempty"`

	// Done is when the last byte of the response was relayed to the client
	// (or the exchange failed). Zero until the flow is complete.
	Done time.Time `json:"done"`

	// Cached names the cache that answered instead of the network, when a
	// browser's HAR says so: "memory", "disk", "service-worker", or "cache"
	// when the export does not say which. The response's headers, its Date
	// included, are then the ones stored when it was first fetched. A proxy
	// sees only network exchanges, so live capture leaves it empty.
	Cached string `json:"cached,omitempty"`
}

// Status returns the response status code, or 0 when there is no response.
func (f *Flow) Status() int {
	if f == nil || f.Response == nil {
		return 0
	}
	return f.Response.Status
}
