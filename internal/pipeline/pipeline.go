// Package pipeline carries finished flows from the proxy to the sinks, one
// way: inspect, then record, then show. It owns ordering and back-pressure:
// the proxy hands flows over without ever blocking, the recorder sees every
// flow before any output shows it, and outputs (console, JSON, UI) read from
// bounded queues that drop and count when a consumer is slow. It must not
// decode traffic itself or touch goproxy.
package pipeline

import (
	"fmt"
	"sync"
	"sync/atomic"

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
// WriteBatch writes flows in order with one write: under load the pipeline
// hands over everything that queued up at once.
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

// OutputQueue is how many events an output may lag behind before it drops.
const OutputQueue = 4096

type event struct {
	f        *flow.Flow
	findings []inspect.Finding
	notice   *proxy.Notice
	final    bool
	barrier  *sync.WaitGroup // Sync: done once every output has reached it
}

// Pipeline runs the one-way flow of events. Create with New, feed with Flow
// and Notice (both safe for concurrent use, never blocking), stop with Close.
type Pipeline struct {
	insp Inspector
	rec  Recorder

	mu     sync.Mutex
	queue  []event
	wake   chan struct{}
	closed bool

	outs     []*outlet
	done     chan struct{}
	count    int
	recErr   atomic.Value
	errNoted bool
}

type outlet struct {
	out     Output
	ch      chan event
	dropped atomic.Int64
	done    chan struct{}
}

// New starts a pipeline. insp and rec may be nil.
func New(insp Inspector, rec Recorder, outs ...Output) *Pipeline {
	p := &Pipeline{insp: insp, rec: rec, wake: make(chan struct{}, 1), done: make(chan struct{})}
	for _, o := range outs {
		ol := &outlet{out: o, ch: make(chan event, OutputQueue), done: make(chan struct{})}
		p.outs = append(p.outs, ol)
		go ol.run()
	}
	go p.run()
	return p
}

// Flow queues a completed flow. It never blocks and never drops.
func (p *Pipeline) Flow(f *flow.Flow) { p.push(event{f: f}) }

// Notice queues a notice.
func (p *Pipeline) Notice(n proxy.Notice) { p.push(event{notice: &n}) }

func (p *Pipeline) push(e event) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Count is how many flows have passed through so far.
func (p *Pipeline) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
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
		batch := p.queue
		p.queue = nil
		closed := p.closed
		p.mu.Unlock()
		p.handleBatch(batch)
		if len(batch) == 0 {
			if closed {
				break
			}
			<-p.wake
		}
	}
	if p.insp != nil {
		if fs := p.insp.Finish(); len(fs) > 0 {
			p.fanOut(event{findings: fs, final: true})
		}
	}
	for _, o := range p.outs {
		close(o.ch)
		<-o.done
		o.out.Dropped(o.dropped.Load())
	}
}

// handleBatch inspects the flows of a batch, records them with one write,
// and only then shows them: a line on screen always means the flow is on
// disk.
func (p *Pipeline) handleBatch(batch []event) {
	var flows []*flow.Flow
	for i := range batch {
		e := &batch[i]
		if e.f == nil {
			continue
		}
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
		if err := p.rec.WriteBatch(flows); err != nil && !p.errNoted {
			p.errNoted = true
			p.recErr.Store(err)
			msg := fmt.Sprintf("recording failed: %v; flows are still shown but not saved", err)
			p.fanOut(event{notice: &proxy.Notice{Level: "warning", Message: msg}})
		}
	}
	for _, e := range batch {
		p.fanOut(e)
	}
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
		select {
		case o.ch <- e:
		default:
			o.dropped.Add(1)
		}
	}
}

func (o *outlet) run() {
	defer close(o.done)
	for e := range o.ch {
		o.deliver(e)
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
// runs the inspector's whole-trace rules and waits for the outputs.
func (p *Pipeline) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closed = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-p.done
}
