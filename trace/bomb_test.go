package trace

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/bombtest"
	"github.com/aadproxy/aadproxy/internal/hartest"
)

// writeSAZBomb writes bombtest.SAZBomb, whose first two bodies inflate to
// bombtest.TestSize each (a gzip body, and a zip member of zeros), to a
// file in dir.
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

// TestReadSAZBomb reads the bomb archive: the zip member that inflates to
// TestSize keeps MaxSAZBody with its true size, the gzip body is kept as
// sent and its view is cut at the decode limit, the ordinary sessions are
// whole, and reading all of it (views included) allocates a bounded
// amount, not one in proportion to what the archive inflates to.
func TestReadSAZBomb(t *testing.T) {
	path := writeSAZBomb(t, t.TempDir())
	var flows []*flow.Flow
	var err error
	alloc := bombtest.Allocated(func() {
		_, err = ReadSAZ(path, func(_ int, f *flow.Flow) error {
			f.Response.Body.Decoded()
			flows = append(flows, f)
			return nil
		})
	})
	if err != nil || len(flows) != 4 {
		t.Fatalf("ReadSAZ(bomb): %d flows, %v", len(flows), err)
	}
	gz, zip := &flows[0].Response.Body, &flows[1].Response.Body
	if gz.Truncated || gz.Encoding != "gzip" || gz.DecodeLimit != flow.DefaultDecodeLimit {
		t.Errorf("gzip bomb body: truncated %v, encoding %q, decode limit %d; want whole, gzip, %d", gz.Truncated, gz.Encoding, gz.DecodeLimit, flow.DefaultDecodeLimit)
	}
	if d, err := gz.Decoded(); len(d) != flow.DefaultDecodeLimit || err == nil {
		t.Errorf("gzip bomb view: %d bytes, %v; want a cut at %d", len(d), err, flow.DefaultDecodeLimit)
	}
	if !zip.Truncated || len(zip.Raw) != MaxSAZBody || zip.Size != bombtest.TestSize || zip.DecodeLimit != flow.OpaqueDecodeLimit {
		t.Errorf("zip member bomb: truncated %v, kept %d, size %d, decode limit %d; want truncated, %d, %d, %d (octet-stream)",
			zip.Truncated, len(zip.Raw), zip.Size, zip.DecodeLimit, MaxSAZBody, int64(bombtest.TestSize), flow.OpaqueDecodeLimit)
	}
	if d, err := flows[3].Response.Body.Decoded(); err != nil || !strings.Contains(string(d), `"kid":"bombtest"`) {
		t.Errorf("the small gzip session: %q, %v", d, err)
	}
	t.Logf("reading the bomb SAZ (bodies inflating to %d MiB) allocated %.1f MiB", bombtest.TestSize>>20, float64(alloc)/(1<<20))
	// Two kept bodies and a view of MaxSAZBody each, the slices they grew
	// through, and the readers' windows: a fixed amount, whatever TestSize.
	if bound := uint64(4 * MaxSAZBody); alloc > bound {
		t.Errorf("reading a SAZ whose bodies inflate to %d MiB each allocated %d MiB, want under %d MiB", bombtest.TestSize>>20, alloc>>20, bound>>20)
	}
}

