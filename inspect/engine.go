package inspect

import (
	"errors"
	"fmt"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// Defaults for Options.
const (
	DefaultClockSkewThreshold = 5 * time.Minute
	DefaultMaxHistory         = 10000
	// DefaultHistoryBodyBudget bounds the body bytes kept for cross-flow
	// rules. Views decode what rules read before bodies are dropped, so a
	// modest budget loses little and keeps the live proxy's memory (and
	// the garbage collector's work) small.
	DefaultHistoryBodyBudget = 64 << 20
)

// Options configure an Engine. The zero value is valid: Default fills in
// every unset field.
type Options struct {
	// ClockSkewThreshold is how far a time in traffic may drift from the
	// local clock before clock rules report it. Default 5m.
	ClockSkewThreshold time.Duration
	// Now returns the current time; tests pin it. Default time.Now.
	Now func() time.Time
	// MaxHistory is how many recent flows the History keeps. Default 10000.
	MaxHistory int
	// HistoryBodyBudget caps the body bytes the History keeps alive; beyond
	// it the oldest flows are kept without bodies (their decoded errors and
	// parameters stay). Default 256 MiB.
	HistoryBodyBudget int64
}

// Default returns o with every unset field set to its default. o itself is
// not changed.
func (o Options) Default() Options {
	if o.ClockSkewThreshold == 0 {
		o.ClockSkewThreshold = DefaultClockSkewThreshold
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxHistory == 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	if o.HistoryBodyBudget == 0 {
		o.HistoryBodyBudget = DefaultHistoryBodyBudget
	}
	return o
}

// Validate reports options no engine can run with.
func (o Options) Validate() error {
	var errs []error
	if o.ClockSkewThreshold < 0 {
		errs = append(errs, fmt.Errorf("clock skew threshold %v is negative", o.ClockSkewThreshold))
	}
	if o.MaxHistory < 0 {
		errs = append(errs, fmt.Errorf("max history %d is negative", o.MaxHistory))
	}
	if o.HistoryBodyBudget < 0 {
		errs = append(errs, fmt.Errorf("history body budget %d is negative", o.HistoryBodyBudget))
	}
	return errors.Join(errs...)
}

// Engine runs rules over flows as they complete. It is driven by one
// goroutine (Add, then Finish) and is not safe for concurrent use.
type Engine struct {
	rules   []*Rule
	opts    Options
	history *History
}

// NewEngine validates the rules and options and returns an engine. The rule
// slice is copied; the rules themselves must not change afterwards.
func NewEngine(rules []*Rule, opts Options) (*Engine, error) {
	if err := Validate(rules); err != nil {
		return nil, fmt.Errorf("invalid rules: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid engine options: %w", err)
	}
	opts = opts.Default()
	return &Engine{
		rules:   append([]*Rule(nil), rules...),
		opts:    opts,
		history: newHistory(opts.MaxHistory, opts.HistoryBodyBudget),
	}, nil
}

// Options returns the engine's options with defaults filled in.
func (e *Engine) Options() Options { return e.opts }

// History returns the flows the engine has seen, within its bounds.
func (e *Engine) History() *History { return e.history }

// Add runs the rules on a completed flow and returns their findings, in
// rule order: every rule on a flow that carries identity material
// (View.Identity), only the AnyFlow rules on the rest. f.Index must
// already be set. A rule that panics or returns an
// error does not stop the others: the engine reports it as an "internal"
// warning finding and carries on. The flow then joins the History.
func (e *Engine) Add(f *flow.Flow) []Finding {
	if f == nil {
		return nil
	}
	v := NewView(f)
	var out []Finding
	p := &Pass{History: e.history, Options: e.opts, view: v, Flow: f, out: &out}
	identity := v.Identity()
	for _, r := range e.rules {
		if identity || r.AnyFlow {
			e.run(p, r, r.Run)
		}
	}
	e.history.add(v)
	return out
}

// Reset forgets every flow seen so far (the web inspector's Clear): later
// flows are judged as if the capture had started afresh. Like Add, it must
// be called from the goroutine that adds flows.
func (e *Engine) Reset() {
	e.history = newHistory(e.history.maxFlows, e.history.budget)
}

// Finish runs the Finish hook of every rule that has one, at the end of a
// trace, and returns their findings.
func (e *Engine) Finish() []Finding {
	var out []Finding
	p := &Pass{History: e.history, Options: e.opts, out: &out}
	for _, r := range e.rules {
		if r.Finish != nil {
			e.run(p, r, r.Finish)
		}
	}
	return out
}

// run calls one rule function on p with panic recovery; findings go to
// p's collector.
func (e *Engine) run(p *Pass, r *Rule, fn func(*Pass) error) {
	p.Rule = r
	flowIndex := -1
	if p.Flow != nil {
		flowIndex = p.Flow.Index
	}
	defer func() {
		if x := recover(); x != nil {
			*p.out = append(*p.out, internalFinding(r, flowIndex, fmt.Sprintf("panicked: %v", x)))
		}
	}()
	if err := fn(p); err != nil {
		*p.out = append(*p.out, internalFinding(r, flowIndex, fmt.Sprintf("failed: %v", err)))
	}
}

func internalFinding(r *Rule, flowIndex int, what string) Finding {
	where := "at the end of the trace"
	if flowIndex >= 0 {
		where = fmt.Sprintf("on flow %d", flowIndex)
	}
	return Finding{
		Rule:     InternalRule,
		Severity: Warning,
		Flow:     max(flowIndex, 0),
		Title:    fmt.Sprintf("rule %s failed", r.ID),
		Evidence: fmt.Sprintf("rule %s %s %s; the other rules ran and traffic was not affected", r.ID, what, where),
		Fix:      "Report this as an aadproxy bug, with the flow if you can share it",
	}
}
