package trace

import (
	"archive/zip"
	"bufio"
	"fmt"
	"html"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// sazContentTypes is the Open Packaging Conventions manifest Fiddler writes
// so System.IO.Packaging can read the archive.
const sazContentTypes = `<?xml version="1.0" encoding="utf-8" ?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="htm" ContentType="text/html" />
<Default Extension="xml" ContentType="application/xml" />
<Default Extension="txt" ContentType="text/plain" />
</Types>
`

// maxIndexRows bounds the rows of _index.htm the writer keeps until Close;
// the index is for people browsing the zip and Fiddler ignores it.
const maxIndexRows = 10000

// fiddlerTimeLayout is .NET's round-trip format, which Fiddler writes.
const fiddlerTimeLayout = "2006-01-02T15:04:05.0000000-07:00"

// fiddlerZeroTime is what Fiddler writes for a timer that never fired.
const fiddlerZeroTime = "0001-01-01T00:00:00"

// SAZWriter writes flows to a Fiddler session archive one at a time, so
// memory is bounded by one flow (and a short index row per session).
type SAZWriter struct {
	zw       *zip.Writer
	n        int
	width    int
	modified time.Time
	rows     []string
	more     int
	err      error // sticky
	closed   bool
}

// NewSAZWriter starts a SAZ on w. sessions is how many flows will be
// written, if known (0 otherwise); Fiddler pads session numbers in file
// names to the width of the count, and so does the writer (at least 4
// digits when the count is unknown). Close must be called to finish the
// archive; it does not close w.
func NewSAZWriter(w io.Writer, sessions int) *SAZWriter {
	width := 4
	if sessions > 0 {
		width = max(2, len(strconv.Itoa(sessions)))
	}
	zw := zip.NewWriter(w)
	zw.SetComment("aadproxy session archive (Fiddler SAZ format)")
	return &SAZWriter{zw: zw, width: width}
}

// create starts one private, deflated entry.
func (w *SAZWriter) create(name string, mod time.Time) (io.Writer, error) {
	if mod.Before(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
		// The zip format cannot date anything earlier.
		mod = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod.UTC()}
	h.SetMode(0o600)
	return w.zw.CreateHeader(h)
}

// Write appends one flow as session number Count()+1.
func (w *SAZWriter) Write(f *flow.Flow) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if f == nil || f.Request == nil {
		return fmt.Errorf("write SAZ session %d: the flow has no request", w.n+1)
	}
	if err := w.write(f); err != nil {
		w.err = fmt.Errorf("write SAZ session %d: %w", w.n+1, err)
		return w.err
	}
	return nil
}

func (w *SAZWriter) write(f *flow.Flow) error {
	if w.n == 0 {
		w.modified = f.Timings.Start
		cw, err := w.create("[Content_Types].xml", w.modified)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(cw, sazContentTypes); err != nil {
			return err
		}
	}
	w.n++
	id := fmt.Sprintf("%0*d", w.width, w.n)
	meta := newMetaFlags()
	mod := f.Timings.Start

	ew, err := w.create("raw/"+id+"_c.txt", mod)
	if err != nil {
		return err
	}
	if err := writeRawRequest(ew, f.Request, meta); err != nil {
		return err
	}

	resp := f.Response
	if resp == nil {
		// Fiddler expects a response for every session; like Fiddler, write
		// one that says why there was none, and mark it so aadproxy reads
		// the session back without it.
		msg := "[aadproxy] no response was received"
		if f.Error != "" {
			msg += ": " + f.Error
		}
		resp = &flow.Response{
			Status: 502, Reason: "Bad Gateway", Proto: "HTTP/1.1",
			Header: flow.Headers{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}, {Name: "Connection", Value: "close"}},
			Body:   flow.Body{Raw: []byte(msg), Size: int64(len(msg))},
		}
		meta.add(flagNoResponse, "true")
		meta.bits |= fiddlerResponseGenerated
	}
	if resp.Synthetic {
		meta.bits |= fiddlerResponseGenerated
	}
	ew, err = w.create("raw/"+id+"_s.txt", mod)
	if err != nil {
		return err
	}
	if err := writeRawResponse(ew, resp, meta); err != nil {
		return err
	}

	ew, err = w.create("raw/"+id+"_m.xml", mod)
	if err != nil {
		return err
	}
	if err := writeSAZMeta(ew, w.n, f, meta); err != nil {
		return err
	}
	if len(w.rows) < maxIndexRows {
		w.rows = append(w.rows, indexRow(id, w.n, f))
	} else {
		w.more++
	}
	return nil
}

