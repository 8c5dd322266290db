package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the bare goproxy engine, as the
// command does: run starts os.Executable with -serve-goproxy.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-serve-goproxy" {
		serveBareGoproxy(os.Args[2])
		return
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds aadproxy and this command once, without -race whatever
// the test binary uses: under the race detector, reading back hundreds of
// MiB of recordings takes minutes.
func binaries(t *testing.T) (aadproxyBin, loadbenchBin string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "loadbench-test-*"); binErr != nil {
			return
		}
		for _, pkg := range []string{"github.com/aadproxy/aadproxy/cmd/aadproxy", "github.com/aadproxy/aadproxy/internal/loadbench"} {
			out, err := exec.Command("go", "build", "-o", binDir, pkg).CombinedOutput()
			if err != nil {
				binErr = &buildError{pkg: pkg, err: err, out: out}
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "aadproxy"), filepath.Join(binDir, "loadbench")
}

type buildError struct {
	pkg string
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "go build " + e.pkg + ": " + e.err.Error() + "\n" + string(e.out)
}

// TestSmoke runs `loadbench -smoke` as CI does: every scenario briefly,
// failing on a proxy that dies, a failed request, missing recording entries
// or findings, never on speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds aadproxy and runs every scenario for about half a minute")
	}
	aadproxyBin, loadbenchBin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, loadbenchBin, "-smoke", "-aadproxy", aadproxyBin).CombinedOutput()
	t.Logf("loadbench -smoke:\n%s", out)
	if err != nil {
		t.Fatalf("loadbench -smoke: %v", err)
	}
	for _, k := range scenarioKeys() {
		if !bytes.Contains(out, []byte("\n"+k+" ")) {
			t.Errorf("the report has no row for %s", k)
		}
	}
}

// TestRunInProcess runs two scenarios through run itself, so the race
// detector watches the load generator, the console counter and the checks.
func TestRunInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds aadproxy and runs load")
	}
	aadproxyBin, _ := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := defaultConfig().smoke(nil)
	cfg.aadproxy = aadproxyBin
	cfg.scenarios = []string{"small-c1", "entra-error-c8"}
	var out bytes.Buffer
	err := run(ctx, cfg, &out, &out)
	t.Logf("run:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"small-c1: recording:", "entra-error-c8: analyze:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
