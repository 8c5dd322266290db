package inspect

import (
	"fmt"
	"testing"
)

// BenchmarkEngineOverhead measures what the engine itself costs per flow,
// without any rule's work: a View, one Pass, sixteen guarded rule calls
// (as many as rules.All has) and the History hand-over. inspect/rules'
// BenchmarkEngineAdd measures the real rules on top of this.
func BenchmarkEngineOverhead(b *testing.B) {
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"history=1", Options{MaxHistory: 1}},
		{"history=default", Options{}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ran := 0
			count := func(*Pass) error { ran++; return nil }
			rules := make([]*Rule, 16)
			for i := range rules {
				rules[i] = rule(fmt.Sprintf("rule-%d", i), count)
			}
			e, err := NewEngine(rules, tt.opts)
			if err != nil {
				b.Fatalf("NewEngine: %v", err)
			}
			tmpl := newFlow(0, "https://cdn.example.test/app/manifest.json", `{"name":"app","version":"1.2.3"}`)
			if got := e.Add(tmpl); len(got) != 0 || ran != len(rules) {
				b.Fatalf("Engine.Add: got %d findings and %d rule runs, want 0 and %d", len(got), ran, len(rules))
			}
			b.ReportAllocs()
			i := 1
			for b.Loop() {
				f := *tmpl
				f.Index = i
				e.Add(&f)
				i++
			}
			if ran != i*len(rules) {
				b.Fatalf("rules ran %d times over %d flows, want %d", ran, i, i*len(rules))
			}
		})
	}
}

// BenchmarkViewErrors measures the cached decode every rule shares: the
// first call decodes, later calls on the same view are free.
func BenchmarkViewErrors(b *testing.B) {
	const body = `{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Trace ID: 5e6f7a8b-0000-4000-8000-00000000a001 Correlation ID: 9c8d7e6f-0000-4000-8000-00000000c001 Timestamp: 2024-06-01 12:00:00Z","error_codes":[70008]}`
	f := newFlow(0, "https://login.microsoftonline.com/common/oauth2/v2.0/token", body)
	if errs := NewView(f).Errors(); len(errs) != 1 || errs[0].Code() != 70008 {
		b.Fatalf("View.Errors: got %+v, want one AADSTS70008", errs)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v := NewView(f)
		for range 16 { // one call per rule
			v.Errors()
		}
	}
}
