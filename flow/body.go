package flow

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"
)

// DefaultDecodeLimit caps a decoded view when the body names no limit of its
// own (DecodeLimit 0): aadproxy's default --max-body. A compressed body that
// inflates to more is cut there, so a compression bomb costs about 1.5× this
// much memory (the view and the slices it grew through) however far it
// would inflate.
const DefaultDecodeLimit = 10 << 20

// OpaqueDecodeLimit caps the decoded view of a body whose media type no
// rule reads (images, audio, video, fonts, archives, octet-stream; see
// Opaque), whatever the inspection limit: such a view only feeds the
// inspector's hex view and the recording, which keeps the compressed bytes
// of a body cut here.
const OpaqueDecodeLimit = 1 << 20

// DecodeLimitFor is the decode limit for a body of the given Content-Type
// under the inspection limit max (the live proxy's --max-body): max, or
// OpaqueDecodeLimit when that is smaller and the type is Opaque.
func DecodeLimitFor(contentType string, max int64) int64 {
	if max <= 0 {
		max = DefaultDecodeLimit
	}
	if Opaque(contentType) {
		return min(max, OpaqueDecodeLimit)
	}
	return max
}

// Opaque reports whether a media type is one no rule reads: images other
// than SVG, audio, video, fonts, WebAssembly, archives, PDF and
// application/octet-stream. Text, JSON, XML, HTML, forms, scripts and
// anything unnamed are not opaque.
func Opaque(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case strings.HasPrefix(mt, "image/"):
		return !strings.HasSuffix(mt, "+xml") // SVG is text
	case strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "font/"),
		strings.HasPrefix(mt, "application/font-"), strings.HasPrefix(mt, "application/x-font-"):
		return true
	}
	switch mt {
	case "application/octet-stream", "application/wasm", "application/zip", "application/gzip",
		"application/x-gzip", "application/x-tar", "application/x-7z-compressed", "application/pdf",
		"application/vnd.ms-fontobject":
		return true
	}
	return false
}

// ErrTruncated reports that a compressed body was cut by the capture limit, so
// only a prefix could be decoded.
var ErrTruncated = errors.New("body was truncated by the capture limit; decoded prefix only")

// CutError reports a decoded view cut at its limit: the body inflates to
// more than Limit bytes, and Decoded returns the first Limit of them.
type CutError struct {
	Limit int64
}

func (e *CutError) Error() string {
	return fmt.Sprintf("decoded body cut at %d bytes of a larger inflated body", e.Limit)
}

// IsCut reports whether err, from Decoded, says the view was cut at its
// limit, and returns the limit.
func IsCut(err error) (int64, bool) {
	var c *CutError
	if errors.As(err, &c) {
		return c.Limit, true
	}
	return 0, false
}

// Decoded returns the body with its Content-Encoding undone (gzip, deflate,
// br, zstd, or a comma-separated chain of them), at most DecodeLimit bytes
// of it. The raw bytes are never changed. On failure it returns what could
// be decoded and an error that names the encoding; callers show the raw view
// then. A body that inflates beyond the limit returns its first DecodeLimit
// bytes and a *CutError; one cut by the capture limit its decoded prefix and
// ErrTruncated.
//
// The result is computed once and kept with the body: decoders, rules and
// the recorder all read the same body, and inflating it once is the budget.
// The codings are undone as one stream, so the only memory a bomb costs is
// the view itself and the decoders' windows. Callers must not modify the
// result.
//
// Decoded may be called from several goroutines on one Body (the cache is
// set atomically, and a view is immutable once set); the other fields of
// a Body, like the rest of a Flow, are not safe for concurrent writes.
func (b *Body) Decoded() ([]byte, error) {
	if b == nil || len(b.Raw) == 0 {
		return nil, nil
	}
	if b.Encoding == "" {
		return b.Raw, nil
	}
	c := b.cached()
	if c == nil || c.from != &b.Raw[0] || c.fromLen != len(b.Raw) || c.limit != b.limit() {
		data, err := b.decode()
		c = &decodedBody{from: &b.Raw[0], fromLen: len(b.Raw), limit: b.limit(), data: data, err: err}
		atomic.StorePointer(&b.decoded, unsafe.Pointer(c))
	}
	return c.data, c.err
}

// cached is the decoded view computed so far, or nil.
func (b *Body) cached() *decodedBody {
	return (*decodedBody)(atomic.LoadPointer(&b.decoded))
}

// limit is the body's decode limit, DefaultDecodeLimit unless it names one.
func (b *Body) limit() int64 {
	if b.DecodeLimit > 0 {
		return b.DecodeLimit
	}
	return DefaultDecodeLimit
}

// DecodedLen is how many bytes the cached decoded view holds beyond Raw, for
// callers that budget memory; 0 before Decoded runs or for identity bodies.
func (b *Body) DecodedLen() int {
	if b == nil {
		return 0
	}
	c := b.cached()
	if c == nil || len(c.data) == 0 {
		return 0
	}
	if len(b.Raw) > 0 && &c.data[0] == &b.Raw[0] {
		return 0 // identity: the view is Raw itself
	}
	return len(c.data)
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

// Detached returns a copy of the body that shares its bytes, and its decoded
// view when one has been computed, read field by field: another goroutine
// may decode the copy while the pipeline still reads the original (a
// struct copy would read the cache pointer without synchronisation). Raw is
// never modified once captured and a view never changes once set, so
// sharing both is safe; a view computed later on either body stays its own.
func (b *Body) Detached() Body {
	d := Body{Raw: b.Raw, Size: b.Size, Truncated: b.Truncated, Encoding: b.Encoding, DecodeLimit: b.DecodeLimit}
	d.decoded = atomic.LoadPointer(&b.decoded)
	return d
}

// decodedBody is Decoded's cached result. from remembers which bytes it was
// computed from, and limit under which limit, so a Body whose Raw or
// DecodeLimit is replaced never serves a stale view.
type decodedBody struct {
	from    *byte
	fromLen int
	limit   int64
	data    []byte
	err     error
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
