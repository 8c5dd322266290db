package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// reqInfo travels in a request's context from the handler that read it to
// the capturing RoundTripper, because goproxy clears RequestURI before the
// round trip and wire headers must be taken while the bytes are still in the
// tap's window.
type reqInfo struct {
	capture    bool
	start      time.Time
	header     flow.Headers // wire order and casing; nil if not recovered
	clientTLS  *flow.TLSInfo
	clientAddr string
	tag        string // the listener's (ServeTagged)
}

type reqInfoKey struct{}

func withReqInfo(r *http.Request, ri *reqInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
}

// captureBudget is the bytes that captures in progress may still hold,
// shared by every exchange (Options.CaptureMemory).
type captureBudget struct{ left atomic.Int64 }

// take reserves n bytes, or nothing and false when fewer are left.
func (c *captureBudget) take(n int64) bool {
	for {
		left := c.left.Load()
		if left < n {
			return false
		}
		if c.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

func (c *captureBudget) give(n int64) { c.left.Add(n) }

// capBuffer keeps the first max bytes written to it and counts them all.
// Its capacity is reserved from the shared budget; when the budget is spent
// it keeps what it has and marks itself truncated.
type capBuffer struct {
	buf       []byte
	max       int64
	size      int64
	truncated bool
	budget    *captureBudget
	held      int64 // bytes reserved from budget: cap(buf)
	starved   bool  // truncated because the budget was spent
}

// presize reserves room for a body of known length (up to the cap), so a
// typical small body is captured with one allocation instead of a chain of
// doublings.
func (b *capBuffer) presize(n int64) {
	if n > 0 && b.buf == nil {
		if want := min(n, b.max); b.reserve(want) {
			b.buf = make([]byte, 0, want)
		}
	}
}

// reserve takes n more bytes from the budget (none is unlimited).
func (b *capBuffer) reserve(n int64) bool {
	if b.budget != nil && !b.budget.take(n) {
		return false
	}
	b.held += n
	return true
}

// release returns the reservation once the flow is handed over: from then
// on its bytes count against the pipeline's queue bound instead.
func (b *capBuffer) release() {
	if b.budget != nil && b.held > 0 {
		b.budget.give(b.held)
	}
	b.held = 0
}

func (b *capBuffer) Write(p []byte) {
	b.size += int64(len(p))
	if b.starved {
		return // the capture stays a prefix: no gap where the budget ran out
	}
	room := b.max - int64(len(b.buf))
	if room <= 0 {
		if len(p) > 0 {
			b.truncated = true
		}
		return
	}
	if int64(len(p)) > room {
		p = p[:room]
		b.truncated = true
	}
	if need := len(b.buf) + len(p); need > cap(b.buf) {
		// Double, up to the cap: append alone grows large slices by a
		// quarter, which copied a 1 MiB body of unknown length five times.
		size := min(max(2*cap(b.buf), need, 4096), int(b.max))
		if !b.reserve(int64(size - cap(b.buf))) {
			size = need // the budget is short: ask for just this write
			if !b.reserve(int64(size - cap(b.buf))) {
				b.truncated, b.starved = true, true
				return
			}
		}
		grown := make([]byte, len(b.buf), size)
		copy(grown, b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, p...)
}

// body is the captured body of a message with headers h. Its decoded view
// is capped like the capture (maxBody), or lower for a media type no rule
// reads, so a compressed body costs inspection no more than an identity
// one however far it would inflate.
func (b *capBuffer) body(h flow.Headers, maxBody int64) flow.Body {
	return flow.Body{Raw: b.buf, Size: b.size, Truncated: b.truncated,
		Encoding:    strings.Join(h.Values("Content-Encoding"), ", "),
		DecodeLimit: flow.DecodeLimitFor(h.Get("Content-Type"), maxBody)}
}

// exchange is one captured round trip in progress.
type exchange struct {
	p *Proxy
	f *flow.Flow

	mu        sync.Mutex
	reqBody   capBuffer
	respBody  capBuffer
	upTap     *tapConn
	gotConn   time.Time
	wrote     time.Time
	wroteHead time.Time // HTTP/2 only: the request's HEADERS frame went out
	firstByte time.Time
	finished  bool
}

// roundTrip is the proxy's RoundTripper: it forwards the request upstream,
// tees both bodies into capped capture buffers as they stream, and turns an
// upstream failure into a 502 the client can read (inside goproxy's loops an
// error would only close the connection).
func (p *Proxy) roundTrip(req *http.Request) (*http.Response, error) {
	ri, _ := req.Context().Value(reqInfoKey{}).(*reqInfo)
	// Keep the upstream connection alive when the client closes its own:
	// passing "Connection: close" on doubles upstream handshakes.
	req.Close = false
	var rt http.RoundTripper = p.tr
	if req.ProtoMajor == 2 && p.h2 != nil {
		rt = p.h2
	}
	if ri == nil || !ri.capture {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return p.badGateway(req, err), nil
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			p.watchIdle(resp)
		}
		toH2(req, resp)
		return resp, nil
	}

	tag := ri.tag
	if tag == "" {
		tag = p.opts.Tag
	}
	x := &exchange{p: p, f: &flow.Flow{Index: -1, ClientAddr: ri.clientAddr, ClientTLS: ri.clientTLS, Tag: tag}}
	x.reqBody.max, x.respBody.max = p.opts.MaxBody, p.opts.MaxBody
	x.reqBody.budget, x.respBody.budget = &p.budget, &p.budget
	x.f.Timings = flow.Timings{Start: ri.start, DNS: -1, Connect: -1, TLS: -1}
	hdr := ri.header
	if hdr == nil {
		hdr = canonicalHeaders(req.Header, req.Host)
	}
	x.f.Request = &flow.Request{Method: req.Method, URL: req.URL.String(), Proto: req.Proto, Header: hdr}

	if req.Body != nil && req.Body != http.NoBody {
		x.reqBody.presize(req.ContentLength)
		req.Body = &teeBody{rc: req.Body, x: x, dst: &x.reqBody}
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			x.mu.Lock()
			defer x.mu.Unlock()
			x.gotConn = time.Now()
			x.f.ServerAddr = info.Conn.RemoteAddr().String()
			if tap, ok := info.Conn.(*tapConn); ok {
				if !tap.plain {
					// HTTP/1.1: this exchange has the connection to itself.
					x.upTap = tap
					tap.resetWindow()
				}
				if !info.Reused {
					x.f.Timings.Connect = tap.dialTime + tap.tlsTime
					if tap.tlsState != nil {
						x.f.Timings.TLS = tap.tlsTime
					}
				}
				if tap.tlsState != nil {
					x.f.ServerTLS = tlsInfo(tap.tlsState)
				}
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			x.mu.Lock()
			x.wrote = time.Now()
			x.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			x.mu.Lock()
			x.firstByte = time.Now()
			x.mu.Unlock()
		},
	}
	if req.ProtoMajor == 2 {
		// x/net's HTTP/2 client reports WroteRequest from the goroutine
		// that wrote the request, which may run after the answer was read
		// (finish then falls back to this, or to the first byte).
		trace.WroteHeaders = func() {
			x.mu.Lock()
			x.wroteHead = time.Now()
			x.mu.Unlock()
		}
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))

	resp, err := rt.RoundTrip(req)
	if err != nil {
		resp = p.badGateway(req, err)
		x.f.Error = p.describeUpstreamError(req.URL.Host, err)
		x.recordResponse(resp, listHeaders(resp))
		x.f.Response.Synthetic = true
		x.respBody.Write([]byte(x.f.Error))
		x.finish("")
		return resp, nil
	}

	x.mu.Lock()
	tap := x.upTap
	x.mu.Unlock()
	var rh flow.Headers
	if tap != nil {
		rh, _ = tap.takeResponseHead(resp.StatusCode)
		tap.pause()
	}
	if rh == nil {
		rh = listHeaders(resp)
	}
	x.recordResponse(resp, rh)
	toH2(req, resp) // after recording: the flow keeps what the upstream sent
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// A WebSocket body must stay an io.ReadWriter: do not wrap it.
		x.finish("")
		return resp, nil
	}
	x.respBody.presize(resp.ContentLength)
	p.watchIdle(resp)
	resp.Body = &teeBody{rc: resp.Body, x: x, dst: &x.respBody, isResponse: true, want: resp.ContentLength}
	return resp, nil
}

