package sanitize

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http/httputil"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/aadproxy/aadproxy/flow"
)

// body sanitizes a body's bytes (Content-Encoding already undone, or not:
// gzip is recognised by its magic). It returns the new bytes, whether they
// changed, and a note for the HAR comment when the body's form changed
// (decompressed, de-chunked, replaced).
func (s *sanitizer) body(data []byte, mimeType, where string) (out []byte, changed, cut bool, note string) {
	if len(data) == 0 {
		return data, false, false, ""
	}
	orig := data
	var notes []string
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		b := flow.Body{Raw: data, Encoding: "gzip"}
		// A stream cut short still yields its prefix, which is all a
		// reader of the trace could have seen.
		if d, err := b.Decoded(); len(d) > 0 {
			data = d
			if limit, isCut := flow.IsCut(err); isCut {
				cut = true
				notes = append(notes, fmt.Sprintf("gzip data inflates past %d bytes; only those, decompressed and sanitized, are kept", limit))
			} else {
				notes = append(notes, "gzip data decompressed so it could be sanitized")
			}
		}
	}
	if d, ok := dechunk(data); ok {
		data = d
		notes = append(notes, "chunked framing removed so the body could be sanitized")
	}
	if !utf8.Valid(data) && !textual(mimeType) {
		if binaryKept(mimeType) && len(notes) == 0 {
			return orig, false, false, ""
		}
		ph := s.redact(where, KindBody, string(data))
		return []byte(ph), true, false, "binary content replaced: it could not be read, so it could hide a secret"
	}
	text := string(data)
	nt := s.text(text, mimeType, where)
	if nt == text && len(notes) == 0 {
		return orig, false, false, ""
	}
	return []byte(nt), true, cut, strings.Join(notes, "; ")
}

// textual reports whether a media type is text whatever its bytes.
func textual(mimeType string) bool {
	mt := strings.ToLower(mimeType)
	return strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") || strings.Contains(mt, "xml") ||
		strings.Contains(mt, "javascript") || strings.Contains(mt, "x-www-form-urlencoded")
}

// text sanitizes a text body by its media type, sniffing when the type is
// missing or generic, then scrubs the result.
func (s *sanitizer) text(t, mimeType, where string) string {
	mt, params, _ := mime.ParseMediaType(mimeType)
	mt = strings.ToLower(mt)
	trimmed := strings.TrimLeft(t, "\ufeff \t\r\n")
	loc := where + ": text"
	switch {
	case strings.Contains(mt, "x-www-form-urlencoded"):
		loc = where + ": form"
		t = s.params(t, loc)
	case mt == "multipart/form-data" && params["boundary"] != "":
		loc = where + ": multipart"
		t = s.multipart(t, params["boundary"], loc)
	case strings.Contains(mt, "json") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		if out, ok := s.jsonBody(t, where+": json"); ok {
			loc = where + ": json"
			t = out
		} else {
			t = s.brokenJSON(t, loc)
		}
	case strings.Contains(mt, "html") || strings.HasPrefix(trimmed, "<") && looksHTML(trimmed):
		loc = where + ": html"
		t = s.html(t, loc)
	case strings.Contains(mt, "xml") || strings.HasPrefix(trimmed, "<"):
		loc = where + ": xml"
		t = s.xml(t, loc)
	case mt == "" && formLikeRE.MatchString(t):
		loc = where + ": form"
		t = s.params(t, loc)
	}
	// Whatever the structure said, look for credentials by shape too.
	return s.scrub(t, loc)
}

// quotedKVRE finds "name":"value" pairs in text that looks like JSON but
// does not parse (a raw control byte in a string is enough).
var quotedKVRE = regexp.MustCompile(`"((?:[^"\\\n]|\\.){0,128})"\s*:\s*"([^"\\]*)"`)

