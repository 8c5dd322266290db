package flow

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/aadproxy/aadproxy/internal/bombtest"
)

// windows is what a decoder's own state may cost on top of the view: the
// zstd window aadproxy accepts at most, and brotli's ring buffer for the
// window the bombs declare (4 MiB, LGWin 22) with its tables.
func windows(enc string) uint64 {
	switch {
	case strings.Contains(enc, "zstd"):
		return MaxZstdWindow
	case strings.Contains(enc, "br"):
		return 6 << 20
	}
	return 0
}

// TestDecodedBombs inflates a bomb of every coding, and nested chains,
// under two limits: the view is cut at the limit, says so, and the whole
// decode allocates less than 1.5× the limit plus the decoders' state (for
// zstd and br, the window the stream declares); for gzip and deflate that
// is under the 2×max-body the hardening issue asks of inspection.
func TestDecodedBombs(t *testing.T) {
	encs := append(bombtest.Encodings, "deflate, gzip", "gzip, br", "zstd, gzip")
	for _, enc := range encs {
		raw, err := bombtest.Body(enc, bombtest.TestSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int64{1 << 20, DefaultDecodeLimit} {
			b := &Body{Raw: raw, Size: int64(len(raw)), Encoding: enc, DecodeLimit: limit}
			var data []byte
			alloc := bombtest.Allocated(func() { data, err = b.Decoded() })
			if got, ok := IsCut(err); !ok || got != limit {
				t.Errorf("Decoded(%s bomb, limit %d): error %v, want a cut at the limit", enc, limit, err)
			}
			if int64(len(data)) != limit || bytes.ContainsFunc(data, func(r rune) bool { return r != 0 }) {
				t.Errorf("Decoded(%s bomb, limit %d): %d bytes, want the limit's worth of zeros", enc, limit, len(data))
			}
			// 512 KiB for the decoders' own state (a flate decoder's tables
			// and window per layer) and what the race detector adds.
			if bound := uint64(limit)*3/2 + windows(enc) + 512<<10; alloc > bound {
				t.Errorf("Decoded(%s bomb of %d MiB, limit %d MiB) allocated %.1f MiB, want at most %.1f MiB",
					enc, bombtest.TestSize>>20, limit>>20, float64(alloc)/(1<<20), float64(bound)/(1<<20))
			}
			if b.DecodedLen() != int(limit) {
				t.Errorf("DecodedLen() after a %s bomb = %d, want %d", enc, b.DecodedLen(), limit)
			}
			if again := bombtest.Allocated(func() { b.Decoded() }); again > 64<<10 {
				t.Errorf("Decoded(%s bomb) a second time allocated %d bytes: the view was not cached", enc, again)
			}
		}
	}
}

// TestDecodedFitsTheBody checks that a view holds no more than its body:
// one that grew past its first guess is kept in a slice of its own size.
func TestDecodedFitsTheBody(t *testing.T) {
	text := strings.Repeat(`{"access_token":"x","expires_in":3599}`, 100_000) // 3.8 MB, compresses ~1000×
	b := &Body{Raw: gzipped(t, text), Encoding: "gzip"}
	got, err := b.Decoded()
	if err != nil || string(got) != text {
		t.Fatalf("Decoded(): %d bytes, %v; want the %d bytes back", len(got), err, len(text))
	}
	if cap(got) > len(got)+len(got)/3 {
		t.Errorf("Decoded() kept a slice of capacity %d for %d bytes", cap(got), len(got))
	}
}

func TestDecodedLimit(t *testing.T) {
	b := &Body{Raw: gzipped(t, "0123456789"), Encoding: "gzip", DecodeLimit: 4}
	got, err := b.Decoded()
	if string(got) != "0123" {
		t.Errorf("Decoded() with limit 4 = %q, want %q", got, "0123")
	}
	if limit, ok := IsCut(err); !ok || limit != 4 {
		t.Errorf("Decoded() with limit 4: error %v, want a cut at 4", err)
	}
	b.DecodeLimit = 10
	if got, err := b.Decoded(); string(got) != "0123456789" || err != nil {
		t.Errorf("Decoded() with the limit raised to exactly the body = %q, %v; want it all and no error", got, err)
	}
	if got, err := (&Body{Raw: gzipped(t, "abc"), Encoding: "gzip"}).Decoded(); string(got) != "abc" || err != nil {
		t.Errorf("Decoded() with no limit set = %q, %v", got, err)
	}
}

func TestDecodedErrors(t *testing.T) {
	var sb strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&sb, "%d ", i*i)
	}
	gz := gzipped(t, sb.String())
	var br bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write(gz[:len(gz)/2]) // a cut gzip stream inside a whole br stream
	bw.Close()
	for _, tc := range []struct {
		name      string
		body      Body
		want      string // in the error
		truncated bool   // ErrTruncated with a prefix
	}{
		{"corrupt gzip", Body{Raw: []byte("not gzip at all"), Encoding: "gzip"}, "could not decode gzip body", false},
		{"unknown coding", Body{Raw: []byte("x"), Encoding: "compress"}, `unknown content encoding "compress"`, false},
		{"bad layer named", Body{Raw: br.Bytes(), Encoding: "gzip, br"}, "could not decode gzip body", false},
		{"cut by capture", Body{Raw: gz[:len(gz)/2], Encoding: "gzip", Truncated: true}, ErrTruncated.Error(), true},
		{"corrupt zstd", Body{Raw: []byte("\x28\xb5\x2f\xfdjunk"), Encoding: "zstd"}, "could not decode zstd body", false},
	} {
		data, err := tc.body.Decoded()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Decoded() error %v, want one containing %q", tc.name, err, tc.want)
		}
		if _, ok := IsCut(err); ok {
			t.Errorf("%s: Decoded() error %v reads as a cut", tc.name, err)
		}
		if tc.truncated && (!errors.Is(err, ErrTruncated) || len(data) == 0) {
			t.Errorf("%s: Decoded() = %d bytes, %v; want a prefix and ErrTruncated", tc.name, len(data), err)
		}
	}
}

