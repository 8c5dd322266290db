package ui

import (
	"fmt"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/trace"
)

// ImportFile reads a HAR or SAZ at path, judges it with a fresh rule
// engine (as `aadproxy analyze` does) and adds its flows to the store under
// name, grouped into their own transactions. A damaged file adds the flows
// before the damage and reports the damage.
func (s *Store) ImportFile(path, name string) (int, error) {
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		return 0, fmt.Errorf("rules: %w", err)
	}
	src := &source{name: name, byIndex: map[int]int64{}, grouper: txn.NewGrouper()}
	s.mu.Lock()
	s.sources = append(s.sources, src)
	s.mu.Unlock()
	n, _, readErr := trace.Open(path, func(i int, f *flow.Flow) error {
		f.Index = i
		s.add(src, f, eng.Add(f))
		return nil
	})
	s.attachFindings(src, eng.Finish())
	s.mu.Lock()
	src.done = true
	s.frozen = append(s.frozen, s.recordsLocked(src, src.grouper.Finish())...)
	s.mu.Unlock()
	s.regroup(true)
	return n, readErr
}

// entry returns the held entry with id, or nil.
func (s *Store) entry(id int64) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entryLocked(id)
}
