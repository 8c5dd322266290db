package rules

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestRecentViews(t *testing.T) {
	e, err := inspect.NewEngine(nil, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.Add(&flow.Flow{Index: i, Request: &flow.Request{Method: "GET", URL: "https://example.test/"}})
	}
	indexes := func(h *inspect.History, limit, stopAfter int) []int {
		var got []int
		for v := range recentViews(h, limit) {
			got = append(got, v.Flow.Index)
			if len(got) == stopAfter {
				break
			}
		}
		return got
	}
	tests := []struct {
		name             string
		h                *inspect.History
		limit, stopAfter int
		want             []int
	}{
		{"bounded", e.History(), 3, -1, []int{4, 3, 2}},
		{"limit above the history", e.History(), 10, -1, []int{4, 3, 2, 1, 0}},
		{"zero limit", e.History(), 0, -1, nil},
		{"caller stops early", e.History(), 10, 2, []int{4, 3}},
		{"nil history", nil, 10, -1, nil},
	}
	for _, tt := range tests {
		if got := indexes(tt.h, tt.limit, tt.stopAfter); !slices.Equal(got, tt.want) {
			t.Errorf("recentViews(%s, %d): got %v, want %v", tt.name, tt.limit, got, tt.want)
		}
	}
}

// fixtureFindings runs one rule over one fixture of its testdata folder.
func fixtureFindings(t *testing.T, r *inspect.Rule, name string) []inspect.Finding {
	t.Helper()
	fx, err := inspecttest.LoadFixture(filepath.Join("testdata", r.ID, name))
	if err != nil {
		t.Fatal(err)
	}
	got, err := inspecttest.RunRules(fx, r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
