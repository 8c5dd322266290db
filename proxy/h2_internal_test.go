package proxy

import (
	"fmt"
	"net"
	"testing"
)

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"login.microsoftonline.com:443", "login.microsoftonline.com:443"},
		{"Login.MicrosoftOnline.com.:443", "login.microsoftonline.com:443"},
		{"login.microsoftonline.com", "login.microsoftonline.com:443"},
		{"127.0.0.1:8443", "127.0.0.1:8443"},
		{"[::1]:443", "[::1]:443"},
	} {
		if got := addrKey(tc.in); got != tc.want {
			t.Errorf("addrKey(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestALPNCacheIsBounded(t *testing.T) {
	var c alpnCache
	if _, ok := c.get("a:443"); ok {
		t.Fatal("empty cache answered")
	}
	c.set("a:443", true)
	c.set("b:443", false)
	if h2, ok := c.get("a:443"); !ok || !h2 {
		t.Errorf("get(a): got %v %v, want true true", h2, ok)
	}
	if h2, ok := c.get("b:443"); !ok || h2 {
		t.Errorf("get(b): got %v %v, want false true", h2, ok)
	}
	for i := range alpnMax + 100 {
		c.set(fmt.Sprintf("h%d:443", i), true)
	}
	if n := len(c.m); n > alpnMax {
		t.Errorf("cache holds %d answers, want at most %d", n, alpnMax)
	}
}

// closeCounter counts Close calls.
type closeCounter struct {
	net.Conn
	closed *int
}

func (c closeCounter) Close() error { *c.closed++; return nil }

func TestSparesAreBoundedAndTakenOnce(t *testing.T) {
	var s spares
	closed := 0
	conns := make([]*tapConn, sparesPerHost+2)
	for i := range conns {
		conns[i] = newTapConn(closeCounter{closed: &closed})
		s.put("login.microsoftonline.com:443", conns[i])
	}
	if closed != 2 {
		t.Errorf("%d spares put for one host: %d closed, want 2 beyond the bound of %d", len(conns), closed, sparesPerHost)
	}
	if c := s.take("other.example:443"); c != nil {
		t.Errorf("take for another host returned a connection")
	}
	if c := s.take("LOGIN.microsoftonline.com"); c == nil {
		t.Fatal("take: no spare for the host (spelt otherwise)")
	}
	s.closeAll()
	if closed != 2+sparesPerHost-1 {
		t.Errorf("after closeAll %d closed, want %d", closed, 2+sparesPerHost-1)
	}
	if c := s.take("login.microsoftonline.com:443"); c != nil || s.n.Load() != 0 {
		t.Errorf("after closeAll: take %v, count %d", c, s.n.Load())
	}
}
