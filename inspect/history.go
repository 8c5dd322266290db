package inspect

import (
	"iter"

	"github.com/aadproxy/aadproxy/flow"
)

// History is the bounded record of flows an Engine has seen, for rules that
// compare a flow with earlier ones. It keeps at most a fixed number of recent
// flows, and beyond a body-byte budget it keeps the oldest ones without their
// bodies; their decoded errors and parameters are computed before the bodies
// go, so rules still see them.
type History struct {
	views     []*View // oldest first
	maxFlows  int
	budget    int64
	bodyBytes int64
	stripped  int // views[:stripped] no longer hold bodies
}

func newHistory(maxFlows int, budget int64) *History {
	return &History{maxFlows: maxFlows, budget: budget}
}

// Len returns how many flows the history holds.
func (h *History) Len() int { return len(h.views) }

// At returns the i-th oldest view held, 0 ≤ i < Len.
func (h *History) At(i int) *View { return h.views[i] }

// Flow returns the view of the flow with the given flow index, or nil when
// that flow was never seen or has been dropped.
func (h *History) Flow(index int) *View {
	// Flow indexes increase as flows are added, so binary search works.
	lo, hi := 0, len(h.views)
	for lo < hi {
		mid := (lo + hi) / 2
		if h.views[mid].Flow.Index < index {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(h.views) && h.views[lo].Flow.Index == index {
		return h.views[lo]
	}
	return nil
}

// Backward yields the held views from the newest to the oldest; cross-flow
// rules usually want the most recent related flow.
func (h *History) Backward() iter.Seq[*View] {
	return func(yield func(*View) bool) {
		for i := len(h.views) - 1; i >= 0; i-- {
			if !yield(h.views[i]) {
				return
			}
		}
	}
}

func (h *History) add(v *View) {
	if h.maxFlows <= 0 {
		return
	}
	if len(h.views) >= h.maxFlows {
		drop := len(h.views) - h.maxFlows + 1
		for _, old := range h.views[:drop] {
			h.bodyBytes -= bodySize(old.Flow)
		}
		h.stripped = max(h.stripped-drop, 0)
		// Copy rather than reslice so the dropped views can be collected.
		h.views = append(h.views[:0:0], h.views[drop:]...)
	}
	h.views = append(h.views, v)
	h.bodyBytes += bodySize(v.Flow)
	for h.bodyBytes > h.budget && h.stripped < len(h.views) {
		h.strip(h.views[h.stripped])
		h.stripped++
	}
}

// strip replaces a view's flow with a copy that has no body bytes. The
// caller's flow is shared with sinks and must not be modified, so only the
// history's reference changes.
func (h *History) strip(v *View) {
	v.Errors()
	v.Params()
	h.bodyBytes -= bodySize(v.Flow)
	f := *v.Flow
	if f.Request != nil {
		r := *f.Request
		r.Body = stripBody(r.Body)
		f.Request = &r
	}
	if f.Response != nil {
		r := *f.Response
		r.Body = stripBody(r.Body)
		f.Response = &r
	}
	v.Flow = &f
}

func stripBody(b flow.Body) flow.Body {
	if len(b.Raw) > 0 {
		b.Raw = nil
		b.Truncated = true
	}
	return b
}

func bodySize(f *flow.Flow) int64 {
	var n int64
	if f.Request != nil {
		n += int64(len(f.Request.Body.Raw))
	}
	if f.Response != nil {
		n += int64(len(f.Response.Body.Raw))
	}
	return n
}
