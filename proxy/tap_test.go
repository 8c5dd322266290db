package proxy

import (
	"net"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

func feed(t *testing.T, data ...string) *tapConn {
	t.Helper()
	a, b := net.Pipe()
	tc := newTapConn(a)
	go func() {
		for _, d := range data {
			b.Write([]byte(d))
		}
		b.Close()
	}()
	buf := make([]byte, 1024)
	for {
		if _, err := tc.Read(buf); err != nil {
			break
		}
	}
	return tc
}

func TestTakeRequestHeadKeepsCasingOrderAndRepeats(t *testing.T) {
	tc := feed(t, "POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nclient-request-id: abc\r\nCookie: a=1\r\ncookie: b=2\r\nContent-Length: 3\r\n\r\nx=1",
		"GET /next HTTP/1.1\r\nHost: h\r\nX-Folded: one\r\n two\r\n\r\n")
	got, ok := tc.takeRequestHead("POST", "/common/oauth2/v2.0/token")
	want := flow.Headers{{Name: "Host", Value: "login.microsoftonline.com"}, {Name: "client-request-id", Value: "abc"}, {Name: "Cookie", Value: "a=1"}, {Name: "cookie", Value: "b=2"}, {Name: "Content-Length", Value: "3"}}
	if !ok || len(got) != len(want) {
		t.Fatalf("takeRequestHead: got %v, %v; want %v", got, ok, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("header %d: got %v, want %v", i, got[i], want[i])
		}
	}
	got, ok = tc.takeRequestHead("GET", "/next")
	if !ok || len(got) != 2 || got[1].Value != "one two" {
		t.Errorf("second request: got %v, %v; want folded X-Folded", got, ok)
	}
	if _, ok := tc.takeRequestHead("GET", "/next"); ok {
		t.Errorf("a consumed head was found twice")
	}
}

func TestTakeResponseHeadSkipsInterim(t *testing.T) {
	tc := feed(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nx-ms-request-id: r1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n{}")
	got, ok := tc.takeResponseHead(400)
	if !ok || len(got) != 3 || got[0].Name != "x-ms-request-id" || got[2].Value != "b=2" {
		t.Errorf("takeResponseHead(400): got %v, %v", got, ok)
	}
}

func TestTapWindowIsBounded(t *testing.T) {
	big := make([]byte, 3*tapWindow)
	for i := range big {
		big[i] = 'a'
	}
	tc := feed(t, string(big), "HTTP/1.1 200 OK\r\nA: b\r\n\r\n")
	if n := len(tc.buf); n > tapWindow {
		t.Errorf("window holds %d bytes, want at most %d", n, tapWindow)
	}
	if _, ok := tc.takeResponseHead(200); !ok {
		t.Errorf("head after a large body was not found")
	}
}

func TestPausedTapRecordsNothingUntilReset(t *testing.T) {
	a, b := net.Pipe()
	tc := newTapConn(a)
	go func() {
		b.Write([]byte("HTTP/1.1 200 OK\r\nA: b\r\n\r\n"))
		b.Write(make([]byte, 1000)) // the body
		b.Write([]byte("HTTP/1.1 204 No Content\r\nC: d\r\n\r\n"))
		b.Close()
	}()
	buf := make([]byte, 4096)
	tc.Read(buf)
	if _, ok := tc.takeResponseHead(200); !ok {
		t.Fatal("first head not found")
	}
	tc.pause()
	tc.Read(buf) // body bytes while paused
	if n := len(tc.recent(1 << 20)); n != 0 {
		t.Errorf("paused tap recorded %d bytes", n)
	}
	tc.resetWindow()
	tc.Read(buf)
	if h, ok := tc.takeResponseHead(204); !ok || h.Get("C") != "d" {
		t.Errorf("after reset the next head was not recovered: %v %v", h, ok)
	}
}