func (x *exchange) recordResponse(resp *http.Response, h flow.Headers) {
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)))
	x.f.Response = &flow.Response{Status: resp.StatusCode, Reason: reason, Proto: resp.Proto, Header: h}
}

// finish completes the flow once and hands it to the proxy's sink.
func (x *exchange) finish(errText string) {
	x.mu.Lock()
	if x.finished {
		x.mu.Unlock()
		return
	}
	x.finished = true
	now := time.Now()
	f := x.f
	if errText != "" && f.Error == "" {
		f.Error = errText
	}
	t := &f.Timings
	t.Send, t.Wait, t.Receive = -1, -1, -1
	if x.wrote.IsZero() && !x.firstByte.IsZero() {
		// The answer came before the writer said it was done.
		x.wrote = x.firstByte
		if x.reqBody.size == 0 && !x.wroteHead.IsZero() {
			x.wrote = x.wroteHead // no body: sent with the headers
		}
	}
	if !x.wrote.IsZero() && !x.firstByte.IsZero() && x.firstByte.Before(x.wrote) {
		// The upstream answered before the request body was fully written
		// (an early error reply, or the write loop reporting late): sending
		// ends where the answer begins, so no phase is negative.
		x.wrote = x.firstByte
	}
	if !x.gotConn.IsZero() && !x.wrote.IsZero() {
		t.Send = x.wrote.Sub(x.gotConn)
	}
	if !x.wrote.IsZero() && !x.firstByte.IsZero() {
		t.Wait = x.firstByte.Sub(x.wrote)
		t.Receive = now.Sub(x.firstByte)
	}
	f.Request.Body = x.reqBody.body(f.Request.Header, x.p.opts.MaxBody)
	if f.Response != nil {
		f.Response.Body = x.respBody.body(f.Response.Header, x.p.opts.MaxBody)
	}
	f.Done = now
	x.reqBody.release()
	x.respBody.release()
	starved := x.reqBody.starved || x.respBody.starved
	x.mu.Unlock()
	if starved {
		x.p.noticeOnce("", Notice{Level: "warning", Message: fmt.Sprintf(
			"captures in progress reached their memory bound (%d MiB): some bodies were kept only in part; the clients received them whole", x.p.opts.CaptureMemory>>20)})
	}
	x.p.emitFlow(f)
}

