package rules_test

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/internal/bombtest"
	"github.com/aadproxy/aadproxy/trace"
)

// TestBombInspectionIsBounded inspects compression bombs (bombtest.TestSize
// of zeros, 1 GiB outside the race detector) with every rule, as the token
// answer of a sign-in (so every identity rule runs) and as a CDN download,
// then records them: inspecting one allocates less than 2× the decode limit
// (the live proxy's --max-body) plus, for br and zstd, the window the
// stream declares; recording it afterwards decodes nothing again and
// allocates little (the view is cached, the wire bytes are written).
func TestBombInspectionIsBounded(t *testing.T) {
	const limit = flow.DefaultDecodeLimit
	rec, err := trace.Create(filepath.Join(t.TempDir(), "bombs.har"), "test", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	encs := append(bombtest.Encodings, "deflate, gzip", "zstd, br")
	for i, enc := range encs {
		raw, err := bombtest.Body(enc, bombtest.TestSize)
		if err != nil {
			t.Fatal(err)
		}
		var window uint64
		switch enc {
		case "br", "zstd", "zstd, br":
			window = 8 << 20 // the stream's window (4 MiB for these) and the decoder's tables
		}
		for _, mk := range []func(int) *flow.Flow{tokenSuccess, func(int) *flow.Flow { return cdnJSON() }} {
			f := mk(i)
			f.Index = i
			f.Response.Header = append(f.Response.Header, flow.Header{Name: "Content-Encoding", Value: enc})
			f.Response.Body = flow.Body{Raw: raw, Size: int64(len(raw)), Encoding: enc, DecodeLimit: limit}
			e, err := inspect.NewEngine(rules.All(), inspect.Options{})
			if err != nil {
				t.Fatal(err)
			}
			alloc := bombtest.Allocated(func() { e.Add(f) })
			t.Logf("inspecting a %s bomb of %d MiB at %s: %.1f MiB allocated (%.2f× the limit)",
				enc, bombtest.TestSize>>20, f.Request.URL, float64(alloc)/(1<<20), float64(alloc)/limit)
			if bound := 2*uint64(limit) + window; alloc > bound {
				t.Errorf("inspecting a %s bomb at %s allocated %.1f MiB, want under %.1f MiB", enc, f.Request.URL, float64(alloc)/(1<<20), float64(bound)/(1<<20))
			}
			if d, err := f.Response.Body.Decoded(); len(d) != limit || err == nil {
				t.Errorf("%s bomb: view of %d bytes (%v), want a cut at %d", enc, len(d), err, limit)
			}
			alloc = bombtest.Allocated(func() {
				if err := rec.Write(f); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("recording it: %.1f MiB allocated for %d wire bytes", float64(alloc)/(1<<20), len(raw))
			if bound := uint64(4*len(raw)) + 4<<20; alloc > bound {
				t.Errorf("recording an inspected %s bomb allocated %.1f MiB, want under %.1f MiB", enc, float64(alloc)/(1<<20), float64(bound)/(1<<20))
			}
		}
	}
}
