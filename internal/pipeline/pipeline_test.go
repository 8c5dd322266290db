package pipeline

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// gatedRecorder blocks every write until its gate is opened, like a disk
// that cannot keep up; fail makes writes fail instead.
type gatedRecorder struct {
	gate  chan struct{}
	fail  atomic.Bool
	n     atomic.Int64
	calls atomic.Int64
}

func (r *gatedRecorder) WriteBatch(fs []*flow.Flow) error {
	r.calls.Add(1)
	if r.fail.Load() {
		return errors.New("disk full")
	}
	<-r.gate
	r.n.Add(int64(len(fs)))
	return nil
}

// gatedInspector blocks until its gate is opened.
type gatedInspector struct{ gate chan struct{} }

func (i gatedInspector) Add(*flow.Flow) []inspect.Finding { <-i.gate; return nil }
func (gatedInspector) Finish() []inspect.Finding          { return nil }

func bigFlow(n int) *flow.Flow {
	f := newFlow()
	f.Response = &flow.Response{Status: 200, Body: flow.Body{Raw: make([]byte, n), Size: int64(n)}}
	return f
}

// handOver calls p.Flow in a goroutine and reports whether it returned
// before the recorder or inspector was let go.
func handOver(p *Pipeline, f *flow.Flow) chan struct{} {
	done := make(chan struct{})
	go func() { p.Flow(f); close(done) }()
	return done
}

