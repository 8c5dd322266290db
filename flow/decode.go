package flow

import (
	"bufio"
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

// MaxZstdWindow is the largest zstd window Decoded accepts: RFC 9659 lets an
// HTTP decoder refuse windows beyond 8 MB, as browsers do, and a larger one
// would be memory the stream makes aadproxy hold.
const MaxZstdWindow = 8 << 20

// MaxCodings is how many content codings a body's view undoes (curl stops
// at 5 too): each layer holds a decoder and its window before a byte is
// read, so a header listing thousands of codings would cost memory in
// proportion to its length, whatever the limit on the output.
const MaxCodings = 5

// decode undoes the body's codings as one stream and keeps at most the
// body's limit of the result: nothing between the codings is held, and
// nothing beyond the limit is inflated.
func (b *Body) decode() ([]byte, error) {
	limit := b.limit()
	var r io.Reader = bytes.NewReader(b.Raw)
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	if n := strings.Count(b.Encoding, ","); n >= 4*MaxCodings {
		return nil, b.decodeError(nil, fmt.Errorf("%d content codings listed; at most %d are undone", n+1, MaxCodings))
	}
	encs := strings.Split(b.Encoding, ",")
	layers := 0
	// Encodings are listed in the order they were applied: undo from the end.
	for i := len(encs) - 1; i >= 0; i-- {
		enc := strings.ToLower(strings.TrimSpace(encs[i]))
		if enc == "" || enc == "identity" {
			continue
		}
		if layers++; layers > MaxCodings {
			return nil, b.decodeError(nil, fmt.Errorf("more than %d content codings; at most %d are undone", MaxCodings, MaxCodings))
		}
		dr, err := newDecoder(enc, r)
		if err != nil {
			return nil, b.decodeError(nil, layerErr(enc, err))
		}
		if c, ok := dr.(io.Closer); ok {
			closers = append(closers, c)
		}
		r = &layer{r: dr, enc: enc}
	}
	if _, ok := r.(*layer); !ok {
		return b.Raw, nil // identity only: the view is Raw itself
	}
	// A first guess from the compressed size; one past half the limit
	// might as well be the limit, which a doubling would reach anyway.
	guess := min(limit, max(int64(len(b.Raw))*4, 4096))
	if guess > limit/2 {
		guess = limit
	}
	data, cut, err := ReadAtMost(r, limit, guess)
	if cut {
		return data, &CutError{Limit: limit}
	}
	if err != nil {
		return data, b.decodeError(data, err)
	}
	return data, nil
}

// decodeError is what Decoded reports for a stream that failed after
// yielding data.
func (b *Body) decodeError(data []byte, err error) error {
	if b.Truncated && len(data) > 0 {
		return ErrTruncated
	}
	var le *layerError
	if errors.As(err, &le) {
		return fmt.Errorf("could not decode %s body: %w", le.enc, le.err)
	}
	return fmt.Errorf("could not decode body: %w", err)
}

// newDecoder returns a reader undoing one content coding.
func newDecoder(enc string, r io.Reader) (io.Reader, error) {
	switch enc {
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "deflate":
		// HTTP "deflate" is zlib-wrapped, but some servers send raw
		// deflate: a valid zlib header tells them apart.
		br := bufio.NewReaderSize(r, 512)
		if h, err := br.Peek(2); err == nil && zlibHeader(h) {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	case "br":
		return brotli.NewReader(r), nil
	case "zstd":
		// One block at a time, no decoder goroutines, and no window beyond
		// what HTTP allows: a stream's declared window is memory it makes
		// the decoder hold.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindow))
		if err != nil {
			return nil, err
		}
		return zstdCloser{zr}, nil
	}
	return nil, fmt.Errorf("unknown content encoding %q", enc)
}

// zlibHeader reports whether h starts a zlib stream aadproxy can read:
// deflate with a window of at most 32 KiB, no preset dictionary, and the
// header's check bits right (RFC 1950).
func zlibHeader(h []byte) bool {
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && h[1]&0x20 == 0 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// zstdCloser lets the decoder be closed as an io.Closer (its Close returns
// nothing).
type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// layer names the coding a decoder undoes, so an error deep in a chain
// says which coding failed.
type layer struct {
	r   io.Reader
	enc string
}

func (l *layer) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = layerErr(l.enc, err)
	}
	return n, err
}

type layerError struct {
	enc string
	err error
}

func (e *layerError) Error() string { return e.enc + ": " + e.err.Error() }
func (e *layerError) Unwrap() error { return e.err }

// layerErr wraps err with enc unless an inner layer already named its own.
func layerErr(enc string, err error) error {
	var le *layerError
	if errors.As(err, &le) {
		return err
	}
	return &layerError{enc: enc, err: err}
}

// ReadAtMost reads r into one slice of at most limit bytes, and reports
// more when r had more (one byte past the limit has then been read from r).
// size is the length to expect, or 0 when unknown: the slice starts at it
// (4 KiB when unknown) and doubles, but once it would pass a quarter of the
// limit it goes straight to the limit, so a reader that never ends costs at
// most 1.5× the limit in all (the doublings below a quarter add up to less
// than half of it), where doubling all the way costs 2×. A body that ends
// well short of its slice's capacity is copied to its own size, so what a
// caller keeps is no bigger than the body. limit must be positive.
func ReadAtMost(r io.Reader, limit, size int64) (data []byte, more bool, err error) {
	if size <= 0 {
		size = 4096
	}
	buf := make([]byte, 0, int(min(size, limit)))
	for idle := 0; ; {
		if len(buf) == cap(buf) {
			// Full: one more byte says whether the body goes on, before
			// anything is grown for it (a body of the expected size
			// ends here).
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			if n == 0 {
				if err == io.EOF {
					err = nil
				}
				return buf, false, err
			}
			if int64(len(buf)) >= limit {
				return buf, true, nil
			}
			next := max(int64(cap(buf))*2, 4096)
			if next > limit/4 {
				next = limit
			}
			grown := make([]byte, len(buf), int(min(next, limit)))
			copy(grown, buf)
			buf = append(grown, one[0])
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if idle++; n > 0 {
			idle = 0
		} else if err == nil && idle > 100 {
			return fit(buf), false, io.ErrNoProgress
		}
		if err == io.EOF {
			return fit(buf), false, nil
		}
		if err != nil {
			return fit(buf), false, err
		}
	}
}

// fit returns buf in a slice of its own size when more than a third of its
// capacity (and at least 64 KiB) would otherwise be held for nothing.
func fit(buf []byte) []byte {
	if waste := cap(buf) - len(buf); waste >= 64<<10 && waste > cap(buf)/3 {
		return append(make([]byte, 0, len(buf)), buf...)
	}
	return buf
}