// Count returns how many sessions have been written.
func (w *SAZWriter) Count() int { return w.n }

// Close writes _index.htm and the zip's central directory. It does not
// close the underlying writer.
func (w *SAZWriter) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	iw, err := w.create("_index.htm", w.modified)
	if err != nil {
		return fmt.Errorf("write SAZ index: %w", err)
	}
	bw := bufio.NewWriter(iw)
	bw.WriteString("<html><head><meta charset=\"utf-8\"><style>body,thead,td,a,p{font-family:verdana,sans-serif;font-size:10px}</style></head><body>")
	bw.WriteString("<table cols=5><thead><tr><th>&nbsp;</th><th>#</th><th>Result</th><th>Protocol</th><th>Host</th><th>URL</th></tr></thead><tbody>\n")
	for _, r := range w.rows {
		bw.WriteString(r)
	}
	bw.WriteString("</tbody></table>")
	if w.more > 0 {
		fmt.Fprintf(bw, "<p>%d more sessions are not listed here.</p>", w.more)
	}
	bw.WriteString("</body></html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write SAZ index: %w", err)
	}
	w.rows = nil
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("finish SAZ: %w", err)
	}
	return nil
}

func indexRow(id string, n int, f *flow.Flow) string {
	result := "-"
	if f.Response != nil {
		result = strconv.Itoa(f.Response.Status)
	}
	scheme, host, rest := splitURL(f.Request.URL)
	if strings.EqualFold(f.Request.Method, "CONNECT") {
		scheme, host, rest = "HTTP", "Tunnel to", f.Request.URL
	}
	e := html.EscapeString
	return fmt.Sprintf("<tr><td><a href='raw/%[1]s_c.txt'>C</a>&nbsp;<a href='raw/%[1]s_s.txt'>S</a>&nbsp;<a href='raw/%[1]s_m.xml'>M</a></td><td>%[2]d</td><td>%[3]s</td><td>%[4]s</td><td>%[5]s</td><td>%[6]s</td></tr>\n",
		id, n, e(result), e(strings.ToUpper(scheme)), e(host), e(rest))
}

func splitURL(raw string) (scheme, host, rest string) {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", raw
	}
	host, path, found := strings.Cut(after, "/")
	if found {
		path = "/" + path
	}
	return scheme, host, path
}

// metaFlags collects a session's flags and bits while its parts are written.
type metaFlags struct {
	names, values []string
	bits          uint64
}

func newMetaFlags() *metaFlags { return &metaFlags{} }

func (m *metaFlags) add(name, value string) {
	m.names = append(m.names, name)
	m.values = append(m.values, value)
}

// cleanHeaderText keeps a header line on one line: a CR or LF inside a
// value would otherwise end the line and corrupt the message.
var cleanHeaderText = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

// wireProto returns an HTTP version in the form a raw message needs;
// browsers write "h3" or lower case in HARs.
func wireProto(p string) string {
	switch up := strings.ToUpper(strings.TrimSpace(p)); {
	case strings.HasPrefix(up, "HTTP/"):
		return up
	case up == "H2" || up == "HTTP2":
		return "HTTP/2.0"
	case up == "H3" || strings.HasPrefix(up, "H3-"):
		return "HTTP/3"
	}
	return "HTTP/1.1"
}

// writeHeaders writes h as raw header lines. HTTP/2 pseudo-headers have no
// raw HTTP/1 form and are left out (:authority becomes Host when there is
// none). A Content-Encoding whose body is already decoded (flows read from
// a HAR) is left out too, with its value kept in a session flag, so Fiddler
// does not try to decode the body again.
func writeHeaders(bw *bufio.Writer, h flow.Headers, b *flow.Body, decodedFlag string, meta *metaFlags) {
	dropEncoding := b.Encoding == "" && len(b.Raw) > 0 && hasRealEncoding(h)
	if dropEncoding {
		meta.add(decodedFlag, strings.Join(h.Values("Content-Encoding"), ", "))
	}
	if !h.Has("Host") {
		if auth := h.Get(":authority"); auth != "" {
			fmt.Fprintf(bw, "Host: %s\r\n", cleanHeaderText.Replace(auth))
		}
	}
	for _, kv := range h {
		name := strings.TrimSpace(cleanHeaderText.Replace(kv.Name))
		if name == "" || strings.HasPrefix(name, ":") || strings.ContainsRune(name, ':') {
			continue
		}
		if dropEncoding && strings.EqualFold(name, "Content-Encoding") {
			continue
		}
		fmt.Fprintf(bw, "%s: %s\r\n", name, cleanHeaderText.Replace(kv.Value))
	}
	bw.WriteString("\r\n")
}

