package bombtest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// TestBodyInflates checks every bomb with the decoders the standard library
// and aadproxy's dependencies provide, independently of aadproxy's own,
// inflating each whole: TestSize, since 1 GiB under the race detector
// takes minutes a bomb.
func TestBodyInflates(t *testing.T) {
	for _, enc := range append(Encodings, "deflate, gzip", "gzip, br") {
		b, err := Body(enc, TestSize)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(b)
		encs := strings.Split(enc, ",")
		for i := len(encs) - 1; i >= 0; i-- {
			r = reader(t, strings.TrimSpace(encs[i]), r)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != TestSize {
			t.Errorf("Body(%q): inflates to %d bytes (%v), want %d", enc, n, err, TestSize)
		}
		if len(b) > 2<<20 {
			t.Errorf("Body(%q): %d bytes, want a bomb of at most 2 MiB", enc, len(b))
		}
		t.Logf("%s: %d bytes", enc, len(b))
	}
}

func reader(t *testing.T, enc string, r io.Reader) io.Reader {
	var out io.Reader
	var err error
	switch enc {
	case "gzip":
		out, err = gzip.NewReader(r)
	case "deflate":
		out, err = zlib.NewReader(r)
	case "br":
		out = brotli.NewReader(r)
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(r)
		out = d
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}
