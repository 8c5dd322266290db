package trace

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The HAR writer is hand-written rather than left to encoding/json: the
// recorder runs for every proxied exchange, and encoding/json re-validates
// the output of every nested MarshalJSON, which would scan each captured body
// once per nesting level. Bodies are escaped (or base64-encoded) straight
// from the captured bytes into the output in chunks, so writing a 10 MiB body
// costs one pass over it and a fixed buffer, never a copy of the whole entry.

// flushSize is how much an encoder with an output gathers before it writes:
// large enough that small entries go out many to a write, small enough that
// a large body never needs more than this in memory.
const flushSize = 256 << 10

// bodyChunk is how much of a body is encoded at a time; a multiple of 3, so
// base64 chunks join into one valid encoding.
const bodyChunk = 48 << 10

// encoder gathers HAR JSON in b. With out set, b is written to out whenever
// it holds flushSize bytes, and the first write error is kept in err (later
// writes are skipped); with out nil, the whole document stays in b.
type encoder struct {
	b   []byte
	out io.Writer
	err error
}

func (e *encoder) flushIfFull() {
	if e.out != nil && len(e.b) >= flushSize {
		e.flush()
	}
}

// flush writes what b holds to out.
func (e *encoder) flush() {
	if e.out == nil || len(e.b) == 0 {
		return
	}
	if e.err == nil {
		_, e.err = e.out.Write(e.b)
	}
	e.b = e.b[:0]
}

// bodyText is a body kept as bytes until it is written: text is escaped
// and binary base64-encoded straight into the output, with no string copy.
type bodyText struct {
	data   []byte
	base64 bool
}

// newBodyText chooses how HAR stores data: as text when it is UTF-8 without
// control characters other than whitespace, else as base64 (a NUL written as
// "\u0000" is six bytes and no longer reads as binary).
func newBodyText(data []byte) bodyText {
	return bodyText{data: data, base64: !isText(data)}
}

// IsText reports whether aadproxy's HAR writers store data as text rather
// than base64: UTF-8 without control characters other than whitespace.
// Writers of HAR bodies elsewhere (sanitize) choose the same way.
func IsText(data []byte) bool { return isText(data) }

func isText(data []byte) bool {
	for i := 0; i < len(data); {
		// Eight bytes at a time, looking closer only at a word with a
		// control byte in it (a newline or a tab, usually).
		if i+8 <= len(data) && hasLess(binary.LittleEndian.Uint64(data[i:]), 0x20) == 0 {
			i += 8
			continue
		}
		end := min(i+8, len(data))
		for _, c := range data[i:end] {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
				return false
			}
		}
		i = end
	}
	return utf8.Valid(data)
}

// Word-at-a-time byte tests (the classic bit tricks): each returns a word
// with the high bit set in every byte of x that matches, give or take a
// false positive in a byte above a true match, which only sends the scan
// to its careful path.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasLess flags bytes of x below n (n ≤ 128).
func hasLess(x uint64, n byte) uint64 { return (x - ones*uint64(n)) & ^x & highs }

// hasByte flags bytes of x equal to c.
func hasByte(x uint64, c byte) uint64 { return hasLess(x^(ones*uint64(c)), 1) }

// encoding is the HAR content encoding to declare for t.
func (t bodyText) encoding() string {
	if t.base64 && len(t.data) > 0 {
		return "base64"
	}
	return ""
}

// String returns the text as HAR holds it, for callers of the Entry model.
func (t bodyText) String() string {
	if t.base64 {
		return base64.StdEncoding.EncodeToString(t.data)
	}
	return string(t.data)
}

// body writes t as a JSON string, a chunk at a time.
func (e *encoder) body(t bodyText) {
	if e.out == nil {
		// Everything stays in b: reserve the room once.
		n := len(t.data) + 2
		if t.base64 {
			n = base64.StdEncoding.EncodedLen(len(t.data)) + 2
		}
		e.b = slices.Grow(e.b, n)
	}
	e.b = append(e.b, '"')
	data := t.data
	for len(data) > 0 {
		n := min(len(data), bodyChunk)
		if t.base64 {
			e.b = base64.StdEncoding.AppendEncode(e.b, data[:n])
		} else {
			if n < len(data) {
				// Cut before a rune that straddles the chunk's end.
				for k := n; k > n-utf8.UTFMax && k > 0; k-- {
					if utf8.RuneStart(data[k]) {
						n = k
						break
					}
				}
			}
			e.b = appendEscaped(e.b, data[:n])
		}
		data = data[n:]
		e.flushIfFull()
	}
	e.b = append(e.b, '"')
}

// objWriter appends the members of one JSON object.
type objWriter struct {
	e     *encoder
	first bool
}

func openObj(e *encoder) objWriter {
	e.b = append(e.b, '{')
	return objWriter{e: e, first: true}
}

func (w *objWriter) close() { w.e.b = append(w.e.b, '}') }