func returned(done chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

func TestWorkingRecorderBackPressuresWithinTheBound(t *testing.T) {
	rec := &gatedRecorder{gate: make(chan struct{})}
	const body = 100 << 10
	p, err := NewWithOptions(Options{QueueBytes: 1 << 20}, nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	// The first flow is taken into a batch and its write blocks; about ten
	// more fill the 1 MiB queue; the next hand-over must wait.
	var fast int
	var waiting chan struct{}
	for fast < 50 {
		if waiting = handOver(p, bigFlow(body)); !returned(waiting) {
			break
		}
		fast++
	}
	if fast < 5 || fast > 12 {
		t.Fatalf("%d hand-overs of %d KiB returned before the recorder moved; want about 1 MiB's worth", fast, body>>10)
	}
	p.mu.Lock()
	queued := p.queued
	p.mu.Unlock()
	if queued > 1<<20+body+flowCost(newFlow()) {
		t.Errorf("queued %d bytes, bound is 1 MiB", queued)
	}
	close(rec.gate) // the disk catches up: the waiting hand-over goes through
	<-waiting
	p.Close()
	if got, want := rec.n.Load(), int64(fast+1); got != want {
		t.Errorf("recorded %d flows, want %d: a working recorder loses nothing", got, want)
	}
	if p.Skipped() != 0 || p.Unrecorded() != 0 {
		t.Errorf("skipped %d, unrecorded %d; want 0 and 0", p.Skipped(), p.Unrecorded())
	}
}

func TestFailingRecorderNeverBackPressures(t *testing.T) {
	rec := &gatedRecorder{gate: make(chan struct{})}
	rec.fail.Store(true)
	insp := gatedInspector{gate: make(chan struct{})}
	out := &noticeOutput{}
	p, err := NewWithOptions(Options{QueueBytes: 1 << 20}, insp, rec, out)
	if err != nil {
		t.Fatal(err)
	}
	// Let one batch through so the recorder reports its failure.
	first := handOver(p, bigFlow(10))
	insp.gate <- struct{}{}
	<-first
	for rec.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Now the inspector is stuck and the queue fills: with a failing
	// recorder there is nothing to wait for, so hand-overs drop.
	for i := 0; i < 40; i++ {
		if !returned(handOver(p, bigFlow(100<<10))) {
			t.Fatalf("hand-over %d waited for a failing recorder", i)
		}
	}
	if p.Skipped() == 0 {
		t.Errorf("no flow counted as skipped with a full queue and a failing recorder")
	}
	close(insp.gate)
	p.Close()
	if p.Unrecorded() == 0 || p.RecordError() == nil {
		t.Errorf("unrecorded %d, error %v; want the failed flows counted", p.Unrecorded(), p.RecordError())
	}
	if !out.saw("missing from the recording") || !out.saw("dropped unseen") {
		t.Errorf("notices %q: want the unrecorded and skipped counts said", out.notices)
	}
}

func TestNoRecorderNeverBlocks(t *testing.T) {
	insp := gatedInspector{gate: make(chan struct{})}
	p, err := NewWithOptions(Options{QueueBytes: 1 << 20}, insp, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if !returned(handOver(p, bigFlow(100<<10))) {
			t.Fatalf("hand-over %d waited with no recorder", i)
		}
	}
	close(insp.gate)
	p.Close()
	if s := p.Skipped(); s < 25 || s > 35 {
		t.Errorf("skipped %d of 40 flows of 100 KiB with a 1 MiB queue; want the excess (about 30)", s)
	}
	if got := int64(p.Count()) + p.Skipped(); got != 40 {
		t.Errorf("counted %d + skipped %d = %d, want 40", p.Count(), p.Skipped(), got)
	}
}

func TestOutputQueueBoundedInBytes(t *testing.T) {
	rec := &countingRecorder{}
	out := &checkingOutput{t: t, rec: rec, block: make(chan struct{}), panicOn: -1}
	p, err := NewWithOptions(Options{OutputBytes: 1 << 20}, oneFinding{}, rec, out)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		p.Flow(bigFlow(100 << 10))
	}
	for rec.n.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	if b := p.outs[0].bytes.Load(); b > 1<<20+200<<10 {
		t.Errorf("the stuck output holds %d bytes of flows; bound is 1 MiB", b)
	}
	close(out.block)
	p.Close()
	if out.seen() > 12 || out.dropped < 38 {
		t.Errorf("output saw %d and dropped %d of 50 flows of 100 KiB; want at most about 1 MiB's worth shown", out.seen(), out.dropped)
	}
}

type noticeOutput struct {
	mu      sync.Mutex
	notices []string
}

func (o *noticeOutput) Flow(*flow.Flow, []inspect.Finding) {}
func (o *noticeOutput) Notice(n proxy.Notice) {
	o.mu.Lock()
	o.notices = append(o.notices, n.Message)
	o.mu.Unlock()
}
func (o *noticeOutput) Final([]inspect.Finding) {}
func (o *noticeOutput) Dropped(int64)           {}
func (o *noticeOutput) saw(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range o.notices {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func TestOptionsValidate(t *testing.T) {
	if _, err := NewWithOptions(Options{QueueBytes: -1}, nil, nil); err == nil {
		t.Errorf("NewWithOptions(QueueBytes: -1): no error")
	}
	if got := (Options{}).Default(); got.QueueBytes != DefaultQueueBytes || got.OutputBytes != DefaultOutputBytes {
		t.Errorf("Default(): %+v", got)
	}
}

// TestQueueBoundedInFlows checks the count bound: tiny flows cannot pile
// up behind a slow recorder just because they weigh little.
func TestQueueBoundedInFlows(t *testing.T) {
	rec := &gatedRecorder{gate: make(chan struct{})}
	p, err := NewWithOptions(Options{QueueFlows: 10}, nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	var fast int
	var waiting chan struct{}
	for fast < 100 {
		if waiting = handOver(p, newFlow()); !returned(waiting) {
			break
		}
		fast++
	}
	if fast < 10 || fast > 11 {
		t.Errorf("%d small hand-overs returned before the recorder moved; want the 10 the queue holds (and one in the blocked write)", fast)
	}
	close(rec.gate)
	<-waiting
	p.Close()
	if got := rec.n.Load(); got != int64(fast+1) {
		t.Errorf("recorded %d flows, want %d", got, fast+1)
	}
}
