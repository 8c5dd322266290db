package ui

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// How much of a body the detail carries; the body URL serves all of it.
const (
	maxDetailText   = 256 << 10
	maxDetailBinary = 4 << 10
)

// Detail is one flow in full (docs/api.md).
type Detail struct {
	Summary     Summary           `json:"summary"`
	Request     *RequestDetail    `json:"request"`
	Response    *ResponseDetail   `json:"response"`
	Error       string            `json:"error"`
	Timings     map[string]any    `json:"timings"`
	ClientAddr  string            `json:"clientAddr"`
	ServerAddr  string            `json:"serverAddr"`
	ClientTLS   *flow.TLSInfo     `json:"clientTLS"`
	ServerTLS   *flow.TLSInfo     `json:"serverTLS"`
	Cookies     Cookies           `json:"cookies"`
	Decoded     Decoded           `json:"decoded"`
	Findings    []inspect.Finding `json:"findings"`
	Transaction *Transaction      `json:"transaction"`
}

// RequestDetail is the request side of a Detail.
type RequestDetail struct {
	Method string       `json:"method"`
	URL    string       `json:"url"`
	Proto  string       `json:"proto"`
	Header flow.Headers `json:"headers"`
	Body   BodyDetail   `json:"body"`
}

// ResponseDetail is the response side of a Detail.
type ResponseDetail struct {
	Status    int          `json:"status"`
	Reason    string       `json:"reason"`
	Proto     string       `json:"proto"`
	Header    flow.Headers `json:"headers"`
	Body      BodyDetail   `json:"body"`
	Synthetic bool         `json:"synthetic"`
}

// BodyDetail is a body as the Body tab shows it.
type BodyDetail struct {
	Size        int64  `json:"size"`
	Captured    int    `json:"captured"`
	Truncated   bool   `json:"truncated"`
	Encoding    string `json:"encoding"`
	ContentType string `json:"contentType"`
	Text        string `json:"text,omitempty"`
	Base64      string `json:"base64,omitempty"`
	Omitted     int    `json:"omitted"`
	DecodeError string `json:"decodeError,omitempty"`
}

// Cookies are what the request sent and what the response set.
type Cookies struct {
	Sent []CookieDetail `json:"sent"`
	Set  []CookieDetail `json:"set"`
}

// CookieDetail is one cookie; Label names Entra's and frameworks' cookies.
type CookieDetail struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Size   int    `json:"size"`
	Label  string `json:"label,omitempty"`
	Attrs  string `json:"attrs,omitempty"`
	Change string `json:"change,omitempty"`
}

// Decoded holds what the decoders read in the flow.
type Decoded struct {
	Tokens     []TokenDetail        `json:"tokens"`
	ClientInfo *decode.ClientInfo   `json:"clientInfo,omitempty"`
	PRT        *decode.PRTCookie    `json:"prt,omitempty"`
	SAML       []decode.SAMLMessage `json:"saml,omitempty"`
	Errors     []ErrorDetail        `json:"errors"`
	Form       map[string]string    `json:"form,omitempty"`
	Params     url.Values           `json:"params,omitempty"`
}

// TokenDetail is a token found in the flow.
type TokenDetail struct {
	Where  string         `json:"where"`
	Kind   string         `json:"kind"`
	Len    int            `json:"len"`
	Header map[string]any `json:"header,omitempty"`
	Claims map[string]any `json:"claims,omitempty"`
	Times  []TimeDetail   `json:"times,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// TimeDetail is a token time claim against the server's clock.
type TimeDetail struct {
	Claim    string `json:"claim"`
	Value    int64  `json:"value"`
	UTC      string `json:"utc"`
	Relative string `json:"relative"`
}

// ErrorDetail is an AADSTS error with its playbook.
type ErrorDetail struct {
	Code          int    `json:"code"`
	Codes         []int  `json:"codes,omitempty"`
	Name          string `json:"name"`
	OAuthError    string `json:"oauthError,omitempty"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
	TraceID       string `json:"traceId"`
	RequestID     string `json:"requestId"`
	Timestamp     string `json:"timestamp"`
	Source        string `json:"source"`
	Playbook      string `json:"playbook"`
}