func (w *objWriter) key(k string) {
	if !w.first {
		w.e.b = append(w.e.b, ',')
	}
	w.first = false
	w.e.b = appendString(w.e.b, k)
	w.e.b = append(w.e.b, ':')
}

func (w *objWriter) str(k, v string) {
	w.key(k)
	w.e.b = appendString(w.e.b, v)
}

func (w *objWriter) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

// text writes a body field: from body bytes when the entry came from a
// flow, else from the model's string.
func (w *objWriter) text(k string, body *bodyText, s string) {
	switch {
	case body != nil && len(body.data) > 0:
		w.key(k)
		w.e.body(*body)
	case body == nil:
		w.strOmit(k, s)
	}
}

func (w *objWriter) int(k string, v Int) {
	w.key(k)
	w.e.b = strconv.AppendInt(w.e.b, int64(v), 10)
}

func (w *objWriter) num(k string, v float64) {
	w.key(k)
	w.e.b = appendMillis(w.e.b, v)
}

func (w *objWriter) boolTrue(k string, v bool) {
	if v {
		w.key(k)
		w.e.b = append(w.e.b, "true"...)
	}
}

func (w *objWriter) raw(k string, v json.RawMessage) {
	if len(v) > 0 && json.Valid(v) {
		w.key(k)
		w.e.b = append(w.e.b, v...)
	}
}

// extra appends fields read from a file that the model does not name, in a
// stable order, skipping any that would duplicate a named field.
func (w *objWriter) extra(extra map[string]json.RawMessage, model reflect.Type) {
	if len(extra) == 0 {
		return
	}
	known := knownFields(model)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known[strings.ToLower(k)] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.raw(k, extra[k])
	}
}

// appendMillis writes a duration in milliseconds with microsecond precision.
// NaN and infinities, which JSON cannot hold, become -1 ("not applicable").
func appendMillis(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "-1"...)
	}
	v = math.Round(v*1000) / 1000
	if v == 0 {
		v = 0 // no "-0"
	}
	if math.Abs(v) >= 1e21 {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// The bytes are only read: viewing the string as a slice saves a copy.
	b = appendEscaped(b, unsafe.Slice(unsafe.StringData(s), len(s)))
	return append(b, '"')
}

// appendEscaped writes s as the inside of a JSON string. Invalid UTF-8
// becomes U+FFFD, as encoding/json does, since JSON text cannot carry it;
// bodies that are not text are written as base64 before they get here.
func appendEscaped(b []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time: most of a body is. In a
		// word with a byte to look at, go straight to the first one (the
		// lowest flag is never a false one).
		if i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[i:])
			mask := (x & highs) | hasLess(x, 0x20) | hasByte(x, '"') | hasByte(x, '\\')
			if mask == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(mask) >> 3
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript parsers
		// that some HAR viewers still use.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

func (e *Entry) encode(enc *encoder) {
	w := openObj(enc)
	w.strOmit("pageref", e.Pageref)
	w.str("startedDateTime", e.StartedDateTime)
	w.num("time", e.Time)
	w.key("request")
	e.Request.encode(w.e)
	w.key("response")
	if e.Response != nil {
		e.Response.encode(w.e)
	} else {
		emptyResponse().encode(w.e)
	}
	w.key("cache")
	e.Cache.encode(w.e)
	w.key("timings")
	e.Timings.encode(w.e)
	w.strOmit("serverIPAddress", e.ServerIPAddress)
	w.strOmit("connection", e.Connection)
	w.strOmit("comment", e.Comment)
	w.strOmit("_serverAddress", e.ServerAddress)
	w.strOmit("_clientAddress", e.ClientAddress)
	if e.ClientTLS != nil {
		w.key("_aadproxyClientTLS")
		e.ClientTLS.encode(w.e)
	}
	if e.ServerTLS != nil {
		w.key("_aadproxyServerTLS")
		e.ServerTLS.encode(w.e)
	}
	w.strOmit("_aadproxyDone", e.Done)
	w.strOmit("_aadproxyTag", e.Tag)
	w.extra(e.Extra, reflect.TypeFor[Entry]())
	w.close()
}

func (t *TLS) encode(enc *encoder) {
	w := openObj(enc)
	w.str("version", t.Version)
	w.strOmit("alpn", t.ALPN)
	w.strOmit("serverName", t.ServerName)
	w.close()
}

func appendNameValues(e *encoder, list []NameValue) {
	e.b = append(e.b, '[')
	for i := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		w := openObj(e)
		w.str("name", list[i].Name)
		w.str("value", list[i].Value)
		w.strOmit("comment", list[i].Comment)
		w.close()
	}
	e.b = append(e.b, ']')
}

func appendCookies(e *encoder, list []Cookie) {
	e.b = append(e.b, '[')
	for i := range list {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		c := &list[i]
		w := openObj(e)
		w.str("name", c.Name)
		w.str("value", c.Value)
		w.strOmit("path", c.Path)
		w.strOmit("domain", c.Domain)
		w.strOmit("expires", c.Expires)
		w.boolTrue("httpOnly", c.HTTPOnly)
		w.boolTrue("secure", c.Secure)
		w.strOmit("sameSite", c.SameSite)
		w.strOmit("comment", c.Comment)
		w.close()
	}
	e.b = append(e.b, ']')
}

