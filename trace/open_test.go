package trace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/hartest"
)

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty.har", "", "the file is empty"},
		{"blank.har", " \n\t ", "only white space"},
		{"text.txt", "GET / HTTP/1.1\r\n", "not a HAR (JSON) or SAZ (zip) file"},
		{"array.har", "[]", "not a HAR (JSON) or SAZ (zip) file"},
		{"nolog.har", `{"entries":[]}`, `no "log" object`},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		n, _, err := Open(path, func(int, *flow.Flow) error { return nil })
		if err == nil || n != 0 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s): %d, %v; want an error containing %q", tt.name, n, err, tt.want)
		}
		if Damaged(err) {
			t.Errorf("Open(%s): %v reported as damage; it is not a trace at all", tt.name, err)
		}
	}
	if _, _, err := Open(dir, func(int, *flow.Flow) error { return nil }); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(a folder): got %v", err)
	}
	if _, _, err := Open(filepath.Join(dir, "missing.har"), func(int, *flow.Flow) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing): got %v, want os.ErrNotExist", err)
	}
}

// TestOpenCrashedRecording opens aadproxy's own recording cut short, as a
// crash in the middle of a write leaves it: the complete entries, then a
// *DamageError naming the position.
func TestOpenCrashedRecording(t *testing.T) {
	data, ends := recordSamples(t)
	cut := ends[2] + 40
	path := writeTemp(t, "crashed.har", data[:cut])
	flows, format, err := openAll(t, path)
	var d *DamageError
	if !errors.As(err, &d) || format != FormatHAR {
		t.Fatalf("Open(crashed.har): %s, %v; want har and a *DamageError", format, err)
	}
	if len(flows) != 3 || d.Entry != 3 || d.Offset > int64(cut) || d.Offset < int64(ends[2]) {
		t.Errorf("Open(crashed.har): %d flows, %+v; want 3 and the damage after entry 3", len(flows), d)
	}
	if !Damaged(err) {
		t.Errorf("Damaged(%v) = false", err)
	}
	// The complete recording reads whole.
	flows, _, err = openAll(t, writeTemp(t, "whole.har", data))
	if err != nil || len(flows) != len(sampleFlows()) {
		t.Errorf("Open(whole recording): %d flows, %v", len(flows), err)
	}
}

func TestOpenProgress(t *testing.T) {
	data, _ := recordSamples(t)
	harPath := writeTemp(t, "rec.har", data)
	sazPath := filepath.Join(t.TempDir(), "rec.saz")
	if err := WriteSAZ(sazPath, sampleFlows()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{harPath, sazPath} {
		var out bytes.Buffer
		n, _, err := OpenWith(path, OpenOptions{Progress: &out}, func(int, *flow.Flow) error { return nil })
		if err != nil || n != len(sampleFlows()) {
			t.Fatalf("OpenWith(%s): %d, %v", path, n, err)
		}
		s := out.String()
		name := filepath.Base(path)
		if !strings.HasPrefix(s, "\rreading "+name+": ") || !strings.HasSuffix(s, "\rreading "+name+": 100%\n") {
			t.Errorf("OpenWith(%s) progress: got %q", name, s)
		}
		if first := strings.Split(s, "\r")[1]; strings.Contains(first, "100%") || strings.Contains(first, " 99%") {
			t.Errorf("OpenWith(%s) progress: first update %q is already at the end", name, first)
		}
	}
	// Quiet without a writer: nothing to check but that it reads.
	if n, _, err := Open(harPath, func(int, *flow.Flow) error { return nil }); err != nil || n == 0 {
		t.Errorf("Open without progress: %d, %v", n, err)
	}
}

func TestProgressThrottles(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	p := &progress{w: &out, total: 1000, label: "x", now: func() time.Time { return clock }}
	// 1000 reads, 10 ms apart: 10 s in all, so at most 4 updates a second.
	for i := int64(1); i <= 1000; i++ {
		p.advance(i)
		clock = clock.Add(10 * time.Millisecond)
	}
	p.finish(true)
	s := out.String()
	if got, want := strings.Count(s, "\r"), 40+1; got != want {
		t.Errorf("1000 advances over 10 s: %d lines, want %d (one each 250 ms of the 10 s, and the final one): %q", got, want, s)
	}
	if !strings.HasPrefix(s, "\rreading x:   0%") || !strings.HasSuffix(s, "\rreading x: 100%\n") {
		t.Errorf("progress lines: %q", s)
	}
}

// noTemps fails if dir holds anything but the named files.
func noTemps(t *testing.T, dir string, keep ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		found := false
		for _, k := range keep {
			found = found || e.Name() == k
		}
		if !found {
			t.Errorf("%s: unexpected file %s left behind", dir, e.Name())
		}
	}
}

