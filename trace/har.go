package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// HAR is a whole HAR document. Large recordings should be read with Reader
// instead, which never holds more than one entry.
type HAR struct {
	Log Log `json:"log"`
}

// Log is the HAR "log" object.
type Log struct {
	Version string   `json:"version"`
	Creator Creator  `json:"creator"`
	Browser *Creator `json:"browser,omitempty"`
	Pages   []Page   `json:"pages,omitempty"`
	Entries []Entry  `json:"entries"`
	Comment string   `json:"comment,omitempty"`
}

// Creator names the program that wrote a HAR (also used for "browser").
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// Page is a HAR page; aadproxy keeps pages of browser HARs but writes none.
type Page struct {
	StartedDateTime string      `json:"startedDateTime"`
	ID              string      `json:"id"`
	Title           string      `json:"title"`
	PageTimings     PageTimings `json:"pageTimings"`
	Comment         string      `json:"comment,omitempty"`
}

// PageTimings are a page's load milestones in milliseconds, -1 when unknown.
type PageTimings struct {
	OnContentLoad *float64 `json:"onContentLoad,omitempty"`
	OnLoad        *float64 `json:"onLoad,omitempty"`
	Comment       string   `json:"comment,omitempty"`
}

// Entry is one HAR entry: a request, its response and how long it took.
// Fields HAR does not define (Chrome's "_initiator", "_resourceType", …) are
// kept in Extra and written back out, so a HAR survives a read and write.
type Entry struct {
	Pageref         string    `json:"pageref,omitempty"`
	StartedDateTime string    `json:"startedDateTime"`
	Time            float64   `json:"time"`
	Request         Request   `json:"request"`
	Response        *Response `json:"response"`
	Cache           Cache     `json:"cache"`
	Timings         Timings   `json:"timings"`
	ServerIPAddress string    `json:"serverIPAddress,omitempty"`
	Connection      string    `json:"connection,omitempty"`
	Comment         string    `json:"comment,omitempty"`

	// ServerAddress is the upstream address with its port, which
	// serverIPAddress cannot hold (it must be a bare IP address).
	ServerAddress string `json:"_serverAddress,omitempty"`
	ClientAddress string `json:"_clientAddress,omitempty"`
	ClientTLS     *TLS   `json:"_aadproxyClientTLS,omitempty"`
	ServerTLS     *TLS   `json:"_aadproxyServerTLS,omitempty"`
	// Done is when the exchange finished, in RFC 3339 with nanoseconds.
	Done string `json:"_aadproxyDone,omitempty"`
	// Tag names who made the flow (aadproxy run: the command).
	Tag string `json:"_aadproxyTag,omitempty"`

	// Extra holds every other field, by name, as it was read.
	Extra map[string]json.RawMessage `json:"-"`
}

