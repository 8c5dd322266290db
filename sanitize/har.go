package sanitize

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// sanitizedNote is added to the log comment of every sanitized HAR.
const sanitizedNote = "sanitized by aadproxy: secrets are replaced by REDACTED_lenN_hXXXXXX placeholders (same value, same placeholder)"

// entryCopy returns a sanitized copy of e; e is not changed.
func (s *sanitizer) entryCopy(e *trace.Entry) *trace.Entry {
	out := *e
	out.ServerIPAddress = bareIP(e.ServerIPAddress)
	out.Comment = s.scrub(e.Comment, "entry.comment")
	out.Extra = s.extra(e.Extra, "entry")
	out.Request = s.harRequest(&e.Request)
	if e.Response != nil {
		out.Response = s.harResponse(e.Response)
	}
	out.Cache = trace.Cache{
		BeforeRequest: s.rawJSON(e.Cache.BeforeRequest, "cache.beforeRequest"),
		AfterRequest:  s.rawJSON(e.Cache.AfterRequest, "cache.afterRequest"),
		Comment:       s.scrub(e.Cache.Comment, "cache.comment"),
	}
	out.Timings = e.Timings
	out.Timings.Extra = s.extra(e.Timings.Extra, "timings")
	out.Timings.Comment = s.scrub(e.Timings.Comment, "timings.comment")
	if e.ClientTLS != nil {
		t := *e.ClientTLS
		out.ClientTLS = &t
	}
	if e.ServerTLS != nil {
		t := *e.ServerTLS
		out.ServerTLS = &t
	}
	return &out
}

// extra sanitizes fields HAR does not define (Chrome's _initiator holds
// URLs with their queries; _webSocketMessages holds whole messages).
func (s *sanitizer) extra(m map[string]json.RawMessage, where string) map[string]json.RawMessage {
	if m == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = s.rawJSON(v, where+"."+k)
	}
	return out
}

func (s *sanitizer) nameValues(list []trace.NameValue, where string, fn func(name, v, where string) string) []trace.NameValue {
	if list == nil {
		return nil
	}
	out := make([]trace.NameValue, len(list))
	for i, nv := range list {
		loc := where + "[" + nv.Name + "]"
		out[i] = trace.NameValue{Name: nv.Name, Value: fn(nv.Name, nv.Value, loc), Comment: s.scrub(nv.Comment, loc)}
	}
	return out
}

func (s *sanitizer) cookies(list []trace.Cookie, where string) []trace.Cookie {
	if list == nil {
		return nil
	}
	out := make([]trace.Cookie, len(list))
	for i, c := range list {
		loc := where + "[" + c.Name + "]"
		c.Value = s.cookieValue(c.Name, c.Value, loc)
		c.Comment = s.scrub(c.Comment, loc)
		out[i] = c
	}
	return out
}

func (s *sanitizer) harRequest(r *trace.Request) trace.Request {
	out := *r
	out.URL = s.url(r.URL, "request.url")
	out.Headers = s.nameValues(r.Headers, "request.headers", s.header)
	out.Cookies = s.cookies(r.Cookies, "request.cookies")
	out.QueryString = s.nameValues(r.QueryString, "request.queryString", func(name, v, where string) string {
		return s.field(name, v, where)
	})
	out.Comment = s.scrub(r.Comment, "request.comment")
	out.Extra = s.extra(r.Extra, "request")
	if r.PostData != nil {
		p := *r.PostData
		p.Comment = s.scrub(p.Comment, "request.postData.comment")
		if p.Params != nil {
			p.Params = make([]trace.Param, len(r.PostData.Params))
			for i, pa := range r.PostData.Params {
				loc := "request.postData.params[" + pa.Name + "]"
				pa.Value = s.field(pa.Name, pa.Value, loc)
				pa.Comment = s.scrub(pa.Comment, loc)
				p.Params[i] = pa
			}
		}
		mimeType := p.MimeType
		if mimeType == "" {
			mimeType = headerValue(r.Headers, "Content-Type")
		}
		hb := s.harText(p.Text, p.Encoding, p.Raw, headerValues(r.Headers, "Content-Encoding"), mimeType, "request.postData")
		if hb.note != "" {
			p.Comment = joinComment(p.Comment, "aadproxy sanitize: "+hb.note)
		}
		if hb.text != p.Text || hb.encoding != p.Encoding {
			p.Raw = false
		}
		p.Text, p.Encoding = hb.text, hb.encoding
		p.Truncated = p.Truncated || hb.cut
		out.PostData = &p
	}
	return out
}

