package sanitize

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/trace"
)

// FuzzHAREntry feeds arbitrary entries through the HAR path. It must not
// panic; when it succeeds the output is valid JSON that the trace reader
// reads back entry for entry, and sanitizing the output again changes
// nothing (so Check finds nothing in what HARFile wrote).
func FuzzHAREntry(f *testing.F) {
	f.Add([]byte(`{"request":{"method":"GET","url":"https://x/?code=0.AXYA&state=1","headers":[{"name":"Cookie","value":"ESTSAUTH=abc; a=b"}],"cookies":[{"name":"ESTSAUTH","value":"abc"}]},"response":{"status":302,"headers":[{"name":"Location","value":"https://app/#id_token=eyJhbGciOiJub25lIn0.eyJ1cG4iOiJhQGIuY29tIn0.c2ln"}],"content":{"size":0,"mimeType":""},"redirectURL":""}}`))
	f.Add([]byte(`{"request":{"method":"POST","url":"https://x/","postData":{"mimeType":"application/x-www-form-urlencoded","text":"passwd=x&ctx=y","params":[{"name":"passwd","value":"x"}]}},"response":{"status":200,"content":{"mimeType":"text/html","text":"<input name=\"code\" value=\"abc\">$Config={\"sFT\":\"q\"}"}}}`))
	f.Add([]byte(`{"request":{"method":"GET","url":"/"},"response":{"status":200,"headers":[{"name":"Content-Encoding","value":"gzip"}],"content":{"mimeType":"application/json","text":"H4sIAAAAAAAA/6pWKkktLlGyUlBKzs8tyElVqgUEAAD//w==","encoding":"base64","_aadproxyRawContent":true}},"_initiator":{"url":"https://a/?refresh_token=1.A"}}`))
	f.Add([]byte(`{"request":{"method":"GET","url":"x"},"response":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := append(append([]byte(`{"log":{"version":"1.2","creator":{"name":"f","version":"1"},"entries":[`), data...), `]}}`...)
		n := countEntries(doc)
		var out bytes.Buffer
		s := newSanitizer(Options{Key: []byte("0123456789abcdef"), Pseudonymize: true}.Default(), &recorder{})
		if err := writeSanitized(bytes.NewReader(doc), &out, s); err != nil {
			return
		}
		if !json.Valid(out.Bytes()) {
			t.Fatalf("output is not valid JSON: %s", out.Bytes())
		}
		if got := countEntries(out.Bytes()); got != n {
			t.Fatalf("output has %d entries, input %d", got, n)
		}
		var again bytes.Buffer
		rec := &recorder{}
		s2 := newSanitizer(Options{Key: []byte("0123456789abcdef"), Pseudonymize: true}.Default(), rec)
		if err := writeSanitized(bytes.NewReader(out.Bytes()), &again, s2); err != nil {
			t.Fatalf("sanitizing the output again: %v", err)
		}
		if !bytes.Equal(out.Bytes(), again.Bytes()) || len(rec.items) != 0 {
			t.Fatalf("second pass changed the output or redacted %v:\n%s\n%s", rec.items, out.Bytes(), again.Bytes())
		}
	})
}

func countEntries(doc []byte) int {
	r, err := trace.NewReader(bytes.NewReader(doc))
	if err != nil {
		return -1
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			return -1
		}
		n++
	}
}

// FuzzBody sanitizes arbitrary bodies of any declared type: it must not
// panic, and a second pass over the result must find nothing more.
func FuzzBody(f *testing.F) {
	f.Add([]byte(`{"refresh_token":"1.AXYA","a":{"code":"Bad"},"b":"eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.c2ln"}`), "application/json", true)
	f.Add([]byte("passwd=x&login=a%40b.com&code_verifier=abc&client_info=eyJ1aWQiOiJ4In0"), "application/x-www-form-urlencoded", false)
	f.Add([]byte(`<html><input type="hidden" name="code" value="x"><script>$Config={"sFT":"y","urlPost":"/a?ctx=z"};//]]></script>`), "text/html", true)
	f.Add([]byte(`<s:Envelope><o:Password>x</o:Password><saml:AttributeValue>a@b.com</saml:AttributeValue></s:Envelope>`), "text/xml", true)
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"client_secret\"\r\n\r\nxyz\r\n--B--\r\n"), "multipart/form-data; boundary=B", false)
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), "", false)
	f.Add([]byte("text 0.AXYAabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz %26code%3Dabc"), "text/plain", true)
	f.Fuzz(func(t *testing.T, data []byte, mimeType string, pseudo bool) {
		s := newSanitizer(Options{Key: []byte("0123456789abcdef"), Pseudonymize: pseudo}.Default(), &recorder{})
		out, _, _, _ := s.body(data, mimeType, "body")
		rec := &recorder{}
		s2 := newSanitizer(Options{Key: []byte("0123456789abcdef"), Pseudonymize: pseudo}.Default(), rec)
		again, changed, _, _ := s2.body(out, mimeType, "body")
		if changed || len(rec.items) > 0 {
			t.Fatalf("second pass changed %q\nto %q\nredacting %v", out, again, rec.items)
		}
	})
}

// A body that looks like JSON but does not parse (a raw control byte in a
// string) still has its secret-looking values replaced by shape, as the
// JSON walker would, and a second pass finds nothing more.
func TestBrokenJSONValuesJudgedByShape(t *testing.T) {
	in := []byte("{\"note\":\"\x01\",\"blob\":\"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA42\",\"region\":\"westeurope\"}")
	s := newSanitizer(Options{Key: []byte("0123456789abcdef")}.Default(), &recorder{})
	out, _, _, _ := s.body(in, "application/json", "body")
	if strings.Contains(string(out), "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA42") || !strings.Contains(string(out), `"region":"westeurope"`) {
		t.Errorf("sanitized %q", out)
	}
}
