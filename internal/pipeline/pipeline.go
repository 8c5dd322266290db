// Package pipeline carries finished flows from the proxy to the sinks, one
// way: inspect, then record, then show. It owns ordering, back-pressure and
// the memory bound between the proxy and the sinks: the recorder sees every
// flow before any output shows it; the queue in front of the inspector and
// the recorder is bounded in bytes and in flows, and while it is full a
// working recorder makes the proxy's hand-over wait (nothing is dropped
// from a recording),
// whereas with no recorder, or a failing one, the hand-over never waits (the
// flow is dropped and counted); outputs (console, JSON, UI) read from queues
// bounded in events and bytes that drop and count when a consumer is slow.
// It must not decode traffic itself or touch goproxy.
package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/proxy"
)

// Inspector judges flows as they complete (inspect.Engine).
type Inspector interface {
	Add(*flow.Flow) []inspect.Finding
	Finish() []inspect.Finding
}

// Recorder stores every flow (trace.Recorder). It is never skipped.
// WriteBatch writes flows in order: under load the pipeline hands over
// what queued up at once, so small flows share a write.
type Recorder interface {
	WriteBatch([]*flow.Flow) error
}

// Output shows events to a person or a program. Methods are called from one
// goroutine per output.
type Output interface {
	Flow(f *flow.Flow, findings []inspect.Finding)
	Notice(n proxy.Notice)
	// Final receives findings that need the whole trace, at Close.
	Final(findings []inspect.Finding)
	// Dropped is told, at Close, how many events this output lost.
	Dropped(n int64)
}

// Defaults for Options.
const (
	// DefaultQueueBytes bounds the flows waiting for the inspector and the
	// recorder. It is also how far a recording may trail what clients have
	// already received: what a kill -9 can lose.
	DefaultQueueBytes = 64 << 20
	// DefaultQueueFlows bounds the same queue by count, so small flows
	// cannot pile up minutes of inspection behind the traffic.
	DefaultQueueFlows = 8192
	// DefaultOutputBytes bounds each output's queue.
	DefaultOutputBytes = 16 << 20
)

// OutputQueue is how many events an output may lag behind before it drops.
const OutputQueue = 4096

// One batch handed to the inspector and the recorder is at most this big,
// so the queue keeps taking flows while a batch of large ones is written.
const (
	batchBytes = 4 << 20
	batchFlows = 1024
)

// Options bound the pipeline's memory. The zero value is valid: Default
// fills in every unset field.
type Options struct {
	// QueueBytes bounds the flows waiting for the inspector and the
	// recorder, measured by flowCost (bodies as captured, header lines and
	// a fixed share). Default DefaultQueueBytes.
	QueueBytes int64
	// QueueFlows bounds the same queue by count. Default DefaultQueueFlows.
	QueueFlows int
	// OutputBytes bounds each output's queue by the same measure; beyond it
	// (or OutputQueue events) the output drops and counts. Default
	// DefaultOutputBytes.
	OutputBytes int64
}

// Default returns o with every unset field set to its default.
func (o Options) Default() Options {
	if o.QueueBytes == 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.QueueFlows == 0 {
		o.QueueFlows = DefaultQueueFlows
	}
	if o.OutputBytes == 0 {
		o.OutputBytes = DefaultOutputBytes
	}
	return o
}

// Validate reports options no pipeline can run with.
func (o Options) Validate() error {
	var errs []error
	if o.QueueBytes < 0 {
		errs = append(errs, fmt.Errorf("queue bytes %d is negative", o.QueueBytes))
	}
	if o.QueueFlows < 0 {
		errs = append(errs, fmt.Errorf("queue flows %d is negative", o.QueueFlows))
	}
	if o.OutputBytes < 0 {
		errs = append(errs, fmt.Errorf("output bytes %d is negative", o.OutputBytes))
	}
	return errors.Join(errs...)
}

type event struct {
	f        *flow.Flow
	cost     int64 // flowCost(f); 0 for other events
	findings []inspect.Finding
	notice   *proxy.Notice
	final    bool
	reset    bool            // Clear: the inspector forgets what it has seen
	barrier  *sync.WaitGroup // Sync: done once every output has reached it
}