func hasRealEncoding(h flow.Headers) bool {
	for _, v := range h.Values("Content-Encoding") {
		if v = strings.TrimSpace(v); v != "" && !strings.EqualFold(v, "identity") {
			return true
		}
	}
	return false
}

// writeBody writes a body as it went over the wire: chunked again when the
// headers say chunked (Fiddler stores bodies as received), so the message
// stays consistent with its headers.
func writeBody(bw *bufio.Writer, h flow.Headers, b *flow.Body, truncFlag string, meta *metaFlags) error {
	if b.Truncated {
		meta.add(truncFlag, strconv.FormatInt(b.Size, 10))
	}
	if chunked(h) {
		if len(b.Raw) > 0 {
			fmt.Fprintf(bw, "%x\r\n", len(b.Raw))
			bw.Write(b.Raw)
			bw.WriteString("\r\n")
		}
		bw.WriteString("0\r\n\r\n")
	} else {
		bw.Write(b.Raw)
	}
	return bw.Flush()
}

func writeRawRequest(w io.Writer, r *flow.Request, meta *metaFlags) error {
	bw := bufio.NewWriter(w)
	target := r.URL
	if strings.EqualFold(r.Method, "CONNECT") {
		if _, rest, ok := strings.Cut(target, "://"); ok {
			target = strings.TrimSuffix(rest, "/")
		}
	}
	method := strings.TrimSpace(r.Method)
	if method == "" {
		method = "GET"
	}
	if target == "" {
		target = "/"
	}
	fmt.Fprintf(bw, "%s %s %s\r\n", cleanHeaderText.Replace(method), strings.ReplaceAll(cleanHeaderText.Replace(target), " ", "%20"), wireProto(r.Proto))
	writeHeaders(bw, r.Header, &r.Body, flagReqDecoded, meta)
	if strings.HasPrefix(strings.ToLower(r.URL), "https://") {
		meta.bits |= fiddlerIsHTTPS
	}
	return writeBody(bw, r.Header, &r.Body, flagReqTruncated, meta)
}

func writeRawResponse(w io.Writer, r *flow.Response, meta *metaFlags) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %03d", wireProto(r.Proto), r.Status)
	if r.Reason != "" {
		fmt.Fprintf(bw, " %s", cleanHeaderText.Replace(r.Reason))
	}
	bw.WriteString("\r\n")
	writeHeaders(bw, r.Header, &r.Body, flagRespDecoded, meta)
	return writeBody(bw, r.Header, &r.Body, flagRespTruncated, meta)
}

