package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// wantAfterRoundTrip is what a flow looks like after HAR and back: bodies
// decoded, send/wait/receive that did not happen read as 0 (HAR requires
// them), and a missing Done rebuilt from start + time.
func wantAfterRoundTrip(f *flow.Flow, index int) *flow.Flow {
	w := *f
	w.Index = index
	req := *f.Request
	w.Request = &req
	if f.Response != nil {
		resp := *f.Response
		if resp.Body.Encoding != "" {
			d, err := resp.Body.Decoded()
			if err == nil {
				// A new Body: HAR holds the decoded bytes, and no cache.
				resp.Body = flow.Body{Raw: d, Size: resp.Body.Size, Truncated: resp.Body.Truncated}
			}
		}
		w.Response = &resp
	}
	for _, d := range []*time.Duration{&w.Timings.Send, &w.Timings.Wait, &w.Timings.Receive} {
		if *d < 0 {
			*d = 0
		}
	}
	if w.Done.IsZero() && w.Timings.Total() > 0 {
		w.Done = w.Timings.Start.Add(w.Timings.Total())
	}
	return &w
}

func diffFlows(t *testing.T, label string, got, want *flow.Flow) {
	t.Helper()
	// The readers set each body's decode limit (tested on its own): a
	// limit of 0 means the default, and only the view's size depends on it.
	got, want = withoutLimits(got), withoutLimits(want)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%s: flow %d differs\ngot  %s\nwant %s", label, want.Index, g, w)
		return
	}
	// Raw is not in the JSON view above, so compare it on its own.
	if got.Response != nil && !bytes.Equal(got.Response.Body.Raw, want.Response.Body.Raw) {
		t.Errorf("%s: flow %d response body: got %q, want %q", label, want.Index, got.Response.Body.Raw, want.Response.Body.Raw)
	}
}

// withoutLimits is a copy of f whose bodies have no decode limit set.
func withoutLimits(f *flow.Flow) *flow.Flow {
	if f == nil {
		return nil
	}
	c := *f
	if f.Request != nil {
		r := *f.Request
		r.Body.DecodeLimit = 0
		c.Request = &r
	}
	if f.Response != nil {
		r := *f.Response
		r.Body.DecodeLimit = 0
		c.Response = &r
	}
	return &c
}

func readAllFlows(t *testing.T, path string) ([]*flow.Flow, error) {
	t.Helper()
	var got []*flow.Flow
	n, err := ReadFile(path, func(i int, f *flow.Flow) error {
		if i != len(got) {
			t.Fatalf("ReadFile: callback index %d, want %d", i, len(got))
		}
		got = append(got, f)
		return nil
	})
	if n != len(got) {
		t.Errorf("ReadFile(%s): returned n=%d, delivered %d", path, n, len(got))
	}
	return got, err
}

func TestRecorderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rt.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	flows := sampleFlows()
	for _, f := range flows {
		if err := rec.Write(f); err != nil {
			t.Fatalf("Write(flow %d): %v", f.Index, err)
		}
	}
	if got := rec.Count(); got != len(flows) {
		t.Errorf("Count(): got %d, want %d", got, len(flows))
	}
	if err := rec.Close(); err != nil {
		t.Fatalf("Close(): %v", err)
	}
	if err := rec.Write(flows[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
	got, err := readAllFlows(t, path)
	if err != nil {
		t.Fatalf("ReadFile(%s): %v", path, err)
	}
	if len(got) != len(flows) {
		t.Fatalf("ReadFile(%s): got %d flows, want %d", path, len(got), len(flows))
	}
	for i, f := range flows {
		diffFlows(t, "round trip", got[i], wantAfterRoundTrip(f, i))
	}
}

func TestRecorderValidAfterEveryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "valid.har")
	rec, err := Create(path, "aadproxy", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	check := func(want int) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc HAR
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("after %d writes the file is not valid JSON: %v\n%s", want, err, data)
		}
		if doc.Log.Version != "1.2" || doc.Log.Creator.Name != "aadproxy" || doc.Log.Creator.Version != "1.0" {
			t.Errorf("after %d writes: log header %+v %+v", want, doc.Log.Version, doc.Log.Creator)
		}
		if len(doc.Log.Entries) != want {
			t.Fatalf("after %d writes: %d entries in the file", want, len(doc.Log.Entries))
		}
		if !bytes.HasSuffix(data, []byte(trailer)) {
			t.Errorf("after %d writes: file does not end with the trailer: %q", want, data[max(0, len(data)-20):])
		}
	}
	check(0)
	flows := sampleFlows()
	for i := range 3 * len(flows) {
		if err := rec.Write(flows[i%len(flows)]); err != nil {
			t.Fatalf("Write #%d: %v", i, err)
		}
		check(i + 1)
	}
	// A batch goes in whole, with one write, and the file stays valid.
	if err := rec.WriteBatch(flows); err != nil {
		t.Fatal(err)
	}
	check(4 * len(flows))
	if rec.Count() != 4*len(flows) {
		t.Errorf("Count after a batch: %d, want %d", rec.Count(), 4*len(flows))
	}
}

func TestRecorderConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conc.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	flows := sampleFlows()
	const perWorker = 25
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range perWorker {
				if err := rec.Write(flows[(w+i)%len(flows)]); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAllFlows(t, path)
	if err != nil || len(got) != 4*perWorker {
		t.Fatalf("ReadFile: got %d flows, err %v; want %d, nil", len(got), err, 4*perWorker)
	}
}

func TestCreatePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.har")
	if err := os.WriteFile(path, []byte("previous recording"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("Create(%s): mode %v, want 0600", path, st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !json.Valid(data) || bytes.Contains(data, []byte("previous")) {
		t.Errorf("Create(%s) left %q", path, data)
	}

	if _, err := Create(filepath.Join(dir, "missing", "x.har"), "aadproxy", "test"); err == nil {
		t.Error("Create in a missing folder: got nil error")
	}
}

func TestCreateRefusesSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.har")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if rec, err := Create(link, "aadproxy", "test"); err == nil {
		rec.Close()
		t.Fatalf("Create(%s -> %s): got nil error, want refusal", link, target)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep me" {
		t.Errorf("symlink target changed to %q", data)
	}
}

// childEnv names the file a re-executed test binary records into.
const childEnv = "AADPROXY_TRACE_KILL_CHILD"

// TestRecorderSurvivesKill runs a child that records flows and reports each
// finished Write on stdout, kills it with SIGKILL mid-stream, and checks that
// every reported flow reads back intact.
func TestRecorderSurvivesKill(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		recordUntilKilled(path)
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	path := filepath.Join(t.TempDir(), "killed.har")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300
	reported := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		n, ok := strings.CutPrefix(line, "wrote ")
		if !ok {
			continue // test framework chatter
		}
		i, err := strconv.Atoi(n)
		if err != nil || i != reported {
			t.Fatalf("child reported %q, want wrote %d", line, reported)
		}
		reported++
		if reported == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitErr := cmd.Wait()
	if reported < killAfter {
		t.Fatalf("child stopped after %d writes (%v), before it was killed", reported, waitErr)
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", waitErr)
	}

	flows := sampleFlows()
	got, err := readAllFlows(t, path)
	if err != nil {
		// Only the write in progress at the kill may be damaged.
		var d *DamageError
		if !errors.As(err, &d) || d.Entry < reported {
			t.Fatalf("ReadFile after kill: %v (reported %d writes)", err, reported)
		}
		t.Logf("the entry being written at the kill was cut: %v", err)
	}
	if len(got) < reported {
		t.Fatalf("ReadFile after kill: %d flows, but the child reported %d", len(got), reported)
	}
	for i := range reported {
		diffFlows(t, "after kill", got[i], wantAfterRoundTrip(flows[i%len(flows)], i))
	}
	t.Logf("child reported %d writes; %d entries read back", reported, len(got))
}