func (s *sanitizer) harResponse(r *trace.Response) *trace.Response {
	out := *r
	out.Headers = s.nameValues(r.Headers, "response.headers", s.header)
	out.Cookies = s.cookies(r.Cookies, "response.cookies")
	out.RedirectURL = s.url(r.RedirectURL, "response.redirectURL")
	out.Comment = s.scrub(r.Comment, "response.comment")
	out.Error = s.scrub(r.Error, "response._error")
	out.Extra = s.extra(r.Extra, "response")
	c := r.Content
	c.Comment = s.scrub(c.Comment, "response.content.comment")
	c.Extra = s.extra(r.Content.Extra, "response.content")
	mimeType := c.MimeType
	if mimeType == "" {
		mimeType = headerValue(r.Headers, "Content-Type")
	}
	hb := s.harText(c.Text, c.Encoding, c.Raw, headerValues(r.Headers, "Content-Encoding"), mimeType, "response.content")
	if hb.note != "" {
		c.Comment = joinComment(c.Comment, "aadproxy sanitize: "+hb.note)
	}
	if hb.text != c.Text || hb.encoding != c.Encoding {
		// Whatever was raw has been decoded or replaced: the size is now
		// the content's own.
		if c.Raw {
			c.Size, c.Compression = trace.Int(hb.size), 0
		}
		c.Raw = false
	}
	c.Text, c.Encoding = hb.text, hb.encoding
	c.Truncated = c.Truncated || hb.cut
	out.Content = c
	return &out
}

// harBody is a HAR body as harText leaves it.
type harBody struct {
	text, encoding string
	note           string // for the comment: how the body's form changed
	size           int    // bytes the new text holds (decoded from base64); set when it changed
	cut            bool   // raw content inflated past the decode limit: a prefix
}

// harText sanitizes HAR body text. encoding "base64" is undone and redone;
// raw marks wire bytes still under contentEncoding, which are decoded first
// (or replaced when they cannot be). The text is returned unchanged when
// nothing in it was secret. Raw content that inflates past the decode limit
// comes back as its decoded prefix, sanitized, marked cut.
func (s *sanitizer) harText(text, encoding string, raw bool, contentEncoding, mimeType, where string) harBody {
	replaced := func(t, note string) harBody { return harBody{text: t, note: note, size: len(t)} }
	if text == "" {
		return harBody{text: text, encoding: encoding}
	}
	isB64 := strings.EqualFold(encoding, "base64")
	var data []byte
	if !isB64 {
		data = []byte(text)
	} else {
		// Standard base64 first: it is what HAR writers use, and a failed
		// attempt costs a body's worth of memory.
		d, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			_, d = decodeB64(text)
		}
		if d == nil {
			d, _ = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		}
		if d == nil {
			return replaced(s.redact(where, KindBody, text), "content declared base64 but not decodable; replaced")
		}
		data = d
	}
	var notes []string
	cut := false
	if raw && contentEncoding != "" {
		b := flow.Body{Raw: data, Encoding: contentEncoding, DecodeLimit: flow.DecodeLimitFor(mimeType, flow.DefaultDecodeLimit)}
		d, err := b.Decoded()
		if len(d) == 0 {
			return replaced(s.redact(where, KindBody, string(data)), "raw "+contentEncoding+" content could not be decoded; replaced")
		}
		data = d
		if limit, ok := flow.IsCut(err); ok {
			cut = true
			notes = append(notes, fmt.Sprintf("raw %s content inflates past %d bytes; only those, decoded and sanitized, are kept", contentEncoding, limit))
		} else {
			notes = append(notes, "raw "+contentEncoding+" content decoded so it could be sanitized")
		}
	}
	out, changed, bodyCut, note := s.body(data, mimeType, where)
	cut = cut || bodyCut
	if note != "" {
		notes = append(notes, note)
	}
	if (!changed && len(notes) == 0) || s.detect {
		// Check drops what it sanitizes: nothing to encode again.
		return harBody{text: text, encoding: encoding, cut: cut}
	}
	hb := harBody{text: string(out), note: strings.Join(notes, "; "), size: len(out), cut: cut}
	// Binary, or text with NUL and other control bytes, goes back as
	// base64, as aadproxy's writers store it: a NUL escaped in JSON text
	// takes six bytes.
	if isB64 || !trace.IsText(out) {
		hb.text, hb.encoding = base64.StdEncoding.EncodeToString(out), "base64"
	}
	return hb
}

// bareIP returns a serverIPAddress the HAR schema accepts: Chrome writes
// IPv6 addresses in brackets, which the schema rejects; anything that is
// not an address is dropped.
func bareIP(v string) string {
	if v == "" {
		return v
	}
	host, _, _ := strings.Cut(strings.Trim(v, "[]"), "%")
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return ""
}