func TestDecodedRawDeflate(t *testing.T) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write([]byte("raw deflate, no zlib header"))
	fw.Close()
	got, err := (&Body{Raw: b.Bytes(), Encoding: "deflate"}).Decoded()
	if err != nil || string(got) != "raw deflate, no zlib header" {
		t.Errorf("Decoded(raw deflate) = %q, %v", got, err)
	}
}

// TestDecodedRefusesHugeZstdWindow: a zstd stream may declare a window the
// decoder must hold; beyond MaxZstdWindow (RFC 9659's 8 MB) it is refused
// rather than allocated.
func TestDecodedRefusesHugeZstdWindow(t *testing.T) {
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b, zstd.WithWindowSize(64<<20), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 16<<20))
	zw.Close()
	var data []byte
	alloc := bombtest.Allocated(func() { data, err = (&Body{Raw: b.Bytes(), Encoding: "zstd"}).Decoded() })
	if err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Errorf("Decoded(zstd with a 64 MiB window) = %d bytes, %v; want an error naming zstd", len(data), err)
	}
	if alloc > 16<<20 {
		t.Errorf("Decoded(zstd with a 64 MiB window) allocated %d MiB before refusing it", alloc>>20)
	}
}

// TestDecodedRefusesLongCodingLists: each coding is a decoder with its
// window, built before a byte is read, so a header listing thousands of
// them is refused instead of costing memory in proportion to its length;
// five (what curl undoes) still decode.
func TestDecodedRefusesLongCodingLists(t *testing.T) {
	raw := []byte("hello")
	for range 5 {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestSpeed)
		w.Write(raw)
		w.Close()
		raw = b.Bytes()
	}
	if got, err := (&Body{Raw: raw, Encoding: strings.Repeat("deflate, ", 4) + "deflate"}).Decoded(); err != nil || string(got) != "hello" {
		t.Errorf("five codings: %q, %v", got, err)
	}
	for _, enc := range []string{strings.Repeat("br,", 5) + "identity, br", strings.Repeat("br,", 5000) + "br", strings.Repeat("deflate,", 5000) + "deflate"} {
		var err error
		alloc := bombtest.Allocated(func() { _, err = (&Body{Raw: []byte("0123456789abcdef0123456789abcdef012"), Encoding: enc}).Decoded() })
		if err == nil || !strings.Contains(err.Error(), "content codings") {
			t.Errorf("%d codings: %v, want an error saying at most %d are undone", strings.Count(enc, ",")+1, err, MaxCodings)
		}
		if alloc > 1<<20 {
			t.Errorf("%d codings allocated %d KiB before refusing them", strings.Count(enc, ",")+1, alloc>>10)
		}
	}
}

