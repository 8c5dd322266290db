package pipeline

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/proxy"
)

type countingRecorder struct{ n atomic.Int64 }

func (r *countingRecorder) WriteBatch(fs []*flow.Flow) error { r.n.Add(int64(len(fs))); return nil }

type oneFinding struct{}

func (oneFinding) Add(f *flow.Flow) []inspect.Finding {
	return []inspect.Finding{{Rule: "t", Flow: f.Index, Severity: inspect.Info}}
}
func (oneFinding) Finish() []inspect.Finding { return []inspect.Finding{{Rule: "final"}} }

// checkingOutput asserts the recorder has each flow before it is shown.
type checkingOutput struct {
	t       *testing.T
	rec     *countingRecorder
	mu      sync.Mutex
	flows   []int
	final   int
	dropped int64
	block   chan struct{}
	panicOn int
}

func (o *checkingOutput) Flow(f *flow.Flow, fs []inspect.Finding) {
	if o.block != nil {
		<-o.block
	}
	if f.Index == o.panicOn {
		panic("output bug")
	}
	if got := o.rec.n.Load(); got < int64(f.Index+1) {
		o.t.Errorf("flow %d shown before it was recorded (recorder has %d)", f.Index, got)
	}
	if len(fs) != 1 || fs[0].Flow != f.Index {
		o.t.Errorf("flow %d: findings %v", f.Index, fs)
	}
	o.mu.Lock()
	o.flows = append(o.flows, f.Index)
	o.mu.Unlock()
}
func (o *checkingOutput) Notice(proxy.Notice)        {}
func (o *checkingOutput) Final(fs []inspect.Finding) { o.final = len(fs) }
func (o *checkingOutput) Dropped(n int64)            { o.dropped = n }
func newFlow() *flow.Flow                            { return &flow.Flow{Index: -1, Request: &flow.Request{Method: "GET"}} }
func (o *checkingOutput) seen() int                  { o.mu.Lock(); defer o.mu.Unlock(); return len(o.flows) }

func TestPipelineRecordsBeforeShowingAndKeepsOrder(t *testing.T) {
	rec := &countingRecorder{}
	out := &checkingOutput{t: t, rec: rec, panicOn: -1}
	p := New(oneFinding{}, rec, out)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				p.Flow(newFlow())
			}
		}()
	}
	wg.Wait()
	p.Sync()
	if got := out.seen(); got != 200 {
		t.Errorf("after Sync: output saw %d flows, want 200", got)
	}
	p.Close()
	for i, idx := range out.flows {
		if idx != i {
			t.Fatalf("flow %d shown as index %d: indexes must follow completion order", i, idx)
		}
	}
	if rec.n.Load() != 200 || out.final != 1 || out.dropped != 0 {
		t.Errorf("recorded %d, final %d, dropped %d", rec.n.Load(), out.final, out.dropped)
	}
}

func TestSlowOutputDropsButRecorderGetsAll(t *testing.T) {
	rec := &countingRecorder{}
	out := &checkingOutput{t: t, rec: rec, block: make(chan struct{}), panicOn: -1}
	p := New(oneFinding{}, rec, out)
	n := OutputQueue + 500
	for i := 0; i < n; i++ {
		p.Flow(newFlow()) // must never block even though the output is stuck
	}
	for rec.n.Load() < int64(n) {
		p.mu.Lock()
		p.mu.Unlock()
	}
	close(out.block)
	p.Close()
	if rec.n.Load() != int64(n) {
		t.Errorf("recorder got %d flows, want %d", rec.n.Load(), n)
	}
	// Dropped counts events, and the whole-trace findings are one more.
	if out.dropped == 0 || out.seen() > n || int64(out.seen())+out.dropped < int64(n) {
		t.Errorf("output saw %d and dropped %d of %d", out.seen(), out.dropped, n)
	}
}

func TestPanickingOutputIsIsolated(t *testing.T) {
	rec := &countingRecorder{}
	out := &checkingOutput{t: t, rec: rec, panicOn: 1}
	p := New(oneFinding{}, rec, out)
	for i := 0; i < 3; i++ {
		p.Flow(newFlow())
	}
	p.Close()
	if out.seen() != 2 || out.dropped != 1 {
		t.Errorf("saw %d, dropped %d; want 2 and 1", out.seen(), out.dropped)
	}
}
