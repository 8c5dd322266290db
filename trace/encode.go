package trace

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The HAR writer is hand-written rather than left to encoding/json: the
// recorder runs for every proxied exchange, and encoding/json re-validates
// the output of every nested MarshalJSON, which would scan each captured body
// once per nesting level. These functions append to a caller's buffer so the
// recorder can reuse one.

// objWriter appends the members of one JSON object.
type objWriter struct {
	b     []byte
	first bool
}

func openObj(b []byte) objWriter { return objWriter{b: append(b, '{'), first: true} }

func (w *objWriter) close() []byte { return append(w.b, '}') }

func (w *objWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *objWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *objWriter) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *objWriter) int(k string, v Int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *objWriter) num(k string, v float64) {
	w.key(k)
	w.b = appendMillis(w.b, v)
}

func (w *objWriter) boolTrue(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "true"...)
	}
}

func (w *objWriter) raw(k string, v json.RawMessage) {
	if len(v) > 0 && json.Valid(v) {
		w.key(k)
		w.b = append(w.b, v...)
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

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, since JSON text cannot carry it; bodies that are not
// UTF-8 are written as base64 before they get here.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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
		r, size := utf8.DecodeRuneInString(s[i:])
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
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (e *Entry) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.strOmit("pageref", e.Pageref)
	w.str("startedDateTime", e.StartedDateTime)
	w.num("time", e.Time)
	w.key("request")
	w.b = e.Request.appendJSON(w.b)
	w.key("response")
	if e.Response != nil {
		w.b = e.Response.appendJSON(w.b)
	} else {
		w.b = emptyResponse().appendJSON(w.b)
	}
	w.key("cache")
	w.b = e.Cache.appendJSON(w.b)
	w.key("timings")
	w.b = e.Timings.appendJSON(w.b)
	w.strOmit("serverIPAddress", e.ServerIPAddress)
	w.strOmit("connection", e.Connection)
	w.strOmit("comment", e.Comment)
	w.strOmit("_serverAddress", e.ServerAddress)
	w.strOmit("_clientAddress", e.ClientAddress)
	if e.ClientTLS != nil {
		w.key("_aadproxyClientTLS")
		w.b = e.ClientTLS.appendJSON(w.b)
	}
	if e.ServerTLS != nil {
		w.key("_aadproxyServerTLS")
		w.b = e.ServerTLS.appendJSON(w.b)
	}
	w.strOmit("_aadproxyDone", e.Done)
	w.extra(e.Extra, reflect.TypeFor[Entry]())
	return w.close()
}

func (t *TLS) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.str("version", t.Version)
	w.strOmit("alpn", t.ALPN)
	w.strOmit("serverName", t.ServerName)
	return w.close()
}

func appendNameValues(b []byte, list []NameValue) []byte {
	b = append(b, '[')
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		w := openObj(b)
		w.str("name", list[i].Name)
		w.str("value", list[i].Value)
		w.strOmit("comment", list[i].Comment)
		b = w.close()
	}
	return append(b, ']')
}

func appendCookies(b []byte, list []Cookie) []byte {
	b = append(b, '[')
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		c := &list[i]
		w := openObj(b)
		w.str("name", c.Name)
		w.str("value", c.Value)
		w.strOmit("path", c.Path)
		w.strOmit("domain", c.Domain)
		w.strOmit("expires", c.Expires)
		w.boolTrue("httpOnly", c.HTTPOnly)
		w.boolTrue("secure", c.Secure)
		w.strOmit("sameSite", c.SameSite)
		w.strOmit("comment", c.Comment)
		b = w.close()
	}
	return append(b, ']')
}

func (r *Request) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.str("method", r.Method)
	w.str("url", r.URL)
	w.str("httpVersion", r.HTTPVersion)
	w.key("cookies")
	w.b = appendCookies(w.b, r.Cookies)
	w.key("headers")
	w.b = appendNameValues(w.b, r.Headers)
	w.key("queryString")
	w.b = appendNameValues(w.b, r.QueryString)
	if r.PostData != nil {
		w.key("postData")
		w.b = r.PostData.appendJSON(w.b)
	}
	w.int("headersSize", r.HeadersSize)
	w.int("bodySize", r.BodySize)
	w.strOmit("comment", r.Comment)
	w.extra(r.Extra, reflect.TypeFor[Request]())
	return w.close()
}

func (p *PostData) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.str("mimeType", p.MimeType)
	w.strOmit("text", p.Text)
	if len(p.Params) > 0 {
		w.key("params")
		w.b = append(w.b, '[')
		for i := range p.Params {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			pw := openObj(w.b)
			pw.str("name", p.Params[i].Name)
			pw.strOmit("value", p.Params[i].Value)
			pw.strOmit("fileName", p.Params[i].FileName)
			pw.strOmit("contentType", p.Params[i].ContentType)
			pw.strOmit("comment", p.Params[i].Comment)
			w.b = pw.close()
		}
		w.b = append(w.b, ']')
	}
	w.strOmit("encoding", p.Encoding)
	w.strOmit("comment", p.Comment)
	w.boolTrue("_aadproxyTruncated", p.Truncated)
	return w.close()
}

func (r *Response) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.int("status", r.Status)
	w.str("statusText", r.StatusText)
	w.str("httpVersion", r.HTTPVersion)
	w.key("cookies")
	w.b = appendCookies(w.b, r.Cookies)
	w.key("headers")
	w.b = appendNameValues(w.b, r.Headers)
	w.key("content")
	w.b = r.Content.appendJSON(w.b)
	w.str("redirectURL", r.RedirectURL)
	w.int("headersSize", r.HeadersSize)
	w.int("bodySize", r.BodySize)
	w.strOmit("comment", r.Comment)
	w.strOmit("_error", r.Error)
	w.boolTrue("_aadproxySynthetic", r.Synthetic)
	w.extra(r.Extra, reflect.TypeFor[Response]())
	return w.close()
}

func (c *Content) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.int("size", c.Size)
	if c.Compression != 0 {
		w.int("compression", c.Compression)
	}
	w.str("mimeType", c.MimeType)
	w.strOmit("text", c.Text)
	w.strOmit("encoding", c.Encoding)
	w.strOmit("comment", c.Comment)
	w.boolTrue("_aadproxyTruncated", c.Truncated)
	w.boolTrue("_aadproxyRawContent", c.Raw)
	w.extra(c.Extra, reflect.TypeFor[Content]())
	return w.close()
}

func (c *Cache) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.raw("beforeRequest", c.BeforeRequest)
	w.raw("afterRequest", c.AfterRequest)
	w.strOmit("comment", c.Comment)
	return w.close()
}

func (t *Timings) appendJSON(b []byte) []byte {
	w := openObj(b)
	w.num("blocked", t.Blocked)
	w.num("dns", t.DNS)
	w.num("connect", t.Connect)
	w.num("send", t.Send)
	w.num("wait", t.Wait)
	w.num("receive", t.Receive)
	w.num("ssl", t.SSL)
	w.strOmit("comment", t.Comment)
	w.extra(t.Extra, reflect.TypeFor[Timings]())
	return w.close()
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
	w := openObj([]byte(`{"log":`))
	w.str("version", "1.2")
	w.key("creator")
	cw := openObj(w.b)
	cw.str("name", creator)
	cw.str("version", version)
	w.b = cw.close()
	w.key("entries")
	return append(w.b, '[')
}
