package main

import (
	"bytes"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/pipeline"
	"github.com/aadproxy/aadproxy/proxy"
)

// stalledRecorder never finishes a write, like a recording on a hung
// network disk.
type stalledRecorder struct{ release chan struct{} }

func (r stalledRecorder) WriteBatch([]*flow.Flow) error { <-r.release; return nil }

// TestStopGivesUpOnAStalledRecorder checks that stopping ends within its
// deadline, and at a second signal, even when the recorder never returns.
func TestStopGivesUpOnAStalledRecorder(t *testing.T) {
	ca, err := certs.New(certs.Options{CommonName: "stop test CA"})
	if err != nil {
		t.Fatal(err)
	}
	for _, second := range []bool{false, true} {
		rec := stalledRecorder{release: make(chan struct{})}
		p, err := proxy.New(proxy.Default(), ca, proxy.Events{})
		if err != nil {
			t.Fatal(err)
		}
		s := &session{proxy: p, pipe: pipeline.New(nil, rec)}
		s.pipe.Flow(&flow.Flow{Index: -1, Request: &flow.Request{Method: "GET", URL: "https://x.test/"}})
		sig := make(chan os.Signal, 1)
		deadline := time.Hour
		if !second {
			deadline = 50 * time.Millisecond
		} else {
			sig <- os.Interrupt
		}
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- s.closeWithin(deadline, sig, &out) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "stopped before everything was saved") {
				t.Errorf("second signal %v: closeWithin = %v, want it to say the stop was cut short", second, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("second signal %v: closeWithin did not give up on a stalled recorder", second)
		}
		close(rec.release)
	}
}

func TestTuneGCRespectsTheEnvironment(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != memoryLimit {
		t.Errorf("memory limit %d, want %d", got, memoryLimit)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, tuneGC changed the GC percent to %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, tuneGC changed the limit to %d", got)
	}
}
