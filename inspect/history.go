package inspect

import (
	"iter"
	"slices"

	"github.com/aadproxy/aadproxy/flow"
)

// History is the bounded record of flows an Engine has seen, for rules that
// compare a flow with earlier ones. It keeps at most a fixed number of recent
// flows; it keeps no bodies of flows without identity material (no rule reads
// them), and beyond a body-byte budget it keeps the oldest ones without their
// bodies; their decoded errors and parameters are computed before the bodies
// go, so rules still see them. It indexes flows by authorization code.
type History struct {
	// ring holds the views oldest first starting at head; a ring keeps add
	// O(1) once the history is full (flows arrive on the pipeline's only
	// goroutine, which must keep up with the proxy).
	ring      []*View
	head, n   int
	maxFlows  int
	budget    int64
	bodyBytes int64
	stripped  int // the oldest `stripped` views no longer hold bodies
	// codes indexes the held views by the authorization codes they deliver
	// or redeem, so the code rules find a code's flows without scanning
	// thousands of token requests (what a busy confidential client makes).
	codes map[string][]*View
	// state is what rules keep from flow to flow (see State).
	state map[any]any
}

func newHistory(maxFlows int, budget int64) *History {
	return &History{maxFlows: maxFlows, budget: budget, codes: map[string][]*View{}}
}

// State returns what a rule keeps from flow to flow under key, made by
// init on first use: a rule that would otherwise replay hundreds of earlier
// flows for each new one (a client's cookie jar) builds it as flows arrive.
// It belongs to this history, so Engine.Reset (a cleared inspector) starts
// every rule afresh; like the views, only the engine's goroutine uses it,
// and what it holds must be bounded by the rule. A nil history keeps
// nothing: each call gets a new value.
func (h *History) State(key any, init func() any) any {
	if h == nil {
		return init()
	}
	if v, ok := h.state[key]; ok {
		return v
	}
	if h.state == nil {
		h.state = map[any]any{}
	}
	v := init()
	h.state[key] = v
	return v
}

// WithCode returns the held views that deliver code in their response
// (View.AuthResponse) or send it in their request (View.OAuth), oldest
// first. Callers must not modify the slice.
func (h *History) WithCode(code string) []*View {
	if h == nil || code == "" {
		return nil
	}
	return h.codes[code]
}

// viewCodes lists the authorization codes a view carries.
func viewCodes(v *View) []string {
	if !v.Identity() {
		return nil
	}
	var out []string
	if c := v.OAuth().Code; c != "" {
		out = append(out, c)
	}
	if r := v.AuthResponse(); r != nil && r.Code != "" && (len(out) == 0 || out[0] != r.Code) {
		out = append(out, r.Code)
	}
	return out
}

func (h *History) index(v *View) {
	for _, c := range viewCodes(v) {
		h.codes[c] = append(h.codes[c], v)
	}
}

func (h *History) unindex(v *View) {
	for _, c := range viewCodes(v) {
		list := h.codes[c]
		if i := slices.Index(list, v); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(h.codes, c)
		} else {
			h.codes[c] = list
		}
	}
}

// Len returns how many flows the history holds.
func (h *History) Len() int { return h.n }

// At returns the i-th oldest view held, 0 ≤ i < Len.
func (h *History) At(i int) *View { return h.ring[(h.head+i)%len(h.ring)] }

// Flow returns the view of the flow with the given flow index, or nil when
// that flow was never seen or has been dropped.
func (h *History) Flow(index int) *View {
	// Flow indexes increase as flows are added, so binary search works.
	lo, hi := 0, h.n
	for lo < hi {
		mid := (lo + hi) / 2
		if h.At(mid).Flow.Index < index {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < h.n && h.At(lo).Flow.Index == index {
		return h.At(lo)
	}
	return nil
}

// Backward yields the held views from the newest to the oldest; cross-flow
// rules usually want the most recent related flow.
func (h *History) Backward() iter.Seq[*View] {
	return func(yield func(*View) bool) {
		for i := h.n - 1; i >= 0; i-- {
			if !yield(h.At(i)) {
				return
			}
		}
	}
}

func (h *History) add(v *View) {
	if h.maxFlows <= 0 {
		return
	}
	if h.n == h.maxFlows {
		old := h.ring[h.head]
		h.unindex(old)
		h.bodyBytes -= old.histBytes
		h.ring[h.head] = nil
		h.head = (h.head + 1) % len(h.ring)
		h.n--
		h.stripped = max(h.stripped-1, 0)
	}
	if h.n == len(h.ring) {
		// Grow (doubling, capped at maxFlows) and unwrap the ring.
		grown := make([]*View, min(max(2*len(h.ring), 16), h.maxFlows))
		for i := 0; i < h.n; i++ {
			grown[i] = h.At(i)
		}
		h.ring, h.head = grown, 0
	}
	h.ring[(h.head+h.n)%len(h.ring)] = v
	h.n++
	h.index(v)
	if !v.Identity() {
		// No rule reads the body of a flow without identity material:
		// keep its headers, not a script bundle's megabytes.
		v.Flow = withoutBodies(v.Flow)
	}
	v.histBytes = bodySize(v.Flow)
	h.bodyBytes += v.histBytes
	for h.bodyBytes > h.budget && h.stripped < h.n {
		h.strip(h.At(h.stripped))
		h.stripped++
	}
}

// strip drops a view's bodies once the decoded forms rules read are cached.
func (h *History) strip(v *View) {
	// Decode what rules read before the bodies go.
	v.Errors()
	v.Params()
	v.OAuth()
	v.AuthResponse()
	v.Tokens()
	h.bodyBytes -= v.histBytes
	v.histBytes = 0
	v.Flow = withoutBodies(v.Flow)
}

// withoutBodies returns a copy of f with no body bytes. The caller's flow
// is shared with sinks and must not be modified, so only the history's
// reference changes.
func withoutBodies(f *flow.Flow) *flow.Flow {
	c := *f
	if c.Request != nil {
		r := *c.Request
		r.Body = r.Body.WithoutBytes()
		c.Request = &r
	}
	if c.Response != nil {
		r := *c.Response
		r.Body = r.Body.WithoutBytes()
		c.Response = &r
	}
	return &c
}

// bodySize counts the bytes a flow's bodies keep alive: the captured bytes
// and any decoded view the rules built from them.
func bodySize(f *flow.Flow) int64 {
	var n int64
	if f.Request != nil {
		n += int64(len(f.Request.Body.Raw) + f.Request.Body.DecodedLen())
	}
	if f.Response != nil {
		n += int64(len(f.Response.Body.Raw) + f.Response.Body.DecodedLen())
	}
	return n
}