// brokenJSON gives the values of a body that looks like JSON but does not
// parse the judgement jsonBody would give them by shape: a secret-looking
// value under a name that says nothing is replaced. Without it such a value
// would survive once and be redacted when the sanitized copy (which may
// now parse) is sanitized again. Named fields are left to scrub.
func (s *sanitizer) brokenJSON(t, where string) string {
	if !strings.Contains(t, `":`) && !strings.Contains(t, `" :`) {
		return t
	}
	return replaceGroup(t, quotedKVRE, func(name, v string) string {
		for _, n := range secretFieldNames {
			if strings.EqualFold(name, n) {
				return v // scrub's own pattern applies the field's rule
			}
		}
		if out, ok := s.jwt(v, where+" "+name, KindJWT); ok {
			return out
		}
		if looksSecret(v) && !isCertificate(v) {
			return s.redact(where+" "+name, KindSecret, v)
		}
		return v
	})
}

var formLikeRE = regexp.MustCompile(`^[A-Za-z0-9_.%*~+-]+=[^&\s]*(?:&[A-Za-z0-9_.%*~+-]+=[^&\s]*)*$`)

func looksHTML(t string) bool {
	head := strings.ToLower(t[:min(len(t), 1024)])
	for _, m := range []string{"<!doctype html", "<html", "<head", "<body", "<form", "<script", "<meta", "<input"} {
		if strings.Contains(head, m) {
			return true
		}
	}
	return false
}

// chunkHeadRE matches the first line of chunked framing: hex size, optional
// extensions, CRLF.
var chunkHeadRE = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}(?:;[^\r\n]*)?\r\n`)

// dechunk removes HTTP/1.1 chunked framing that some tools leave in a
// captured body. It succeeds only when the whole body is well-formed
// framing ending with the last chunk, so ordinary text is never mistaken
// for it.
func dechunk(data []byte) ([]byte, bool) {
	if !chunkHeadRE.Match(data) {
		return nil, false
	}
	r := httputil.NewChunkedReader(bytes.NewReader(data))
	// De-chunking only removes bytes: the input's length bounds the output.
	out, err := io.ReadAll(io.LimitReader(r, int64(len(data))))
	if err != nil {
		return nil, false
	}
	// A nil error means the last chunk was read; trailers after it are
	// dropped, which can only remove data.
	return out, true
}

// html sanitizes an HTML page: hidden inputs of forms (form_post code,
// id_token, SAMLResponse, the sign-in page's flowToken and ctx), then the
// $Config object of Entra's pages.
func (s *sanitizer) html(t, where string) string {
	t = s.htmlInputs(t, where)
	return s.htmlConfig(t, where)
}

func (s *sanitizer) htmlInputs(t, where string) string {
	if !strings.Contains(strings.ToLower(t), "<input") {
		return t
	}
	z := html.NewTokenizer(strings.NewReader(t))
	var b strings.Builder
	changed := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			b.Write(z.Raw())
			break
		}
		raw := z.Raw()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			b.Write(raw)
			continue
		}
		name, hasAttr := z.TagName()
		if string(name) != "input" || !hasAttr {
			b.Write(raw)
			continue
		}
		rawCopy := string(raw)
		var attrs []html.Attribute
		for more := true; more; {
			var k, v []byte
			k, v, more = z.TagAttr()
			attrs = append(attrs, html.Attribute{Key: string(k), Val: string(v)})
		}
		fieldName, isPassword := "", false
		for _, a := range attrs {
			switch a.Key {
			case "name":
				fieldName = a.Val
			case "type":
				isPassword = strings.EqualFold(a.Val, "password")
			}
		}
		tagChanged := false
		for i, a := range attrs {
			if a.Key != "value" {
				continue
			}
			loc := where + " input[" + fieldName + "]"
			var nv string
			if isPassword {
				nv = s.redact(loc, KindPassword, a.Val)
			} else {
				nv = s.field(fieldName, a.Val, loc)
			}
			if nv != a.Val {
				attrs[i].Val = nv
				tagChanged = true
			}
		}
		if !tagChanged {
			b.WriteString(rawCopy)
			continue
		}
		changed = true
		b.WriteString("<input")
		for _, a := range attrs {
			b.WriteByte(' ')
			b.WriteString(a.Key)
			b.WriteString(`="`)
			b.WriteString(html.EscapeString(a.Val))
			b.WriteByte('"')
		}
		if tt == html.SelfClosingTagToken {
			b.WriteString("/>")
		} else {
			b.WriteByte('>')
		}
	}
	if !changed {
		return t
	}
	return b.String()
}

