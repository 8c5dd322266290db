// Package inspecttest is the shared test kit for aadproxy rules, in the
// spirit of golang.org/x/tools/go/analysis/analysistest: it turns raw HTTP
// exchange text into flow.Flow values, loads txtar fixtures that pair
// exchanges with the findings they must produce, and fails a test on missing
// and on unexpected findings alike.
//
// It is for tests only: it owns no production behaviour, and it must not
// import goproxy or start servers; net/http is used only to parse text.
package inspecttest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
)

// message is the text of one HTTP message split into its parts.
type message struct {
	startLine string
	header    flow.Headers
	body      []byte
}

// splitMessage reads the start line and header lines itself, so that the
// order, casing and repetition of headers survive (net/http would fold them
// into a map), and takes everything after the blank line as the body.
func splitMessage(text string) (message, error) {
	var m message
	text = strings.TrimLeft(text, "\r\n")
	head, body, found := strings.Cut(text, "\r\n\r\n")
	if i := strings.Index(text, "\n\n"); i >= 0 && (!found || i < len(head)) {
		head, body, found = text[:i], text[i+2:], true
	}
	if !found {
		head, body = strings.TrimRight(text, "\r\n"), ""
	}
	lines := strings.Split(head, "\n")
	m.startLine = strings.TrimRight(lines[0], "\r")
	if m.startLine == "" {
		return m, fmt.Errorf("empty start line")
	}
	for _, line := range lines[1:] {
		line = strings.TrimRight(line, "\r")
		if line != "" && (line[0] == ' ' || line[0] == '\t') && len(m.header) > 0 {
			// An obsolete folded continuation line.
			m.header[len(m.header)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return m, fmt.Errorf("malformed header line %q", line)
		}
		m.header = append(m.header, flow.Header{Name: name, Value: strings.TrimSpace(value)})
	}
	// A txtar section always ends with a newline; it is not part of the body.
	body = strings.TrimSuffix(body, "\n")
	body = strings.TrimSuffix(body, "\r")
	if cl := m.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n >= 0 && n < len(body) {
			body = body[:n]
		}
	}
	m.body = []byte(body)
	return m, nil
}

// wireHead renders the start line and headers for net/http's parsers.
func (m message) wireHead() string {
	var b strings.Builder
	b.WriteString(m.startLine + "\r\n")
	for _, h := range m.header {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// wireBody returns the body as it crossed the wire. Fixtures are written
// decoded for readability; a gzip Content-Encoding makes the helper compress
// the text so that the flow holds real wire bytes and decoders exercise
// Body.Decoded.
func (m message) wireBody() (flow.Body, error) {
	enc := strings.TrimSpace(m.header.Get("Content-Encoding"))
	raw := m.body
	switch strings.ToLower(enc) {
	case "", "identity":
	case "gzip":
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		if _, err := w.Write(raw); err != nil {
			return flow.Body{}, err
		}
		if err := w.Close(); err != nil {
			return flow.Body{}, err
		}
		raw = b.Bytes()
	default:
		return flow.Body{}, fmt.Errorf("fixture bodies support only gzip encoding, not %q", enc)
	}
	if len(raw) == 0 {
		raw = nil
	}
	return flow.Body{Raw: raw, Size: int64(len(raw)), Encoding: enc}, nil
}

// ParseRequest parses raw request text ("GET /path HTTP/1.1", headers, a
// blank line, the body). A request line in origin form gets an absolute
// https URL from the Host header, as the proxy records it.
func ParseRequest(text string) (*flow.Request, error) {
	m, err := splitMessage(text)
	if err != nil {
		return nil, fmt.Errorf("parse request: %w", err)
	}
	hr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(m.wireHead())))
	if err != nil {
		return nil, fmt.Errorf("parse request: %w", err)
	}
	u := hr.URL
	if u.Host == "" {
		if hr.Host == "" {
			return nil, fmt.Errorf("parse request: origin-form request line without a Host header")
		}
		u.Scheme, u.Host = "https", hr.Host
	}
	body, err := m.wireBody()
	if err != nil {
		return nil, fmt.Errorf("parse request: %w", err)
	}
	return &flow.Request{Method: hr.Method, URL: u.String(), Proto: hr.Proto, Header: m.header, Body: body}, nil
}

// ParseResponse parses raw response text ("HTTP/1.1 302 Found", headers, a
// blank line, the body).
func ParseResponse(text string) (*flow.Response, error) {
	m, err := splitMessage(text)
	if err != nil {
		return nil, fmt.Errorf("parse response: %w", err)
	}
	hr, err := http.ReadResponse(bufio.NewReader(strings.NewReader(m.wireHead())), nil)
	if err != nil {
		return nil, fmt.Errorf("parse response: %w", err)
	}
	hr.Body.Close()
	body, err := m.wireBody()
	if err != nil {
		return nil, fmt.Errorf("parse response: %w", err)
	}
	return &flow.Response{
		Status: hr.StatusCode,
		Reason: strings.TrimSpace(strings.TrimPrefix(hr.Status, strconv.Itoa(hr.StatusCode))),
		Proto:  hr.Proto,
		Header: m.header,
		Body:   body,
	}, nil
}

// ParseExchange builds a flow from raw request and response text. An empty
// response text leaves Response nil (the request got no answer).
func ParseExchange(request, response string) (*flow.Flow, error) {
	req, err := ParseRequest(request)
	if err != nil {
		return nil, err
	}
	f := &flow.Flow{Index: 0, Request: req}
	if strings.TrimSpace(response) != "" {
		if f.Response, err = ParseResponse(response); err != nil {
			return nil, err
		}
	}
	return f, nil
}
