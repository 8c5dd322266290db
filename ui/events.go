package ui

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// subscriberQueue is how many events a tab may lag behind before it loses
// them and is told to resynchronise.
const subscriberQueue = 4096

// subscriber is one open live channel. broadcast never waits for it: when
// its queue is full the events are dropped and the tab gets "resync".
type subscriber struct {
	ch     chan []byte
	lost   atomic.Bool
	done   chan struct{}
	closer sync.Once
}

func (sub *subscriber) close() { sub.closer.Do(func() { close(sub.done) }) }

func (s *Store) subscribe() *subscriber {
	sub := &subscriber{ch: make(chan []byte, subscriberQueue), done: make(chan struct{})}
	s.subsMu.Lock()
	s.subs[sub] = struct{}{}
	s.subsMu.Unlock()
	return sub
}

func (s *Store) unsubscribe(sub *subscriber) {
	s.subsMu.Lock()
	delete(s.subs, sub)
	s.subsMu.Unlock()
	sub.close()
}

// broadcast hands ev to every subscriber without waiting.
func (s *Store) broadcast(ev event) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if len(s.subs) == 0 {
		return
	}
	data := ev.encode()
	for sub := range s.subs {
		if sub.lost.Load() {
			continue // it will resync; what it misses meanwhile does not matter
		}
		select {
		case sub.ch <- data:
		default:
			sub.lost.Store(true)
		}
	}
}

// sseKeepAlive keeps idle connections (and proxies between) from timing out.
const sseKeepAlive = 20 * time.Second

// serveEvents streams the live channel as server-sent events.
func (srv *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	sub := srv.store.subscribe()
	defer srv.store.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := srv.status()
	write := func(data []byte) bool {
		if _, err := w.Write([]byte("data: ")); err != nil {
			return false
		}
		if _, err := w.Write(data); err != nil {
			return false
		}
		_, err := w.Write([]byte("\n\n"))
		return err == nil
	}
	if !write(event{Type: "hello", Status: &st}.encode()) {
		return
	}
	fl.Flush()
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case <-keep.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case data := <-sub.ch:
			if sub.lost.Load() {
				// The queue overflowed: what is in it is incomplete. Empty it
				// and tell the tab to fetch the list again.
				drain(sub.ch)
				sub.lost.Store(false)
				data = event{Type: "resync"}.encode()
			}
			if !write(data) {
				return
			}
			// Send what else is queued before flushing: one flush per burst.
			for n := len(sub.ch); n > 0 && !sub.lost.Load(); n-- {
				if !write(<-sub.ch) {
					return
				}
			}
			fl.Flush()
		}
	}
}

func drain(ch chan []byte) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