func TestOpaque(t *testing.T) {
	for ct, want := range map[string]bool{
		"image/png": true, "IMAGE/JPEG; q=1": true, "image/svg+xml": false, "font/woff2": true,
		"application/octet-stream": true, "video/mp4": true, "application/wasm": true, "application/pdf": true,
		"application/json": false, "text/html; charset=utf-8": false, "application/javascript": false, "": false,
		"application/x-www-form-urlencoded": false, "application/jwt": false,
	} {
		if got := Opaque(ct); got != want {
			t.Errorf("Opaque(%q) = %v, want %v", ct, got, want)
		}
	}
	if got := DecodeLimitFor("image/png", 10<<20); got != OpaqueDecodeLimit {
		t.Errorf("DecodeLimitFor(image/png, 10 MiB) = %d, want %d", got, OpaqueDecodeLimit)
	}
	if got := DecodeLimitFor("image/png", 4096); got != 4096 {
		t.Errorf("DecodeLimitFor(image/png, 4096) = %d, want 4096: never above --max-body", got)
	}
	if got := DecodeLimitFor("application/json", 0); got != DefaultDecodeLimit {
		t.Errorf("DecodeLimitFor(application/json, 0) = %d, want the default %d", got, DefaultDecodeLimit)
	}
}

// FuzzDecoded feeds arbitrary bytes under every coding and chain: Decoded
// never panics, never returns more than the limit, and never changes Raw.
func FuzzDecoded(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, "gzip", uint16(64))
	f.Add([]byte("\x78\x9c\x03\x00\x00\x00\x00\x01"), "deflate", uint16(8))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x00"), "zstd", uint16(100))
	f.Add([]byte{0x0b, 0x02, 0x80}, "br", uint16(1))
	f.Add([]byte("x"), "gzip, br", uint16(0))
	for _, enc := range bombtest.Encodings {
		if b, err := bombtest.Body(enc, 1<<20); err == nil {
			f.Add(b, enc, uint16(1000))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, enc string, limit uint16) {
		orig := bytes.Clone(raw)
		b := &Body{Raw: raw, Encoding: enc, DecodeLimit: int64(limit)}
		data, err := b.Decoded()
		if int64(len(data)) > b.limit() && !bytes.Equal(data, raw) {
			t.Fatalf("Decoded() returned %d bytes over the limit %d", len(data), b.limit())
		}
		if _, ok := IsCut(err); ok && int64(len(data)) != b.limit() {
			t.Fatalf("a cut view holds %d bytes, not the limit %d", len(data), b.limit())
		}
		if !bytes.Equal(raw, orig) {
			t.Fatalf("Decoded() changed Raw")
		}
	})
}

func TestReadAtMost(t *testing.T) {
	for _, tc := range []struct {
		n, limit, size int64
		want           int64
		more           bool
	}{
		{0, 10, 0, 0, false},
		{5, 10, 0, 5, false},
		{10, 10, 0, 10, false},
		{11, 10, 0, 10, true},
		{5 << 20, 10 << 20, 5 << 20, 5 << 20, false},
		{50 << 20, 10 << 20, 0, 10 << 20, true},
		{50 << 20, 10 << 20, 1 << 20, 10 << 20, true},
	} {
		var data []byte
		var more bool
		var err error
		alloc := bombtest.Allocated(func() { data, more, err = ReadAtMost(&bombtest.Zeros{N: tc.n}, tc.limit, tc.size) })
		if int64(len(data)) != tc.want || more != tc.more || err != nil {
			t.Errorf("ReadAtMost(%d bytes, limit %d, size %d) = %d bytes, more %v, %v; want %d, %v", tc.n, tc.limit, tc.size, len(data), more, err, tc.want, tc.more)
		}
		if tc.size == tc.n && tc.n > 0 && alloc > uint64(tc.n)+1024 {
			t.Errorf("ReadAtMost(%d bytes, size given) allocated %d: want one slice of the size", tc.n, alloc)
		}
		if bound := uint64(tc.limit) * 3 / 2; alloc > bound+1024 {
			t.Errorf("ReadAtMost(%d bytes, limit %d) allocated %d, over 1.5× the limit", tc.n, tc.limit, alloc)
		}
	}
}
