package rules

import (
	"iter"

	"github.com/aadproxy/aadproxy/inspect"
)

// lookbackFlows bounds how many earlier flows the cross-flow rules read, so
// a long trace does not make each flow cost the whole history.
const lookbackFlows = 2000

// recentViews yields at most limit of the history's views, newest first,
// and none from a nil history. Every backward scan of the rules goes
// through it, so none can read the whole history of a long trace.
func recentViews(h *inspect.History, limit int) iter.Seq[*inspect.View] {
	return func(yield func(*inspect.View) bool) {
		if h == nil {
			return
		}
		n := 0
		for v := range h.Backward() {
			if n++; n > limit || !yield(v) {
				return
			}
		}
	}
}

// recentIdentityViews is recentViews without the flows that carry no
// identity material (inspect.View.Identity): the scans of rules that read
// OAuth parameters, tokens, nonces and session cookies. Skipped flows still
// count towards limit, so the bound is the same.
func recentIdentityViews(h *inspect.History, limit int) iter.Seq[*inspect.View] {
	return func(yield func(*inspect.View) bool) {
		for v := range recentViews(h, limit) {
			if v.Identity() && !yield(v) {
				return
			}
		}
	}
}
