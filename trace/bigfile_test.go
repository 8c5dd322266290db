package trace

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// bigEntry is an ordinary token exchange with a 2 KiB JSON answer, the
// bulk of a long sign-in recording.
func bigEntry() []byte {
	f := &flow.Flow{
		Request: &flow.Request{
			Method: "POST", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: flow.Headers{
				{Name: "Host", Value: "login.microsoftonline.com"},
				{Name: "Content-Type", Value: "application/x-www-form-urlencoded"},
				{Name: "User-Agent", Value: "big/1"},
			},
			Body: body("grant_type=refresh_token&client_id=00000000-0000-0000-0000-000000000000&refresh_token=synthetic"),
		},
		Response: &flow.Response{
			Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "application/json; charset=utf-8"}, {Name: "x-ms-request-id", Value: "4f6a9d3e-0000-0000-0000-000000000000"}},
			Body:   body(`{"token_type":"Bearer","access_token":"eyJ0eXAiOiJKV1QifQ.e30.` + strings.Repeat("x", 2048) + `"}`),
		},
		Timings: flow.Timings{Start: testStart, DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 20 * time.Millisecond, Receive: time.Millisecond},
	}
	return marshal(EntryFromFlow(f).encode)
}

// writeBigHAR writes a HAR of at least size bytes made of copies of one
// entry, and returns how many entries it holds.
func writeBigHAR(tb testing.TB, path string, size int64) int {
	tb.Helper()
	file, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(file, 1<<20)
	w.WriteString(`{"log":{"version":"1.2","creator":{"name":"big","version":"1"},"entries":[`)
	entry := bigEntry()
	var written int64
	n := 0
	for written < size {
		if n > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(entry)
		written += int64(len(entry)) + 2
		n++
	}
	w.WriteString(trailer)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := file.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// peakHeap reads path through Open while sampling the heap, and returns
// the highest HeapInuse and Sys seen.
func peakHeap(t *testing.T, path string, want int) (heap, sys uint64) {
	t.Helper()
	runtime.GC()
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		heap, sys = max(heap, ms.HeapInuse), max(sys, ms.Sys)
		mu.Unlock()
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	n, format, err := Open(path, func(i int, f *flow.Flow) error {
		if f.Status() != 200 {
			t.Fatalf("flow %d: status %d", i, f.Status())
		}
		return nil
	})
	sample()
	close(stop)
	<-done
	if err != nil || n != want || format != FormatHAR {
		t.Fatalf("Open(%s): %d, %s, %v; want %d entries", path, n, format, err, want)
	}
	mu.Lock()
	defer mu.Unlock()
	return heap, sys
}

// TestOpenLargeHARMemoryBounded reads a 50 MB and a 500 MB HAR (1 and 10 MB
// under the race detector, which slows reading tenfold) and checks that the heap stays far below the file's size,
// and that a file ten times larger does not need a larger heap: memory
// depends on the largest entry, not on the file.
func TestOpenLargeHARMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads hundreds of megabytes")
	}
	small, large := int64(50<<20), int64(500<<20)
	if raceEnabled {
		small, large = 1<<20, 10<<20
	}
	dir := t.TempDir()
	var heaps [2]uint64
	for i, size := range []int64{small, large} {
		path := filepath.Join(dir, "big.har")
		n := writeBigHAR(t, path, size)
		start := time.Now()
		heap, sys := peakHeap(t, path, n)
		t.Logf("%d MiB, %d entries: read in %v, peak heap in use %.1f MiB, sys %.1f MiB", size>>20, n, time.Since(start).Round(time.Millisecond), float64(heap)/(1<<20), float64(sys)/(1<<20))
		heaps[i] = heap
		if heap >= 300<<20 {
			t.Errorf("reading %d MiB: peak heap %d MiB, want < 300 MiB", size>>20, heap>>20)
		}
		os.Remove(path)
	}
	// Ten times the file, same memory (allowing for GC timing noise).
	if heaps[1] > 2*heaps[0]+(16<<20) {
		t.Errorf("peak heap grew with the file: %d MiB for %d MiB, %d MiB for %d MiB", heaps[0]>>20, small>>20, heaps[1]>>20, large>>20)
	}
}

func BenchmarkOpenHAR(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.har")
	n := writeBigHAR(b, path, 8<<20)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := Open(path, func(int, *flow.Flow) error { return nil })
		if err != nil || got != n {
			b.Fatalf("Open: %d, %v", got, err)
		}
	}
}

func BenchmarkReadSAZ(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.saz")
	flows := make([]*flow.Flow, 500)
	for i := range flows {
		flows[i] = sampleFlows()[i%6]
	}
	if err := WriteSAZ(path, flows); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := ReadSAZ(path, func(int, *flow.Flow) error { return nil })
		if err != nil || got != len(flows) {
			b.Fatalf("ReadSAZ: %d, %v", got, err)
		}
	}
}
