package sanitize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting; deeper documents are scrubbed as text
// instead, so a hostile body cannot exhaust the stack.
const maxJSONDepth = 200

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jnode is a JSON value that keeps member order and duplicate keys, so a
// body that is rewritten reads as it did, minus the secrets.
type jnode struct {
	kind jkind
	s    string   // string value, or the literal text of a number or bool
	keys []string // object member names, parallel to vals
	vals []*jnode // object member values or array elements
}

// parseJSON reads exactly one JSON value; trailing data is an error.
func parseJSON(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return n, nil
}

// parseJSONPrefix reads one JSON value from the start of data and returns
// it with the number of bytes it took.
func parseJSONPrefix(data []byte) (*jnode, int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readJSON(dec, 0)
	if err != nil {
		return nil, 0, err
	}
	return n, int(dec.InputOffset()), nil
}

func readJSON(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &jnode{kind: jNull}, nil
	case bool:
		if t {
			return &jnode{kind: jBool, s: "true"}, nil
		}
		return &jnode{kind: jBool, s: "false"}, nil
	case json.Number:
		return &jnode{kind: jNumber, s: string(t)}, nil
	case string:
		return &jnode{kind: jString, s: t}, nil
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v", kt)
				}
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray}
			for dec.More() {
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// encode appends n as compact JSON. htmlSafe escapes <, > and & so the
// result can sit inside an HTML script element.
func (n *jnode) encode(b []byte, htmlSafe bool) []byte {
	switch n.kind {
	case jNull:
		return append(b, "null"...)
	case jBool, jNumber:
		return append(b, n.s...)
	case jString:
		return appendJSONString(b, n.s, htmlSafe)
	case jArray:
		b = append(b, '[')
		for i, v := range n.vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.encode(b, htmlSafe)
		}
		return append(b, ']')
	case jObject:
		b = append(b, '{')
		for i, k := range n.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k, htmlSafe)
			b = append(b, ':')
			b = n.vals[i].encode(b, htmlSafe)
		}
		return append(b, '}')
	}
	return b
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string, htmlSafe bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || (htmlSafe && (c == '<' || c == '>' || c == '&')):
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// isSecretClass reports whether a rule replaces every value under it.
func isSecretClass(c class) bool {
	return c == clsSecret || c == clsToken || c == clsVerifier || c == clsSAML || c == clsNumericOK
}

// jsonMember applies the rule for a member's name to its value; objects and
// arrays under a secret name have every leaf replaced. It reports whether
// anything changed.
func (s *sanitizer) jsonMember(n *jnode, r rule, where string) bool {
	switch n.kind {
	case jObject:
		if isSecretClass(r.cls) {
			return s.redactLeaves(n, where, r.kind)
		}
		jwk := isJWK(n)
		changed := false
		for i, k := range n.keys {
			mr := jsonFieldRule(k)
			if jwk {
				mr = jwkMemberRule(k)
			}
			if s.jsonMember(n.vals[i], mr, where+" "+k) {
				changed = true
			}
		}
		return changed
	case jArray:
		changed := false
		for _, v := range n.vals {
			if s.jsonMember(v, r, where) {
				changed = true
			}
		}
		return changed
	case jString:
		if (r.cls == clsKeep || r.cls == clsUnknown) && looksJSON(n.s) {
			if inner, err := parseJSON([]byte(n.s)); err == nil {
				if s.jsonMember(inner, rule{cls: clsUnknown}, where) {
					n.s = string(inner.encode(nil, false))
					return true
				}
				return false
			}
		}
		v := s.byRule(r, n.s, where)
		if v != n.s {
			n.s = v
			return true
		}
	case jNumber:
		if isSecretClass(r.cls) {
			n.kind, n.s = jString, s.redact(where, r.kind, n.s)
			return true
		}
	}
	return false
}

// jsonWalk sanitizes a whole document; key is the name it was found under
// ("" for a body).
func (s *sanitizer) jsonWalk(n *jnode, key, where string) bool {
	r := rule{cls: clsUnknown}
	if key != "" {
		r = jsonFieldRule(key)
	}
	return s.jsonMember(n, r, where)
}

// redactLeaves replaces every string and number below n, recording each.
func (s *sanitizer) redactLeaves(n *jnode, where, kind string) bool {
	return n.leaves(func(v string) string { return s.redact(where, kind, v) })
}

// leaves replaces every string and number below n with fn's result and
// reports whether any changed. Numbers become strings when replaced.
func (n *jnode) leaves(fn func(string) string) bool {
	switch n.kind {
	case jString, jNumber:
		v := fn(n.s)
		if v != n.s {
			n.kind, n.s = jString, v
			return true
		}
	case jArray, jObject:
		changed := false
		for _, v := range n.vals {
			if v.leaves(fn) {
				changed = true
			}
		}
		return changed
	}
	return false
}

func looksJSON(s string) bool {
	t := strings.TrimSpace(s)
	return len(t) >= 2 && (t[0] == '{' && t[len(t)-1] == '}' || t[0] == '[' && t[len(t)-1] == ']')
}

// jsonBody sanitizes a JSON body; ok is false when it is not JSON. Pretty
// printed bodies are indented again after rewriting.
func (s *sanitizer) jsonBody(text, where string) (string, bool) {
	// What cannot start a JSON document is not copied to find out.
	if t := strings.TrimLeft(text, "\ufeff \t\r\n"); t == "" || !strings.ContainsRune(`{["-0123456789tfn`, rune(t[0])) {
		return text, false
	}
	root, err := parseJSON([]byte(text))
	if err != nil {
		return text, false
	}
	if !s.jsonWalk(root, "", where) {
		return text, true
	}
	out := root.encode(nil, false)
	if strings.Contains(text, "\n") {
		var buf bytes.Buffer
		if json.Indent(&buf, out, "", "  ") == nil {
			out = buf.Bytes()
		}
	}
	return string(out), true
}