// teeBody copies what is read into a capture buffer. On the response side,
// reaching EOF (or an error, or the client giving up) completes the flow.
type teeBody struct {
	rc         io.ReadCloser
	x          *exchange
	dst        *capBuffer
	isResponse bool
	want       int64 // Content-Length, -1 if unknown
	read       int64
	eof        bool
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		t.x.mu.Lock()
		t.dst.Write(p[:n])
		t.x.mu.Unlock()
		t.read += int64(n)
	}
	if t.isResponse && err != nil {
		if err == io.EOF {
			t.eof = true
			t.x.finish("")
		} else {
			t.x.finish("response body cut short: " + err.Error())
		}
	}
	return n, err
}

func (t *teeBody) Close() error {
	err := t.rc.Close()
	if t.isResponse && !t.eof {
		if t.want >= 0 && t.read == t.want {
			t.x.finish("")
		} else {
			t.x.finish("response not fully relayed: the client closed the connection")
		}
	}
	return err
}

// listHeaders lists a response's headers when the wire form was not
// recovered: HTTP/2's as its wire has them, else net/http's canonical ones.
func listHeaders(resp *http.Response) flow.Headers {
	if resp.ProtoMajor == 2 {
		return h2Headers(resp.Header)
	}
	return canonicalHeaders(resp.Header, "")
}

// canonicalHeaders lists net/http's header map in a stable order when the
// wire form could not be recovered.
func canonicalHeaders(h http.Header, host string) flow.Headers {
	var out flow.Headers
	if host != "" {
		out = append(out, flow.Header{Name: "Host", Value: host})
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, flow.Header{Name: k, Value: v})
		}
	}
	return out
}

func tlsInfo(cs *tls.ConnectionState) *flow.TLSInfo {
	return &flow.TLSInfo{Version: tls.VersionName(cs.Version), ALPN: cs.NegotiatedProtocol, ServerName: cs.ServerName}
}

// badGateway is the response a client gets when the upstream failed: 502,
// 504 when it did not answer in time, or 403 when the dial policy refused
// the upstream.
func (p *Proxy) badGateway(req *http.Request, err error) *http.Response {
	if errors.Is(err, ErrDialRefused) {
		return syntheticResponse(req, http.StatusForbidden, "aadproxy: "+err.Error()+"\n")
	}
	if isTimeout(err) {
		return syntheticResponse(req, http.StatusGatewayTimeout, "aadproxy: "+p.describeUpstreamError(req.URL.Host, err)+"\n")
	}
	msg := "aadproxy: " + p.describeUpstreamError(req.URL.Host, err) + "\n"
	return syntheticResponse(req, http.StatusBadGateway, msg)
}

func syntheticResponse(req *http.Request, status int, body string) *http.Response {
	proto, major, minor := "HTTP/1.1", 1, 1
	if req.ProtoMajor == 2 {
		// The client reads it on its HTTP/2 stream.
		proto, major, minor = "HTTP/2.0", 2, 0
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Aadproxy-Error": {"1"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// describeUpstreamError says in plain words what went wrong and what to do.
func (p *Proxy) describeUpstreamError(host string, err error) string {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var ne net.Error
	hint := ""
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		hint = upstreamCertHint(host, err, len(p.opts.UpstreamRoots) > 0, p.opts.MapRemote[normalizeHost(host)])
	case strings.Contains(err.Error(), "timeout awaiting response headers"):
		hint = "the upstream sent no response head in time; --upstream-timeout sets how long to wait"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		hint = "the upstream did not answer in time"
	case strings.Contains(err.Error(), "connection refused"):
		hint = "nothing is listening there; check the host and any --map-remote"
	case strings.Contains(err.Error(), "connection reset"), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		hint = "the upstream closed or reset the connection before answering"
	case strings.Contains(err.Error(), "loopback only"):
		hint = "this proxy was started with a loopback-only dialer"
	}
	msg := fmt.Sprintf("upstream %s failed: %v", host, err)
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// isTimeout reports an upstream that did not answer in time.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout() || strings.Contains(err.Error(), "timeout awaiting response headers")
}