// detail builds the Detail of id; ok is false when no such flow is held.
func (s *Store) detail(id int64, v viewOpts) (Detail, bool) {
	s.mu.Lock()
	e := s.entryLocked(id)
	var sum Summary
	if e != nil {
		sum = s.summaryLocked(e)
	}
	s.mu.Unlock()
	if e == nil {
		return Detail{}, false
	}
	if v.sanitized {
		s.sanitizeSummary(&sum, e)
	}
	d := Detail{Summary: sum, Findings: []inspect.Finding{}}
	if fs := s.findingsOf(e, v); fs != nil {
		d.Findings = fs
	}
	d.Transaction = s.transactionOf(id, v)
	s.decodeMu.Lock()
	defer s.decodeMu.Unlock()
	f := e.flow.Load()
	if v.sanitized {
		f = s.sanitizedFlow(f)
	}
	d.Error, d.ClientAddr, d.ServerAddr, d.ClientTLS, d.ServerTLS = f.Error, f.ClientAddr, f.ServerAddr, f.ClientTLS, f.ServerTLS
	d.Timings = timings(f)
	d.Request = &RequestDetail{Method: f.Request.Method, URL: f.Request.URL, Proto: f.Request.Proto,
		Header: orEmpty(f.Request.Header), Body: bodyDetail(&f.Request.Body, f.Request.Header)}
	if r := f.Response; r != nil {
		d.Response = &ResponseDetail{Status: r.Status, Reason: r.Reason, Proto: r.Proto,
			Header: orEmpty(r.Header), Body: bodyDetail(&r.Body, r.Header), Synthetic: r.Synthetic}
	}
	d.Cookies = cookies(f)
	d.Decoded = decoded(f)
	return d, true
}

func orEmpty(h flow.Headers) flow.Headers {
	if h == nil {
		return flow.Headers{}
	}
	return h
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timings in milliseconds, -1 where unknown, as HAR does.
func timings(f *flow.Flow) map[string]any {
	t := f.Timings
	out := map[string]any{}
	if !t.Start.IsZero() {
		out["start"] = t.Start.UTC().Format(time.RFC3339Nano)
	}
	for name, d := range map[string]time.Duration{"dns": t.DNS, "connect": t.Connect, "tls": t.TLS, "send": t.Send, "wait": t.Wait, "receive": t.Receive} {
		if d < 0 {
			out[name] = -1
		} else {
			out[name] = ms(d)
		}
	}
	return out
}

// bodyDetail reads a body for the Body tab: decoded text when it is text,
// a short prefix for a hex view otherwise.
func bodyDetail(b *flow.Body, h flow.Headers) BodyDetail {
	bd := BodyDetail{Size: b.Size, Captured: len(b.Raw), Truncated: b.Truncated, Encoding: b.Encoding, ContentType: h.Get("Content-Type")}
	data, err := b.Decoded()
	if err != nil {
		bd.DecodeError = err.Error()
		if len(data) == 0 {
			data = b.Raw
		}
	}
	if len(data) == 0 {
		return bd
	}
	if isText(data) {
		n := min(len(data), maxDetailText)
		for n < len(data) && n > 0 && !utf8.RuneStart(data[n]) {
			n--
		}
		bd.Text = string(data[:n])
		bd.Omitted = len(data) - n
		return bd
	}
	n := min(len(data), maxDetailBinary)
	bd.Base64 = base64.StdEncoding.EncodeToString(data[:n])
	bd.Omitted = len(data) - n
	return bd
}

// isText reports UTF-8 without NUL or other control bytes than whitespace,
// judged on the first 64 KiB (a cut rune at the end is fine).
func isText(b []byte) bool {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:])
		}
		i += size
	}
	return true
}

// cookies lists the cookies sent and set, labelled and compared.
func cookies(f *flow.Flow) Cookies {
	c := Cookies{Sent: []CookieDetail{}, Set: []CookieDetail{}}
	sent := map[string]string{}
	for _, p := range decode.RequestCookies(f.Request) {
		sent[p.Name] = p.Value
		c.Sent = append(c.Sent, CookieDetail{Name: p.Name, Value: p.Value, Size: p.Size(), Label: cookieLabel(p.Name)})
	}
	if f.Response == nil {
		return c
	}
	now, ok := decode.ResponseDate(f)
	if !ok {
		now = f.Timings.Start
	}
	for _, line := range f.Response.Header.Values("Set-Cookie") {
		name, value, attrs := splitSetCookie(line)
		cd := CookieDetail{Name: name, Value: value, Size: len(name) + 1 + len(value), Label: cookieLabel(name), Attrs: attrs}
		old, wasSent := sent[name]
		switch parsed, err := decode.ParseSetCookieAt(line, now); {
		case err == nil && parsed.Deleted:
			cd.Change = "deleted"
		case !wasSent:
			cd.Change = "new"
		case old != value:
			cd.Change = "changed"
		default:
			cd.Change = "unchanged"
		}
		c.Set = append(c.Set, cd)
	}
	return c
}

func splitSetCookie(line string) (name, value, attrs string) {
	pair, attrs, _ := strings.Cut(line, ";")
	name, value, _ = strings.Cut(pair, "=")
	return strings.TrimSpace(name), strings.TrimSpace(value), strings.TrimSpace(attrs)
}