func (r *Request) encode(enc *encoder) {
	w := openObj(enc)
	w.str("method", r.Method)
	w.str("url", r.URL)
	w.str("httpVersion", r.HTTPVersion)
	w.key("cookies")
	appendCookies(w.e, r.Cookies)
	w.key("headers")
	appendNameValues(w.e, r.Headers)
	w.key("queryString")
	appendNameValues(w.e, r.QueryString)
	if r.PostData != nil {
		w.key("postData")
		r.PostData.encode(w.e)
	}
	w.int("headersSize", r.HeadersSize)
	w.int("bodySize", r.BodySize)
	w.strOmit("comment", r.Comment)
	w.extra(r.Extra, reflect.TypeFor[Request]())
	w.close()
}

func (p *PostData) encode(enc *encoder) {
	w := openObj(enc)
	w.str("mimeType", p.MimeType)
	w.text("text", p.body, p.Text)
	if len(p.Params) > 0 {
		w.key("params")
		enc.b = append(enc.b, '[')
		for i := range p.Params {
			if i > 0 {
				enc.b = append(enc.b, ',')
			}
			pw := openObj(enc)
			pw.str("name", p.Params[i].Name)
			pw.strOmit("value", p.Params[i].Value)
			pw.strOmit("fileName", p.Params[i].FileName)
			pw.strOmit("contentType", p.Params[i].ContentType)
			pw.strOmit("comment", p.Params[i].Comment)
			pw.close()
		}
		enc.b = append(enc.b, ']')
	}
	w.strOmit("encoding", p.Encoding)
	w.strOmit("comment", p.Comment)
	w.boolTrue("_aadproxyTruncated", p.Truncated)
	w.boolTrue("_aadproxyRawContent", p.Raw)
	w.close()
}

func (r *Response) encode(enc *encoder) {
	w := openObj(enc)
	w.int("status", r.Status)
	w.str("statusText", r.StatusText)
	w.str("httpVersion", r.HTTPVersion)
	w.key("cookies")
	appendCookies(w.e, r.Cookies)
	w.key("headers")
	appendNameValues(w.e, r.Headers)
	w.key("content")
	r.Content.encode(w.e)
	w.str("redirectURL", r.RedirectURL)
	w.int("headersSize", r.HeadersSize)
	w.int("bodySize", r.BodySize)
	w.strOmit("comment", r.Comment)
	w.strOmit("_error", r.Error)
	w.boolTrue("_aadproxySynthetic", r.Synthetic)
	w.extra(r.Extra, reflect.TypeFor[Response]())
	w.close()
}

func (c *Content) encode(enc *encoder) {
	w := openObj(enc)
	w.int("size", c.Size)
	if c.Compression != 0 {
		w.int("compression", c.Compression)
	}
	w.str("mimeType", c.MimeType)
	w.text("text", c.body, c.Text)
	w.strOmit("encoding", c.Encoding)
	w.strOmit("comment", c.Comment)
	w.boolTrue("_aadproxyTruncated", c.Truncated)
	w.boolTrue("_aadproxyRawContent", c.Raw)
	w.extra(c.Extra, reflect.TypeFor[Content]())
	w.close()
}

func (c *Cache) encode(enc *encoder) {
	w := openObj(enc)
	w.raw("beforeRequest", c.BeforeRequest)
	w.raw("afterRequest", c.AfterRequest)
	w.strOmit("comment", c.Comment)
	w.close()
}

func (t *Timings) encode(enc *encoder) {
	w := openObj(enc)
	w.num("blocked", t.Blocked)
	w.num("dns", t.DNS)
	w.num("connect", t.Connect)
	w.num("send", t.Send)
	w.num("wait", t.Wait)
	w.num("receive", t.Receive)
	w.num("ssl", t.SSL)
	w.strOmit("comment", t.Comment)
	w.extra(t.Extra, reflect.TypeFor[Timings]())
	w.close()
}

// emptyResponse is the response written for an exchange that got none: the
// schema requires the object, and status 0 is what browsers write for a
// request that failed before any answer.
func emptyResponse() *Response {
	return &Response{
		Cookies:     []Cookie{},
		Headers:     []NameValue{},
		HeadersSize: -1,
		BodySize:    -1,
	}
}

// logHeader is the start of a HAR document up to and including the "[" that
// opens log.entries; the recorder and the converter both begin with it.
func logHeader(creator, version string) []byte {
	enc := &encoder{b: []byte(`{"log":`)}
	w := openObj(enc)
	w.str("version", "1.2")
	w.key("creator")
	cw := openObj(enc)
	cw.str("name", creator)
	cw.str("version", version)
	cw.close()
	w.key("entries")
	return append(enc.b, '[')
}