// maxConfigs bounds how many "$Config" mentions are tried in one page.
const maxConfigs = 8

// htmlConfig sanitizes the JSON object assigned to $Config in Entra's pages
// (sFT, sCtx, canary, apiCanary, and URLs carrying ctx). The object is
// rewritten with <, > and & escaped so it cannot end its script early.
func (s *sanitizer) htmlConfig(t, where string) string {
	const marker = "$Config"
	var b strings.Builder
	rest := t
	changed := false
	for range maxConfigs {
		i := strings.Index(rest, marker)
		if i < 0 {
			break
		}
		j := i + len(marker)
		k := j
		for k < len(rest) && strings.IndexByte(" \t\r\n", rest[k]) >= 0 {
			k++
		}
		if k >= len(rest) || rest[k] != '=' {
			b.WriteString(rest[:j])
			rest = rest[j:]
			continue
		}
		k++
		for k < len(rest) && strings.IndexByte(" \t\r\n", rest[k]) >= 0 {
			k++
		}
		root, n, err := parseJSONPrefix([]byte(rest[k:]))
		if err != nil || root.kind != jObject {
			b.WriteString(rest[:k])
			rest = rest[k:]
			continue
		}
		b.WriteString(rest[:k])
		if s.jsonMember(root, rule{cls: clsUnknown}, where+" $Config") {
			b.Write(root.encode(nil, true))
			changed = true
		} else {
			b.WriteString(rest[k : k+n])
		}
		rest = rest[k+n:]
	}
	if !changed {
		return t
	}
	b.WriteString(rest)
	return b.String()
}

// xmlSecretElements are the elements of SAML, WS-Fed and WS-Trust messages
// whose content is replaced, with the kind recorded.
var xmlSecretElements = map[string]string{
	"SignatureValue":      KindSAML,
	"DigestValue":         KindSAML,
	"CipherValue":         KindSAML,
	"AttributeValue":      KindSAML,
	"NameID":              KindSAML,
	"NameIdentifier":      KindSAML,
	"Password":            KindPassword,
	"BinarySecret":        KindSecret,
	"BinarySecurityToken": KindToken,
}

var xmlStartRE = regexp.MustCompile(`<([A-Za-z_][\w.-]*:)?(SignatureValue|DigestValue|CipherValue|AttributeValue|NameID|NameIdentifier|Password|BinarySecret|BinarySecurityToken|Username)(?:\s[^<>]*)?>`)

// xml sanitizes SAML assertions and WS-Trust messages: signatures, digests,
// encrypted data, attribute values, name identifiers and passwords are
// replaced; issuers, audiences, conditions, status codes and certificates
// are kept. With Pseudonymize, addresses in NameID, AttributeValue and
// Username become pseudonyms rather than placeholders.
func (s *sanitizer) xml(t, where string) string {
	locs := xmlStartRE.FindAllStringSubmatchIndex(t, -1)
	if locs == nil {
		return t
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		if l[0] < last {
			continue // inside an element already replaced
		}
		if strings.HasSuffix(t[l[0]:l[1]], "/>") {
			continue
		}
		prefix := ""
		if l[2] >= 0 {
			prefix = t[l[2]:l[3]]
		}
		local := t[l[4]:l[5]]
		closing := "</" + prefix + local + ">"
		end := strings.Index(t[l[1]:], closing)
		contentEnd := len(t)
		if end >= 0 {
			contentEnd = l[1] + end
		}
		content := t[l[1]:contentEnd]
		loc := where + " " + local
		var nc string
		switch {
		case local == "Username":
			nc = s.scrub(content, loc)
		case (local == "NameID" || local == "NameIdentifier" || local == "AttributeValue") && emailOnlyRE.MatchString(strings.TrimSpace(content)) &&
			(pseudonymRE.MatchString(localPart(strings.TrimSpace(content))) || s.o.Pseudonymize && !s.detect):
			// An address: pseudonymized when asked, and a pseudonym
			// from an earlier run is left alone.
			nc = s.emails(content, loc)
		default:
			nc = s.redact(loc, xmlSecretElements[local], content)
		}
		b.WriteString(t[last:l[1]])
		b.WriteString(nc)
		last = contentEnd
	}
	b.WriteString(t[last:])
	return b.String()
}

