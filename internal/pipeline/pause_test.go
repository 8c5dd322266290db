package pipeline

import (
	"errors"
	"sync"
	"sync/atomic"
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

// flakyRecorder fails while full is set, like a full disk.
type flakyRecorder struct {
	full atomic.Bool
	n    atomic.Int64
}

func (r *flakyRecorder) WriteBatch(fs []*flow.Flow) error {
	if r.full.Load() {
		return errors.New("no space left on device")
	}
	r.n.Add(int64(len(fs)))
	return nil
}

func TestARecordingThatFailsAndRecoversIsSaidBoth(t *testing.T) {
	rec := &flakyRecorder{}
	out := &noticeOutput{}
	p := New(&resettable{}, rec, out)
	p.Flow(newFlow())
	p.Sync()
	rec.full.Store(true)
	for i := 0; i < 3; i++ {
		p.Flow(newFlow())
		p.Sync()
	}
	rec.full.Store(false)
	p.Flow(newFlow())
	p.Close()
	if !out.saw("recording failed: no space left on device") || !out.saw("recording works again; 3 flows are missing") {
		t.Errorf("notices: %q", out.notices)
	}
	if rec.n.Load() != 2 || p.Unrecorded() != 3 || p.Count() != 5 {
		t.Errorf("recorded %d, unrecorded %d of %d", rec.n.Load(), p.Unrecorded(), p.Count())
	}
}
