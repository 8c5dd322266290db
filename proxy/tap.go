package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// net/http canonicalises header names and keeps them in a map, so wire casing,
// order and the layout of repeated lines are lost. A tap remembers the most
// recent bytes read from a connection so the header block of each message can
// be recovered as it was sent. It keeps a bounded window: large bodies stream
// through without being held.
const (
	tapWindow = 256 << 10 // trim when the window grows past this
	tapKeep   = 64 << 10  // bytes kept after a trim (covers any header block that can still be pending)
)

// tapConn wraps a connection, recording reads for header recovery and
// watching writes for net/http's own error replies.
type tapConn struct {
	net.Conn
	// tag labels the flows of a client connection accepted on a tagged
	// listener (ServeTagged); "" otherwise.
	tag string

	mu     sync.Mutex
	buf    []byte
	noRead bool // not recording: a hijacked tunnel, or an upstream body (pause)

	closeOnce sync.Once
	onClose   func()

	// pending is true while a request read from this connection is being
	// answered by a handler; a status line written while no request is pending
	// is net/http replying to a malformed request on its own.
	pending bool
	// onServerError receives those replies (status line and body text).
	onServerError func(reply []byte)

	// plain is set before first use on an HTTP/2 upstream connection and
	// never changes: HTTP/2 has no header block in wire form to recover
	// (HPACK, lowercase names, streams interleaved), so reads and writes
	// pass straight through.
	plain bool

	// A client that sends part of a request head and then nothing until
	// the server's header timeout (slowloris) is answered 408 here, where
	// net/http would close silently or answer 400 to the half line it read.
	idleBytes int  // bytes read while no request was pending
	timedOut  bool // a read hit the deadline while no request was pending
	replied   bool // the 408 went out (and to onServerError)

	// Upstream connections remember how they were made, for timings.
	tlsState *tls.ConnectionState
	dialTime time.Duration
	tlsTime  time.Duration
}

func newTapConn(c net.Conn) *tapConn { return &tapConn{Conn: c} }

