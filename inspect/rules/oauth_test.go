package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// oauthFieldCase says what one fixture's first finding must say beyond its want
// line.
type oauthFieldCase struct {
	fixture  string
	title    string
	evidence []string
	fix      string
	related  []int
}

// oauthCheckFields checks title, evidence, fix and related flows of the first
// finding of each fixture; every finding must also be one line with a
// verb-first fix.
func oauthCheckFields(t *testing.T, r *inspect.Rule, cases []oauthFieldCase) {
	t.Helper()
	for _, tt := range cases {
		got := fixtureFindings(t, r, tt.fixture)
		if len(got) == 0 {
			t.Errorf("%s: no findings", tt.fixture)
			continue
		}
		f := got[0]
		if tt.title != "" && f.Title != tt.title {
			t.Errorf("%s: title: got %q, want %q", tt.fixture, f.Title, tt.title)
		}
		for _, s := range tt.evidence {
			if !strings.Contains(f.Evidence, s) {
				t.Errorf("%s: evidence %q does not contain %q", tt.fixture, f.Evidence, s)
			}
		}
		if !strings.Contains(f.Fix, tt.fix) {
			t.Errorf("%s: fix %q does not contain %q", tt.fixture, f.Fix, tt.fix)
		}
		if tt.related != nil && !slices.Equal(f.Related, tt.related) {
			t.Errorf("%s: related: got %v, want %v", tt.fixture, f.Related, tt.related)
		}
		for _, g := range got {
			if strings.ContainsAny(g.Evidence+g.Title+g.Fix, "\r\n") {
				t.Errorf("%s: finding spans lines: %+v", tt.fixture, g)
			}
			if g.Fix == "" || strings.ToUpper(g.Fix[:1]) != g.Fix[:1] {
				t.Errorf("%s: fix %q: want a capitalised verb first", tt.fixture, g.Fix)
			}
		}
	}
}

func TestOAuthTooOld(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(t time.Time) *flow.Flow { return &flow.Flow{Timings: flow.Timings{Start: t}} }
	tests := []struct {
		cur, old *flow.Flow
		want     bool
	}{
		{at(t0), at(t0.Add(-16 * time.Minute)), true},
		{at(t0), at(t0.Add(-14 * time.Minute)), false},
		{at(t0), &flow.Flow{}, false},
		{&flow.Flow{}, at(t0), false},
	}
	for i, tt := range tests {
		if got := oauthTooOld(tt.cur, tt.old, oauthCodeMaxAge); got != tt.want {
			t.Errorf("oauthTooOld(#%d): got %v, want %v", i, got, tt.want)
		}
	}
}