func recordUntilKilled(path string) {
	rec, err := Create(path, "aadproxy", "kill-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	flows := sampleFlows()
	// Bounded so a parent that never kills cannot leave it running forever.
	for i := range 1_000_000 {
		if err := rec.Write(flows[i%len(flows)]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "wrote %d\n", i)
	}
	os.Exit(3)
}

// recordSamples writes the sample flows and returns the file's bytes and the
// offset just past each entry, measured from the file size after each Write.
func recordSamples(t *testing.T) (data []byte, ends []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cut.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sampleFlows() {
		if err := rec.Write(f); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, int(st.Size())-len(trailer))
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, ends
}

func TestReadTruncatedEverywhere(t *testing.T) {
	data, ends := recordSamples(t)
	flows := sampleFlows()
	docEnd := len(data) - 1 // the last '}'; the final newline is optional
	for cut := 0; cut <= len(data); cut++ {
		wantN := 0
		for _, end := range ends {
			if end <= cut {
				wantN++
			}
		}
		var got []*flow.Flow
		n, err := readFlows(bytes.NewReader(data[:cut]), "cut", func(i int, f *flow.Flow) error {
			got = append(got, f)
			return nil
		})
		if n != wantN || len(got) != wantN {
			t.Fatalf("cut at %d: got %d entries (n=%d), want %d; err %v", cut, len(got), n, wantN, err)
		}
		if cut >= docEnd {
			if err != nil {
				t.Fatalf("cut at %d of %d: got %v, want a complete document", cut, len(data), err)
			}
			continue
		}
		var d *DamageError
		if !errors.As(err, &d) {
			t.Fatalf("cut at %d: got %v, want a *DamageError", cut, err)
		}
		if d.Entry != wantN || d.Offset < 0 || d.Offset > int64(cut) {
			t.Fatalf("cut at %d: DamageError{Offset: %d, Entry: %d}, want Entry %d and Offset <= cut", cut, d.Offset, d.Entry, wantN)
		}
		if !strings.Contains(d.Error(), fmt.Sprintf("byte %d", d.Offset)) {
			t.Fatalf("cut at %d: message %q does not name the position", cut, d.Error())
		}
		for i := range got {
			diffFlows(t, fmt.Sprintf("cut at %d", cut), got[i], wantAfterRoundTrip(flows[i], i))
		}
	}
}

func TestReadFileTruncated(t *testing.T) {
	data, ends := recordSamples(t)
	dir := t.TempDir()
	for _, cut := range []int{0, 1, ends[0] - 1, ends[0], ends[2] + 10, len(data) - 3} {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.har", cut))
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := ReadFile(path, func(int, *flow.Flow) error { return nil })
		d, ok := err.(*DamageError)
		if !ok {
			t.Fatalf("ReadFile(cut at %d): got %T %v, want *DamageError", cut, err, err)
		}
		if d.Entry != n {
			t.Errorf("ReadFile(cut at %d): n=%d but DamageError.Entry=%d", cut, n, d.Entry)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadFile(cut at %d): got %v, want it to wrap io.ErrUnexpectedEOF", cut, err)
		}
	}
}

func TestReadFileCallbackError(t *testing.T) {
	data, _ := recordSamples(t)
	path := filepath.Join(t.TempDir(), "cb.har")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n, err := ReadFile(path, func(i int, _ *flow.Flow) error {
		if i == 2 {
			return stop
		}
		return nil
	})
	if n != 2 || err != stop {
		t.Errorf("ReadFile with a failing callback: got %d, %v; want 2, stop", n, err)
	}
}

// BenchmarkRecorderWrite records a small token-endpoint exchange, the common
// case on a sign-in flow.
func BenchmarkRecorderWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.har")
	rec, err := Create(path, "aadproxy", "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	f := &flow.Flow{
		Request: &flow.Request{
			Method: "POST", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/token", Proto: "HTTP/1.1",
			Header: flow.Headers{
				{Name: "Host", Value: "login.microsoftonline.com"},
				{Name: "Content-Type", Value: "application/x-www-form-urlencoded"},
				{Name: "User-Agent", Value: "bench/1"},
				{Name: "Accept", Value: "application/json"},
			},
			Body: body("grant_type=refresh_token&client_id=00000000-0000-0000-0000-000000000000&refresh_token=synthetic"),
		},
		Response: &flow.Response{
			Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Header: flow.Headers{
				{Name: "Content-Type", Value: "application/json; charset=utf-8"},
				{Name: "Cache-Control", Value: "no-store, no-cache"},
				{Name: "x-ms-request-id", Value: "4f6a9d3e-0000-0000-0000-000000000000"},
			},
			Body: body(`{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QifQ.e30.synthetic"}`),
		},
		Timings: flow.Timings{Start: testStart, DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 20 * time.Millisecond, Receive: time.Millisecond},
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := rec.Write(f); err != nil {
			b.Fatal(err)
		}
	}
}
