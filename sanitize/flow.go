package sanitize

import (
	"slices"

	"github.com/aadproxy/aadproxy/flow"
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

// flowBody sanitizes a flow body. The result never shares Raw with b.
func (s *sanitizer) flowBody(b flow.Body, mimeType, where string) flow.Body {
	out := b
	out.Raw = slices.Clone(b.Raw)
	if len(b.Raw) == 0 {
		return out
	}
	data := b.Raw
	if b.Encoding != "" {
		d, _ := b.Decoded()
		if len(d) == 0 {
			// Nothing could be decoded: the bytes are unreadable here,
			// so they cannot be shown to be free of secrets.
			out.Raw = []byte(s.redact(where, KindBody, string(b.Raw)))
			out.Encoding = ""
			return out
		}
		data = d
	}
	nb, changed, _ := s.body(data, mimeType, where)
	if !changed && b.Encoding == "" {
		return out
	}
	// An encoded body is always replaced by its decoded form, even when
	// nothing in it was secret: bytes a decoder skips (after the end of a
	// gzip stream, say) are bytes nobody checked.
	out.Raw = slices.Clone(nb)
	out.Encoding = ""
	return out
}
