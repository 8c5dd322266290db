package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// jsLike is text shaped like a JavaScript bundle: what a browser loads
// through a proxy run with --intercept-all, and what the recorder must
// keep up with.
func jsLike(n int) []byte {
	line := "function a(b){return b&&b.__esModule?b:{default:b}}var c=\"\\u00e9t\\u00e9\";// é \"quoted\"\n"
	return []byte(strings.Repeat(line, n/len(line)+1)[:n])
}

func binaryLike(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func largeFlow(body []byte, ctype string) *flow.Flow {
	return &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://cdn.example/app.js", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Host", Value: "cdn.example"}}},
		Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: ctype}},
			Body:   flow.Body{Raw: body, Size: int64(len(body))}},
		Timings: flow.Timings{Start: testStart, DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: time.Millisecond, Receive: time.Millisecond},
	}
}

// TestRecorderLargeBodies records text and binary bodies larger than the
// encoder's buffer: they come back byte for byte, the file is a valid HAR,
// and writing one allocates a small fraction of its size (the body is
// encoded straight into the file, never copied whole).
func TestRecorderLargeBodies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "large.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	const size = 6 << 20
	bodies := []struct {
		data  []byte
		ctype string
	}{
		{jsLike(size), "text/javascript"},
		{binaryLike(size), "application/octet-stream"},
		{jsLike(1000), "text/javascript"},
	}
	for _, b := range bodies {
		f := largeFlow(b.data, b.ctype)
		rec.Write(f) // warm the encoder's buffer
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := rec.Write(f); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("recording a %d-byte %s body allocated %d bytes; want under 1 MiB", len(b.data), b.ctype, alloc)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAllFlows(t, path)
	if err != nil || len(got) != 2*len(bodies) {
		t.Fatalf("ReadFile: %d flows, %v; want %d", len(got), err, 2*len(bodies))
	}
	for i, f := range got {
		if want := bodies[i/2].data; !bytes.Equal(f.Response.Body.Raw, want) {
			t.Errorf("flow %d: body of %d bytes came back as %d bytes, not equal", i, len(want), len(f.Response.Body.Raw))
		}
	}
	if data, err := os.ReadFile(path); err != nil || !json.Valid(data) {
		t.Errorf("the recording is not valid JSON (%v)", err)
	}
}

// BenchmarkRecorderLargeBody reports the recorder's MiB/s for 1 MiB bodies
// (text and binary) beside a plain sequential write of the same number of
// bytes to the same disk, measured in the same run, so a disk-bound result
// shows as such.
func BenchmarkRecorderLargeBody(b *testing.B) {
	for _, tc := range []struct {
		name string
		body []byte
	}{{"text", jsLike(1 << 20)}, {"binary", binaryLike(1 << 20)}} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.har")
			rec, err := Create(path, "aadproxy", "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer rec.Close()
			f := largeFlow(tc.body, "text/javascript")
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := rec.Write(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The same bytes written plainly, to the page cache and durably (an
	// fdatasync every 64 MiB, as dd conv=fdatasync measures a disk).
	for _, durable := range []bool{false, true} {
		name := "disk-write"
		if durable {
			name = "disk-write-synced"
		}
		b.Run(name, func(b *testing.B) {
			file, err := os.Create(filepath.Join(b.TempDir(), "plain"))
			if err != nil {
				b.Fatal(err)
			}
			defer file.Close()
			chunk := make([]byte, flushSize)
			b.SetBytes(1 << 20)
			n := 0
			for b.Loop() {
				for range (1 << 20) / flushSize {
					if _, err := file.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if n++; durable && n%64 == 0 {
					if err := file.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// fullDisk is a file on a disk with room for n more bytes: a write that
// would grow the file beyond that fails part way, as on a full disk, while
// bytes already allocated can still be overwritten.
type fullDisk struct {
	recordFile
	end  int64 // the file's size
	room int64
}

func (f *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	grow := off + int64(len(p)) - f.end
	if grow > f.room {
		k, _ := f.recordFile.WriteAt(p[:max(0, f.end+f.room-off)], off)
		f.end, f.room = f.end+f.room, 0
		return k, errors.New("no space left on device")
	}
	if grow > 0 {
		f.end += grow
		f.room -= grow
	}
	return f.recordFile.WriteAt(p, off)
}

// TestRecorderFailedBatchLeavesAValidFile fails a large batch in the
// middle: the file must be a valid HAR of the batches before it, and the
// next batch must go in after them.
func TestRecorderFailedBatchLeavesAValidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	small := largeFlow(jsLike(100), "text/javascript")
	if err := rec.Write(small); err != nil {
		t.Fatal(err)
	}
	healthy := rec.file
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rec.file = &fullDisk{recordFile: healthy, end: st.Size(), room: 3 * flushSize / 2} // the first 256 KiB goes in, then the disk is full
	if err := rec.Write(largeFlow(jsLike(2<<20), "text/javascript")); err == nil {
		t.Fatal("a write to a full disk reported no error")
	}
	if got, err := readAllFlows(t, path); err != nil || len(got) != 1 {
		t.Fatalf("after the failed batch: %d flows, %v; want the one before it and no damage", len(got), err)
	}
	rec.file = healthy // space is back
	if err := rec.Write(small); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := readAllFlows(t, path); err != nil || len(got) != 2 {
		t.Errorf("after recovery: %d flows, %v; want 2", len(got), err)
	}
}