// TestConvertSAZBomb converts the bomb archive to HAR and to SAZ, each
// within a bounded allocation: the gzip bomb is written as its compressed
// bytes in base64, marked raw, the zip member's zeros as base64 and
// truncated, never NUL by NUL as \u0000 text, and the HAR reads back with
// the gzip body's encoding, so its view can be cut again.
func TestConvertSAZBomb(t *testing.T) {
	dir := t.TempDir()
	saz := writeSAZBomb(t, dir)
	for _, out := range []string{"bomb.har", "again.saz"} {
		out = filepath.Join(dir, out)
		var err error
		alloc := bombtest.Allocated(func() { err = Convert(saz, out) })
		if err != nil {
			t.Fatalf("Convert(bomb, %s): %v", filepath.Base(out), err)
		}
		t.Logf("Convert(bomb, %s) allocated %.1f MiB", filepath.Base(out), float64(alloc)/(1<<20))
		if bound := uint64(5 * MaxSAZBody); alloc > bound {
			t.Errorf("Convert(bomb, %s) allocated %d MiB, want under %d MiB", filepath.Base(out), alloc>>20, bound>>20)
		}
		if st, _ := os.Stat(out); st.Size() > 2*MaxSAZBody {
			t.Errorf("Convert(bomb, %s) wrote %d MiB", filepath.Base(out), st.Size()>>20)
		}
	}
	if err := hartest.NewValidator(t).Validate(filepath.Join(dir, "bomb.har")); err != nil {
		t.Errorf("har-validator rejected the converted bomb SAZ: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bomb.har"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(`\u0000`)) {
		t.Errorf("the HAR holds NUL bytes written as text")
	}
	var har struct {
		Log struct {
			Entries []Entry `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &har); err != nil || len(har.Log.Entries) != 4 {
		t.Fatalf("the converted HAR: %d entries, %v", len(har.Log.Entries), err)
	}
	gz, zip := har.Log.Entries[0].Response.Content, har.Log.Entries[1].Response.Content
	if !gz.Raw || gz.Encoding != "base64" || !strings.Contains(gz.Comment, "decoded body cut at") || gz.Compression != 0 || int(gz.Size) >= flow.DefaultDecodeLimit {
		t.Errorf("gzip bomb content: raw %v, encoding %q, size %d, compression %d, comment %q; want its wire bytes in base64, sized as such, saying why",
			gz.Raw, gz.Encoding, gz.Size, gz.Compression, gz.Comment)
	}
	if zip.Raw || zip.Encoding != "base64" || !zip.Truncated || har.Log.Entries[1].Response.BodySize != bombtest.TestSize {
		t.Errorf("zip member content: raw %v, encoding %q, truncated %v, bodySize %d", zip.Raw, zip.Encoding, zip.Truncated, har.Log.Entries[1].Response.BodySize)
	}
	f, err := FlowFromEntry(&har.Log.Entries[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := f.Response.Body.Decoded(); f.Response.Body.Encoding != "gzip" || len(d) != flow.DefaultDecodeLimit || err == nil {
		t.Errorf("the gzip bomb read back from HAR: encoding %q, view %d bytes, %v; want gzip, cut at the limit", f.Response.Body.Encoding, len(d), err)
	}
}

// TestRecordRequestBomb records a request whose gzip body inflates past its
// limit (a client uploading a bomb): the postData holds its wire bytes in
// base64, marked raw, the file passes the HAR schema, and the body reads
// back with its encoding, so its view is cut again rather than taken as
// text.
func TestRecordRequestBomb(t *testing.T) {
	gz, err := bombtest.Body("gzip", bombtest.TestSize)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "upload.har")
	rec, err := Create(path, "test", "1")
	if err != nil {
		t.Fatal(err)
	}
	f := &flow.Flow{Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/upload", Proto: "HTTP/1.1",
		Header: flow.Headers{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: "gzip"}},
		Body:   flow.Body{Raw: gz, Size: int64(len(gz)), Encoding: "gzip"}}}
	if err := rec.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hartest.NewValidator(t).Validate(path); err != nil {
		t.Errorf("har-validator rejected a recorded request bomb: %v", err)
	}
	flows, err := readAllFlows(t, path)
	if err != nil || len(flows) != 1 {
		t.Fatalf("reading the recording: %d flows, %v", len(flows), err)
	}
	b := flows[0].Request.Body
	if d, err := b.Decoded(); b.Encoding != "gzip" || !bytes.Equal(b.Raw, gz) || len(d) != flow.DefaultDecodeLimit || err == nil {
		t.Errorf("request bomb read back: encoding %q, %d wire bytes (want %d), view %d bytes, %v; want the gzip bytes, cut again at the limit",
			b.Encoding, len(b.Raw), len(gz), len(d), err)
	}
}