// headerValues joins every value of the named header, as a chain of
// Content-Encoding lines is read.
func headerValues(h []trace.NameValue, name string) string {
	var vals []string
	for _, kv := range h {
		if strings.EqualFold(kv.Name, name) {
			vals = append(vals, kv.Value)
		}
	}
	return strings.Join(vals, ", ")
}

func headerValue(h []trace.NameValue, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv.Name, name) {
			return kv.Value
		}
	}
	return ""
}

func joinComment(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// HARFile sanitizes the HAR at in and writes the result to out. Entries are
// streamed one at a time (trace.NewReader), so memory is bounded by the
// largest entry. The output is written to a private (0600) temporary file
// in out's folder and renamed over out only once complete: on any error
// (a damaged input included) nothing is written to out. in and out must not
// be the same file. The log's creator, browser and pages are kept (page
// titles sanitized) and a note is added to the log comment.
//
// o is passed through Options.Default; pass a Key (KeyFromFile) for
// deterministic output.
func HARFile(in, out string, o Options) (Report, error) {
	o = o.Default()
	if err := o.Validate(); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	inInfo, err := os.Stat(in)
	if err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	if outInfo, err := os.Stat(out); err == nil && os.SameFile(inInfo, outInfo) {
		return Report{}, fmt.Errorf("sanitize %s: refusing to overwrite the input with the output %s", in, out)
	}
	src, err := os.Open(in)
	if err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	defer src.Close()

	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return Report{}, fmt.Errorf("sanitize %s: create output: %w", in, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	rec := &recorder{}
	if err := writeSanitized(src, tmp, newSanitizer(o, rec)); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	if err := tmp.Sync(); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: write output: %w", in, err)
	}
	if err := tmp.Close(); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: write output: %w", in, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	committed = true
	var rep Report
	rec.appendTo(&rep)
	return rep, nil
}

// writeSanitized streams a HAR from src to dst through s. Log fields read
// before the entries are written before them; fields the input has only
// after its entries are written after them, with required ones defaulted.
func writeSanitized(src io.Reader, dst io.Writer, s *sanitizer) error {
	r, err := trace.NewReader(src)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(dst, 1<<20)
	head := r.Log()
	s.entry = -1
	written := map[string]bool{}
	first := true
	field := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		fmt.Fprintf(w, "%q:", name)
		w.Write(b)
		written[name] = true
		return nil
	}
	w.WriteString(`{"log":{`)
	if err := s.logFields(head, written, field, false); err != nil {
		return err
	}
	if !first {
		w.WriteByte(',')
	}
	first = false
	w.WriteString(`"entries":[`)
	n := 0
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if e == nil {
			return &trace.DamageError{Entry: n, Err: errors.New("entry is null")}
		}
		s.entry = n
		b, err := s.entryCopy(e).MarshalJSON()
		if err != nil {
			return err
		}
		if n > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(b)
		n++
	}
	w.WriteString("\n]")
	s.entry = -1
	if err := s.logFields(r.Log(), written, field, true); err != nil {
		return err
	}
	w.WriteString("}}\n")
	return w.Flush()
}

// logFields writes the log's fields that are set and not yet written; at
// the end it also writes version and creator when the input had none, and
// the comment with the sanitized note.
func (s *sanitizer) logFields(l trace.Log, written map[string]bool, field func(string, any) error, end bool) error {
	if !written["version"] && (l.Version != "" || end) {
		v := l.Version
		if v == "" {
			v = "1.2"
		}
		if err := field("version", v); err != nil {
			return err
		}
	}
	if !written["creator"] && (l.Creator.Name != "" || end) {
		c := l.Creator
		c.Comment = s.scrub(c.Comment, "log.creator.comment")
		if c.Name == "" {
			c.Name = "unknown"
		}
		if err := field("creator", c); err != nil {
			return err
		}
	}
	if !written["browser"] && l.Browser != nil {
		b := *l.Browser
		b.Comment = s.scrub(b.Comment, "log.browser.comment")
		if err := field("browser", b); err != nil {
			return err
		}
	}
	if !written["pages"] && len(l.Pages) > 0 {
		pages := make([]trace.Page, len(l.Pages))
		for i, p := range l.Pages {
			loc := fmt.Sprintf("log.pages[%d]", i)
			p.Title = s.keep(p.Title, loc+".title")
			p.Comment = s.scrub(p.Comment, loc+".comment")
			p.PageTimings.Comment = s.scrub(p.PageTimings.Comment, loc+".pageTimings.comment")
			pages[i] = p
		}
		if err := field("pages", pages); err != nil {
			return err
		}
	}
	if end {
		c := s.scrub(l.Comment, "log.comment")
		if !s.detect && !strings.Contains(c, sanitizedNote) {
			c = joinComment(c, sanitizedNote)
		}
		if err := field("comment", c); err != nil {
			return err
		}
	}
	return nil
}
