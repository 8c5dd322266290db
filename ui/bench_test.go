package ui

import (
	"runtime"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// BenchmarkStore100k feeds 100 000 flows (one in ten an Entra error, the
// rest ordinary 2 KiB responses) through the store while one live channel
// subscriber reads every event, and reports flows/s, events/s and the heap
// the store holds afterwards (MiB; the input flows are not counted).
func BenchmarkStore100k(b *testing.B) {
	const n = 100_000
	flows := make([]*flow.Flow, n)
	for i := range flows {
		if i%10 == 0 {
			flows[i] = errorFlow(i)
		} else {
			flows[i] = plainFlow(i, 2<<10)
		}
	}
	var heap float64
	heapNow := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		before := heapNow()
		s := NewStore(StoreOptions{})
		sub := s.subscribe()
		received := make(chan int)
		go func() {
			got := 0
			for {
				select {
				case <-sub.ch:
					got++
				case <-sub.done:
					received <- got
					return
				}
			}
		}()
		start := time.Now()
		for _, f := range flows {
			s.Flow(f, nil)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "flows/s")
		// What the store holds beyond the benchmark's own input flows.
		heap = heapNow() - before
		if c := s.counts(); c.Flows != n {
			b.Fatalf("store holds %d flows, want %d", c.Flows, n)
		}
		s.unsubscribe(sub)
		got := <-received
		b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
		s.Close()
	}
	b.ReportMetric(heap, "heap-MiB")
}
