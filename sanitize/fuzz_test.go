package sanitize_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/sanitize"
)

// Fuzz canaries: a password, a refresh token and a JWT signature planted in
// fuzzed surroundings.
const (
	fzPassword = "FuzzCanaryPw7781"
	fzRT       = "1.AXYAfuzzCanaryRefresh0123456789abcdefghijklmnopqrstuvwxyz"
	fzSig      = "FuzzCanarySig0123456789abcdefghijklmnopqrs"
)

var fzJWT = jwt(`{"alg":"RS256","typ":"JWT"}`, `{"aud":"x","oid":"y"}`, fzSig)

func FuzzFlow(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "application/json", "", "x=1", "User-Agent")
	f.Add([]byte("a=b&c=d"), "application/x-www-form-urlencoded", "", "", "Cookie")
	f.Add([]byte(`<html><form><input name="x" value="`), "text/html", "", "a#b", "Location")
	f.Add([]byte(`<Assertion><AttributeValue>`), "text/xml", "gzip", "", "Set-Cookie")
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), "", "", "code", "Authorization")
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"), "multipart/form-data; boundary=b", "", "", "X-Custom")
	f.Add(gz(`{"refresh_token":"`), "application/json", "gzip", "", "")
	f.Add([]byte("$Config={\"sFT\":\""), "text/html", "", "", ":path")
	f.Fuzz(func(t *testing.T, data []byte, ctype, enc, query, header string) {
		in := &flow.Flow{
			Index: 3,
			Request: &flow.Request{
				Method: "POST",
				URL:    "https://login.example/p?" + query + "&code=" + fzRT,
				Header: flow.Headers{{Name: "Content-Type", Value: ctype}, {Name: header, Value: "Bearer " + fzJWT}},
				Body:   flow.Body{Raw: append(append([]byte{}, data...), "&passwd="+fzPassword+" "+fzRT+" "+fzJWT...), Encoding: enc},
			},
			Response: &flow.Response{
				Status: 200,
				Header: flow.Headers{{Name: "Content-Type", Value: ctype}, {Name: "Content-Encoding", Value: enc}},
				Body:   flow.Body{Raw: append(append([]byte{}, data...), ` {"refresh_token":"`+fzRT+`","password":"`+fzPassword+`"} `+fzJWT...), Encoding: enc},
			},
		}
		clone := cloneFlow(in)

		var rep sanitize.Report
		out := sanitize.Flow(in, sanitize.Options{Key: testKey}, &rep)
		if !reflect.DeepEqual(in, clone) {
			t.Fatal("Flow changed its input")
		}
		text := flowText(out)
		for _, c := range []string{fzPassword, fzRT, fzSig} {
			if strings.Contains(text, c) {
				t.Fatalf("canary %q survived in %q", c, text)
			}
		}
	})
}

func cloneFlow(f *flow.Flow) *flow.Flow {
	c := *f
	r := *f.Request
	r.Header = append(flow.Headers{}, f.Request.Header...)
	r.Body.Raw = append([]byte{}, f.Request.Body.Raw...)
	c.Request = &r
	s := *f.Response
	s.Header = append(flow.Headers{}, f.Response.Header...)
	s.Body.Raw = append([]byte{}, f.Response.Body.Raw...)
	c.Response = &s
	return &c
}
