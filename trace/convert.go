package trace

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aadproxy/aadproxy/flow"
)

// dateLayout is how startedDateTime is written: RFC 3339 with milliseconds,
// as browsers write it.
const dateLayout = "2006-01-02T15:04:05.000Z07:00"

// maxFormParams bounds how many form fields are listed in postData.params, so
// a pathological body cannot blow up an entry.
const maxFormParams = 1000

// EntryFromFlow converts a flow to a HAR entry. Bodies are stored decoded
// (Content-Encoding undone): UTF-8 text as is, anything else as base64. A flow
// without a response gets an empty response with status 0, because the schema
// requires one.
func EntryFromFlow(f *flow.Flow) *Entry {
	e := entryFromFlow(f)
	// Callers of the model read Text; the writer needs no string copy.
	if p := e.Request.PostData; p != nil && p.body != nil {
		p.Text, p.body = p.body.String(), nil
	}
	if c := &e.Response.Content; c.body != nil {
		c.Text, c.body = c.body.String(), nil
	}
	return e
}

// entryFromFlow is EntryFromFlow with bodies left as bytes for the writer,
// which encodes them straight into its output.
func entryFromFlow(f *flow.Flow) *Entry {
	e := &Entry{
		StartedDateTime: f.Timings.Start.UTC().Format(dateLayout),
		Time:            millis(f.Timings.Total()),
		Timings:         timingsFromFlow(f.Timings),
		ClientAddress:   f.ClientAddr,
		ServerAddress:   f.ServerAddr,
		ClientTLS:       tlsFromFlow(f.ClientTLS),
		ServerTLS:       tlsFromFlow(f.ServerTLS),
		Tag:             f.Tag,
	}
	if !f.Done.IsZero() {
		e.Done = f.Done.UTC().Format(time.RFC3339Nano)
	}
	e.ServerIPAddress = serverIP(f.ServerAddr)
	if f.Request != nil {
		e.Request = requestFromFlow(f.Request, f.Timings.Start)
	} else {
		e.Request = Request{Cookies: []Cookie{}, Headers: []NameValue{}, QueryString: []NameValue{}, HeadersSize: -1, BodySize: -1}
		e.Comment = "aadproxy: the flow had no request"
	}
	if f.Response != nil {
		e.Response = responseFromFlow(f.Response, f.Timings.Start)
	} else {
		e.Response = emptyResponse()
	}
	if f.Error != "" {
		e.Response.Error = f.Error
		e.Comment = joinComment(e.Comment, "error: "+f.Error)
	}
	if f.Cached != "" {
		// Chrome's name for it, so a converted HAR still says so.
		v, _ := json.Marshal(f.Cached)
		e.Extra = map[string]json.RawMessage{"_fromCache": v}
	}
	return e
}

