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
func (b *Body) Decoded() ([]byte, error) {
	if b == nil || len(b.Raw) == 0 {
		return nil, nil
	}
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
