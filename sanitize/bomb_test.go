package sanitize_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/bombtest"
	"github.com/aadproxy/aadproxy/internal/hartest"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

func writeSAZBomb(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "bomb.saz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := bombtest.SAZBomb(f, bombtest.TestSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSanitizeSAZBomb sanitizes the bomb archive (two bodies inflating to
// bombtest.TestSize each, and a refresh token) flow by flow into a SAZ
// and a HAR: the token is gone, each bomb keeps only its checked prefix
// (marked truncated), no temporary file is left, Check finds nothing in
// the outputs and the token in the input, and each of these allocates a
// bounded amount, whatever the bombs inflate to.
func TestSanitizeSAZBomb(t *testing.T) {
	dir := t.TempDir()
	in := writeSAZBomb(t, dir)
	o := sanitize.Options{Key: bytes.Repeat([]byte("k"), 32)}
	// A bound per run, whatever TestSize: the kept bodies and views
	// (MaxSAZBody each), the sanitizer's text of each, and writing. (A HAR
	// costs more to read than a SAZ: each entry is JSON, its body base64.)
	bound, harBound := uint64(6*trace.MaxSAZBody), uint64(12*trace.MaxSAZBody)
	for _, name := range []string{"clean.saz", "clean.har"} {
		out := filepath.Join(dir, name)
		var rep sanitize.Report
		var err error
		alloc := bombtest.Allocated(func() { rep, err = sanitize.FlowsFile(in, out, o, trace.ConvertOptions{}) })
		if err != nil {
			t.Fatalf("FlowsFile(bomb, %s): %v", name, err)
		}
		t.Logf("sanitizing the bomb SAZ (bodies inflating to %d MiB) into %s allocated %.1f MiB", bombtest.TestSize>>20, name, float64(alloc)/(1<<20))
		if alloc > bound {
			t.Errorf("FlowsFile(bomb, %s) allocated %d MiB, want under %d MiB", name, alloc>>20, bound>>20)
		}
		if len(rep.Items) == 0 {
			t.Errorf("FlowsFile(bomb, %s) reported no redaction", name)
		}
		if strings.HasSuffix(name, ".har") {
			if err := hartest.NewValidator(t).Validate(out); err != nil {
				t.Errorf("har-validator rejected %s: %v", name, err)
			}
		}
		data, _ := os.ReadFile(out)
		if bytes.Contains(data, []byte(bombtest.Secret)) {
			t.Errorf("%s still holds the refresh token", name)
		}
		var flows []*flow.Flow
		if _, _, err := trace.Open(out, func(_ int, f *flow.Flow) error { flows = append(flows, f); return nil }); err != nil || len(flows) != 4 {
			t.Fatalf("reading %s back: %d flows, %v", name, len(flows), err)
		}
		gz := flows[0].Response.Body
		if !gz.Truncated || gz.Encoding != "" || len(gz.Raw) != flow.DefaultDecodeLimit {
			t.Errorf("%s: the gzip bomb came back truncated %v, encoding %q, %d bytes; want its decoded, checked prefix of %d bytes, marked truncated",
				name, gz.Truncated, gz.Encoding, len(gz.Raw), flow.DefaultDecodeLimit)
		}
		if zip := flows[1].Response.Body; !zip.Truncated || len(zip.Raw) > trace.MaxSAZBody {
			t.Errorf("%s: the zip member came back truncated %v with %d bytes", name, zip.Truncated, len(zip.Raw))
		}
		var found []sanitize.Finding
		alloc = bombtest.Allocated(func() { found, err = sanitize.Check(out) })
		if err != nil || len(found) > 0 {
			t.Errorf("Check(%s) = %v, %v; want nothing left", name, found, err)
		}
		t.Logf("Check(%s) allocated %.1f MiB", name, float64(alloc)/(1<<20))
		if bound := map[bool]uint64{false: bound, true: harBound}[strings.HasSuffix(name, ".har")]; alloc > bound {
			t.Errorf("Check(%s) allocated %d MiB, want under %d MiB", name, alloc>>20, bound>>20)
		}
	}
	var found []sanitize.Finding
	var err error
	alloc := bombtest.Allocated(func() { found, err = sanitize.Check(in) })
	if err != nil || len(found) != 1 || found[0].Kind != sanitize.KindRefreshToken {
		t.Errorf("Check(bomb SAZ) = %v, %v; want the refresh token", found, err)
	}
	t.Logf("Check(bomb SAZ) allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > bound {
		t.Errorf("Check(bomb SAZ) allocated %d MiB, want under %d MiB", alloc>>20, bound>>20)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestSanitizeHARBomb sanitizes a HAR whose response holds a gzip bomb as
// its wire bytes (as the recorder keeps a body that inflates past its
// limit): the content comes back as its decoded prefix, checked, marked
// truncated, sized as what it now holds, and in base64 (zeros are not
// text), within a bounded allocation.
func TestSanitizeHARBomb(t *testing.T) {
	dir := t.TempDir()
	gz, err := bombtest.Body("gzip", bombtest.TestSize)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "bomb.har")
	f := &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/bomb", Proto: "HTTP/1.1"},
		Response: &flow.Response{Status: 200, Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: "gzip"}},
			Body:   flow.Body{Raw: gz, Size: int64(len(gz)), Encoding: "gzip"}},
	}
	rec, err := trace.Create(in, "test", "1")
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clean.har")
	o := sanitize.Options{Key: bytes.Repeat([]byte("k"), 32)}
	alloc := bombtest.Allocated(func() { _, err = sanitize.HARFile(in, out, o) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HARFile(gzip bomb of %d MiB) allocated %.1f MiB", bombtest.TestSize>>20, float64(alloc)/(1<<20))
	if bound := uint64(10 * flow.DefaultDecodeLimit); alloc > bound {
		t.Errorf("HARFile(gzip bomb) allocated %d MiB, want under %d MiB", alloc>>20, bound>>20)
	}
	data, _ := os.ReadFile(out)
	var har struct {
		Log struct {
			Entries []trace.Entry `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &har); err != nil || len(har.Log.Entries) != 1 {
		t.Fatalf("the sanitized HAR: %v", err)
	}
	c := har.Log.Entries[0].Response.Content
	d, _ := base64.StdEncoding.DecodeString(c.Text)
	if c.Raw || !c.Truncated || c.Encoding != "base64" || len(d) != flow.DefaultDecodeLimit || int(c.Size) != len(d) || !strings.Contains(c.Comment, "inflates past") {
		t.Errorf("sanitized bomb content: raw %v, truncated %v, encoding %q, %d bytes, size %d, comment %q; want the decoded prefix of %d bytes in base64, marked truncated, saying why",
			c.Raw, c.Truncated, c.Encoding, len(d), c.Size, c.Comment, flow.DefaultDecodeLimit)
	}
	if found, err := sanitize.Check(out); err != nil || len(found) > 0 {
		t.Errorf("Check(sanitized bomb HAR) = %v, %v", found, err)
	}
	if err := hartest.NewValidator(t).Validate(out); err != nil {
		t.Errorf("har-validator rejected the sanitized bomb HAR: %v", err)
	}
}

// A body whose bytes are gzip without a Content-Encoding saying so (a
// tool stored them raw) is inflated to be sanitized; when it inflates past
// the limit, the kept prefix is marked truncated, as with a declared one.
func TestSanitizeUndeclaredGzipBombIsMarkedCut(t *testing.T) {
	bomb, err := bombtest.Body("gzip", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	f := &flow.Flow{
		Request: &flow.Request{Method: "GET", URL: "https://cdn.example.com/blob", Proto: "HTTP/1.1"},
		Response: &flow.Response{Status: 200, Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "text/plain"}},
			Body:   flow.Body{Raw: bomb, Size: int64(len(bomb))}},
	}
	out := sanitize.Flow(f, sanitize.Options{}, &sanitize.Report{})
	if b := out.Response.Body; !b.Truncated || len(b.Raw) == 0 || len(b.Raw) > int(flow.DefaultDecodeLimit) {
		t.Errorf("sanitized body: %d bytes, truncated %v; want the checked prefix, marked truncated", len(b.Raw), b.Truncated)
	}
}