func joinComment(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// millis converts a duration to HAR milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// optMillis is millis for a phase HAR allows to be absent: -1 when it did not
// happen.
func optMillis(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return millis(d)
}

// reqMillis is millis for send, wait and receive, which HAR requires to be
// non-negative.
func reqMillis(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return millis(d)
}

func timingsFromFlow(t flow.Timings) Timings {
	return Timings{
		Blocked: -1,
		DNS:     optMillis(t.DNS),
		Connect: optMillis(t.Connect),
		SSL:     optMillis(t.TLS),
		Send:    reqMillis(t.Send),
		Wait:    reqMillis(t.Wait),
		Receive: reqMillis(t.Receive),
	}
}

func tlsFromFlow(t *flow.TLSInfo) *TLS {
	if t == nil {
		return nil
	}
	return &TLS{Version: t.Version, ALPN: t.ALPN, ServerName: t.ServerName}
}

// serverIP returns the IP address of host:port, or "" when the address is a
// name: serverIPAddress must be a bare IPv4 or IPv6 address.
func serverIP(addr string) string {
	if addr == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	host, _, _ = strings.Cut(host, "%") // a zone is not part of the address syntax
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return ""
}

func headersToHAR(h flow.Headers) []NameValue {
	out := make([]NameValue, len(h))
	for i, kv := range h {
		out[i] = NameValue{Name: kv.Name, Value: kv.Value}
	}
	return out
}

func requestFromFlow(r *flow.Request, start time.Time) Request {
	out := Request{
		Method:      r.Method,
		URL:         r.URL,
		HTTPVersion: r.Proto,
		Cookies:     requestCookies(r.Header),
		Headers:     headersToHAR(r.Header),
		QueryString: queryString(r.URL),
		HeadersSize: -1,
		BodySize:    Int(r.Body.Size),
	}
	if r.Body.Size > 0 || len(r.Body.Raw) > 0 {
		out.PostData = postDataFromFlow(r)
	}
	return out
}

// bodyView is a body as HAR stores it.
type bodyView struct {
	data      []byte // decoded bytes, or the raw bytes when raw is set
	raw       bool   // decoding failed or was cut: data holds the wire bytes
	decodeErr error
	truncated bool
	// decoded: data was decoded before the flow reached the writer (a
	// flow read from a HAR, or sanitized), while the headers still name
	// the Content-Encoding it was sent with.
	decoded bool
}

func viewBody(b *flow.Body, h flow.Headers) bodyView {
	v := bodyView{truncated: b.Truncated}
	if b.Encoding == "" {
		v.data = b.Raw
		v.decoded = len(b.Raw) > 0 && hasRealEncoding(h)
		return v
	}
	// A view cut at its limit is not the body: the wire bytes are, and
	// they are what a bomb costs to keep.
	d, err := b.Decoded()
	switch {
	case err == nil:
		v.data = d
	case errors.Is(err, flow.ErrTruncated) && len(d) > 0:
		v.data = d
	default:
		v.data, v.raw, v.decodeErr = b.Raw, true, err
	}
	return v
}

// text returns the body as the writer stores it, or nil when it is empty.
func (v bodyView) text() *bodyText {
	if len(v.data) == 0 {
		return nil
	}
	t := newBodyText(v.data)
	return &t
}

func (v bodyView) comment(b *flow.Body) string {
	var c string
	switch {
	case v.truncated && v.decoded:
		c = fmt.Sprintf("aadproxy: body truncated by the capture limit (%d decoded bytes kept of a body sent as %d bytes)", len(v.data), b.Size)
	case v.truncated:
		c = fmt.Sprintf("aadproxy: body truncated by the capture limit (%d of %d wire bytes kept)", len(b.Raw), b.Size)
	}
	if v.raw {
		c = joinComment(c, fmt.Sprintf("aadproxy: content is the raw %s bytes as sent: %v", b.Encoding, v.decodeErr))
	}
	return c
}

func postDataFromFlow(r *flow.Request) *PostData {
	v := viewBody(&r.Body, r.Header)
	p := &PostData{MimeType: r.Header.Get("Content-Type"), Truncated: v.truncated, Raw: v.raw}
	if p.body = v.text(); p.body != nil {
		p.Encoding = p.body.encoding()
	}
	p.Comment = v.comment(&r.Body)
	if !v.raw && !v.truncated {
		p.Params = formParams(p.MimeType, v.data)
	}
	return p
}

// formParams lists the fields of a urlencoded or multipart form body, in
// order; nil for anything else or a body that does not parse.
func formParams(contentType string, body []byte) []Param {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		var out []Param
		for field := range strings.SplitSeq(string(body), "&") {
			if field == "" {
				continue
			}
			if len(out) == maxFormParams {
				break
			}
			k, v, _ := strings.Cut(field, "=")
			out = append(out, Param{Name: unescapeQuery(k), Value: unescapeQuery(v)})
		}
		return out
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		var out []Param
		for len(out) < maxFormParams {
			part, err := mr.NextRawPart()
			if err != nil {
				break
			}
			// The part is already in memory, so reading it costs no more
			// than the body itself.
			data, err := io.ReadAll(part)
			if err != nil {
				break
			}
			p := Param{Name: part.FormName(), FileName: part.FileName(), ContentType: part.Header.Get("Content-Type")}
			if p.FileName == "" && utf8.Valid(data) {
				p.Value = string(data)
			}
			out = append(out, p)
		}
		return out
	}
	return nil
}

