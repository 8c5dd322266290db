package trace

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http/httputil"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// A SAZ (Fiddler's Session Archive Zip) is a zip holding, per session NN,
// raw/NN_c.txt (the request as the client sent it), raw/NN_s.txt (the
// response as the server sent it, often still chunked) and raw/NN_m.xml
// (timers and flags), plus [Content_Types].xml and a human-readable
// _index.htm that Fiddler ignores when loading.

// MaxSAZBody caps how many bytes of each SAZ body are kept in a flow, the
// way the live proxy caps its capture (the same as its default --max-body):
// a longer body is kept Truncated with its true Size, so one huge session,
// or a zip member that inflates a thousandfold, cannot exhaust memory. A
// body's decoded view is capped the same way (flow.DecodeLimitFor).
const MaxSAZBody = flow.DefaultDecodeLimit

// maxSAZHead bounds a raw message's start line and headers.
const maxSAZHead = 1 << 20

// maxSAZMeta bounds a session's metadata file.
const maxSAZMeta = 1 << 20

// Fiddler's SessionFlags bits (the BitFlags attribute, in hex) that aadproxy
// reads and writes.
const (
	fiddlerIsHTTPS           = 0x1
	fiddlerServerPipeReused  = 0x10
	fiddlerResponseGenerated = 0x100
)

// Session flags aadproxy adds so a flow survives a SAZ round trip; Fiddler
// shows them in the session's properties and otherwise ignores them.
const (
	flagError         = "x-aadproxy-error"
	flagNoResponse    = "x-aadproxy-noresponse"
	flagServerAddr    = "x-aadproxy-serveraddr"
	flagReqTruncated  = "x-aadproxy-request-truncated"
	flagRespTruncated = "x-aadproxy-response-truncated"
	flagReqDecoded    = "x-aadproxy-request-decoded-from"
	flagRespDecoded   = "x-aadproxy-response-decoded-from"
	flagClientTLS     = "x-aadproxy-client-tls"
	flagServerTLS     = "x-aadproxy-server-tls"
)

// SAZDamageError reports a SAZ archive that is cut short or holds incomplete
// sessions (a part missing or unreadable). Every complete session was
// delivered; Session names the first damaged one by the number in its file
// names ("" when the archive was cut between sessions), Offset is the byte
// position in the archive where its damage starts (-1 when unknown), Entry
// is how many sessions were delivered before it, Complete how many were
// delivered in all (the flows a reader got), and Damaged how many sessions
// were incomplete in all.
type SAZDamageError struct {
	Session  string
	Offset   int64
	Entry    int
	Complete int
	Damaged  int
	Err      error
}

func (e *SAZDamageError) Error() string {
	var b strings.Builder
	b.WriteString("damaged SAZ")
	if e.Session != "" {
		fmt.Fprintf(&b, " at session %s", e.Session)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Offset)
	}
	// The count is of every session read, which is what a reader shows
	// next to this message, not of those before the damage.
	fmt.Fprintf(&b, ": %v; read %s", e.Err, plural(e.Complete, "complete session"))
	if e.Damaged > 0 {
		fmt.Fprintf(&b, ", %s", plural(e.Damaged, "damaged session"))
	}
	return b.String()
}

func (e *SAZDamageError) Unwrap() error { return e.Err }

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// sazPart is one file of a session, wherever it came from: the zip's
// central directory or, for a damaged archive, a scan of local headers.
type sazPart struct {
	name   string
	offset int64
	open   func() (io.ReadCloser, error)
}

type sazSession struct {
	num              int
	id               string // the number as written in the file names
	req, resp, meta  *sazPart
	firstOffset      int64
	incompleteReason string
}

// ReadSAZ reads the Fiddler archive at path and calls fn with each session
// converted to a flow, in session order. It returns how many sessions fn
// accepted. Memory is bounded by one session (bodies past MaxSAZBody are
// kept truncated). A damaged archive (cut short, or a session missing its
// request or response) yields every complete session, then a
// *SAZDamageError, returned as it is; an error from fn stops the reading and
// is also returned as it is.
func ReadSAZ(path string, fn func(index int, f *flow.Flow) error) (n int, err error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read SAZ: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return 0, fmt.Errorf("read SAZ: %w", err)
	}
	return readSAZ(file, st.Size(), path, fn)
}

