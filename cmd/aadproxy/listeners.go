package main

import (
	"errors"
	"net"
	"sync"

	"github.com/aadproxy/aadproxy/internal/pipeline"
)

// maxListeners bounds the extra listeners `run --attach` may open.
const maxListeners = 64

// liveControls are what the inspector may ask of a running session:
// pause, resume and clear (the pipeline's), and listeners of their own for
// attached commands.
type liveControls struct {
	*pipeline.Pipeline
	s *session

	mu        sync.Mutex
	listeners map[string]net.Listener
}

func newLiveControls(s *session) *liveControls {
	return &liveControls{Pipeline: s.pipe, s: s, listeners: map[string]net.Listener{}}
}

// AddListener opens a loopback listener whose flows carry tag.
func (c *liveControls) AddListener(tag string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.listeners) >= maxListeners {
		return "", errors.New("too many attached commands: close some first")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	c.listeners[addr] = l
	go c.s.proxy.ServeTagged(l, tag)
	return addr, nil
}

// RemoveListener closes a listener AddListener opened.
func (c *liveControls) RemoveListener(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.listeners[addr]
	if ok {
		l.Close()
		delete(c.listeners, addr)
	}
	return ok
}