// Pipeline runs the one-way flow of events. Create with New, feed with Flow
// and Notice (both safe for concurrent use), stop with Close.
type Pipeline struct {
	insp Inspector
	rec  Recorder
	opts Options

	mu         sync.Mutex
	room       *sync.Cond // queued fell, the recorder's health changed, or Close
	queue      []event
	queued     int64 // cost of the queue and of the batch being handled
	queuedN    int   // flows in the queue and the batch being handled
	wake       chan struct{}
	closed     bool
	recFailing bool  // the recorder's last write failed
	skipped    int64 // flows dropped at hand-over: queue full, nothing to wait for
	unrecorded int64 // flows the recorder failed to write
	count      int
	paused     atomic.Bool
	pausedN    atomic.Int64 // flows relayed but not captured while paused

	outs     []*outlet
	batch    []event // reused by run
	done     chan struct{}
	recErr   atomic.Value
	errNoted bool
	lastWarn time.Time // when a failing recording was last said
}

type outlet struct {
	out     Output
	ch      chan event
	limit   int64
	bytes   atomic.Int64 // cost of the events in ch
	dropped atomic.Int64
	done    chan struct{}
}

// New starts a pipeline with default Options. insp and rec may be nil.
func New(insp Inspector, rec Recorder, outs ...Output) *Pipeline {
	p, _ := NewWithOptions(Options{}, insp, rec, outs...)
	return p
}

// NewWithOptions starts a pipeline with the given bounds.
func NewWithOptions(opts Options, insp Inspector, rec Recorder, outs ...Output) (*Pipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid pipeline options: %w", err)
	}
	opts = opts.Default()
	p := &Pipeline{insp: insp, rec: rec, opts: opts, wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.room = sync.NewCond(&p.mu)
	for _, o := range outs {
		ol := &outlet{out: o, ch: make(chan event, OutputQueue), limit: opts.OutputBytes, done: make(chan struct{})}
		p.outs = append(p.outs, ol)
		go ol.run()
	}
	go p.run()
	return p, nil
}

// Flow queues a completed flow. While the queue is full it waits for a
// working recorder to make room, so a recording loses nothing and memory
// stays bounded; with no recorder, or one whose last write failed, it never
// waits: the flow is dropped and counted (Skipped).
func (p *Pipeline) Flow(f *flow.Flow) {
	if p.paused.Load() {
		p.pausedN.Add(1)
		return
	}
	cost := flowCost(f)
	p.mu.Lock()
	// A flow larger than the whole bound still passes alone.
	for !p.closed && p.queued > 0 && (p.queued+cost > p.opts.QueueBytes || p.queuedN >= p.opts.QueueFlows) {
		if p.rec == nil || p.recFailing {
			p.skipped++
			p.mu.Unlock()
			return
		}
		p.room.Wait()
	}
	if p.closed {
		p.skipped++
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, event{f: f, cost: cost})
	p.queued += cost
	p.queuedN++
	p.mu.Unlock()
	p.signal()
}

// Pause stops capturing: completed flows are let go unseen (neither
// inspected, recorded nor shown) until Resume; the proxy keeps relaying
// them. who says where the request came from, for the notice every output
// shows. It reports whether the state changed.
func (p *Pipeline) Pause(who string) bool {
	if p.paused.Swap(true) {
		return false
	}
	p.Notice(proxy.Notice{Level: "warning", Message: "capture paused" + by(who) +
		": traffic is still relayed, but not captured, inspected or recorded until it is resumed"})
	return true
}

// Resume starts capturing again after Pause.
func (p *Pipeline) Resume(who string) bool {
	if !p.paused.Swap(false) {
		return false
	}
	p.Notice(proxy.Notice{Level: "info", Message: fmt.Sprintf(
		"capture resumed%s (%d flows were relayed uncaptured while paused)", by(who), p.pausedN.Load())})
	return true
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " from " + who
}

// Paused reports whether capture is paused.
func (p *Pipeline) Paused() bool { return p.paused.Load() }