// readSAZ is ReadSAZ on any io.ReaderAt; name is used in messages.
func readSAZ(ra io.ReaderAt, size int64, name string, fn func(index int, f *flow.Flow) error) (int, error) {
	sessions, cut, err := sazSessions(ra, size)
	if err != nil {
		return 0, fmt.Errorf("read SAZ %s: %w", name, err)
	}
	n := 0
	var first *SAZDamageError
	damaged := 0
	note := func(s *sazSession, off int64, err error) {
		damaged++
		if first == nil {
			first = &SAZDamageError{Session: s.id, Offset: off, Entry: n, Err: err}
		}
	}
	for _, s := range sessions {
		if s.incompleteReason != "" {
			note(s, s.firstOffset, errors.New(s.incompleteReason))
			continue
		}
		f, off, err := s.flow(n)
		if err != nil {
			note(s, off, err)
			continue
		}
		if err := fn(n, f); err != nil {
			return n, err
		}
		n++
	}
	if cut != nil && first == nil {
		first = &SAZDamageError{Offset: cut.offset, Entry: n, Err: cut.err}
	}
	if first != nil {
		first.Damaged, first.Complete = damaged, n
		return n, first
	}
	return n, nil
}

// zipCut is where a scan of a damaged archive had to stop.
type zipCut struct {
	offset int64
	err    error
}

// sazSessions lists the archive's sessions in order. A readable central
// directory is used as is; otherwise the local headers are scanned, and cut
// says where the scan stopped.
func sazSessions(ra io.ReaderAt, size int64) ([]*sazSession, *zipCut, error) {
	var parts []*sazPart
	var cut *zipCut
	zr, err := zip.NewReader(ra, size)
	if err == nil || errors.Is(err, zip.ErrInsecurePath) {
		// Names are never used as paths here, so an odd one is harmless.
		for _, f := range zr.File {
			if f.Flags&0x1 != 0 {
				return nil, nil, errors.New("password-protected archives are not supported; save the sessions again without a password")
			}
			off, _ := f.DataOffset()
			parts = append(parts, &sazPart{name: f.Name, offset: off, open: f.Open})
		}
	} else {
		parts, cut, err = scanZip(ra, size)
		if err != nil {
			return nil, nil, err
		}
		if len(parts) == 0 && (cut == nil || !zipStart(ra)) {
			// Not a zip cut short, but no zip at all.
			return nil, nil, errors.New("not a zip archive")
		}
	}
	byNum := map[int]*sazSession{}
	anyMeta := false
	var last *sazSession // the session of the last part, which a cut may have split
	for _, p := range parts {
		num, id, kind, ok := sazPartName(p.name)
		if !ok {
			continue
		}
		s := byNum[num]
		if s == nil {
			s = &sazSession{num: num, id: id, firstOffset: p.offset}
			byNum[num] = s
		}
		s.firstOffset = min(s.firstOffset, p.offset)
		last = s
		switch kind {
		case 'c':
			s.req = p
		case 's':
			s.resp = p
		case 'm':
			s.meta = p
			anyMeta = true
		}
	}
	out := make([]*sazSession, 0, len(byNum))
	for _, s := range byNum {
		switch {
		case s.req == nil:
			s.incompleteReason = fmt.Sprintf("raw/%s_c.txt (the request) is missing", s.id)
		case s.resp == nil:
			s.incompleteReason = fmt.Sprintf("raw/%s_s.txt (the response) is missing", s.id)
		case s.meta == nil && cut != nil && (anyMeta || s == last):
			// In a cut archive, a session without the metadata the others
			// have, or the one the cut fell in, lost it to the cut.
			s.incompleteReason = fmt.Sprintf("raw/%s_m.xml (the metadata) is missing", s.id)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *sazSession) int { return a.num - b.num })
	if len(out) == 0 && cut == nil {
		return nil, nil, errors.New("no sessions in the archive (no raw/NN_c.txt files)")
	}
	return out, cut, nil
}

