package ui

import (
	"net/http"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/sanitize"
)

// viewOpts say how an answer is rendered.
type viewOpts struct {
	// sanitized passes every flow through the sanitizer first (the same
	// placeholders as `aadproxy sanitize`), for callers that hand what they
	// read to someone else: the MCP server, scripts that share.
	sanitized bool
}

// viewOf reads ?sanitized=1.
func viewOf(r *http.Request) viewOpts {
	return viewOpts{sanitized: r.URL.Query().Get("sanitized") == "1"}
}

// sanitizedFlow is a sanitized copy of a stored flow; the stored one is
// untouched and its caches are not shared.
func (s *Store) sanitizedFlow(f *flow.Flow) *flow.Flow {
	return sanitize.Flow(detach(f), s.sanitizeOpts, nil)
}

// sanitizeSummary rewrites the parts of a row taken from the flow (the
// path with its query, the error) from a sanitized copy of its request
// line, which costs no body.
func (s *Store) sanitizeSummary(sum *Summary, e *entry) {
	clean := baseSummary(s.sanitizedFlow(stub(e.flow.Load())))
	sum.Host, sum.Path, sum.Error = clean.Host, clean.Path, clean.Error
}

// scrubFinding removes secrets a finding's text might quote.
func (s *Store) scrubFinding(f inspect.Finding) inspect.Finding {
	f.Title = sanitize.Text(f.Title, s.sanitizeOpts)
	f.Evidence = sanitize.Text(f.Evidence, s.sanitizeOpts)
	f.Fix = sanitize.Text(f.Fix, s.sanitizeOpts)
	return f
}