// Clear makes the inspector forget every flow before this call (its
// history), in order with the flows around it. The recording is untouched.
func (p *Pipeline) Clear() { p.push(event{reset: true}) }

// Notice queues a notice. It never waits.
func (p *Pipeline) Notice(n proxy.Notice) { p.push(event{notice: &n}) }

func (p *Pipeline) push(e event) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	p.signal()
}

func (p *Pipeline) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// flowCost is roughly what a queued flow keeps in memory: its captured
// bodies, its URL and header lines, and a fixed share for the structures
// around them.
func flowCost(f *flow.Flow) int64 {
	n := 512
	if f == nil {
		return int64(n)
	}
	if r := f.Request; r != nil {
		n += len(r.URL) + len(r.Body.Raw) + headerBytes(r.Header)
	}
	if r := f.Response; r != nil {
		n += len(r.Body.Raw) + headerBytes(r.Header)
	}
	return int64(n)
}

func headerBytes(h flow.Headers) int {
	n := 0
	for _, kv := range h {
		n += len(kv.Name) + len(kv.Value) + 32
	}
	return n
}

// Count is how many flows have passed through so far.
func (p *Pipeline) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Skipped is how many completed flows were dropped at hand-over, neither
// inspected, recorded nor shown, because the queue was full and there was
// no working recorder to wait for (or the pipeline was closed).
func (p *Pipeline) Skipped() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.skipped
}

// Unrecorded is how many flows the recorder failed to write.
func (p *Pipeline) Unrecorded() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unrecorded
}

// RecordError returns the first error the recorder reported, if any.
func (p *Pipeline) RecordError() error {
	if v := p.recErr.Load(); v != nil {
		return v.(error)
	}
	return nil
}

func (p *Pipeline) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		p.batch = p.take(p.batch[:0])
		closed := p.closed
		p.mu.Unlock()
		if len(p.batch) == 0 {
			if closed {
				break
			}
			<-p.wake
			continue
		}
		freed, flows := p.handleBatch(p.batch)
		clear(p.batch) // let the flows go
		p.mu.Lock()
		p.queued -= freed
		p.queuedN -= flows
		p.room.Broadcast()
		p.mu.Unlock()
	}
	if p.insp != nil {
		if fs := p.insp.Finish(); len(fs) > 0 {
			p.fanOut(event{findings: fs, final: true})
		}
	}
	if n := p.Skipped(); n > 0 {
		p.fanOut(event{notice: &proxy.Notice{Level: "warning", Message: fmt.Sprintf(
			"%d flows were dropped unseen: traffic outran the inspector and there was no working recorder to wait for", n)}})
	}
	if n := p.Unrecorded(); n > 0 {
		p.fanOut(event{notice: &proxy.Notice{Level: "warning", Message: fmt.Sprintf(
			"%d flows are missing from the recording: %v", n, p.RecordError())}})
	}
	for _, o := range p.outs {
		close(o.ch)
		<-o.done
		o.out.Dropped(o.dropped.Load())
	}
}

// take moves events from the front of the queue into batch, up to
// batchFlows flows or batchBytes (at least one event). Called with mu held.
func (p *Pipeline) take(batch []event) []event {
	var n int
	var bytes int64
	for n < len(p.queue) && (n == 0 || (len(batch) < batchFlows && bytes+p.queue[n].cost <= batchBytes)) {
		batch = append(batch, p.queue[n])
		bytes += p.queue[n].cost
		n++
	}
	clear(p.queue[:n])
	if n == len(p.queue) {
		p.queue = p.queue[:0] // reuse the array from its start
	} else {
		p.queue = p.queue[n:]
	}
	return batch
}