// HAR dates hold milliseconds, so SAZ start times lose their last digits.
func TestConvertBothWays(t *testing.T) {
	dir := t.TempDir()
	saz := filepath.Join(dir, "fiddler.saz")
	if err := os.WriteFile(saz, fiddlerSAZ(t), 0o600); err != nil {
		t.Fatal(err)
	}
	har := filepath.Join(dir, "fiddler.har")
	if err := Convert(saz, har); err != nil {
		t.Fatalf("Convert(saz → har): %v", err)
	}
	if st, err := os.Stat(har); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("Convert output: %v, %v; want a 0600 file", st, err)
	}
	fromSAZ, _, err := openAll(t, saz)
	if err != nil {
		t.Fatal(err)
	}
	fromHAR, format, err := openAll(t, har)
	if err != nil || format != FormatHAR || len(fromHAR) != len(fromSAZ) {
		t.Fatalf("Open(converted HAR): %s, %d flows, %v; want har with %d", format, len(fromHAR), err, len(fromSAZ))
	}
	for i := range fromSAZ {
		a, b := fromSAZ[i], fromHAR[i]
		if a.Request.Method != b.Request.Method || a.Request.URL != b.Request.URL || a.Status() != b.Status() ||
			a.Response.Body.Text() != b.Response.Body.Text() || !a.Timings.Start.Truncate(time.Millisecond).Equal(b.Timings.Start) || a.Timings.Wait != b.Timings.Wait ||
			fmt.Sprint(a.Request.Header) != fmt.Sprint(b.Request.Header) {
			t.Errorf("session %d after SAZ → HAR: %s %s %d %v; want %s %s %d %v", i, b.Request.Method, b.Request.URL, b.Status(), b.Timings, a.Request.Method, a.Request.URL, a.Status(), a.Timings)
		}
	}

	// And back: HAR → SAZ keeps what the HAR held.
	back := filepath.Join(dir, "back.SAZ")
	if err := Convert(har, back); err != nil {
		t.Fatalf("Convert(har → saz): %v", err)
	}
	again, format, err := openAll(t, back)
	if err != nil || format != FormatSAZ || len(again) != len(fromHAR) {
		t.Fatalf("Open(converted SAZ): %s, %d flows, %v", format, len(again), err)
	}
	for i := range fromHAR {
		a, b := fromHAR[i], again[i]
		if a.Request.URL != b.Request.URL || a.Status() != b.Status() || a.Response.Body.Text() != b.Response.Body.Text() ||
			a.Response.Header.Get("Content-Encoding") != b.Response.Header.Get("Content-Encoding") {
			t.Errorf("session %d after HAR → SAZ: %s %d %q; want %s %d %q", i, b.Request.URL, b.Status(), b.Response.Body.Text(), a.Request.URL, a.Status(), a.Response.Body.Text())
		}
	}
	noTemps(t, dir, "fiddler.saz", "fiddler.har", "back.SAZ")
}

