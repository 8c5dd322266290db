package filter

import (
	"bytes"
	"strings"
	"sync"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Match reports whether the subject matches. A nil *Expr, like the empty
// expression, matches everything.
//
// Each term computes only what it needs, once per call: ~d, ~u, ~m and ~c
// read fields and never touch a body, and terms are tried cheapest first.
// Body and identity terms decode bodies with flow.Body.Decoded, which
// caches into the Flow: Match must not be called concurrently on the same
// Flow (nor while the pipeline may decode it); the caller serializes.
// Different flows may be matched in parallel with one Expr.
func (e *Expr) Match(s Subject) bool {
	if e == nil || e.root == nil {
		return true
	}
	st := state{Subject: s}
	return e.root.eval(&st)
}

// state is one Match call's lazily computed views of the subject.
type state struct {
	Subject
	view     *inspect.View
	host     string
	hostDone bool
}

// View returns the subject's decoded view, made on first use.
func (st *state) View() *inspect.View {
	if st.view == nil {
		st.view = inspect.NewView(st.Flow)
	}
	return st.view
}

// Host returns the request host without the port.
func (st *state) Host() string {
	if !st.hostDone {
		st.hostDone = true
		st.host = requestHost(st.Flow.Request)
	}
	return st.host
}

func (n *node) eval(st *state) bool {
	switch n.op {
	case opNot:
		return !n.kids[0].eval(st)
	case opAnd:
		for _, k := range n.order {
			if !k.eval(st) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.order {
			if k.eval(st) {
				return true
			}
		}
		return false
	}
	return n.term.match(st)
}

func (t *term) match(st *state) bool {
	// Terms about findings and transactions do not need the flow.
	switch t.kind {
	case kAll:
		return true
	case kRule:
		for i := range st.Findings {
			if strings.EqualFold(st.Findings[i].Rule, t.arg) {
				return true
			}
		}
		return false
	case kSeverity:
		for i := range st.Findings {
			if st.Findings[i].Severity >= t.sev {
				return true
			}
		}
		return false
	case kTxn:
		return st.Txn == t.n
	case kAADSTS:
		for i := range st.Findings {
			if st.Findings[i].Code == t.n {
				return true
			}
		}
		if st.Flow == nil {
			return false
		}
		for _, e := range st.View().Errors() {
			for _, c := range e.Codes {
				if c == t.n {
					return true
				}
			}
		}
		return false
	}

	f := st.Flow
	if f == nil || f.Request == nil {
		return false
	}
	req, resp := f.Request, f.Response
	switch t.kind {
	case kDomain:
		return t.matchString(st.Host())
	case kURL:
		return t.matchString(req.URL)
	case kMethod:
		return t.matchString(req.Method)
	case kCode:
		if resp == nil {
			return false
		}
		if t.class {
			return resp.Status/100 == t.n && resp.Status >= 100
		}
		return resp.Status == t.n
	case kHeader:
		return headerMatch(t, req.Header) || resp != nil && headerMatch(t, resp.Header)
	case kHeaderReq:
		return headerMatch(t, req.Header)
	case kHeaderResp:
		return resp != nil && headerMatch(t, resp.Header)
	case kBody:
		return bodyMatch(t, &req.Body) || resp != nil && bodyMatch(t, &resp.Body)
	case kBodyReq:
		return bodyMatch(t, &req.Body)
	case kBodyResp:
		return resp != nil && bodyMatch(t, &resp.Body)
	case kType:
		return typeMatch(t, req.Header) || resp != nil && typeMatch(t, resp.Header)
	case kTypeReq:
		return typeMatch(t, req.Header)
	case kTypeResp:
		return resp != nil && typeMatch(t, resp.Header)
	case kError:
		return f.Error != "" || resp != nil && resp.Synthetic
	case kNoResponse:
		return resp == nil
	case kResponse:
		return resp != nil
	case kAsset:
		return resp != nil && isAsset(resp.Header)
	case kTenant:
		return st.tenantMatch(t.arg)
	case kClient:
		return st.clientMatch(t.arg)
	case kCookie:
		return cookieMatch(req, resp, t.arg)
	}
	return false
}

func (t *term) matchString(s string) bool {
	if m, ok := decide(&t.lit, s, strings.IndexByte); ok {
		return m
	}
	return t.re.MatchString(s)
}

func (t *term) matchBytes(b []byte) bool {
	if m, ok := decide(&t.lit, b, bytes.IndexByte); ok {
		return m
	}
	return t.re.Match(b)
}

// linePool holds the buffers header lines are built in, so that ~h over a
// recording does not allocate for every flow.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// headerMatch tries the regex on each header line as "Name: value", the
// form mitmproxy matches.
func headerMatch(t *term, h flow.Headers) bool {
	if len(h) == 0 {
		return false
	}
	buf := linePool.Get().(*[]byte)
	defer linePool.Put(buf)
	for _, kv := range h {
		*buf = append(append(append((*buf)[:0], kv.Name...), ": "...), kv.Value...)
		if t.matchBytes(*buf) {
			return true
		}
	}
	return false
}

// bodyMatch tries the regex on the decoded body, or on the raw bytes when
// decoding failed outright (as mitmproxy's get_content(strict=False)).
func bodyMatch(t *term, b *flow.Body) bool {
	if len(b.Raw) == 0 {
		return false
	}
	data, err := b.Decoded()
	if err != nil && len(data) == 0 {
		data = b.Raw
	}
	return t.matchBytes(data)
}

func typeMatch(t *term, h flow.Headers) bool {
	for _, kv := range h {
		if strings.EqualFold(kv.Name, "Content-Type") && t.matchString(kv.Value) {
			return true
		}
	}
	return false
}

// assetTypes are the response content types mitmproxy's ~a calls assets:
// scripts, style sheets, images and fonts. Each is searched for anywhere in
// the Content-Type, as mitmproxy does.
var assetTypes = []string{
	"text/javascript",
	"application/x-javascript",
	"application/javascript",
	"text/css",
	"image/",
	"font/",
	"application/font",
}

func isAsset(h flow.Headers) bool {
	for _, kv := range h {
		if !strings.EqualFold(kv.Name, "Content-Type") {
			continue
		}
		for _, a := range assetTypes {
			if decode.ContainsFold(kv.Value, a) {
				return true
			}
		}
	}
	return false
}

// tenantMatch looks for the tenant in the path first (no body needed),
// then in the tokens' tid and client_info's utid.
func (st *state) tenantMatch(tid string) bool {
	v := st.View()
	if strings.EqualFold(v.TenantInPath(), tid) {
		return true
	}
	for i := range v.Tokens() {
		tok := &v.Tokens()[i]
		if j := tok.JWT(); j != nil && strings.EqualFold(j.Tid(), tid) {
			return true
		}
		if tok.ClientInfo != nil && strings.EqualFold(tok.ClientInfo.UTID, tid) {
			return true
		}
	}
	return false
}

// clientMatch looks for client_id in the query or form, then for a token
// issued to the client (azp or appid).
func (st *state) clientMatch(id string) bool {
	v := st.View()
	for _, c := range v.Params()["client_id"] {
		if strings.EqualFold(strings.TrimSpace(c), id) {
			return true
		}
	}
	for i := range v.Tokens() {
		if j := v.Tokens()[i].JWT(); j != nil && strings.EqualFold(j.Appid(), id) {
			return true
		}
	}
	return false
}

// cookieMatch reports a cookie whose name starts with prefix (in any case)
// in the request's Cookie headers or the response's Set-Cookie lines.
func cookieMatch(req *flow.Request, resp *flow.Response, prefix string) bool {
	for _, c := range decode.RequestCookies(req) {
		if hasPrefixFold(c.Name, prefix) {
			return true
		}
	}
	if resp == nil {
		return false
	}
	for _, line := range resp.Header.Values("Set-Cookie") {
		if c, err := decode.ParseSetCookie(line); err == nil && hasPrefixFold(c.Name, prefix) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// requestHost returns the host of the request URL without the port (or,
// for an origin-form URL, of the Host header), by slicing rather than
// url.Parse: ~d runs over every flow, and parsing allocates.
func requestHost(req *flow.Request) string {
	rest := req.URL
	switch {
	case strings.HasPrefix(rest, "//"):
		rest = rest[2:]
	case strings.HasPrefix(rest, "/") || rest == "":
		rest = req.Header.Get("Host")
	default:
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") { // [IPv6]:port
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return rest[1:i]
		}
		return rest[1:]
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