// handleBatch inspects the flows of a batch, records them, and only then
// shows them: a line on screen always means the flow is on disk. It
// returns the cost and the number of the batch's flows.
func (p *Pipeline) handleBatch(batch []event) (cost int64, n int) {
	var flows []*flow.Flow
	for i := range batch {
		e := &batch[i]
		if e.reset {
			if r, ok := p.insp.(interface{ Reset() }); ok {
				r.Reset()
			}
			continue
		}
		if e.f == nil {
			continue
		}
		cost += e.cost
		p.mu.Lock()
		e.f.Index = p.count
		p.count++
		p.mu.Unlock()
		if p.insp != nil {
			e.findings = p.insp.Add(e.f)
		}
		flows = append(flows, e.f)
	}
	if p.rec != nil && len(flows) > 0 {
		err := p.rec.WriteBatch(flows)
		p.mu.Lock()
		was := p.recFailing
		if failing := err != nil; failing != p.recFailing {
			// Waiting hand-overs must learn that there is no longer a
			// working recorder to wait for (or that there is again).
			p.recFailing = failing
			p.room.Broadcast()
		}
		if err != nil {
			p.unrecorded += int64(len(flows))
		}
		missing := p.unrecorded
		p.mu.Unlock()
		p.noteRecording(err, was, missing)
	}
	for _, e := range batch {
		if !e.reset {
			p.fanOut(e)
		}
	}
	return cost, len(flows)
}

func (p *Pipeline) fanOut(e event) {
	if e.barrier != nil {
		// A barrier must reach every output, so it waits for room; only Sync
		// sends one, never the proxy's request path.
		for _, o := range p.outs {
			o.ch <- e
		}
		e.barrier.Done()
		return
	}
	for _, o := range p.outs {
		if e.cost > 0 && o.bytes.Load() > 0 && o.bytes.Load()+e.cost > o.limit {
			o.dropped.Add(1)
			continue
		}
		o.bytes.Add(e.cost)
		select {
		case o.ch <- e:
		default:
			o.bytes.Add(-e.cost)
			o.dropped.Add(1)
		}
	}
}

func (o *outlet) run() {
	defer close(o.done)
	for e := range o.ch {
		o.deliver(e)
		o.bytes.Add(-e.cost)
	}
}

// deliver isolates a faulty output: a panic loses that event, not the proxy.
func (o *outlet) deliver(e event) {
	defer func() {
		if r := recover(); r != nil {
			o.dropped.Add(1)
		}
	}()
	switch {
	case e.barrier != nil:
		e.barrier.Done()
	case e.final:
		o.out.Final(e.findings)
	case e.notice != nil:
		o.out.Notice(*e.notice)
	case e.f != nil:
		o.out.Flow(e.f, e.findings)
	}
}

// Sync waits until every event queued before the call has been delivered to
// every output, so a caller can print after them in order.
func (p *Pipeline) Sync() {
	var wg sync.WaitGroup
	wg.Add(1 + len(p.outs))
	p.push(event{barrier: &wg})
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return
	}
	wg.Wait()
}

// Close stops accepting events, drains what is queued through every stage,
// runs the inspector's whole-trace rules and waits for the outputs. A hand-
// over still waiting for room is dropped and counted.
func (p *Pipeline) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closed = true
	p.room.Broadcast()
	p.mu.Unlock()
	p.signal()
	<-p.done
}

// recordingReminder is how often a recording that keeps failing is said
// again: a user who missed the first warning (a full disk) must learn it
// while it lasts.
const recordingReminder = 30 * time.Second

// noteRecording tells the outputs when the recording starts failing, again
// while it keeps failing, and when it works again.
func (p *Pipeline) noteRecording(err error, wasFailing bool, missing int64) {
	var msg, level string
	switch {
	case err != nil && !p.errNoted:
		p.errNoted = true
		p.recErr.Store(err)
		level, msg = "warning", fmt.Sprintf("recording failed: %v; flows are still shown but not saved", err)
	case err != nil && time.Since(p.lastWarn) >= recordingReminder:
		level, msg = "warning", fmt.Sprintf("recording still failing (%v): %d flows missing from it so far", err, missing)
	case err == nil && wasFailing:
		level, msg = "info", fmt.Sprintf("recording works again; %d flows are missing from it", missing)
	default:
		return
	}
	if level == "warning" {
		p.lastWarn = time.Now()
	}
	p.fanOut(event{notice: &proxy.Notice{Level: level, Message: msg}})
}