func TestConvertRefusesItsInput(t *testing.T) {
	dir := t.TempDir()
	data, _ := recordSamples(t)
	in := filepath.Join(dir, "in.har")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, out := range hartest.InputAliases(t, in) {
		err := Convert(in, out)
		if err == nil || !strings.Contains(err.Error(), "is the input file") {
			t.Errorf("Convert(%s, %s): got %v, want a refusal", in, out, err)
		}
	}
	if got, _ := os.ReadFile(in); !bytes.Equal(got, data) {
		t.Errorf("the input changed")
	}
	noTemps(t, dir, "in.har", "link.har", "hard.har")
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	data, ends := recordSamples(t)
	cut := filepath.Join(dir, "cut.har")
	if err := os.WriteFile(cut, data[:ends[1]+25], 0o600); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.saz")
	if err := os.WriteFile(old, []byte("previous output"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(dir, "new.saz"), filepath.Join(dir, "new.har"), old} {
		err := Convert(cut, out)
		if err == nil || !Damaged(err) || !strings.Contains(err.Error(), "at byte") || !strings.Contains(err.Error(), "no output written") {
			t.Errorf("Convert(damaged, %s): got %v, want a damage error naming the byte", filepath.Base(out), err)
		}
	}
	if got, _ := os.ReadFile(old); string(got) != "previous output" {
		t.Errorf("a failed Convert replaced the existing output: %q", got)
	}
	noTemps(t, dir, "cut.har", "old.saz")

	// A damaged SAZ names the session.
	saz := filepath.Join(dir, "cut.saz")
	full := fiddlerSAZ(t)
	if err := os.WriteFile(saz, full[:len(full)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	err := Convert(saz, filepath.Join(dir, "x.har"))
	var d *SAZDamageError
	if !errors.As(err, &d) || !strings.Contains(err.Error(), "byte") {
		t.Errorf("Convert(cut SAZ): got %v, want a *SAZDamageError naming the position", err)
	}
	noTemps(t, dir, "cut.har", "old.saz", "cut.saz")

	tests := []struct{ in, out, want string }{
		{cut, filepath.Join(dir, "x.txt"), "unknown output format"},
		{filepath.Join(dir, "missing.har"), filepath.Join(dir, "x.har"), "no such file"},
		{cut, filepath.Join(dir, "no", "such", "dir.har"), "no such file"},
	}
	for _, tt := range tests {
		if err := Convert(tt.in, tt.out); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Convert(%s, %s): got %v, want %q", filepath.Base(tt.in), tt.out, err, tt.want)
		}
	}
}

func FuzzOpen(f *testing.F) {
	data, _ := os.ReadFile("testdata/firefox.har")
	f.Add(data)
	data, _ = os.ReadFile("testdata/fiddler-classic.har")
	f.Add(data)
	f.Add(fiddlerSAZ(f))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("\xef\xbb\xbf  {"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n := 0
		got, _, err := Open(path, func(i int, fl *flow.Flow) error {
			if i != n || fl == nil || fl.Request == nil {
				t.Fatalf("flow %d: index %d, %+v", n, i, fl)
			}
			n++
			return nil
		})
		if got != n {
			t.Fatalf("Open: n=%d, delivered %d (err %v)", got, n, err)
		}
	})
}

// TestConvertedSAZPassesHARSchema checks the HAR Convert writes from a
// Fiddler archive (a CONNECT tunnel, a chunked gzip body, a 502 Fiddler
// made) against the HAR 1.2 schema, and from the committed sample too.
func TestConvertedSAZPassesHARSchema(t *testing.T) {
	hv := hartest.NewValidator(t)
	dir := t.TempDir()
	saz := filepath.Join(dir, "fiddler.saz")
	if err := os.WriteFile(saz, fiddlerSAZ(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{saz, "testdata/sample.saz"} {
		out := filepath.Join(dir, filepath.Base(in)+".har")
		if err := ConvertWith(in, out, ConvertOptions{Version: "test"}); err != nil {
			t.Fatalf("Convert(%s): %v", in, err)
		}
		if err := hv.Validate(out); err != nil {
			t.Errorf("Convert(%s) wrote a HAR the schema rejects: %v", in, err)
		}
	}
}
