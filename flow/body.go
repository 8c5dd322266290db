package flow

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// MaxDecodedBody caps how many bytes Decoded inflates, so a compression bomb
// in captured traffic cannot exhaust memory.
const MaxDecodedBody = 64 << 20

// ErrTruncated reports that a compressed body was cut by the capture limit, so
// only a prefix could be decoded.
var ErrTruncated = errors.New("body was truncated by the capture limit; decoded prefix only")

// Decoded returns the body with its Content-Encoding undone (gzip, deflate,
// br, zstd, or a comma-separated chain of them). The raw bytes are never
// changed. On failure it returns what could be decoded and an error that
// names the encoding; callers show the raw view then.
//
// The result is computed once and kept with the body: decoders, rules and
// the recorder all read the same body, and inflating it once is the budget.
// Callers must not modify it. Like the rest of a Flow, a Body is not safe for
// concurrent use; the pipeline's one goroutine is the only live reader.
func (b *Body) Decoded() ([]byte, error) {
	if b == nil || len(b.Raw) == 0 {
		return nil, nil
	}
	if b.Encoding == "" {
		return b.Raw, nil
	}
	if c := b.decoded; c == nil || c.from != &b.Raw[0] || c.fromLen != len(b.Raw) {
		data, err := b.decode()
		b.decoded = &decodedBody{from: &b.Raw[0], fromLen: len(b.Raw), data: data, err: err}
	}
	return b.decoded.data, b.decoded.err
}

// DecodedLen is how many bytes the cached decoded view holds beyond Raw, for
// callers that budget memory; 0 before Decoded runs or for identity bodies.
func (b *Body) DecodedLen() int {
	if b == nil || b.decoded == nil || len(b.decoded.data) == 0 {
		return 0
	}
	if len(b.Raw) > 0 && &b.decoded.data[0] == &b.Raw[0] {
		return 0 // identity: the view is Raw itself
	}
	return len(b.decoded.data)
}

// WithoutBytes returns a copy of the body that keeps its size, encoding and
// truncated mark but no bytes (raw or decoded), marked Truncated when bytes
// were dropped. The receiver is not changed.
func (b Body) WithoutBytes() Body {
	if len(b.Raw) > 0 {
		b.Raw = nil
		b.Truncated = true
	}
	b.decoded = nil
	return b
}

// Detached returns a copy of the body that shares its bytes but not the
// decoded view, read field by field: another goroutine may decode the copy
// while the pipeline still decodes the original (a struct copy would read
// the cache pointer the pipeline writes). Raw is never modified once
// captured, so sharing it is safe.
func (b *Body) Detached() Body {
	return Body{Raw: b.Raw, Size: b.Size, Truncated: b.Truncated, Encoding: b.Encoding}
}

// decodedBody is Decoded's cached result. from remembers which bytes it was
// computed from, so a Body whose Raw is replaced never serves a stale view.
type decodedBody struct {
	from    *byte
	fromLen int
	data    []byte
	err     error
}

func (b *Body) decode() ([]byte, error) {
	data := b.Raw
	encs := strings.Split(b.Encoding, ",")
	// Encodings are listed in the order they were applied: undo from the end.
	for i := len(encs) - 1; i >= 0; i-- {
		enc := strings.ToLower(strings.TrimSpace(encs[i]))
		out, err := decodeOne(enc, data)
		if err != nil {
			if b.Truncated && len(out) > 0 {
				return out, ErrTruncated
			}
			return out, fmt.Errorf("could not decode %s body: %w", enc, err)
		}
		data = out
	}
	return data, nil
}

func decodeOne(enc string, data []byte) ([]byte, error) {
	var r io.Reader
	switch enc {
	case "", "identity":
		return data, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case "deflate":
		// HTTP "deflate" is zlib-wrapped, but some servers send raw deflate.
		if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(bytes.NewReader(data))
			defer fr.Close()
			r = fr
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(data))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderMaxMemory(MaxDecodedBody))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unknown content encoding %q", enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxDecodedBody+1))
	if err != nil {
		return out, err
	}
	if len(out) > MaxDecodedBody {
		return out[:MaxDecodedBody], fmt.Errorf("decoded body exceeds %d bytes", MaxDecodedBody)
	}
	return out, nil
}

// Text returns the decoded body as a string, or the raw bytes when decoding
// fails. It is the convenient view for decoders that only need text.
func (b *Body) Text() string {
	d, err := b.Decoded()
	if err != nil && len(d) == 0 {
		return string(b.Raw)
	}
	return string(d)
}