// sazPartName parses "raw/12_c.txt" into 12, "12", 'c'. Fiddler writes
// forward slashes; backslashes and any case are accepted too.
func sazPartName(name string) (num int, id string, kind byte, ok bool) {
	name = strings.ReplaceAll(name, `\`, "/")
	dir, file := path.Split(name)
	if !strings.EqualFold(dir, "raw/") {
		return 0, "", 0, false
	}
	file = strings.ToLower(file)
	base, suffix, ok := strings.Cut(file, "_")
	if !ok || base == "" || len(base) > 9 {
		return 0, "", 0, false
	}
	for _, c := range base {
		if c < '0' || c > '9' {
			return 0, "", 0, false
		}
	}
	switch suffix {
	case "c.txt", "s.txt", "m.xml":
	default:
		return 0, "", 0, false
	}
	num, _ = strconv.Atoi(base)
	return num, base, suffix[0], true
}

// zip record signatures and sizes.
const (
	zipLocalSig      = 0x04034b50
	zipCentralSig    = 0x02014b50
	zipEndSig        = 0x06054b50
	zipDescriptorSig = 0x08074b50
	zipLocalLen      = 30
)

// scanZip walks the local file headers from the start of a zip whose
// central directory is unreadable (typically a file cut short), listing
// every entry whose data is complete and checks out. It stops at the first
// entry it cannot read and reports where.
func scanZip(ra io.ReaderAt, size int64) ([]*sazPart, *zipCut, error) {
	var parts []*sazPart
	var off int64
	for {
		var hdr [zipLocalLen]byte
		if n, err := ra.ReadAt(hdr[:], off); n < 4 {
			if off == size {
				return parts, &zipCut{off, errors.New("the archive ends without its central directory")}, nil
			}
			return parts, &zipCut{off, fmt.Errorf("reading a header: %w", errOrEOF(err))}, nil
		}
		switch binary.LittleEndian.Uint32(hdr[:4]) {
		case zipLocalSig:
		case zipCentralSig, zipEndSig:
			// The central directory itself must be what was damaged.
			return parts, &zipCut{off, errors.New("the central directory is damaged")}, nil
		default:
			return parts, &zipCut{off, errors.New("no zip entry header here")}, nil
		}
		if n, _ := ra.ReadAt(hdr[:], off); n < zipLocalLen {
			return parts, &zipCut{off, errors.New("an entry header is cut short")}, nil
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		crc := binary.LittleEndian.Uint32(hdr[14:])
		csize := int64(binary.LittleEndian.Uint32(hdr[18:]))
		nameLen := int64(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int64(binary.LittleEndian.Uint16(hdr[28:]))
		name := make([]byte, nameLen)
		if n, _ := ra.ReadAt(name, off+zipLocalLen); int64(n) < nameLen {
			return parts, &zipCut{off, errors.New("an entry name is cut short")}, nil
		}
		if flags&0x1 != 0 {
			return nil, nil, errors.New("password-protected archives are not supported; save the sessions again without a password")
		}
		dataOff := off + zipLocalLen + nameLen + extraLen
		if method != zip.Store && method != zip.Deflate {
			return parts, &zipCut{off, fmt.Errorf("%s: unsupported compression method %d", name, method)}, nil
		}
		var dataLen int64
		if flags&0x8 == 0 {
			dataLen = csize
			if dataOff+dataLen > size {
				return parts, &zipCut{off, fmt.Errorf("%s is cut short", name)}, nil
			}
			if err := checkZipData(ra, dataOff, dataLen, method, crc); err != nil {
				return parts, &zipCut{off, fmt.Errorf("%s: %w", name, err)}, nil
			}
		} else {
			// Sizes follow the data; only a deflate stream says where it
			// ends by itself.
			if method != zip.Deflate {
				return parts, &zipCut{off, fmt.Errorf("%s: cannot find the end of a stored entry without sizes", name)}, nil
			}
			consumed, sum, err := inflateLength(io.NewSectionReader(ra, dataOff, size-dataOff))
			if err != nil {
				return parts, &zipCut{off, fmt.Errorf("%s is cut short: %w", name, err)}, nil
			}
			dataLen = consumed
			desc := make([]byte, 16)
			n, _ := ra.ReadAt(desc, dataOff+dataLen)
			descLen := int64(12)
			if n >= 4 && binary.LittleEndian.Uint32(desc) == zipDescriptorSig {
				desc, descLen = desc[4:], 16
			}
			if int64(n) < descLen {
				return parts, &zipCut{off, fmt.Errorf("%s: its data descriptor is cut short", name)}, nil
			}
			if binary.LittleEndian.Uint32(desc) != sum {
				return parts, &zipCut{off, fmt.Errorf("%s: %w", name, zip.ErrChecksum)}, nil
			}
			dataLen += descLen
		}
		start, length := dataOff, dataLen
		parts = append(parts, &sazPart{name: string(name), offset: dataOff, open: func() (io.ReadCloser, error) {
			section := io.NewSectionReader(ra, start, length)
			if method == zip.Store {
				return io.NopCloser(section), nil
			}
			return flate.NewReader(section), nil
		}})
		off = dataOff + dataLen
	}
}

// zipStart reports whether ra starts with a zip entry header.
func zipStart(ra io.ReaderAt) bool {
	var sig [4]byte
	n, _ := ra.ReadAt(sig[:], 0)
	return n == 4 && binary.LittleEndian.Uint32(sig[:]) == zipLocalSig
}

func errOrEOF(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkZipData verifies an entry's checksum by reading it through.
func checkZipData(ra io.ReaderAt, off, n int64, method uint16, want uint32) error {
	var r io.Reader = io.NewSectionReader(ra, off, n)
	if method == zip.Deflate {
		fr := flate.NewReader(r)
		defer fr.Close()
		r = fr
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if h.Sum32() != want {
		return zip.ErrChecksum
	}
	return nil
}

// countingReader counts the bytes its reader consumed. It is an
// io.ByteReader so flate reads exactly the stream and no further.
type countingReader struct {
	br *bufio.Reader
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// inflateLength inflates a deflate stream to find how long it is, and
// returns its CRC-32.
func inflateLength(r io.Reader) (int64, uint32, error) {
	cr := &countingReader{br: bufio.NewReader(r)}
	fr := flate.NewReader(cr)
	defer fr.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, fr); err != nil {
		return 0, 0, errOrEOF(err)
	}
	return cr.n, h.Sum32(), nil
}

// sazMeta is the part of raw/NN_m.xml aadproxy uses.
type sazMeta struct {
	SID      string `xml:"SID,attr"`
	BitFlags string `xml:"BitFlags,attr"`
	Timers   struct {
		ClientConnected     string `xml:",attr"`
		ClientBeginRequest  string `xml:",attr"`
		ClientDoneRequest   string `xml:",attr"`
		DNSTime             string `xml:",attr"`
		TCPConnectTime      string `xml:",attr"`
		HTTPSHandshakeTime  string `xml:",attr"`
		FiddlerBeginRequest string `xml:",attr"`
		ServerGotRequest    string `xml:",attr"`
		ServerBeginResponse string `xml:",attr"`
		GotResponseHeaders  string `xml:",attr"`
		ServerDoneResponse  string `xml:",attr"`
		ClientBeginResponse string `xml:",attr"`
		ClientDoneResponse  string `xml:",attr"`
	} `xml:"SessionTimers"`
	Flags []struct {
		N string `xml:"N,attr"`
		V string `xml:"V,attr"`
	} `xml:"SessionFlags>SessionFlag"`

	bits  uint64
	flags map[string]string // lower-cased names: Fiddler's flag names are case-insensitive
}

func (m *sazMeta) flag(name string) string { return m.flags[name] }

func parseSAZMeta(data []byte) *sazMeta {
	m := &sazMeta{}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// Metadata is a convenience: a file that does not parse leaves the
	// session without timings rather than unreadable.
	_ = xml.Unmarshal(data, m)
	m.bits, _ = strconv.ParseUint(strings.TrimSpace(m.BitFlags), 16, 64)
	m.flags = make(map[string]string, len(m.Flags))
	for _, f := range m.Flags {
		m.flags[strings.ToLower(f.N)] = f.V
	}
	return m
}

// readPart reads a whole small part, refusing one larger than limit.
func readPart(p *sazPart, limit int64) ([]byte, error) {
	rc, err := p.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// flow reads the session into a flow. An error means the archive itself is
// damaged (a part that does not decompress); a malformed HTTP message is
// recorded on the flow instead, since it may be exactly what was captured.
func (s *sazSession) flow(index int) (*flow.Flow, int64, error) {
	meta := &sazMeta{flags: map[string]string{}}
	if s.meta != nil {
		data, err := readPart(s.meta, maxSAZMeta)
		if err != nil {
			return nil, s.meta.offset, fmt.Errorf("%s: %w", s.meta.name, err)
		}
		meta = parseSAZMeta(data)
	}
	f := &flow.Flow{Index: index}
	https := meta.bits&fiddlerIsHTTPS != 0

	rc, err := s.req.open()
	if err != nil {
		return nil, s.req.offset, fmt.Errorf("%s: %w", s.req.name, err)
	}
	req, perr, err := readRawRequest(rc, https)
	rc.Close()
	if err != nil {
		return nil, s.req.offset, fmt.Errorf("%s: %w", s.req.name, err)
	}
	f.Request = req
	if perr != nil {
		f.Error = fmt.Sprintf("malformed request in %s: %v", s.req.name, perr)
	}

	rc, err = s.resp.open()
	if err != nil {
		return nil, s.resp.offset, fmt.Errorf("%s: %w", s.resp.name, err)
	}
	resp, perr, err := readRawResponse(rc, req.Method)
	rc.Close()
	if err != nil {
		return nil, s.resp.offset, fmt.Errorf("%s: %w", s.resp.name, err)
	}
	if perr != nil && f.Error == "" {
		f.Error = fmt.Sprintf("malformed response in %s: %v", s.resp.name, perr)
	}
	f.Response = resp
	if f.Response != nil && meta.bits&fiddlerResponseGenerated != 0 {
		f.Response.Synthetic = true
	}
	applySAZMeta(f, meta)
	return f, 0, nil
}

// applySAZMeta copies timings, addresses and aadproxy's own flags to f.
func applySAZMeta(f *flow.Flow, m *sazMeta) {
	t := &m.Timers
	ts := func(s string) time.Time { return parseFiddlerTime(s) }
	f.Timings.Start = ts(t.ClientBeginRequest)
	if f.Timings.Start.IsZero() {
		f.Timings.Start = ts(t.ClientConnected)
	}
	reused := m.bits&fiddlerServerPipeReused != 0 || strings.HasPrefix(strings.ToUpper(m.flag("x-serversocket")), "REUSE")
	ms := func(s string) time.Duration {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		// Fiddler writes 0 for the phases of a reused connection.
		if err != nil || v < 0 || v == 0 && reused {
			return -1
		}
		return time.Duration(v) * time.Millisecond
	}
	f.Timings.DNS = ms(t.DNSTime)
	f.Timings.Connect = ms(t.TCPConnectTime)
	f.Timings.TLS = ms(t.HTTPSHandshakeTime)
	between := func(a, b string) time.Duration {
		ta, tb := ts(a), ts(b)
		if ta.IsZero() || tb.IsZero() || tb.Before(ta) {
			return -1
		}
		return tb.Sub(ta)
	}
	f.Timings.Send = between(t.FiddlerBeginRequest, t.ServerGotRequest)
	f.Timings.Wait = between(t.ServerGotRequest, t.ServerBeginResponse)
	f.Timings.Receive = between(t.ServerBeginResponse, t.ServerDoneResponse)
	if f.Timings.Receive < 0 {
		f.Timings.Receive = between(t.ServerBeginResponse, t.ClientDoneResponse)
	}
	f.Done = ts(t.ClientDoneResponse)

	if ip := strings.TrimSpace(m.flag("x-clientip")); ip != "" {
		ip = strings.TrimPrefix(ip, "::ffff:")
		if port := m.flag("x-clientport"); port != "" {
			f.ClientAddr = net.JoinHostPort(ip, port)
		} else {
			f.ClientAddr = ip
		}
	}
	if addr := m.flag(flagServerAddr); addr != "" {
		f.ServerAddr = addr
	} else if ip := strings.TrimSpace(m.flag("x-hostip")); ip != "" && f.Request != nil {
		f.ServerAddr = net.JoinHostPort(ip, urlPort(f.Request.URL, f.Request.Method))
	}
	if e := m.flag(flagError); e != "" {
		f.Error = e
	}
	if m.flag(flagNoResponse) != "" {
		f.Response = nil
	}
	if f.Request != nil {
		restoreBody(&f.Request.Body, &f.Request.Header, m.flag(flagReqTruncated), m.flag(flagReqDecoded))
	}
	if f.Response != nil {
		restoreBody(&f.Response.Body, &f.Response.Header, m.flag(flagRespTruncated), m.flag(flagRespDecoded))
	}
	f.ClientTLS = parseTLSFlag(m.flag(flagClientTLS))
	f.ServerTLS = parseTLSFlag(m.flag(flagServerTLS))
}

// restoreBody undoes what WriteSAZ had to change to write a body Fiddler
// can show: a truncated body's true size, and the Content-Encoding header
// of a body that was already decoded. The size is the body's on the wire,
// which a decoded body may exceed.
func restoreBody(b *flow.Body, h *flow.Headers, truncated, decodedFrom string) {
	if size, err := strconv.ParseInt(truncated, 10, 64); err == nil && size >= 0 && (size >= int64(len(b.Raw)) || decodedFrom != "") {
		b.Truncated, b.Size = true, size
	}
	if decodedFrom != "" {
		*h = append(*h, flow.Header{Name: "Content-Encoding", Value: decodedFrom})
		b.Encoding = ""
	}
}

func parseTLSFlag(s string) *flow.TLSInfo {
	if s == "" {
		return nil
	}
	parts := strings.SplitN(s, ";", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return &flow.TLSInfo{Version: parts[0], ALPN: parts[1], ServerName: parts[2]}
}

func formatTLSFlag(t *flow.TLSInfo) string {
	return t.Version + ";" + t.ALPN + ";" + t.ServerName
}

// fiddlerTimeLayouts are how Fiddler writes timers: .NET's round-trip
// format with seven fractional digits and an offset, or without an offset
// (local time, read as UTC since the zone is unknown).
var fiddlerTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
}

// parseFiddlerTime returns the zero time for an unset timer; Fiddler writes
// 0001-01-01T00:00:00 for phases that did not happen.
func parseFiddlerTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range fiddlerTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1971 {
				return time.Time{}
			}
			return t
		}
	}
	return time.Time{}
}

// urlPort is the port a request went to, from its URL or its scheme.
func urlPort(rawURL, method string) string {
	if strings.EqualFold(method, "CONNECT") {
		if _, port, err := net.SplitHostPort(rawURL); err == nil {
			return port
		}
		return "443"
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "80"
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return port
	}
	if strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "wss") {
		return "443"
	}
	return "80"
}

// errHeadTooLong is a message head past maxSAZHead.
var errHeadTooLong = fmt.Errorf("message head is longer than %d bytes", maxSAZHead)

// readHead reads a start line and header lines, keeping names as written,
// repeated lines and their order. Obsolete line folding is joined to the
// line it continues. The end of the input also ends the head, since a
// request without a body is sometimes stored without its blank line.
func readHead(br *bufio.Reader) (start string, h flow.Headers, err error) {
	budget := maxSAZHead
	// Blank lines before the start line are skipped, as servers do.
	for start == "" {
		if start, err = readLine(br, &budget); err != nil {
			return "", nil, err
		}
	}
	for {
		line, err := readLine(br, &budget)
		if err == io.EOF {
			return start, h, nil
		}
		if err != nil {
			return start, h, err
		}
		if line == "" {
			return start, h, nil
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 {
			last := &h[len(h)-1]
			last.Value = strings.TrimSpace(last.Value + " " + strings.TrimSpace(line))
			continue
		}
		// A pseudo-header (":authority") has its name after a colon.
		from := 0
		if line[0] == ':' {
			from = 1
		}
		i := strings.IndexByte(line[from:], ':')
		if i < 0 {
			// Not a header line; keep it visible rather than lose it.
			h = append(h, flow.Header{Name: strings.TrimSpace(line)})
			continue
		}
		i += from
		h = append(h, flow.Header{Name: strings.TrimRight(line[:i], " \t"), Value: strings.TrimSpace(line[i+1:])})
	}
}

// readLine reads one line without its CRLF or LF. It returns io.EOF only
// when nothing at all was left.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", errHeadTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = nil
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// chunked reports whether the headers say the body is chunked on the wire.
func chunked(h flow.Headers) bool {
	vals := h.Values("Transfer-Encoding")
	if len(vals) == 0 {
		return false
	}
	codings := strings.Split(vals[len(vals)-1], ",")
	return strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
}

// readRawBody reads a stored body: the rest of the part, de-chunked when
// the headers say chunked, keeping at most MaxSAZBody bytes. A chunked body
// that does not decode keeps what did and reports why in perr.
func readRawBody(br *bufio.Reader, h flow.Headers) (b flow.Body, perr, err error) {
	var src io.Reader = br
	var expect int64 // what Content-Length announces: read into one slice of that size
	if chunked(h) {
		src = httputil.NewChunkedReader(br)
	} else if cl, err := strconv.ParseInt(strings.TrimSpace(h.Get("Content-Length")), 10, 64); err == nil {
		expect = cl
	}
	data, more, cerr := flow.ReadAtMost(src, MaxSAZBody, expect)
	var rest int64
	if cerr == nil && more {
		// Counted, not kept: one byte past the cap was read already.
		rest, cerr = io.Copy(io.Discard, src)
		rest++
	}
	b = flow.Body{Raw: data, Size: int64(len(data)) + rest, Truncated: more,
		DecodeLimit: flow.DecodeLimitFor(h.Get("Content-Type"), MaxSAZBody)}
	if len(b.Raw) == 0 {
		b.Raw = nil
	}
	if enc := strings.Join(h.Values("Content-Encoding"), ", "); enc != "" && !strings.EqualFold(enc, "identity") {
		b.Encoding = enc
	}
	if cerr != nil {
		var pe *partError
		if errors.As(cerr, &pe) {
			return b, nil, pe.err
		}
		// Chunks that do not parse: the stored bytes are what they are.
		return b, fmt.Errorf("could not de-chunk the body: %w", cerr), nil
	}
	return b, nil, nil
}

// readRawRequest parses raw/NN_c.txt. Fiddler writes the absolute URL in
// the request line (origin form for a few tools); https says which scheme
// an origin-form target had. perr reports a malformed message; err a part
// that could not be read.
func readRawRequest(r io.Reader, https bool) (req *flow.Request, perr, err error) {
	br := bufio.NewReaderSize(&partReader{r: r}, 16<<10)
	start, h, err := readHead(br)
	req = &flow.Request{Header: h}
	if err != nil {
		if err == io.EOF {
			return req, errors.New("the request is empty"), nil
		}
		if pe, ok := err.(*partError); ok {
			return req, nil, pe.err
		}
		return req, err, nil
	}
	fields := strings.Fields(start)
	switch len(fields) {
	case 0:
		return req, errors.New("the request line is empty"), nil
	case 1:
		req.Method = fields[0]
	case 2:
		req.Method, req.URL = fields[0], fields[1]
	default:
		req.Method, req.URL, req.Proto = fields[0], fields[1], fields[len(fields)-1]
	}
	switch {
	case strings.EqualFold(req.Method, "CONNECT"):
		// Authority form, kept as written: a tunnel has no URL.
	case strings.HasPrefix(req.URL, "/") || req.URL == "*":
		scheme := "http"
		if https {
			scheme = "https"
		}
		req.URL = scheme + "://" + h.Get("Host") + req.URL
	}
	body, bperr, err := readRawBody(br, h)
	req.Body = body
	return req, bperr, err
}

// readRawResponse parses raw/NN_s.txt. An empty part means the session got
// no response.
func readRawResponse(r io.Reader, method string) (resp *flow.Response, perr, err error) {
	br := bufio.NewReaderSize(&partReader{r: r}, 16<<10)
	start, h, err := readHead(br)
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("no response was stored"), nil
		}
		if pe, ok := err.(*partError); ok {
			return nil, nil, pe.err
		}
		return nil, err, nil
	}
	proto, rest, _ := strings.Cut(start, " ")
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	status, cerr := strconv.Atoi(code)
	if cerr != nil || status < 100 || status > 999 || !strings.HasPrefix(strings.ToUpper(proto), "HTTP/") {
		return nil, fmt.Errorf("bad status line %q", truncateForMessage(start)), nil
	}
	resp = &flow.Response{Status: status, Reason: reason, Proto: proto, Header: h}
	body, bperr, err := readRawBody(br, h)
	resp.Body = body
	return resp, bperr, err
}

func truncateForMessage(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// partError marks an error from the archive part itself (decompression,
// checksum), as opposed to the HTTP text inside it.
type partError struct{ err error }

func (e *partError) Error() string { return e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// partReader wraps a part's reader so its errors are told apart from
// parse errors.
type partReader struct{ r io.Reader }

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = &partError{err}
	}
	return n, err
}
