package proxy

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultUpstreamTimeout bounds the wait for an upstream's response head;
// DefaultIdleTimeout, the silence within a response body.
const (
	DefaultUpstreamTimeout = 30 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
)

// errIdle ends a body whose upstream went silent.
var errIdle = errors.New("upstream went silent")

// idleBody closes an upstream body that sends nothing for d while the
// client is waiting for it. Only the wait for the upstream counts: the
// timer runs during Read and stops when it returns, so a slow client is
// never mistaken for a silent upstream.
type idleBody struct {
	rc    io.ReadCloser
	d     time.Duration
	timer *time.Timer
	fired atomic.Bool
}

func newIdleBody(rc io.ReadCloser, d time.Duration) *idleBody {
	b := &idleBody{rc: rc, d: d}
	b.timer = time.AfterFunc(d, func() {
		b.fired.Store(true)
		rc.Close()
	})
	b.timer.Stop()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.d)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && b.fired.Load() {
		return n, fmt.Errorf("%w: nothing for %s (--idle-timeout)", errIdle, b.d)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}

// streams reports responses that may rightly stay silent for long:
// server-sent events (and WebSocket upgrades, which are never wrapped).
func streams(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "text/event-stream"
}

// watchIdle wraps resp's body with the idle timeout when one is set.
func (p *Proxy) watchIdle(resp *http.Response) {
	if p.opts.IdleTimeout > 0 && resp.Body != nil && resp.Body != http.NoBody && !streams(resp) {
		resp.Body = newIdleBody(resp.Body, p.opts.IdleTimeout)
	}
}
