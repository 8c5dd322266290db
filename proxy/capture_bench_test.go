package proxy

import (
	"bytes"
	"io"
	"testing"
)

// Benchmarks of the capture tee (issue 7): what keeping a capped copy of a
// body costs while it streams. Run with
//
//	go test -run '^$' -bench 'CapBuffer|TeeBody' -benchmem ./proxy/

const (
	benchChunk = 32 << 10 // what io.Copy and net/http move at a time
	benchBody  = 1 << 20
)

// BenchmarkCapBuffer writes a body into a capBuffer in 32 KiB chunks, as the
// tee sees it: a 1 MiB body whose Content-Length was known (presized) or not
// (chunked: the buffer grows by doubling), and a 20 MiB body over the
// default 10 MiB cap.
func BenchmarkCapBuffer(b *testing.B) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), benchChunk/16)
	tests := []struct {
		name    string
		size    int64 // bytes written
		max     int64
		presize bool
	}{
		{"1MiB/presized", benchBody, DefaultMaxBody, true},
		{"1MiB/unsized", benchBody, DefaultMaxBody, false},
		{"20MiB-over-10MiB-cap/presized", 20 << 20, DefaultMaxBody, true},
		{"20MiB-over-10MiB-cap/unsized", 20 << 20, DefaultMaxBody, false},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			write := func() *capBuffer {
				c := &capBuffer{max: tt.max}
				if tt.presize {
					c.presize(tt.size)
				}
				for n := int64(0); n < tt.size; n += benchChunk {
					c.Write(chunk)
				}
				return c
			}
			c := write()
			want := min(tt.size, tt.max)
			if int64(len(c.buf)) != want || c.size != tt.size || c.truncated != (tt.size > tt.max) {
				b.Fatalf("capBuffer: got %d bytes kept of %d, truncated %v; want %d of %d, truncated %v",
					len(c.buf), c.size, c.truncated, want, tt.size, tt.size > tt.max)
			}
			b.SetBytes(tt.size)
			b.ReportAllocs()
			for b.Loop() {
				write()
			}
		})
	}
}

// writeOnly hides io.Discard's ReadFrom, so io.CopyBuffer moves data in
// the buffer's chunks through teeBody.Read as the proxy's relay does.
type writeOnly struct{ io.Writer }

// BenchmarkTeeBody relays a 1 MiB request body through teeBody in 32 KiB
// reads: the capture lock and the copy into the capped buffer, against the
// same relay without a tee.
func BenchmarkTeeBody(b *testing.B) {
	src := bytes.Repeat([]byte("0123456789abcdef"), benchBody/16)
	buf := make([]byte, benchChunk)
	dst := writeOnly{io.Discard}
	b.Run("no-tee", func(b *testing.B) {
		b.SetBytes(benchBody)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.CopyBuffer(dst, struct{ io.Reader }{bytes.NewReader(src)}, buf); err != nil {
				b.Fatalf("io.CopyBuffer: %v", err)
			}
		}
	})
	for _, presize := range []bool{true, false} {
		name := "tee/unsized"
		if presize {
			name = "tee/presized"
		}
		b.Run(name, func(b *testing.B) {
			relay := func() *exchange {
				x := &exchange{}
				x.reqBody.max = DefaultMaxBody
				if presize {
					x.reqBody.presize(benchBody)
				}
				// A request-side tee: it never finishes the flow, so no
				// Proxy is needed.
				t := &teeBody{rc: io.NopCloser(bytes.NewReader(src)), x: x, dst: &x.reqBody, want: benchBody}
				if _, err := io.CopyBuffer(dst, t, buf); err != nil {
					b.Fatalf("io.CopyBuffer: %v", err)
				}
				return x
			}
			if x := relay(); !bytes.Equal(x.reqBody.buf, src) || x.reqBody.size != benchBody {
				b.Fatalf("teeBody: captured %d of %d bytes, want all %d", len(x.reqBody.buf), x.reqBody.size, benchBody)
			}
			b.SetBytes(benchBody)
			b.ReportAllocs()
			for b.Loop() {
				relay()
			}
		})
	}
}
