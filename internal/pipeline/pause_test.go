package pipeline

import (
	"sync"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// resettable counts flows since its last Reset.
type resettable struct {
	mu     sync.Mutex
	since  int
	resets int
	seen   []int // `since` when each flow arrived
}

func (r *resettable) Add(f *flow.Flow) []inspect.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.since++
	r.seen = append(r.seen, r.since)
	return nil
}
func (r *resettable) Finish() []inspect.Finding { return nil }
func (r *resettable) Reset()                    { r.mu.Lock(); r.since = 0; r.resets++; r.mu.Unlock() }

func TestPauseLetsFlowsGoUncapturedAndSaysSo(t *testing.T) {
	rec := &countingRecorder{}
	out := &noticeOutput{}
	p := New(&resettable{}, rec, out)
	p.Flow(newFlow())
	if !p.Pause("a test") || p.Pause("a test") {
		t.Fatal("Pause should report a change once")
	}
	for i := 0; i < 5; i++ {
		p.Flow(newFlow())
	}
	if !p.Resume("a test") || p.Paused() {
		t.Fatal("Resume should report a change and clear Paused")
	}
	p.Flow(newFlow())
	p.Close()
	if got := rec.n.Load(); got != 2 {
		t.Errorf("recorded %d flows, want the 2 outside the pause", got)
	}
	if p.Skipped() != 0 {
		t.Errorf("paused flows counted as dropped: %d", p.Skipped())
	}
	if !out.saw("capture paused from a test") || !out.saw("5 flows were relayed uncaptured") {
		t.Errorf("notices: %q", out.notices)
	}
}

func TestClearResetsTheInspectorInOrder(t *testing.T) {
	insp := &resettable{}
	p := New(insp, &countingRecorder{})
	p.Flow(newFlow())
	p.Flow(newFlow())
	p.Clear()
	p.Flow(newFlow())
	p.Close()
	if insp.resets != 1 {
		t.Fatalf("resets %d, want 1", insp.resets)
	}
	if want := []int{1, 2, 1}; len(insp.seen) != 3 || insp.seen[2] != want[2] || insp.seen[1] != want[1] {
		t.Errorf("flows since reset as they arrived: %v, want %v", insp.seen, want)
	}
}
