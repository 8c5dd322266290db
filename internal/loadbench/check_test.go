package main

import (
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

func TestCheckAnswered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rec      recording
		answered map[string]int64
		wantErr  string // "" for none
	}{
		{"complete", recording{entries: 5, perTag: map[string]int64{"a": 3, "b": 2}}, map[string]int64{"a": 3, "b": 2}, ""},
		{"extra entries are not an error", recording{entries: 6, perTag: map[string]int64{"a": 4, "c": 2}}, map[string]int64{"a": 3}, ""},
		{"missing", recording{entries: 4, perTag: map[string]int64{"a": 3, "b": 1}}, map[string]int64{"a": 3, "b": 2}, "misses 1 of 5"},
		{"tag absent", recording{entries: 3, perTag: map[string]int64{"a": 3}}, map[string]int64{"a": 3, "b": 2}, "misses 2 of 5"},
		{"cut body", recording{entries: 1, perTag: map[string]int64{"a": 1}, bad: 1, firstBad: "entry 0"}, map[string]int64{"a": 1}, "lack their whole response body"},
		{"damaged", recording{entries: 1, perTag: map[string]int64{"a": 1}, damage: errTest}, map[string]int64{"a": 1}, "damaged"},
	} {
		_, err := tc.rec.checkAnswered(tc.answered)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: checkAnswered: got %v, want no error", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: checkAnswered: got %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("cut short")

func TestBodyProblem(t *testing.T) {
	whole := func(n int) *flow.Flow {
		return &flow.Flow{Request: &flow.Request{URL: "https://127.0.0.1:1/x?lb=t"},
			Response: &flow.Response{Status: 200, Body: flow.Body{Raw: make([]byte, n), Size: int64(n)}}}
	}
	cut := whole(10)
	cut.Response.Body.Raw = cut.Response.Body.Raw[:4]
	short := whole(10)
	short.Response.Body.Size = 4
	failed := whole(10)
	failed.Error = "reset"
	for _, tc := range []struct {
		name string
		f    *flow.Flow
		want int64
		ok   bool
	}{
		{"whole", whole(10), 10, true},
		{"capture cut", cut, 10, false},
		{"size wrong", short, 10, false},
		{"no response", &flow.Flow{Request: &flow.Request{}}, 10, false},
		{"flow error", failed, 10, false},
	} {
		if got := bodyProblem(tc.f, tc.want); (got == "") != tc.ok {
			t.Errorf("bodyProblem(%s): got %q, want ok=%v", tc.name, got, tc.ok)
		}
	}
	if got := tagOf(whole(1)); got != "t" {
		t.Errorf("tagOf: got %q, want %q", got, "t")
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < -0.03 || d > 0.03 {
			t.Errorf("quantile(%v): got %v, want %v within 3%%", tc.q, got, tc.want)
		}
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("quantile of nothing: got %v, want 0", got)
	}
}

func TestConsoleCounter(t *testing.T) {
	var c consoleCounter
	out := `{"type":"flow","flow":0}` + "\n" +
		`{"type":"finding","flow":0,"rule":"aadsts-error","code":70008}` + "\n" +
		`{"type":"finding","flow":0,"rule":"code-reused"}` + "\n" +
		`{"type":"dropped","count":7}` + "\n" + "not json\n"
	// Lines arrive split at arbitrary points.
	for i := 0; i < len(out); i += 5 {
		c.Write([]byte(out[i:min(i+5, len(out))]))
	}
	if c.findings != 1 || c.dropped != 7 || c.bad != 1 {
		t.Errorf("consoleCounter: got %d findings, %d dropped, %d bad; want 1, 7, 1", c.findings, c.dropped, c.bad)
	}
}