// TLS describes one TLS leg of an exchange in aadproxy's custom fields.
type TLS struct {
	Version    string `json:"version"`
	ALPN       string `json:"alpn,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// Request is a HAR request.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize Int         `json:"headersSize"`
	BodySize    Int         `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// Response is a HAR response. aadproxy writes one with Status 0 for an
// exchange that got no response, since the schema requires the object.
type Response struct {
	Status      Int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize Int         `json:"headersSize"`
	BodySize    Int         `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	// Error is the transport error, under the name Chrome uses.
	Error string `json:"_error,omitempty"`
	// Synthetic marks a response aadproxy made itself (a 502 for a failed
	// upstream) rather than relayed.
	Synthetic bool `json:"_aadproxySynthetic,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// NameValue is a header or query string parameter.
type NameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

// Cookie is a cookie sent in a Cookie header or set by Set-Cookie.
type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// PostData is a request body. Encoding "base64" (not in HAR 1.2, but written
// by several tools) marks a binary body whose Text is base64.
type PostData struct {
	MimeType string  `json:"mimeType"`
	Text     string  `json:"text,omitempty"`
	Params   []Param `json:"params,omitempty"`
	Encoding string  `json:"encoding,omitempty"`
	Comment  string  `json:"comment,omitempty"`
	// Truncated marks a body cut by aadproxy's capture limit.
	Truncated bool `json:"_aadproxyTruncated,omitempty"`
	// Raw marks Text as the bytes as they crossed the wire, still encoded
	// (see Content.Raw).
	Raw bool `json:"_aadproxyRawContent,omitempty"`

	// body, when set, is written in place of Text: the writer encodes it
	// straight from the captured bytes (see bodyText).
	body *bodyText
}

// Param is one field of a form body.
type Param struct {
	Name        string `json:"name"`
	Value       string `json:"value,omitempty"`
	FileName    string `json:"fileName,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Content is a response body as HAR stores it: decoded (Content-Encoding
// undone), as text or base64.
type Content struct {
	Size        Int    `json:"size"`
	Compression Int    `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
	// Truncated marks a body cut by aadproxy's capture limit.
	Truncated bool `json:"_aadproxyTruncated,omitempty"`
	// Raw marks Text as the bytes as they crossed the wire, still encoded,
	// because decoding them failed or would have inflated them past the
	// decode limit (a compression bomb is recorded as it was sent).
	Raw bool `json:"_aadproxyRawContent,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`

	// body, when set, is written in place of Text (see PostData.body).
	body *bodyText
}

// Cache is HAR's cache object; aadproxy keeps whatever a browser wrote.
type Cache struct {
	BeforeRequest json.RawMessage `json:"beforeRequest,omitempty"`
	AfterRequest  json.RawMessage `json:"afterRequest,omitempty"`
	Comment       string          `json:"comment,omitempty"`
}

// Timings are the phases of an entry in milliseconds; -1 means the phase did
// not happen. Optional phases missing from a file read as -1.
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
	Comment string  `json:"comment,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// Int is an integer that also reads fractions (truncated toward zero),
// numeric strings and null (left unchanged), because HAR writers disagree.
type Int int64

// UnmarshalJSON reads a number, a numeric string or null.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
		if s == "" {
			return nil
		}
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("har: %q is not a number", s)
	}
	if f > math.MaxInt64 || f < math.MinInt64 {
		return fmt.Errorf("har: %s is out of range", s)
	}
	*n = Int(f)
	return nil
}

// The aliases below have the same fields but none of the methods, so decoding
// into them uses the default struct decoding without recursing.
type (
	entryAlias    Entry
	requestAlias  Request
	responseAlias Response
	contentAlias  Content
	timingsAlias  Timings
)

// UnmarshalJSON decodes an entry and keeps fields HAR does not define.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var a entryAlias
	extra, err := decodeWithExtra(b, &a)
	if err != nil {
		return err
	}
	*e = Entry(a)
	e.Extra = extra
	return nil
}

// UnmarshalJSON decodes a request and keeps fields HAR does not define.
func (r *Request) UnmarshalJSON(b []byte) error {
	var a requestAlias
	extra, err := decodeWithExtra(b, &a)
	if err != nil {
		return err
	}
	*r = Request(a)
	r.Extra = extra
	return nil
}

// UnmarshalJSON decodes a response and keeps fields HAR does not define.
func (r *Response) UnmarshalJSON(b []byte) error {
	var a responseAlias
	extra, err := decodeWithExtra(b, &a)
	if err != nil {
		return err
	}
	*r = Response(a)
	r.Extra = extra
	return nil
}

// UnmarshalJSON decodes content and keeps fields HAR does not define.
func (c *Content) UnmarshalJSON(b []byte) error {
	var a contentAlias
	extra, err := decodeWithExtra(b, &a)
	if err != nil {
		return err
	}
	*c = Content(a)
	c.Extra = extra
	return nil
}

// UnmarshalJSON decodes timings; optional phases that are absent read as -1,
// the HAR value for "did not happen", rather than as 0.
func (t *Timings) UnmarshalJSON(b []byte) error {
	a := timingsAlias{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}
	extra, err := decodeWithExtra(b, &a)
	if err != nil {
		return err
	}
	*t = Timings(a)
	t.Extra = extra
	return nil
}

// MarshalJSON writes the entry with its extra fields.
func (e Entry) MarshalJSON() ([]byte, error) { return marshal(e.encode), nil }

// MarshalJSON writes the request with its extra fields.
func (r Request) MarshalJSON() ([]byte, error) { return marshal(r.encode), nil }

// MarshalJSON writes the response with its extra fields.
func (r Response) MarshalJSON() ([]byte, error) { return marshal(r.encode), nil }

// MarshalJSON writes the content with its extra fields.
func (c Content) MarshalJSON() ([]byte, error) { return marshal(c.encode), nil }

// MarshalJSON writes the timings with their extra fields.
func (t Timings) MarshalJSON() ([]byte, error) { return marshal(t.encode), nil }

func marshal(encode func(*encoder)) []byte {
	var enc encoder
	encode(&enc)
	return enc.b
}

// decodeWithExtra decodes b into the struct v points to and returns the
// object's fields that v has no field for. It rejects non-objects, so a
// malformed file cannot pass a string or array off as an entry.
func decodeWithExtra(b []byte, v any) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	// The fields are listed as views into b, and only the extra ones are
	// copied: a json.RawMessage per field would copy every body once more
	// at each level it is nested in (entry, response, content).
	var all map[string]rawView
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	if all == nil {
		// JSON null: nothing decoded and nothing extra.
		return nil, nil
	}
	known := knownFields(reflect.TypeOf(v).Elem())
	var extra map[string]json.RawMessage
	for k, raw := range all {
		if known[strings.ToLower(k)] {
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[k] = bytes.Clone(raw)
	}
	return extra, nil
}

// rawView is a JSON value as a view into the document being decoded,
// valid only while the call that decodes it runs (unlike json.RawMessage,
// which copies).
type rawView []byte

func (r *rawView) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

var knownCache sync.Map // reflect.Type → map[string]bool

// knownFields returns the lower-cased JSON names of t's fields; lower-cased
// because encoding/json matches names case-insensitively when decoding, so a
// "Time" field was decoded into Time and is not extra.
func knownFields(t reflect.Type) map[string]bool {
	if m, ok := knownCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := make(map[string]bool)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[strings.ToLower(name)] = true
		}
	}
	knownCache.Store(t, m)
	return m
}