// writeSAZMeta writes raw/NN_m.xml: Fiddler's timers derived from the
// flow's phases, the client and server addresses, and aadproxy's flags.
func writeSAZMeta(w io.Writer, sid int, f *flow.Flow, meta *metaFlags) error {
	t := f.Timings
	at := func(tm time.Time) string {
		if tm.IsZero() {
			return fiddlerZeroTime
		}
		return tm.Format(fiddlerTimeLayout)
	}
	pos := func(d time.Duration) time.Duration { return max(d, 0) }
	var begin, connected, gotReq, beginResp, doneResp, done time.Time
	if !t.Start.IsZero() {
		begin = t.Start
		connected = begin.Add(pos(t.DNS) + pos(t.Connect))
		gotReq = connected.Add(pos(t.Send))
		beginResp = gotReq.Add(pos(t.Wait))
		doneResp = beginResp.Add(pos(t.Receive))
		done = doneResp
	}
	if !f.Done.IsZero() {
		done = f.Done
	}
	reused := t.Connect < 0 && !t.Start.IsZero()
	if reused {
		meta.bits |= fiddlerServerPipeReused
	}

	bw := bufio.NewWriter(w)
	attr := func(name, value string) {
		bw.WriteString(" ")
		bw.WriteString(name)
		bw.WriteString(`="`)
		xmlEscapeAttr(bw, value)
		bw.WriteString(`"`)
	}
	msAttr := func(name string, d time.Duration) {
		if d >= 0 {
			attr(name, strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10))
		}
	}
	bw.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<Session")
	attr("SID", strconv.Itoa(sid))
	attr("BitFlags", strconv.FormatUint(meta.bits, 16))
	bw.WriteString(">\r\n  <SessionTimers")
	attr("ClientConnected", at(begin))
	attr("ClientBeginRequest", at(begin))
	attr("GotRequestHeaders", at(begin))
	attr("ClientDoneRequest", at(begin))
	attr("GatewayTime", "0")
	msAttr("DNSTime", t.DNS)
	msAttr("TCPConnectTime", t.Connect)
	msAttr("HTTPSHandshakeTime", t.TLS)
	attr("ServerConnected", at(connected))
	attr("FiddlerBeginRequest", at(connected))
	attr("ServerGotRequest", at(gotReq))
	attr("ServerBeginResponse", at(beginResp))
	attr("GotResponseHeaders", at(beginResp))
	attr("ServerDoneResponse", at(doneResp))
	attr("ClientBeginResponse", at(beginResp))
	attr("ClientDoneResponse", at(done))
	bw.WriteString(" />\r\n")
	if reused {
		bw.WriteString("  <PipeInfo Reused=\"true\" />\r\n")
	} else {
		bw.WriteString("  <PipeInfo />\r\n")
	}
	bw.WriteString("  <SessionFlags>\r\n")
	flag := func(name, value string) {
		bw.WriteString("    <SessionFlag")
		attr("N", name)
		attr("V", value)
		bw.WriteString(" />\r\n")
	}
	if host, port, err := net.SplitHostPort(f.ClientAddr); err == nil {
		flag("x-clientip", host)
		flag("x-clientport", port)
	} else if f.ClientAddr != "" {
		flag("x-clientip", f.ClientAddr)
	}
	if ip := serverIP(f.ServerAddr); ip != "" {
		flag("x-hostip", ip)
	}
	if f.ServerAddr != "" {
		flag(flagServerAddr, f.ServerAddr)
	}
	if f.Response != nil {
		flag("x-responsebodytransferlength", strconv.FormatInt(f.Response.Body.Size, 10))
	}
	if f.Error != "" {
		flag(flagError, f.Error)
	}
	if f.ClientTLS != nil {
		flag(flagClientTLS, formatTLSFlag(f.ClientTLS))
	}
	if f.ServerTLS != nil {
		flag(flagServerTLS, formatTLSFlag(f.ServerTLS))
	}
	for i := range meta.names {
		flag(meta.names[i], meta.values[i])
	}
	bw.WriteString("  </SessionFlags>\r\n</Session>\r\n")
	return bw.Flush()
}

// xmlEscapeAttr writes s escaped for a double-quoted attribute. Characters
// XML cannot hold at all become U+FFFD; CR, LF and tab are escaped so an
// attribute keeps them.
func xmlEscapeAttr(bw *bufio.Writer, s string) {
	for _, r := range s {
		switch {
		case r == '&':
			bw.WriteString("&amp;")
		case r == '<':
			bw.WriteString("&lt;")
		case r == '>':
			bw.WriteString("&gt;")
		case r == '"':
			bw.WriteString("&quot;")
		case r == '\r':
			bw.WriteString("&#xD;")
		case r == '\n':
			bw.WriteString("&#xA;")
		case r == '\t':
			bw.WriteString("&#x9;")
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || r == 0xFFFD:
			bw.WriteRune(0xFFFD)
		default:
			bw.WriteRune(r)
		}
	}
}

// WriteSAZ writes flows to a new Fiddler archive at path, atomically: the
// archive is written to a private temporary file in the same folder and
// renamed into place, so a failure leaves nothing behind and a reader never
// sees half an archive.
func WriteSAZ(path string, flows []*flow.Flow) error {
	return writeAtomic(path, func(out io.Writer) error {
		w := NewSAZWriter(out, len(flows))
		for _, f := range flows {
			if err := w.Write(f); err != nil {
				return err
			}
		}
		return w.Close()
	})
}

// writeAtomic runs write on a private temporary file next to path and
// renames it to path when write and the file's sync and close succeed; on
// any error the temporary file is removed.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already makes the file 0600; Chmod guards against an
	// unusual umask-free platform default.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