// unescapeQuery decodes a query or form component, keeping the raw text when
// it is not valid percent-encoding: HAR is for looking at, not rejecting.
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// queryString lists the URL's query parameters in their order (url.Values
// would lose it).
func queryString(rawURL string) []NameValue {
	out := []NameValue{}
	_, q, ok := strings.Cut(rawURL, "?")
	if !ok {
		return out
	}
	q, _, _ = strings.Cut(q, "#")
	for field := range strings.SplitSeq(q, "&") {
		if field == "" {
			continue
		}
		k, v, _ := strings.Cut(field, "=")
		out = append(out, NameValue{Name: unescapeQuery(k), Value: unescapeQuery(v)})
	}
	return out
}

// requestCookies parses Cookie headers leniently: a malformed pair is kept
// as best it can be, since a broken cookie is something worth seeing.
func requestCookies(h flow.Headers) []Cookie {
	out := []Cookie{}
	for _, line := range h.Values("Cookie") {
		for pair := range strings.SplitSeq(line, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, value, _ := strings.Cut(pair, "=")
			out = append(out, Cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
	}
	return out
}

// responseCookies parses Set-Cookie headers. Expires is converted to RFC 3339
// (the schema's date-time format) and Max-Age to an expiry after start.
func responseCookies(h flow.Headers, start time.Time) []Cookie {
	out := []Cookie{}
	for _, line := range h.Values("Set-Cookie") {
		parts := strings.Split(line, ";")
		name, value, _ := strings.Cut(strings.TrimSpace(parts[0]), "=")
		c := Cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
		var maxAge *int64
		for _, attr := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "path":
				c.Path = v
			case "domain":
				c.Domain = v
			case "expires":
				if t, ok := parseCookieDate(v); ok {
					c.Expires = t.UTC().Format(dateLayout)
				}
			case "max-age":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					maxAge = &n
				}
			case "httponly":
				c.HTTPOnly = true
			case "secure":
				c.Secure = true
			case "samesite":
				c.SameSite = v
			}
		}
		// Max-Age wins over Expires (RFC 6265 5.3).
		if maxAge != nil && !start.IsZero() {
			secs := min(max(*maxAge, -1), 400*24*3600)
			c.Expires = start.Add(time.Duration(secs) * time.Second).UTC().Format(dateLayout)
		}
		out = append(out, c)
	}
	return out
}

// cookieDateLayouts add the Netscape form with dashes, which Entra ID and
// many other servers still send, to the forms http.ParseTime knows.
var cookieDateLayouts = []string{
	"Mon, 02-Jan-2006 15:04:05 MST",
	"Mon, 02-Jan-06 15:04:05 MST",
	"Monday, 02-Jan-2006 15:04:05 MST",
}

