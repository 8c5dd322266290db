package trace

import (
	"archive/zip"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.saz with the current writer")

type zipFile struct{ name, body string }

// buildZip writes a zip the way Fiddler does: deflated entries, in the
// order given.
func buildZip(t testing.TB, files []zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chunk encodes body as HTTP/1.1 chunks of at most size bytes.
func chunk(body []byte, size int) string {
	var sb strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	sb.WriteString("0\r\n\r\n")
	return sb.String()
}

const signInHTML = "<html><head><title>Sign in to your account</title></head><body>$Config={\"sErrorCode\":\"50058\"}</body></html>"

// fiddlerMeta writes raw/NN_m.xml as Fiddler Classic does (BOM, CRLF, .NET
// timestamps with seven digits and the local offset).
func fiddlerMeta(sid, bits string, dns, connect, tls string, flags ...string) string {
	var sb strings.Builder
	sb.WriteString("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n")
	fmt.Fprintf(&sb, "<Session SID=%q BitFlags=%q>\r\n", sid, bits)
	fmt.Fprintf(&sb, `  <SessionTimers ClientConnected="2025-03-04T06:06:07.0100000+01:00" ClientBeginRequest="2025-03-04T06:06:07.1234567+01:00" GotRequestHeaders="2025-03-04T06:06:07.1234567+01:00" ClientDoneRequest="2025-03-04T06:06:07.1240000+01:00" GatewayTime="0" DNSTime=%q TCPConnectTime=%q HTTPSHandshakeTime=%q ServerConnected="2025-03-04T06:06:07.1600000+01:00" FiddlerBeginRequest="2025-03-04T06:06:07.1610000+01:00" ServerGotRequest="2025-03-04T06:06:07.1620000+01:00" ServerBeginResponse="2025-03-04T06:06:07.3040000+01:00" GotResponseHeaders="2025-03-04T06:06:07.3040000+01:00" ServerDoneResponse="2025-03-04T06:06:07.3100000+01:00" ClientBeginResponse="2025-03-04T06:06:07.3040000+01:00" ClientDoneResponse="2025-03-04T06:06:07.3110000+01:00" />`+"\r\n", dns, connect, tls)
	sb.WriteString("  <PipeInfo />\r\n  <SessionFlags>\r\n")
	for i := 0; i+1 < len(flags); i += 2 {
		fmt.Fprintf(&sb, "    <SessionFlag N=%q V=%q />\r\n", flags[i], flags[i+1])
	}
	sb.WriteString("  </SessionFlags>\r\n</Session>")
	return sb.String()
}

// fiddlerSAZ is a Fiddler Classic capture of a sign-in: a CONNECT tunnel, an
// HTTPS authorize answered chunked and gzipped, a token POST on a reused
// connection stored in origin form, and a 502 Fiddler made itself.
func fiddlerSAZ(t testing.TB) []byte {
	zipped := gz(signInHTML)
	return buildZip(t, []zipFile{
		{"[Content_Types].xml", sazContentTypes},
		{"raw/01_c.txt", "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\nConnection: keep-alive\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n\r\nA SSLv3-compatible ClientHello handshake was found."},
		{"raw/01_m.xml", fiddlerMeta("1", "0", "4", "21", "0", "x-clientip", "127.0.0.1", "x-clientport", "50110", "x-hostip", "20.190.151.7")},
		{"raw/01_s.txt", "HTTP/1.1 200 Connection Established\r\nFiddlerGateway: Direct\r\nStartTime: 06:06:07.025\r\nConnection: close\r\n\r\nThis is a HTTPS CONNECT Tunnel. Secure traffic flows through this connection.\r\n"},
		{"raw/02_c.txt", "GET https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=00000000-0000-0000-0000-000000000001&prompt=none HTTP/1.1\r\nHost: login.microsoftonline.com\r\nx-ms-RefreshTokenCredential: eyJhbGciOiJub25lIn0.e30.\r\nAccept: text/html\r\naccept: */*\r\nCookie: esctx=synthetic\r\n\r\n"},
		{"raw/02_m.xml", fiddlerMeta("2", "1", "3", "20", "15", "x-clientip", "::ffff:127.0.0.1", "x-clientport", "50111", "x-hostip", "20.190.151.7", "x-serversocket", "REUSE ServerPipe#3", "https-Client-Version", "Tls12")},
		{"raw/02_s.txt", "HTTP/1.1 200 OK\r\nCache-Control: no-store, no-cache\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\nSet-Cookie: esctx=one; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None\r\nSet-Cookie: fpc=two; expires=Thu, 03-Apr-2025 05:06:07 GMT; path=/\r\nX-Folded: first\r\n second\r\n\r\n" + chunk(zipped, 16)},
		{"raw/03_c.txt", "\r\nPOST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=authorization_code"},
		{"raw/03_m.xml", fiddlerMeta("3", "11", "0", "0", "0", "x-clientip", "127.0.0.1", "x-clientport", "50111")},
		{"raw/03_s.txt", "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 36\r\n\r\n{\"error\":\"invalid_grant\",\"x\":50126}"},
		{"raw/04_c.txt", "GET http://unreachable.example/ HTTP/1.1\r\nHost: unreachable.example\r\n\r\n"},
		{"raw/04_m.xml", fiddlerMeta("4", "100", "0", "0", "0", "x-clientip", "127.0.0.1")},
		{"raw/04_s.txt", "HTTP/1.1 502 Fiddler - DNS Lookup Failed\r\nContent-Type: text/html; charset=UTF-8\r\nConnection: close\r\n\r\n[Fiddler] DNS Lookup for \"unreachable.example\" failed."},
		{"_index.htm", "<html><body>sessions</body></html>"},
	})
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadSAZFiddlerShaped(t *testing.T) {
	path := writeTemp(t, "fiddler.saz", fiddlerSAZ(t))
	flows, format, err := openAll(t, path)
	if err != nil {
		t.Fatalf("Open(fiddler.saz): %v", err)
	}
	if format != FormatSAZ {
		t.Errorf("Open(fiddler.saz): format %q, want saz", format)
	}
	if len(flows) != 4 {
		t.Fatalf("Open(fiddler.saz): %d flows, want 4", len(flows))
	}
	cet := time.FixedZone("", 3600)
	start := time.Date(2025, 3, 4, 6, 6, 7, 123456700, cet)
	checkFlow(t, "saz 0", flows[0], wantFlow{method: "CONNECT", url: "login.microsoftonline.com:443", status: 200, start: start, dns: 4 * time.Millisecond, serverAddr: "20.190.151.7:443"})
	checkFlow(t, "saz 1", flows[1], wantFlow{
		method: "GET", url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=00000000-0000-0000-0000-000000000001&prompt=none",
		status: 200, start: start, wait: 142 * time.Millisecond, dns: 3 * time.Millisecond,
		reqHeader:  [2]string{"X-MS-REFRESHTOKENCREDENTIAL", "eyJhbGciOiJub25lIn0.e30."},
		respHeader: [2]string{"X-Folded", "first second"},
		respBody:   signInHTML,
		serverAddr: "20.190.151.7:443",
	})
	checkFlow(t, "saz 2", flows[2], wantFlow{
		method: "POST", url: "https://login.microsoftonline.com/common/oauth2/v2.0/token", status: 400,
		reqBody: "grant_type=authorization_code", respBody: `{"error":"invalid_grant","x":50126}`,
	})
	checkFlow(t, "saz 3", flows[3], wantFlow{method: "GET", url: "http://unreachable.example/", status: 502})

	f := flows[1]
	wantReq := flow.Headers{
		{Name: "Host", Value: "login.microsoftonline.com"},
		{Name: "x-ms-RefreshTokenCredential", Value: "eyJhbGciOiJub25lIn0.e30."},
		{Name: "Accept", Value: "text/html"},
		{Name: "accept", Value: "*/*"},
		{Name: "Cookie", Value: "esctx=synthetic"},
	}
	if fmt.Sprint(f.Request.Header) != fmt.Sprint(wantReq) {
		t.Errorf("saz 1 request headers: got %v, want %v (order, casing and repeats kept)", f.Request.Header, wantReq)
	}
	if n := len(f.Response.Header.Values("Set-Cookie")); n != 2 {
		t.Errorf("saz 1: %d Set-Cookie lines, want 2", n)
	}
	if b := f.Response.Body; b.Encoding != "gzip" || !bytes.Equal(b.Raw, gz(signInHTML)) || b.Size != int64(len(b.Raw)) {
		t.Errorf("saz 1 body: encoding %q, %d bytes (size %d); want the de-chunked gzip bytes", b.Encoding, len(b.Raw), b.Size)
	}
	if f.ClientAddr != "127.0.0.1:50111" {
		t.Errorf("saz 1 client: %q, want 127.0.0.1:50111", f.ClientAddr)
	}
	if got, want := f.Done, time.Date(2025, 3, 4, 6, 6, 7, 311e6, cet); !got.Equal(want) {
		t.Errorf("saz 1 done: %v, want %v", got, want)
	}
	if f.Timings.TLS != 15*time.Millisecond || f.Timings.Send != time.Millisecond || f.Timings.Receive != 6*time.Millisecond {
		t.Errorf("saz 1 timings: %+v", f.Timings)
	}
	// Session 3 is on a reused connection: Fiddler's zeros mean "did not happen".
	if tm := flows[2].Timings; tm.DNS >= 0 || tm.Connect >= 0 || tm.TLS >= 0 {
		t.Errorf("saz 2 reused connection: %+v, want negative dns, connect and tls", tm)
	}
	if !flows[3].Response.Synthetic {
		t.Errorf("saz 3: a response Fiddler generated should be Synthetic")
	}
	if flows[0].Response.Body.Size == 0 || flows[0].Request.Body.Size == 0 {
		t.Errorf("saz 0: CONNECT bodies lost")
	}
}

// wantAfterSAZ is what a flow looks like after SAZ and back: Fiddler keeps
// DNS, connect and TLS in whole milliseconds, phases that did not happen
// read as 0 for send, wait and receive, and a missing Done is rebuilt.
func wantAfterSAZ(f *flow.Flow, index int) *flow.Flow {
	w := *f
	w.Index = index
	for _, d := range []*time.Duration{&w.Timings.DNS, &w.Timings.Connect, &w.Timings.TLS} {
		if *d >= 0 {
			*d = d.Round(time.Millisecond)
		}
	}
	for _, d := range []*time.Duration{&w.Timings.Send, &w.Timings.Wait, &w.Timings.Receive} {
		if *d < 0 {
			*d = 0
		}
	}
	if w.Done.IsZero() && !w.Timings.Start.IsZero() {
		t := f.Timings
		w.Done = t.Start.Add(max(t.DNS, 0) + max(t.Connect, 0) + max(t.Send, 0) + max(t.Wait, 0) + max(t.Receive, 0))
	}
	return &w
}

// inUTC puts a flow's times in UTC so DeepEqual compares instants; SAZ
// keeps the capturing machine's offset.
func inUTC(f *flow.Flow) *flow.Flow {
	f.Timings.Start = f.Timings.Start.UTC()
	f.Done = f.Done.UTC()
	return f
}

func TestSAZRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rt.saz")
	flows := sampleFlows()
	if err := WriteSAZ(path, flows); err != nil {
		t.Fatalf("WriteSAZ: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("WriteSAZ: mode %v, want 0600", st.Mode().Perm())
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("zip.OpenReader: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Mode().Perm() != 0o600 {
			t.Errorf("entry %s: mode %v, want 0600", f.Name, f.Mode().Perm())
		}
	}
	zr.Close()
	wantNames := []string{"[Content_Types].xml", "raw/01_c.txt", "raw/01_s.txt", "raw/01_m.xml"}
	if len(names) != 3*len(flows)+2 || fmt.Sprint(names[:4]) != fmt.Sprint(wantNames) || names[len(names)-1] != "_index.htm" {
		t.Errorf("entries: %v, want %v … _index.htm", names, wantNames)
	}

	var got []*flow.Flow
	n, err := ReadSAZ(path, func(i int, f *flow.Flow) error {
		got = append(got, f)
		return nil
	})
	if err != nil || n != len(flows) {
		t.Fatalf("ReadSAZ: %d, %v; want %d, nil", n, err, len(flows))
	}
	for i, f := range flows {
		diffFlows(t, "saz round trip", inUTC(got[i]), wantAfterSAZ(f, i))
	}
}

func TestSAZWriterPseudoHeadersAndDecodedBodies(t *testing.T) {
	// A flow read from a Chrome HAR: HTTP/2 pseudo-headers, a body HAR
	// already decoded under a Content-Encoding header, a chunked response.
	f := &flow.Flow{
		Request: &flow.Request{
			Method: "GET", URL: "https://login.microsoftonline.com/x", Proto: "http/2.0",
			Header: flow.Headers{{Name: ":authority", Value: "login.microsoftonline.com"}, {Name: ":method", Value: "GET"}, {Name: "accept", Value: "*/*"}},
		},
		Response: &flow.Response{
			Status: 200, Proto: "h3",
			Header: flow.Headers{{Name: "content-encoding", Value: "br"}, {Name: "transfer-encoding", Value: "chunked"}, {Name: "x-bad", Value: "a\r\nInjected: yes"}},
			Body:   body("decoded text"),
		},
		Timings: flow.Timings{Start: testStart, DNS: -1, Connect: -1, TLS: -1},
	}
	var buf bytes.Buffer
	w := NewSAZWriter(&buf, 1)
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		raw[zf.Name] = string(b)
	}
	if c := raw["raw/01_c.txt"]; !strings.HasPrefix(c, "GET https://login.microsoftonline.com/x HTTP/2.0\r\nHost: login.microsoftonline.com\r\naccept: */*\r\n\r\n") {
		t.Errorf("request: got %q", c)
	}
	if s := raw["raw/01_s.txt"]; s != "HTTP/3 200\r\ntransfer-encoding: chunked\r\nx-bad: a Injected: yes\r\n\r\nc\r\ndecoded text\r\n0\r\n\r\n" {
		t.Errorf("response: got %q", s)
	}

	var got *flow.Flow
	if _, err := readSAZ(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "mem", func(_ int, fl *flow.Flow) error { got = fl; return nil }); err != nil {
		t.Fatal(err)
	}
	if got.Response.Header.Get("Content-Encoding") != "br" || got.Response.Body.Encoding != "" || got.Response.Body.Text() != "decoded text" {
		t.Errorf("read back: Content-Encoding %q, body encoding %q, text %q", got.Response.Header.Get("Content-Encoding"), got.Response.Body.Encoding, got.Response.Body.Text())
	}
}

func TestReadSAZDamaged(t *testing.T) {
	good := fiddlerSAZ(t)
	files := func(drop string) []byte {
		zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		var out []zipFile
		for _, f := range zr.File {
			if f.Name == drop {
				continue
			}
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			out = append(out, zipFile{f.Name, string(b)})
		}
		return buildZip(t, out)
	}
	tests := []struct {
		name        string
		data        []byte
		wantN       int
		wantSession string
		wantMsg     string
	}{
		{"missing response", files("raw/02_s.txt"), 3, "02", "raw/02_s.txt (the response) is missing; read 3 complete sessions, 1 damaged session"},
		{"missing request", files("raw/04_c.txt"), 3, "04", "raw/04_c.txt (the request) is missing; read 3 complete sessions, 1 damaged session"},
		// The first session damaged: the count is of every session read
		// (what analyze shows as flows), never "after 0 complete sessions".
		{"first session damaged", files("raw/01_s.txt"), 3, "01", "raw/01_s.txt (the response) is missing; read 3 complete sessions, 1 damaged session"},
	}
	for _, tt := range tests {
		var ids []string
		n, err := readSAZ(bytes.NewReader(tt.data), int64(len(tt.data)), tt.name, func(_ int, f *flow.Flow) error {
			ids = append(ids, f.Request.Method)
			return nil
		})
		var d *SAZDamageError
		if !errors.As(err, &d) {
			t.Fatalf("%s: got %v, want *SAZDamageError", tt.name, err)
		}
		if d.Complete != n {
			t.Errorf("%s: the error counts %d complete sessions, the reader delivered %d", tt.name, d.Complete, n)
		}
		if n != tt.wantN || d.Session != tt.wantSession || !strings.Contains(d.Error(), tt.wantMsg) || !strings.Contains(d.Error(), "session "+tt.wantSession) {
			t.Errorf("%s: n=%d, %v; want n=%d naming session %s and %q", tt.name, n, err, tt.wantN, tt.wantSession, tt.wantMsg)
		}
		if !Damaged(err) {
			t.Errorf("%s: Damaged(%v) = false", tt.name, err)
		}
	}

	// A corrupted byte inside a deflated part is damage to that session.
	bad := bytes.Clone(good)
	zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	for _, f := range zr.File {
		if f.Name == "raw/03_s.txt" {
			off, _ := f.DataOffset()
			bad[off+5] ^= 0xff
		}
	}
	n, err := readSAZ(bytes.NewReader(bad), int64(len(bad)), "corrupt", func(int, *flow.Flow) error { return nil })
	var d *SAZDamageError
	if !errors.As(err, &d) || d.Session != "03" || n != 3 {
		t.Errorf("corrupted session 03: n=%d, %v; want 3 sessions and damage at 03", n, err)
	}
}

// TestReadSAZTruncatedEverywhere cuts a SAZ at every byte: the reader must
// never panic, must deliver only sessions that are whole and correct, and
// must report damage unless the cut spared the whole archive.
func TestReadSAZTruncatedEverywhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.saz")
	flows := sampleFlows()
	if err := WriteSAZ(path, flows); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	maxN := 0
	// Every byte normally; the race detector makes that slow, and the
	// sessions' boundaries are still crossed with a small stride.
	stride := 1
	if raceEnabled {
		stride = 5
	}
	for cut := 0; cut < len(data); cut += stride {
		var got []*flow.Flow
		n, err := readSAZ(bytes.NewReader(data[:cut]), int64(cut), "cut", func(_ int, f *flow.Flow) error {
			got = append(got, f)
			return nil
		})
		if err == nil {
			t.Fatalf("cut at %d of %d: no error", cut, len(data))
		}
		if cut >= 4 && !Damaged(err) {
			t.Fatalf("cut at %d: got %v, want *SAZDamageError", cut, err)
		}
		if n != len(got) {
			t.Fatalf("cut at %d: n=%d, delivered %d", cut, n, len(got))
		}
		for i := range got {
			diffFlows(t, fmt.Sprintf("cut at %d", cut), inUTC(got[i]), wantAfterSAZ(flows[i], i))
		}
		maxN = max(maxN, n)
	}
	if maxN != len(flows) && stride == 1 {
		t.Errorf("truncations delivered at most %d sessions, want all %d just before the central directory", maxN, len(flows))
	}
}

func TestReadSAZRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty zip", buildZip(t, nil), "no sessions"},
		{"not a zip", []byte("PK\x05\x07 but nothing else"), "not a zip archive"},
		{"cut in the first header", []byte("PK\x03\x04 but nothing else"), "damaged SAZ (byte 0): an entry header is cut short; read 0 complete sessions"},
		{"no raw folder", buildZip(t, []zipFile{{"readme.txt", "hi"}}), "no sessions"},
	}
	for _, tt := range tests {
		_, err := readSAZ(bytes.NewReader(tt.data), int64(len(tt.data)), tt.name, func(int, *flow.Flow) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestReadSAZCallbackError(t *testing.T) {
	data := fiddlerSAZ(t)
	stop := errors.New("stop")
	n, err := readSAZ(bytes.NewReader(data), int64(len(data)), "cb", func(i int, _ *flow.Flow) error {
		if i == 1 {
			return stop
		}
		return nil
	})
	if n != 1 || err != stop {
		t.Errorf("callback error: got %d, %v; want 1, stop", n, err)
	}
}

// TestCommittedSAZ reads testdata/sample.saz, made by WriteSAZ from the
// sample flows (go test -run TestCommittedSAZ -update rewrites it).
func TestCommittedSAZ(t *testing.T) {
	const path = "testdata/sample.saz"
	flows := sampleFlows()
	if *update {
		if err := WriteSAZ(path, flows); err != nil {
			t.Fatal(err)
		}
	}
	got, format, err := openAll(t, path)
	if err != nil || format != FormatSAZ {
		t.Fatalf("Open(%s): %s, %v", path, format, err)
	}
	if len(got) != len(flows) {
		t.Fatalf("Open(%s): %d flows, want %d", path, len(got), len(flows))
	}
	for i, f := range flows {
		diffFlows(t, path, inUTC(got[i]), wantAfterSAZ(f, i))
	}
}

func TestParseFiddlerTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-03-04T06:06:07.1234567+01:00", time.Date(2025, 3, 4, 5, 6, 7, 123456700, time.UTC)},
		{"2025-03-04T05:06:07.5Z", time.Date(2025, 3, 4, 5, 6, 7, 5e8, time.UTC)},
		{"2025-03-04T05:06:07.000", time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"0001-01-01T00:00:00", time.Time{}},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
	}
	for _, tt := range tests {
		if got := parseFiddlerTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("parseFiddlerTime(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzReadSAZ(f *testing.F) {
	f.Add(fiddlerSAZ(f))
	var buf bytes.Buffer
	w := NewSAZWriter(&buf, 0)
	for _, fl := range sampleFlows() {
		w.Write(fl)
	}
	w.Close()
	f.Add(buf.Bytes())
	f.Add(buildZip(f, []zipFile{{"raw/1_c.txt", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}, {"raw/1_s.txt", "HTTP/1.1 99999 x\r\n:\r\n \r\n"}, {"raw/1_m.xml", "<Session BitFlags='zz'><SessionTimers ClientBeginRequest='x'/></Session>"}}))
	f.Add(buildZip(f, []zipFile{{"raw/1_c.txt", ""}, {"raw/1_s.txt", ""}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := readSAZ(bytes.NewReader(data), int64(len(data)), "fuzz", func(i int, fl *flow.Flow) error {
			if fl.Request == nil {
				t.Fatalf("flow %d has no request", i)
			}
			// Whatever was read must convert to HAR and to SAZ again.
			if out := marshal(EntryFromFlow(fl).encode); len(out) == 0 {
				t.Fatal("empty entry")
			}
			return NewSAZWriter(io.Discard, 1).Write(fl)
		})
		if err == nil && n == 0 {
			t.Fatalf("no sessions and no error")
		}
	})
}
