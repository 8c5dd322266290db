package sanitize_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/sanitize"
)

var testKey = []byte("0123456789abcdef-test-key")

// b64RunRE finds runs that may be base64 in any alphabet.
var b64RunRE = regexp.MustCompile(`[A-Za-z0-9+/_-]{12,}={0,2}`)

// views returns text and everything reachable from it by undoing JSON
// string escaping, URL encoding (repeatedly), HTML escaping, base64 (both
// alphabets, padded or not), gzip and chunked framing, to a bounded depth.
// The canary search runs over all of them, so a secret cannot hide behind
// an encoding.
func views(text string) []string {
	seen := map[string]bool{}
	var out []string
	var add func(s string, depth int)
	add = func(s string, depth int) {
		if s == "" || seen[s] || depth > 6 || len(out) > 200000 {
			return
		}
		seen[s] = true
		out = append(out, s)
		// JSON documents: every string, unescaped.
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var v any
			if json.Unmarshal([]byte(t), &v) == nil {
				for _, str := range jsonStrings(v) {
					add(str, depth+1)
				}
			}
		}
		// URL decoding, repeatedly.
		for u := s; ; {
			d, err := url.QueryUnescape(u)
			if err != nil {
				d, err = url.PathUnescape(u)
			}
			if err != nil || d == u {
				break
			}
			add(d, depth+1)
			u = d
		}
		if h := html.UnescapeString(s); h != s {
			add(h, depth+1)
		}
		if d, ok := unchunk([]byte(s)); ok {
			add(string(d), depth+1)
		}
		if d, ok := gunzip([]byte(s)); ok {
			add(string(d), depth+1)
		}
		for _, run := range b64RunRE.FindAllString(s, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				d, err := enc.DecodeString(run)
				if err != nil {
					continue
				}
				if g, ok := gunzip(d); ok {
					add(string(g), depth+1)
				}
				add(string(d), depth+1)
			}
		}
	}
	add(text, 0)
	return out
}

func jsonStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, k)
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

func gunzip(b []byte) ([]byte, bool) {
	if len(b) < 3 || b[0] != 0x1f || b[1] != 0x8b {
		return nil, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	d, _ := io.ReadAll(io.LimitReader(zr, 1<<24))
	return d, len(d) > 0
}

var chunkStartRE = regexp.MustCompile(`(?m)^[0-9a-fA-F]{1,8}\r\n`)

func unchunk(b []byte) ([]byte, bool) {
	if !chunkStartRE.Match(b) {
		return nil, false
	}
	i := chunkStartRE.FindIndex(b)[0]
	d, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(b[i:])))
	return d, err == nil && len(d) > 0
}

// survivors returns the canaries found in any view of text.
func survivors(text string, canaries []string) []string {
	vs := views(text)
	var found []string
	for _, c := range canaries {
		for _, v := range vs {
			if strings.Contains(v, c) {
				found = append(found, c)
				break
			}
		}
	}
	return found
}

func canariesFor(o sanitize.Options) []string {
	c := slices.Clone(allCanaries)
	if o.Pseudonymize {
		c = append(c, cEmailLocal)
	}
	return c
}

func sanitizeFixture(t *testing.T, o sanitize.Options) (in, out string, rep sanitize.Report) {
	t.Helper()
	dir := t.TempDir()
	in = writeFixture(t, dir)
	out = filepath.Join(dir, "out.har")
	rep, err := sanitize.HARFile(in, out, o)
	if err != nil {
		t.Fatalf("HARFile: %v", err)
	}
	return in, out, rep
}

func TestCanariesDoNotSurvive(t *testing.T) {
	for _, pseudo := range []bool{false, true} {
		o := sanitize.Options{Key: testKey, Pseudonymize: pseudo}
		in, out, rep := sanitizeFixture(t, o)
		inText, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		// The search must be able to fail: every canary is findable in
		// the input, including the chunk-split, gzip'd and base64 ones.
		canaries := canariesFor(o)
		if got := survivors(string(inText), canaries); len(got) != len(canaries) {
			t.Fatalf("test setup: only %d of %d canaries are findable in the input; missing %v", len(got), len(canaries), missing(canaries, got))
		}
		outText, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := survivors(string(outText), canaries); len(got) > 0 {
			for _, c := range got {
				i := strings.Index(string(outText), c)
				ctx := ""
				if i >= 0 {
					ctx = string(outText[max(0, i-120):min(len(outText), i+len(c)+40)])
				}
				t.Errorf("Pseudonymize=%v: canary %q survived sanitizing (raw context: %q)", pseudo, c, ctx)
			}
		}
		if len(rep.Items) == 0 {
			t.Errorf("Pseudonymize=%v: empty report", pseudo)
		}
		if !json.Valid(outText) {
			t.Errorf("Pseudonymize=%v: output is not valid JSON", pseudo)
		}
	}
}

func missing(all, got []string) []string {
	var m []string
	for _, c := range all {
		if !slices.Contains(got, c) {
			m = append(m, c)
		}
	}
	return m
}
