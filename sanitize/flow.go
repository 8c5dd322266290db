package sanitize

import (
	"fmt"
	"slices"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// Flow returns a sanitized copy of f; f is never changed. Redactions are
// appended to rep when it is not nil, under f.Index. A body whose
// Content-Encoding can be undone comes back decoded (Raw holds the
// sanitized text and Encoding is ""), while the Content-Encoding header is
// kept, as trace.FlowFromEntry does; one that cannot be decoded at all is
// replaced by a placeholder.
//
// o should come from Options.Default, called once per trace: with an empty
// Key each call would draw a new random key, and the same secret would get
// different placeholders in different flows.
func Flow(f *flow.Flow, o Options, rep *Report) *flow.Flow {
	if f == nil {
		return nil
	}
	o = o.Default()
	rec := &recorder{}
	s := newSanitizer(o, rec)
	s.entry = f.Index
	out := s.flow(f)
	rec.appendTo(rep)
	return out
}

// FlowsFile sanitizes the trace at in (a SAZ, or any trace trace.Open
// reads) flow by flow into out, in the format out's extension names (.saz
// or .har), as trace.ConvertWith writes it: atomically, into a private
// file, nothing on error. Each flow is read, sanitized and written before
// the next is read, so memory is bounded by one flow (with the readers'
// caps on bodies), and no unsanitized copy is written anywhere. co's
// Transform is replaced. A HAR that stays a HAR is better given to
// HARFile, which also keeps the log's pages, comments and browser.
func FlowsFile(in, out string, o Options, co trace.ConvertOptions) (Report, error) {
	o = o.Default()
	if err := o.Validate(); err != nil {
		return Report{}, fmt.Errorf("sanitize %s: %w", in, err)
	}
	rec := &recorder{}
	s := newSanitizer(o, rec)
	s.share = true
	co.Transform = func(f *flow.Flow) (*flow.Flow, error) {
		s.entry = f.Index
		return s.flow(f), nil
	}
	if err := trace.ConvertWith(in, out, co); err != nil {
		return Report{}, fmt.Errorf("sanitize: %w", err)
	}
	var rep Report
	rec.appendTo(&rep)
	return rep, nil
}

// Text removes secrets from free text (a finding's evidence, an error
// message): JWTs, Entra's opaque tokens and codes, and secret-named
// key=value pairs, with the same placeholders Flow gives for the same key.
func Text(t string, o Options) string {
	o = o.Default()
	s := newSanitizer(o, &recorder{})
	s.entry = -1
	return s.scrub(t, "text")
}

func (s *sanitizer) flow(f *flow.Flow) *flow.Flow {
	out := *f
	if f.Request != nil {
		r := *f.Request
		r.URL = s.url(f.Request.URL, "request.url")
		r.Header = s.flowHeaders(f.Request.Header, "request")
		r.Body = s.flowBody(f.Request.Body, f.Request.Header.Get("Content-Type"), "request.body")
		out.Request = &r
	}
	if f.Response != nil {
		r := *f.Response
		r.Header = s.flowHeaders(f.Response.Header, "response")
		r.Body = s.flowBody(f.Response.Body, f.Response.Header.Get("Content-Type"), "response.body")
		out.Response = &r
	}
	out.Error = s.scrub(f.Error, "error")
	if f.ClientTLS != nil {
		t := *f.ClientTLS
		out.ClientTLS = &t
	}
	if f.ServerTLS != nil {
		t := *f.ServerTLS
		out.ServerTLS = &t
	}
	return &out
}

func (s *sanitizer) flowHeaders(h flow.Headers, side string) flow.Headers {
	if h == nil {
		return nil
	}
	out := make(flow.Headers, len(h))
	for i, kv := range h {
		out[i] = flow.Header{Name: kv.Name, Value: s.header(kv.Name, kv.Value, side+".headers["+kv.Name+"]")}
	}
	return out
}

// flowBody sanitizes a flow body. The result never shares Raw (or its
// decoded view) with b, unless s.share.
func (s *sanitizer) flowBody(b flow.Body, mimeType, where string) flow.Body {
	clone := slices.Clone[[]byte]
	if s.share {
		clone = func(b []byte) []byte { return b }
	}
	out := b
	if len(b.Raw) == 0 {
		out.Raw = clone(b.Raw)
		return out
	}
	data := b.Raw
	if b.Encoding != "" {
		d, err := b.Decoded()
		if len(d) == 0 {
			// Nothing could be decoded: the bytes are unreadable here,
			// so they cannot be shown to be free of secrets.
			out.Raw = []byte(s.redact(where, KindBody, string(b.Raw)))
			out.Encoding = ""
			return out
		}
		if _, cut := flow.IsCut(err); cut {
			// The body inflates past its decode limit (a bomb, most
			// likely): only the prefix that was checked is kept.
			out.Truncated = true
		}
		data = d
	}
	nb, changed, cut, _ := s.body(data, mimeType, where)
	if cut {
		out.Truncated = true // gzip bytes without a Content-Encoding, cut at the limit
	}
	if !changed && b.Encoding == "" {
		out.Raw = clone(b.Raw)
		return out
	}
	// An encoded body is always replaced by its decoded form, even when
	// nothing in it was secret: bytes a decoder skips (after the end of a
	// gzip stream, say) are bytes nobody checked. A changed body is new
	// bytes already; an unchanged one is b's view, copied.
	if !changed {
		nb = clone(nb)
	}
	out = flow.Body{Raw: nb, Size: b.Size, Truncated: out.Truncated, DecodeLimit: b.DecodeLimit}
	return out
}