func cookieLabel(name string) string {
	purpose, _, ok := decode.KnownCookie(name)
	if !ok {
		return ""
	}
	return purpose
}

// decoded runs the decoders the rules use over f.
func decoded(f *flow.Flow) Decoded {
	v := inspect.NewView(f)
	d := Decoded{Tokens: []TokenDetail{}, Errors: []ErrorDetail{}}
	serverNow, ok := decode.ResponseDate(f)
	clock := "the server's Date"
	if !ok {
		serverNow, clock = f.Timings.Start, "the request's time"
	}
	for _, t := range v.Tokens() {
		td := TokenDetail{Where: t.Location(), Len: len(t.Value)}
		switch {
		case t.ClientInfo != nil:
			ci := *t.ClientInfo
			d.ClientInfo = &ci
			td.Kind = "client_info"
		case t.PRT != nil:
			prt := *t.PRT
			d.PRT = &prt
			td.Kind = "PRT cookie"
		default:
			td.Kind = t.Token.Kind.String()
			if t.Token.Prefix != "" {
				td.Kind += " (" + t.Token.Prefix + "…)"
			}
		}
		if t.Err != nil {
			td.Error = t.Err.Error()
		}
		if j := t.Token.JWT; j != nil {
			td.Header, td.Claims = j.Header, j.Claims
			td.Times = tokenTimes(j.Claims, serverNow, clock)
		}
		d.Tokens = append(d.Tokens, td)
	}
	for _, e := range v.Errors() {
		ed := ErrorDetail{Code: e.Code(), Codes: e.Codes, OAuthError: e.OAuthError, Message: e.Message,
			CorrelationID: e.CorrelationID, TraceID: e.TraceID, Source: e.Source}
		if !e.Timestamp.IsZero() {
			ed.Timestamp = e.Timestamp.UTC().Format(time.RFC3339)
		}
		if f.Response != nil {
			ed.RequestID = f.Response.Header.Get("x-ms-request-id")
		}
		if entry, ok := catalog.Lookup(ed.Code); ok {
			ed.Name = entry.Name
		}
		if ed.Code != 0 {
			var b bytes.Buffer
			catalog.Explain(&b, ed.Code)
			ed.Playbook = b.String()
		}
		d.Errors = append(d.Errors, ed)
	}
	d.SAML = decode.FlowSAML(f)
	if p := v.Params(); len(p) > 0 {
		d.Params = p
	}
	if strings.Contains(strings.ToLower(f.Request.Header.Get("Content-Type")), "x-www-form-urlencoded") {
		if body, err := f.Request.Body.Decoded(); err == nil {
			if form, err := url.ParseQuery(string(body)); err == nil && len(form) > 0 {
				d.Form = map[string]string{}
				for k, vs := range form {
					d.Form[k] = strings.Join(vs, ", ")
				}
			}
		}
	}
	return d
}

// tokenTimes reads iat, nbf and exp against now (the server's clock when
// known), so a token that looks expired only on a skewed client is seen.
func tokenTimes(claims map[string]any, now time.Time, clock string) []TimeDetail {
	var out []TimeDetail
	for _, name := range []string{"iat", "nbf", "exp"} {
		sec, ok := numericClaim(claims[name])
		if !ok {
			continue
		}
		t := time.Unix(sec, 0).UTC()
		td := TimeDetail{Claim: name, Value: sec, UTC: t.Format(time.RFC3339)}
		if !now.IsZero() {
			td.Relative = relative(name, t.Sub(now), clock)
		}
		out = append(out, td)
	}
	return out
}

func numericClaim(v any) (int64, bool) {
	switch n := v.(type) {
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		if err != nil {
			if f, ok := v.(interface{ Float64() (float64, error) }); ok {
				if x, err := f.Float64(); err == nil {
					return int64(x), true
				}
			}
			return 0, false
		}
		return i, true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// relative says "expires 59m0s after the server's Date" or "expired …
// before", in the words that fit the claim.
func relative(claim string, d time.Duration, clock string) string {
	d = d.Round(time.Second)
	abs, side := d, "after"
	if d < 0 {
		abs, side = -d, "before"
	}
	verb := map[string][2]string{
		"iat": {"issued", "issued"},
		"nbf": {"valid from", "valid from"},
		"exp": {"expires", "expired"},
	}[claim]
	word := verb[0]
	if d < 0 {
		word = verb[1]
	}
	if abs == 0 {
		return fmt.Sprintf("%s at %s", word, clock)
	}
	return fmt.Sprintf("%s %s %s %s", word, abs, side, clock)
}
