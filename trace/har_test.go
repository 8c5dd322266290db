package trace

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/internal/hartest"
)

func readEntries(t *testing.T, path string) (*Reader, []*Entry) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, err := NewReader(file)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", path, err)
	}
	var out []*Entry
	for {
		e, err := r.Next()
		if err == io.EOF {
			return r, out
		}
		if err != nil {
			t.Fatalf("Next(%s) after %d entries: %v", path, len(out), err)
		}
		out = append(out, e)
	}
}

func TestReadChromeHAR(t *testing.T) {
	r, entries := readEntries(t, "testdata/chrome.har")
	log := r.Log()
	if log.Version != "1.2" || log.Creator.Name != "WebInspector" || len(log.Pages) != 1 || log.Pages[0].ID != "page_1" {
		t.Errorf("Log(): got %+v", log)
	}
	if got := *log.Pages[0].PageTimings.OnLoad; got != 901.2220000000002 {
		t.Errorf("pageTimings.onLoad: got %v, want 901.2220000000002", got)
	}
	if len(entries) != 3 {
		t.Fatalf("entries: got %d, want 3", len(entries))
	}

	e := entries[0]
	for _, k := range []string{"_initiator", "_priority", "_resourceType"} {
		if _, ok := e.Extra[k]; !ok {
			t.Errorf("entry 0 Extra: %s missing; have %v", k, keys(e.Extra))
		}
	}
	if _, ok := e.Extra["connection"]; ok || e.Connection != "48213" {
		t.Errorf("connection: got field %q, extra %v; want the named field", e.Connection, keys(e.Extra))
	}
	if _, ok := e.Response.Extra["_transferSize"]; !ok {
		t.Errorf("response Extra: _transferSize missing; have %v", keys(e.Response.Extra))
	}
	if _, ok := e.Timings.Extra["_blocked_queueing"]; !ok {
		t.Errorf("timings Extra: _blocked_queueing missing; have %v", keys(e.Timings.Extra))
	}
	if e.Time != 188.51299999421462 || e.Timings.Wait != 180.11300000195205 {
		t.Errorf("fractional times: time %v, wait %v", e.Time, e.Timings.Wait)
	}
	if entries[1].Response.HeadersSize != 120 {
		t.Errorf("headersSize 120.0: got %d", entries[1].Response.HeadersSize)
	}
	if tm := entries[1].Timings; tm.Blocked != -1 || tm.DNS != -1 || tm.Connect != -1 || tm.SSL != -1 {
		t.Errorf("missing optional timings: got %+v, want -1 each", tm)
	}

	var flows []*flow.Flow
	for i, e := range entries {
		f, err := FlowFromEntry(e, i)
		if err != nil {
			t.Fatalf("FlowFromEntry(entry %d): %v", i, err)
		}
		flows = append(flows, f)
	}

	f := flows[0]
	if got, want := f.Timings.Start, time.Date(2025, 3, 4, 5, 6, 7, 125_000_000, time.UTC); !got.Equal(want) {
		t.Errorf("flow 0 start: got %v, want %v", got, want)
	}
	if got, want := f.Timings.Wait, 180113*time.Microsecond; got != want {
		t.Errorf("flow 0 wait: got %v, want %v", got, want)
	}
	if f.Timings.Connect >= 0 || f.Timings.TLS >= 0 || f.Timings.DNS >= 0 {
		t.Errorf("flow 0: phases that did not happen should be negative: %+v", f.Timings)
	}
	if f.ServerAddr != "2603:1037:1:c8::e" {
		t.Errorf("flow 0 server: got %q", f.ServerAddr)
	}
	if got := f.Response.Body; string(got.Raw) != "<html><title>Sign in</title>\né" || got.Encoding != "" || got.Size != 20 {
		t.Errorf("flow 0 body: got %q encoding %q size %d", got.Raw, got.Encoding, got.Size)
	}
	if got := f.Response.Header.Get("Content-Encoding"); got != "br" {
		t.Errorf("flow 0 Content-Encoding header: got %q, want br kept as metadata", got)
	}
	if d, err := f.Response.Body.Decoded(); err != nil || string(d) != string(f.Response.Body.Raw) {
		t.Errorf("flow 0 Decoded(): got %q, %v; want the raw text", d, err)
	}
	if f.Request.Header[0].Name != ":authority" || f.Request.Proto != "http/2.0" {
		t.Errorf("flow 0 request: headers %v proto %q", f.Request.Header, f.Request.Proto)
	}

	if got := flows[1].Response.Body.Raw; !bytes.Equal(got, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}) {
		t.Errorf("flow 1 base64 body: got %q", got)
	}
	if got, want := flows[1].Timings.Start, time.Date(2025, 3, 4, 4, 6, 7, 400_000_000, time.UTC); !got.Equal(want) {
		t.Errorf("flow 1 start with offset: got %v, want %v", got, want)
	}

	if flows[2].Response != nil || flows[2].Error != "net::ERR_NAME_NOT_RESOLVED" {
		t.Errorf("flow 2: response %+v error %q; want no response and Chrome's error", flows[2].Response, flows[2].Error)
	}
	if got := string(flows[2].Request.Body.Raw); got != "a=1+2" {
		t.Errorf("flow 2 body from params: got %q, want a=1+2", got)
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestChromeEntriesSurviveRewrite checks that writing a read entry keeps the
// fields aadproxy does not know, and that a second read and write changes
// nothing.
func TestChromeEntriesSurviveRewrite(t *testing.T) {
	_, entries := readEntries(t, "testdata/chrome.har")
	for i, e := range entries {
		first, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal(entry %d): %v", i, err)
		}
		var again Entry
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("Unmarshal(Marshal(entry %d)): %v\n%s", i, err, first)
		}
		second, _ := json.Marshal(again)
		if !bytes.Equal(first, second) {
			t.Errorf("entry %d changed on a second rewrite:\n%s\n%s", i, first, second)
		}
		for k, v := range e.Extra {
			var a, b bytes.Buffer
			json.Compact(&a, v)
			json.Compact(&b, again.Extra[k])
			if a.String() != b.String() {
				t.Errorf("entry %d extra %s: got %s, want %s", i, k, b.String(), a.String())
			}
		}
	}
	if !bytes.Contains(mustMarshal(t, entries[0]), []byte(`"_initiator":{`)) {
		t.Errorf("entry 0 rewritten without _initiator: %s", mustMarshal(t, entries[0]))
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChromeHARPassesSchemaAfterConversion converts a browser HAR to flows
// and records them: what the recorder writes must be valid even when the
// input was only nearly so (Chrome brackets IPv6 server addresses).
func TestChromeHARPassesSchemaAfterConversion(t *testing.T) {
	hv := hartest.NewValidator(t)
	path := filepath.Join(t.TempDir(), "chrome-rewritten.har")
	rec, err := Create(path, "aadproxy", "test")
	if err != nil {
		t.Fatal(err)
	}
	n, err := ReadFile("testdata/chrome.har", func(_ int, f *flow.Flow) error { return rec.Write(f) })
	if err != nil || n != 3 {
		t.Fatalf("ReadFile(chrome.har): %d, %v", n, err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hv.Validate(path); err != nil {
		t.Fatalf("har-validator rejected the rewritten Chrome HAR: %v", err)
	}
}

func TestIntUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    Int
		wantErr bool
	}{
		{"42", 42, false},
		{"-1", -1, false},
		{"120.0", 120, false},
		{"12.9", 12, false},
		{"1e3", 1000, false},
		{`"17"`, 17, false},
		{"null", 7, false}, // unchanged
		{`""`, 7, false},
		{`"abc"`, 7, true},
		{"true", 7, true},
		{"1e300", 7, true},
	}
	for _, tt := range tests {
		n := Int(7)
		err := n.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.wantErr || n != tt.want {
			t.Errorf("Int.UnmarshalJSON(%q): got %d, %v; want %d, error %v", tt.in, n, err, tt.want, tt.wantErr)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"é ü 漢字 🙂", "\u2028\u2029", "bad \xff utf8 \xc3", "<script>&</script>",
	}
	for _, s := range tests {
		enc := appendString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Errorf("appendString(%q) = %s: not valid JSON: %v", s, enc, err)
			continue
		}
		std, _ := json.Marshal(s)
		var want string
		json.Unmarshal(std, &want)
		if got != want {
			t.Errorf("appendString(%q): decodes to %q, want %q", s, got, want)
		}
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {-1, "-1"}, {12, "12"}, {0.1234567, "0.123"}, {188.51299999421462, "188.513"},
		{-0.0001, "0"}, {1e22, "1e+22"},
	}
	for _, tt := range tests {
		if got := string(appendMillis(nil, tt.in)); got != tt.want {
			t.Errorf("appendMillis(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestEntryFromFlow(t *testing.T) {
	flows := sampleFlows()
	entries := make([]*Entry, len(flows))
	for i, f := range flows {
		entries[i] = EntryFromFlow(f)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !jsonEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", name, got, want)
		}
	}
	e := entries[0]
	check("time", e.Time, 55.603) // dns+connect+send+wait+receive; ssl is inside connect
	check("timings", e.Timings, Timings{Blocked: -1, DNS: 1.5, Connect: 12, SSL: 7.25, Send: 0.1, Wait: 42, Receive: 0.003})
	check("serverIPAddress", e.ServerIPAddress, "20.190.151.7")
	check("request cookies", e.Request.Cookies, []Cookie{{Name: "esctx", Value: "abc"}, {Name: "x-ms-gateway-slice", Value: "estsfd"}})
	check("queryString", e.Request.QueryString, []NameValue{{Name: "client_id", Value: "abc"}, {Name: "scope", Value: "openid profile"}, {Name: "state", Value: "x"}})
	check("response cookies", e.Response.Cookies, []Cookie{
		{Name: "esctx", Value: "def", Domain: ".login.microsoftonline.com", Path: "/", Secure: true, HTTPOnly: true, SameSite: "None"},
		{Name: "fpc", Value: "Aq", Path: "/", Expires: "2025-04-03T05:06:07.000Z"},
	})
	check("redirectURL", e.Response.RedirectURL, "https://app.example/cb?code=synthetic")
	check("client TLS", e.ClientTLS, &TLS{Version: "TLS 1.3", ALPN: "http/1.1", ServerName: "login.microsoftonline.com"})

	e = entries[1]
	check("form params", e.Request.PostData.Params, []Param{{Name: "grant_type", Value: "authorization_code"}, {Name: "code", Value: "synthetic"}, {Name: "redirect_uri", Value: "https://app.example/cb"}})
	check("gzip content text", e.Response.Content.Text, `{"access_token":"eyJ0eXAi.synthetic.sig","token_type":"Bearer"}`)
	check("gzip content size", e.Response.Content.Size, Int(63))
	check("gzip compression", e.Response.Content.Compression, e.Response.Content.Size-e.Response.BodySize)
	check("gzip bodySize", int64(e.Response.BodySize), flows[1].Response.Body.Size)

	e = entries[2]
	check("binary content", [2]string{e.Response.Content.Text, e.Response.Content.Encoding}, [2]string{"AP/+gFBORxoK", "base64"})

	e = entries[3]
	check("truncated mark", e.Response.Content.Truncated, true)
	check("truncated size", e.Response.Content.Size, Int(1<<20))
	if !strings.Contains(e.Response.Content.Comment, "truncated") {
		t.Errorf("truncated comment: got %q", e.Response.Content.Comment)
	}
	if !bytes.Contains(mustMarshal(t, e), []byte(`"_aadproxyTruncated":true`)) {
		t.Errorf("truncated entry JSON lacks _aadproxyTruncated: %s", mustMarshal(t, e))
	}

	e = entries[4]
	check("no response status", e.Response.Status, Int(0))
	check("no response error", e.Response.Error, flows[4].Error)
	check("no response bodySize", e.Response.BodySize, Int(-1))
	check("no response send/wait/receive", [3]float64{e.Timings.Send, e.Timings.Wait, e.Timings.Receive}, [3]float64{0, 0, 0})
	if !strings.Contains(e.Comment, flows[4].Error) {
		t.Errorf("error comment: got %q", e.Comment)
	}
	if !bytes.Contains(mustMarshal(t, e), []byte(`"response":{"status":0,`)) {
		t.Errorf("entry without response must still have one: %s", mustMarshal(t, e))
	}

	e = entries[5]
	check("hostname server", [2]string{e.ServerIPAddress, e.ServerAddress}, [2]string{"", "login.microsoftonline.com:443"})
	check("synthetic", e.Response.Synthetic, true)
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func TestEntryFromFlowBodies(t *testing.T) {
	multipartBody := "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--XyZ--\r\n"
	tests := []struct {
		name       string
		body       flow.Body
		ctype      string
		wantText   string
		wantEnc    string
		wantParams []Param
		wantRaw    bool
	}{
		{"empty", flow.Body{}, "", "", "", nil, false},
		{"form", body("a=1&b=%20x&c"), "application/x-www-form-urlencoded; charset=utf-8", "a=1&b=%20x&c", "",
			[]Param{{Name: "a", Value: "1"}, {Name: "b", Value: " x"}, {Name: "c"}}, false},
		// A NUL is binary: base64, not "\u0000" text.
		{"multipart", body(multipartBody), "multipart/form-data; boundary=XyZ", base64.StdEncoding.EncodeToString([]byte(multipartBody)), "base64",
			[]Param{{Name: "note", Value: "hello"}, {Name: "file", FileName: "a.bin", ContentType: "application/octet-stream"}}, false},
		{"json", body(`{"a":1}`), "application/json", `{"a":1}`, "", nil, false},
		{"binary", body("\xff\xfe"), "application/octet-stream", "//4=", "base64", nil, false},
		{"control bytes", body("a\x00b\x01"), "application/octet-stream", "YQBiAQ==", "base64", nil, false},
		{"text with whitespace", body("a\tb\r\nc\f"), "text/plain", "a\tb\r\nc\f", "", nil, false},
		{"gzip", flow.Body{Raw: gz("x=1"), Size: 23, Encoding: "gzip"}, "application/x-www-form-urlencoded", "x=1", "", []Param{{Name: "x", Value: "1"}}, false},
		{"bad gzip", flow.Body{Raw: []byte("not gzip"), Size: 8, Encoding: "gzip"}, "text/plain", "not gzip", "", nil, true},
	}
	for _, tt := range tests {
		f := &flow.Flow{
			Request: &flow.Request{Method: "POST", URL: "https://x.test/", Header: flow.Headers{{Name: "Content-Type", Value: tt.ctype}}, Body: tt.body},
			Response: &flow.Response{Status: 200, Header: flow.Headers{{Name: "Content-Type", Value: tt.ctype}, {Name: "Content-Encoding", Value: tt.body.Encoding}},
				Body: tt.body},
		}
		e := EntryFromFlow(f)
		p := e.Request.PostData
		if tt.body.Size == 0 {
			if p != nil {
				t.Errorf("%s: postData %+v, want none for an empty body", tt.name, p)
			}
		} else if p == nil || p.Text != tt.wantText || p.Encoding != tt.wantEnc || !jsonEqual(p.Params, tt.wantParams) {
			t.Errorf("%s: postData %+v, want text %q encoding %q params %+v", tt.name, p, tt.wantText, tt.wantEnc, tt.wantParams)
		}
		c := e.Response.Content
		if c.Text != tt.wantText || c.Encoding != tt.wantEnc || c.Raw != tt.wantRaw {
			t.Errorf("%s: content %+v, want text %q encoding %q raw %v", tt.name, c, tt.wantText, tt.wantEnc, tt.wantRaw)
		}
		// Back to a flow: HAR holds decoded content, except where decoding
		// failed, where the wire bytes and their encoding come back.
		back, err := FlowFromEntry(e, 0)
		if err != nil {
			t.Fatalf("%s: FlowFromEntry: %v", tt.name, err)
		}
		want, _ := tt.body.Decoded()
		wantEnc := ""
		if tt.wantRaw {
			want, wantEnc = tt.body.Raw, tt.body.Encoding
		}
		if got := back.Response.Body; !bytes.Equal(got.Raw, want) || got.Encoding != wantEnc || got.Size != tt.body.Size {
			t.Errorf("%s: back to flow: body %q encoding %q size %d; want %q %q %d", tt.name, got.Raw, got.Encoding, got.Size, want, wantEnc, tt.body.Size)
		}
	}
}

func TestFlowFromEntryRejects(t *testing.T) {
	if _, err := FlowFromEntry(nil, 0); err == nil {
		t.Error("FlowFromEntry(nil): got nil error")
	}
	if _, err := FlowFromEntry(&Entry{}, 0); err == nil {
		t.Error("FlowFromEntry(entry without request): got nil error")
	}
}

func TestNewReaderRejects(t *testing.T) {
	tests := []struct {
		in     string
		damage bool
	}{
		{"", true},
		{"[1,2]", false},
		{`"str"`, false},
		{`{"other":1}`, false},
		{`{"log":{"entries":[{}`, true},
		{`{"log":{"version":"1.2","entries":5}}`, true},
		{`{"log":`, true},
		{"{\"log\":{}}\n{}", true},
	}
	for _, tt := range tests {
		_, err := readFlows(strings.NewReader(tt.in), "x", func(int, *flow.Flow) error { return nil })
		_, isDamage := err.(*DamageError)
		if err == nil || isDamage != tt.damage {
			t.Errorf("readFlows(%q): got %v (damage %v), want an error (damage %v)", tt.in, err, isDamage, tt.damage)
		}
	}
	// A log without entries is an empty, valid recording.
	n, err := readFlows(strings.NewReader(`{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":null}}`), "x", func(int, *flow.Flow) error { return nil })
	if n != 0 || err != nil {
		t.Errorf("readFlows(entries null): got %d, %v; want 0, nil", n, err)
	}
}

// TestReaderHeaderAfterEntries reads fields of "log" written after the
// entries, which only become known at the end.
func TestReaderHeaderAfterEntries(t *testing.T) {
	in := `{"log":{"entries":[{"startedDateTime":"2025-01-01T00:00:00Z","time":1,"request":{"method":"GET","url":"http://a.test/"},"response":{"status":204},"timings":{"send":0,"wait":1,"receive":0}}],"version":"1.2","creator":{"name":"late","version":"9"}}}`
	r, err := NewReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Log().Creator.Name != "" {
		t.Errorf("creator known before the entries were read: %+v", r.Log().Creator)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at end: got %v, want io.EOF", err)
	}
	if r.Log().Creator.Name != "late" {
		t.Errorf("creator after EOF: got %+v, want late", r.Log().Creator)
	}
}

func FuzzReader(f *testing.F) {
	chrome, err := os.ReadFile("testdata/chrome.har")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(chrome)
	var buf bytes.Buffer
	for _, fl := range sampleFlows() {
		e := EntryFromFlow(fl)
		buf.Reset()
		buf.WriteString(`{"log":{"version":"1.2","creator":{"name":"a","version":"1"},"entries":[`)
		buf.Write(marshal(e.encode))
		buf.WriteString("]}}")
		f.Add(bytes.Clone(buf.Bytes()))
	}
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"GET","url":"x","postData":{"params":[{"name":"a"}]}},"response":{"status":"200","content":{"text":"@@","encoding":"base64"},"headersSize":1e400}}]}}`))
	f.Add([]byte(`{"log":{"entries":[null,1,"x",[],{}]}}`))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"GET","url":"u"},"timings":{"wait":1e300},"time":-1e300,"startedDateTime":"x"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; ; i++ {
			e, err := r.Next()
			if err != nil {
				return
			}
			fl, err := FlowFromEntry(e, i)
			if err != nil {
				continue
			}
			// Whatever was read must be writable as valid JSON.
			if out := marshal(EntryFromFlow(fl).encode); !json.Valid(out) {
				t.Fatalf("EntryFromFlow of a read entry wrote invalid JSON: %s", out)
			}
			if out, err := json.Marshal(e); err != nil || !json.Valid(out) {
				t.Fatalf("rewriting a read entry: %v %s", err, out)
			}
		}
	})
}