func (t *tapConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if t.plain {
		return n, err
	}
	if n > 0 || err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		t.mu.Lock()
		if !t.noRead {
			t.buf = append(t.buf, p[:n]...)
			if !t.pending {
				t.idleBytes += n
				t.timedOut = t.timedOut || err != nil && errors.Is(err, os.ErrDeadlineExceeded)
			}
		}
		if len(t.buf) > tapWindow {
			t.buf = append(t.buf[:0], t.buf[len(t.buf)-tapKeep:]...)
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *tapConn) Write(p []byte) (int, error) {
	if t.plain {
		return t.Conn.Write(p)
	}
	t.mu.Lock()
	report := !t.pending && t.onServerError != nil && bytes.HasPrefix(p, []byte("HTTP/1."))
	timeout := report && t.headTimedOut()
	if timeout {
		t.replied = true
	}
	cb := t.onServerError
	t.mu.Unlock()
	if timeout {
		// net/http took the half line it had for a whole one and found it
		// malformed; the client was too slow, not wrong.
		cb(headTimeoutReply)
		if _, err := t.Conn.Write(headTimeoutReply); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if report {
		cb(append([]byte(nil), p...))
	}
	return t.Conn.Write(p)
}

// headTimeoutReply answers a client cut by the header timeout.
var headTimeoutReply = []byte("HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n408 Request Timeout: no complete request head in time\n")

// headTimedOut reports a client cut by the header timeout in the middle of
// a request head. A connection that sent nothing is only idle. t.mu is held.
func (t *tapConn) headTimedOut() bool { return t.timedOut && t.idleBytes > 0 }

// headTimeout reports whether the client was cut by the header timeout
// with part of a request head sent, and how many bytes of it.
func (t *tapConn) headTimeout() (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.headTimedOut(), t.idleBytes
}

// Close closes the connection and runs onClose once. A client cut by the
// header timeout that net/http did not answer gets its 408 first.
func (t *tapConn) Close() error {
	t.mu.Lock()
	timeout := !t.replied && !t.pending && t.onServerError != nil && t.headTimedOut()
	if timeout {
		t.replied = true
	}
	cb := t.onServerError
	t.mu.Unlock()
	if timeout {
		cb(headTimeoutReply)
		t.Conn.Write(headTimeoutReply)
	}
	err := t.Conn.Close()
	t.closeOnce.Do(func() {
		if t.onClose != nil {
			t.onClose()
		}
	})
	return err
}

// detach stops recording and reporting: the connection was handed over.
func (t *tapConn) detach() {
	t.mu.Lock()
	t.noRead = true
	t.buf = nil
	t.onServerError = nil
	t.mu.Unlock()
}

func (t *tapConn) setPending(v bool) {
	t.mu.Lock()
	t.pending = v
	if v {
		t.idleBytes = 0 // the head was whole
	}
	t.mu.Unlock()
}

// recent returns a copy of up to n of the most recently read bytes.
func (t *tapConn) recent(n int) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return append([]byte(nil), b...)
}

// takeRequestHead finds the header block of the request whose start line
// begins with method+" "+target+" " and consumes the window up to its end. An
// occurrence at a line start wins; otherwise (the previous body did not end
// with a newline) the latest occurrence is taken.
func (t *tapConn) takeRequestHead(method, target string) (flow.Headers, bool) {
	prefix := []byte(method + " " + target + " ")
	t.mu.Lock()
	defer t.mu.Unlock()
	best := -1
	for off := 0; off < len(t.buf); {
		i := bytes.Index(t.buf[off:], prefix)
		if i < 0 {
			break
		}
		start := off + i
		best = start
		if start == 0 || t.buf[start-1] == '\n' {
			break
		}
		off = start + 1
	}
	return t.consumeHead(best)
}

// takeResponseHead finds the header block of the final response with the
// given status, skipping 1xx interim responses, and consumes the window. The
// window is reset before each upstream request (resetWindow), so it holds
// only this exchange's response.
func (t *tapConn) takeResponseHead(status int) (flow.Headers, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for off := 0; off < len(t.buf); {
		i := bytes.Index(t.buf[off:], []byte("HTTP/1."))
		if i < 0 {
			break
		}
		start := off + i
		if statusOf(t.buf[start:]) == status {
			return t.consumeHead(start)
		}
		off = start + 1
	}
	return nil, false
}

// statusOf reads the status code from a line starting "HTTP/1.x NNN", or -1.
func statusOf(line []byte) int {
	if len(line) < 12 || line[8] != ' ' {
		return -1
	}
	if len(line) > 12 && line[12] != ' ' && line[12] != '\r' {
		return -1
	}
	n, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return -1
	}
	return n
}

// resetWindow forgets what was read so far.
// An upstream connection's window is reset (and recording resumed) when a
// request is about to go out on it, so it holds only that response.
func (t *tapConn) resetWindow() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.noRead = false
	t.mu.Unlock()
}

// pause stops recording until the next resetWindow: once an upstream
// response's header block is taken, its body needs no second copy (the
// capture tee keeps one).
func (t *tapConn) pause() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.noRead = true
	t.mu.Unlock()
}

func (t *tapConn) consumeHead(start int) (flow.Headers, bool) {
	if start < 0 {
		return nil, false
	}
	h, end, ok := parseHead(t.buf[start:])
	if !ok {
		return nil, false
	}
	t.buf = append(t.buf[:0], t.buf[start+end:]...)
	return h, true
}

// parseHead parses a start line and header lines up to the blank line,
// returning the headers in wire order and casing and the block's length.
// Obsolete line folding is joined to the previous value.
func parseHead(b []byte) (flow.Headers, int, bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0, false
	}
	lines := bytes.Split(b[:end], []byte("\r\n"))
	var h flow.Headers
	for _, ln := range lines[1:] {
		if len(ln) > 0 && (ln[0] == ' ' || ln[0] == '\t') && len(h) > 0 {
			h[len(h)-1].Value += " " + string(bytes.TrimSpace(ln))
			continue
		}
		k, v, ok := bytes.Cut(ln, []byte(":"))
		if !ok {
			return nil, 0, false
		}
		h = append(h, flow.Header{Name: string(k), Value: string(bytes.TrimSpace(v))})
	}
	return h, end + 4, true
}