func parseCookieDate(s string) (time.Time, bool) {
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	for _, layout := range cookieDateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func responseFromFlow(r *flow.Response, start time.Time) *Response {
	v := viewBody(&r.Body, r.Header)
	out := &Response{
		Status:      Int(r.Status),
		StatusText:  r.Reason,
		HTTPVersion: r.Proto,
		Cookies:     responseCookies(r.Header, start),
		Headers:     headersToHAR(r.Header),
		RedirectURL: r.Header.Get("Location"),
		HeadersSize: -1,
		BodySize:    Int(r.Body.Size),
		Synthetic:   r.Synthetic,
		Content: Content{
			MimeType:  r.Header.Get("Content-Type"),
			Truncated: v.truncated,
			Raw:       v.raw,
			Comment:   v.comment(&r.Body),
		},
	}
	if out.Content.body = v.text(); out.Content.body != nil {
		out.Content.Encoding = out.Content.body.encoding()
	}
	switch {
	case v.raw || (v.truncated && (r.Body.Encoding != "" || v.decoded)):
		// The full decoded size is unknown; report what is here.
		out.Content.Size = Int(len(v.data))
	case v.truncated:
		out.Content.Size = Int(r.Body.Size)
	default:
		out.Content.Size = Int(len(v.data))
		if r.Body.Encoding != "" {
			out.Content.Compression = out.Content.Size - out.BodySize
		}
	}
	return out
}

// FlowFromEntry converts a HAR entry to a flow with the given index. It is
// tolerant of what browsers and other tools write: missing optional fields,
// fractional times, status 0 for a request that got no response. Bodies come
// back decoded: Raw holds HAR's decoded content with Encoding "", while the
// Content-Encoding header is kept as it was.
func FlowFromEntry(e *Entry, index int) (*flow.Flow, error) {
	if e == nil {
		return nil, errors.New("har entry is null")
	}
	if e.Request.Method == "" && e.Request.URL == "" {
		return nil, errors.New("har entry has no request")
	}
	f := &flow.Flow{
		Index:      index,
		ClientAddr: e.ClientAddress,
		ServerAddr: e.ServerAddress,
		ClientTLS:  tlsToFlow(e.ClientTLS),
		ServerTLS:  tlsToFlow(e.ServerTLS),
		Tag:        e.Tag,
	}
	if f.ServerAddr == "" {
		f.ServerAddr = strings.Trim(e.ServerIPAddress, "[]")
	}
	f.Timings = timingsToFlow(e.Timings)
	f.Timings.Start = parseHARTime(e.StartedDateTime)
	if t, err := time.Parse(time.RFC3339Nano, e.Done); err == nil {
		f.Done = t
	} else if !f.Timings.Start.IsZero() && e.Time > 0 && !math.IsInf(e.Time, 0) {
		f.Done = f.Timings.Start.Add(durationFromMillis(e.Time))
	}

	req := &e.Request
	f.Request = &flow.Request{
		Method: req.Method,
		URL:    req.URL,
		Proto:  req.HTTPVersion,
		Header: headersFromHAR(req.Headers),
	}
	if p := req.PostData; p != nil {
		data := bodyBytes(p.Text, p.Encoding)
		if len(data) == 0 && len(p.Params) > 0 {
			data = paramsBody(p.Params)
		}
		f.Request.Body = flow.Body{Raw: data, Truncated: p.Truncated}
		if p.Raw {
			// Still the wire bytes (see responseToFlow).
			f.Request.Body.Encoding = strings.Join(f.Request.Header.Values("Content-Encoding"), ", ")
		}
		f.Request.Body.DecodeLimit = flow.DecodeLimitFor(p.MimeType, flow.DefaultDecodeLimit)
	}
	f.Request.Body.Size = bodySize(req.BodySize, len(f.Request.Body.Raw))

	if r := e.Response; r != nil {
		f.Error = r.Error
		if r.Status != 0 {
			f.Response = responseToFlow(r)
		}
	}
	f.Cached = cachedBy(e)
	return f, nil
}

// cachedBy reads how a browser's HAR marks an entry its cache answered:
// Chrome's "_fromCache" ("memory", "disk") and its response's
// "_fetchedViaServiceWorker", WebKit's "_fetchType" ("Memory Cache", "Disk
// Cache", "Service Worker"; "Network Load" is the network), and Firefox's
// cache.afterRequest, which it writes only for entries its cache served or
// revalidated. Markers of other shapes (false, numbers) mean nothing.
func cachedBy(e *Entry) string {
	str := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	if s := strings.ToLower(str(e.Extra["_fromCache"])); s != "" && s != "false" {
		return s
	}
	switch strings.ToLower(str(e.Extra["_fetchType"])) {
	case "memory cache":
		return "memory"
	case "disk cache":
		return "disk"
	case "service worker":
		return "service-worker"
	}
	if r := e.Response; r != nil && string(bytes.TrimSpace(r.Extra["_fetchedViaServiceWorker"])) == "true" {
		return "service-worker"
	}
	if len(bytes.TrimSpace(e.Cache.AfterRequest)) > 0 {
		return "cache"
	}
	return ""
}

func responseToFlow(r *Response) *flow.Response {
	out := &flow.Response{
		Status:    int(r.Status),
		Reason:    r.StatusText,
		Proto:     r.HTTPVersion,
		Header:    headersFromHAR(r.Headers),
		Synthetic: r.Synthetic,
	}
	c := &r.Content
	out.Body.Raw = bodyBytes(c.Text, c.Encoding)
	out.Body.Truncated = c.Truncated
	if c.Raw {
		// Decoding failed (or was cut at its limit) when this was
		// recorded, so these are still the wire bytes: keep their
		// encoding so Decoded can try again, under the same limit.
		out.Body.Encoding = strings.Join(out.Header.Values("Content-Encoding"), ", ")
	}
	out.Body.DecodeLimit = flow.DecodeLimitFor(cmp.Or(c.MimeType, out.Header.Get("Content-Type")), flow.DefaultDecodeLimit)
	out.Body.Size = bodySize(r.BodySize, len(out.Body.Raw))
	return out
}

// bodySize is the wire size from HAR's bodySize, which is -1 when unknown and
// 0 for some tools' cached responses; the content length stands in then.
func bodySize(harSize Int, have int) int64 {
	if harSize > 0 || (harSize == 0 && have == 0) {
		return int64(harSize)
	}
	return int64(have)
}

// bodyBytes decodes HAR text. Text declared base64 that is not valid base64
// is kept as it is rather than dropped.
func bodyBytes(text, encoding string) []byte {
	if text == "" {
		return nil
	}
	if strings.EqualFold(encoding, "base64") {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(text); err == nil {
				return b
			}
		}
	}
	return []byte(text)
}

