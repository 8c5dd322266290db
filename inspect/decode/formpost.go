package decode

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// ParseFormPost reads a response_mode=form_post page: the auto-submitting
// form (Entra names it "hiddenform") and its named inputs. It returns the
// fields, the form's action (the redirect_uri) and an error when the page has
// no such form. When several forms exist, "hiddenform" wins, then the first
// POST form with fields.
func ParseFormPost(page []byte) (fields map[string]string, action string, err error) {
	type form struct {
		name, method, action string
		fields               map[string]string
	}
	var forms []*form
	var cur *form
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF or malformed input: keep what we have
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken && tt != html.EndTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		switch string(name) {
		case "form":
			if tt == html.EndTagToken {
				cur = nil
				continue
			}
			attrs := readAttrs(z, hasAttr)
			cur = &form{name: attrs["name"], method: attrs["method"], action: attrs["action"], fields: map[string]string{}}
			forms = append(forms, cur)
		case "input":
			if cur == nil || tt == html.EndTagToken {
				continue
			}
			attrs := readAttrs(z, hasAttr)
			if attrs["name"] == "" || strings.EqualFold(attrs["type"], "submit") {
				continue
			}
			cur.fields[attrs["name"]] = attrs["value"]
		}
	}
	var best *form
	for _, f := range forms {
		if strings.EqualFold(f.name, "hiddenform") {
			best = f
			break
		}
		if best == nil && strings.EqualFold(f.method, "post") && len(f.fields) > 0 {
			best = f
		}
	}
	if best == nil {
		return nil, "", errors.New("page has no form_post form")
	}
	return best.fields, best.action, nil
}

// readAttrs collects a tag's attributes; the tokenizer has already unescaped
// entities such as &amp; in the values.
func readAttrs(z *html.Tokenizer, more bool) map[string]string {
	attrs := map[string]string{}
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		key := strings.ToLower(string(k))
		if _, dup := attrs[key]; !dup {
			attrs[key] = string(v)
		}
	}
	return attrs
}

// ParseFormPostError decodes an error delivered through a form_post page
// (fields error, error_description, error_uri, state).
func ParseFormPostError(page []byte) (*AADSTSError, error) {
	fields, _, err := ParseFormPost(page)
	if err != nil {
		return nil, fmt.Errorf("parse form_post page: %w", err)
	}
	if fields["error"] == "" {
		return nil, fmt.Errorf("form_post page carries no error field: %w", ErrNotError)
	}
	return paramsError(valuesOf(fields), SourceFormPost), nil
}