var emailOnlyRE = regexp.MustCompile(`^[^\s<>@]+@[^\s<>@]+\.[A-Za-z]{2,}$`)

// samlValue sanitizes a SAMLResponse or wresult value: XML as it is, or
// base64 (optionally deflated) XML, which is decoded, sanitized and
// encoded again. Anything else is replaced.
func (s *sanitizer) samlValue(v, where string) string {
	if v == "" || isPlaceholder(v) {
		return v
	}
	loc := where + " saml"
	if strings.HasPrefix(strings.TrimSpace(v), "<") {
		return s.scrub(s.xml(v, loc), loc)
	}
	compact := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, v)
	data, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return s.redact(where, KindSAML, v)
	}
	deflated := false
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
		// A deflated message that inflates past the decode limit is a bomb
		// or nothing worth keeping: replaced, like one that does not inflate.
		inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), flow.DefaultDecodeLimit+1))
		if err != nil || len(inflated) > flow.DefaultDecodeLimit || !bytes.HasPrefix(bytes.TrimSpace(inflated), []byte("<")) {
			return s.redact(where, KindSAML, v)
		}
		data, deflated = inflated, true
	}
	x := string(data)
	nx := s.scrub(s.xml(x, loc), loc)
	if nx == x {
		return v
	}
	out := []byte(nx)
	if deflated {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(out)
		w.Close()
		out = buf.Bytes()
	}
	return base64.StdEncoding.EncodeToString(out)
}

// multipart sanitizes a multipart/form-data body part by part: named fields
// by the field policy, files by their own media type. The framing is kept
// byte for byte.
func (s *sanitizer) multipart(t, boundary, where string) string {
	delim := "--" + boundary
	pieces := strings.Split(t, delim)
	changed := false
	for i := 1; i < len(pieces); i++ {
		p := pieces[i]
		if strings.HasPrefix(p, "--") {
			continue // the closing delimiter
		}
		sep := "\r\n\r\n"
		hi := strings.Index(p, sep)
		if hi < 0 {
			sep = "\n\n"
			if hi = strings.Index(p, sep); hi < 0 {
				continue
			}
		}
		head, content := p[:hi], p[hi+len(sep):]
		tail := ""
		if strings.HasSuffix(content, "\r\n") {
			content, tail = content[:len(content)-2], "\r\n"
		} else if strings.HasSuffix(content, "\n") {
			content, tail = content[:len(content)-1], "\n"
		}
		var name, filename, ctype string
		for line := range strings.SplitSeq(head, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "content-disposition":
				if _, ps, err := mime.ParseMediaType(strings.TrimSpace(v)); err == nil {
					name, filename = ps["name"], ps["filename"]
				}
			case "content-type":
				ctype = strings.TrimSpace(v)
			}
		}
		loc := where + " " + name
		var nc string
		if filename != "" || ctype != "" {
			out, ch, _, _ := s.body([]byte(content), ctype, loc)
			nc = content
			if ch {
				nc = string(out)
			}
		} else {
			nc = s.field(name, content, loc)
		}
		if nc != content {
			pieces[i] = head + sep + nc + tail
			changed = true
		}
	}
	if !changed {
		return t
	}
	return strings.Join(pieces, delim)
}