func paramsBody(params []Param) []byte {
	var sb strings.Builder
	for i, p := range params {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(p.Name))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(p.Value))
	}
	return []byte(sb.String())
}

func headersFromHAR(h []NameValue) flow.Headers {
	if len(h) == 0 {
		return nil
	}
	out := make(flow.Headers, len(h))
	for i, kv := range h {
		out[i] = flow.Header{Name: kv.Name, Value: kv.Value}
	}
	return out
}

func tlsToFlow(t *TLS) *flow.TLSInfo {
	if t == nil {
		return nil
	}
	return &flow.TLSInfo{Version: t.Version, ALPN: t.ALPN, ServerName: t.ServerName}
}

// durationFromMillis converts HAR milliseconds, saturating instead of
// overflowing on absurd values.
func durationFromMillis(ms float64) time.Duration {
	ns := math.Round(ms * float64(time.Millisecond))
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

// optDuration maps HAR's -1 (or any negative) to the flow's "did not happen".
func optDuration(ms float64) time.Duration {
	if ms < 0 || math.IsNaN(ms) {
		return -1
	}
	return durationFromMillis(ms)
}

func timingsToFlow(t Timings) flow.Timings {
	return flow.Timings{
		DNS:     optDuration(t.DNS),
		Connect: optDuration(t.Connect),
		TLS:     optDuration(t.SSL),
		Send:    optDuration(t.Send),
		Wait:    optDuration(t.Wait),
		Receive: optDuration(t.Receive),
	}
}

// harTimeLayouts are the startedDateTime forms seen in the wild; RFC 3339 is
// the standard, the others come from tools that drop the colon in the offset
// or the offset altogether.
var harTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
}

// parseHARTime parses startedDateTime, or returns the zero time: a file with
// an odd date is still worth analysing.
func parseHARTime(s string) time.Time {
	for _, layout := range harTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
