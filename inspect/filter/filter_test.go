package filter

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// Synthetic identifiers for the test flows.
const (
	tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47" // in paths and access tokens
	guest     = "0c3d8a38-6c3b-4c7f-9d5e-1f0a2b3c4d5e" // only in the id_token's tid
	home      = "f8cdef31-a31e-4b4a-93e4-5f571e91255a" // only in client_info's utid
	client    = "04b07795-8ddb-461a-bbee-02f9e1bf7b46" // client_id, and the bearer token's appid
	azpClient = "3f5a1b2c-0d9e-4f8a-b7c6-5d4e3f2a1b0c" // only in the access token's azp
)

// jwt builds an unsigned JWT with the given claims.
func jwt(claims map[string]any) string {
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(map[string]any{"alg": "none", "typ": "JWT"}) + "." + seg(claims) + "."
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func hdr(kv ...string) flow.Headers {
	var h flow.Headers
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, flow.Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

func body(s string) flow.Body { return flow.Body{Raw: []byte(s), Size: int64(len(s))} }

type named struct {
	name string
	s    Subject
}

// subjects builds a small recording that exercises every term: each flow
// carries some things only it carries, so a term matching too much or too
// little shows in the lists of names.
func subjects() []named {
	clientInfo := base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"u1","utid":"` + home + `"}`))
	tokenBody := `{"token_type":"Bearer","id_token":"` + jwt(map[string]any{"tid": guest, "aud": client}) +
		`","access_token":"` + jwt(map[string]any{"tid": tenant, "azp": azpClient}) + `"}`
	gz := gzipped(tokenBody)
	return []named{
		{"authorize", Subject{Txn: 1, Flow: &flow.Flow{
			Request: &flow.Request{Method: "GET",
				URL:    "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?client_id=" + client + "&response_type=code&scope=openid",
				Header: hdr("Host", "login.microsoftonline.com", "Cookie", "buid=1; ESTSAUTHPERSISTENT=abc")},
			Response: &flow.Response{Status: 302, Header: hdr(
				"Location", "https://app.example/cb?code=0.AXEA-c&state=s&client_info="+clientInfo,
				"Set-Cookie", "ESTSAUTH=xyz; path=/; secure; HttpOnly",
				"Set-Cookie", "fpc=q; expires=Wed, 24-Feb-2038 01:41:13 GMT; path=/")},
		}}},
		{"token", Subject{Txn: 1, Flow: &flow.Flow{
			Request: &flow.Request{Method: "POST",
				URL:    "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token",
				Header: hdr("Content-Type", "application/x-www-form-urlencoded"),
				Body:   body("client_id=" + client + "&grant_type=authorization_code&code=0.AXEA-c&code_verifier=v")},
			Response: &flow.Response{Status: 200,
				Header: hdr("Content-Type", "application/json; charset=utf-8", "Content-Encoding", "gzip"),
				Body:   flow.Body{Raw: gz, Size: int64(len(gz)), Encoding: "gzip"}},
		}}},
		{"error", Subject{Txn: 2,
			Findings: []inspect.Finding{{Rule: "aadsts-error", Severity: inspect.Error, Code: 50143}},
			Flow: &flow.Flow{
				Request: &flow.Request{Method: "POST",
					URL:    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
					Header: hdr("Content-Type", "application/x-www-form-urlencoded"),
					Body:   body("client_id=" + client + "&grant_type=refresh_token&refresh_token=1.AXEA-rt")},
				Response: &flow.Response{Status: 400, Header: hdr("Content-Type", "application/json"),
					Body: body(`{"error":"invalid_grant","error_codes":[50143],"error_description":"AADSTS50143: Session mismatch."}`)},
			}}},
		{"silent", Subject{Txn: 3,
			Findings: []inspect.Finding{{Rule: "interaction-required", Severity: inspect.Warning, Code: 50058}},
			Flow: &flow.Flow{
				Request: &flow.Request{Method: "GET",
					URL:    "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/authorize?client_id=" + client + "&prompt=none",
					Header: hdr("Cookie", "ESTSAUTH=s1")},
				Response: &flow.Response{Status: 302, Header: hdr("Location", "https://app.example/cb#error=interaction_required&state=s")},
			}}},
		{"script", Subject{Flow: &flow.Flow{
			Request:  &flow.Request{Method: "GET", URL: "https://aadcdn.msftauth.net/shared/1.0/content/js/ConvergedLogin_PCore.js"},
			Response: &flow.Response{Status: 200, Header: hdr("Content-Type", "application/javascript; charset=utf-8"), Body: body("var x=1;")},
		}}},
		{"font", Subject{Flow: &flow.Flow{
			Request:  &flow.Request{Method: "GET", URL: "https://aadcdn.msftauth.net/fonts/segoeui.woff2"},
			Response: &flow.Response{Status: 200, Header: hdr("content-type", "font/woff2")},
		}}},
		{"graph", Subject{
			Findings: []inspect.Finding{{Rule: "clock-skew", Severity: inspect.Info}},
			Flow: &flow.Flow{
				Request: &flow.Request{Method: "GET", URL: "https://graph.microsoft.com:443/v1.0/me",
					Header: hdr("Authorization", "Bearer "+jwt(map[string]any{"tid": tenant, "appid": client}))},
				Response: &flow.Response{Status: 200, Header: hdr("Content-Type", "application/json"), Body: body(`{"displayName":"Ada"}`)},
			}}},
		{"pending", Subject{Flow: &flow.Flow{
			Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1"},
		}}},
		{"cut", Subject{Flow: &flow.Flow{
			Request:  &flow.Request{Method: "GET", URL: "https://app.example/api/data"},
			Response: &flow.Response{Status: 200, Header: hdr("Content-Type", "text/plain")},
			Error:    "unexpected EOF",
		}}},
		{"refused", Subject{Flow: &flow.Flow{
			Request:  &flow.Request{Method: "GET", URL: "https://sts.contoso.example:8443/adfs/ls/"},
			Response: &flow.Response{Status: 502, Synthetic: true, Header: hdr("Content-Type", "text/plain")},
		}}},
	}
}

func names(ns []named) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.name
	}
	return out
}

// except returns every flow name but the given ones.
func except(skip ...string) []string {
	var out []string
	for _, n := range names(subjects()) {
		if !slices.Contains(skip, n) {
			out = append(out, n)
		}
	}
	return out
}

func TestMatch(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		// mitmproxy's terms.
		{`~d ^login\.microsoftonline\.com$`, []string{"authorize", "token", "error", "silent", "pending"}},
		{`~d com$`, []string{"authorize", "token", "error", "silent", "graph", "pending"}},
		{`~d 443`, nil}, // the port is not part of the domain
		{`~d LOGIN|graph`, []string{"authorize", "token", "error", "silent", "graph", "pending"}},
		{`~u oauth2/v2\.0/token`, []string{"token", "error"}},
		{`~u client_id=` + client + `&response_type`, []string{"authorize"}},
		{`~m post`, []string{"token", "error"}},
		{`~c 400`, []string{"error"}},
		{`~c 3xx`, []string{"authorize", "silent"}},
		{`~c 5XX`, []string{"refused"}},
		{`~c 200`, []string{"token", "script", "font", "graph", "cut"}},
		{`~c 404|~c 400`, []string{"error"}},
		{`~h "^set-cookie: estsauth="`, []string{"authorize"}},
		{`~h 'location: https://app\.example/cb#'`, []string{"silent"}},
		{`~hq authorization:\s*bearer`, []string{"graph"}},
		{`~hs authorization`, nil},
		{`~hs ^location:`, []string{"authorize", "silent"}},
		{`~b invalid_grant`, []string{"error"}},
		{`~b "\"error\":\s*\"invalid_grant\""`, []string{"error"}},
		{`~b id_token`, []string{"token"}}, // through gzip
		{`~bq grant_type=refresh_token`, []string{"error"}},
		{`~bs grant_type`, nil},
		{`~bs displayname`, []string{"graph"}},
		{`~t json`, []string{"token", "error", "graph"}},
		{`~t form-urlencoded`, []string{"token", "error"}},
		{`~tq json`, nil},
		{`~ts form`, nil},
		{`~e`, []string{"cut", "refused"}},
		{`~q`, []string{"pending"}},
		{`~s`, except("pending")},
		{`~a`, []string{"script", "font"}},
		{`~all`, except()},
		// Bare words are URL regexes, not body searches.
		{`token`, []string{"token", "error"}},
		{`"oauth2/v2.0/authorize"`, []string{"authorize", "silent"}},
		{`displayName`, nil},

		// Identity terms.
		{`~aadsts 50143`, []string{"error"}},
		{`~aadsts AADSTS50143`, []string{"error"}},
		{`~aadsts 50058`, []string{"silent"}}, // from the finding only
		{`~aadsts 50076`, nil},
		{`~rule aadsts-error`, []string{"error"}},
		{`~rule INTERACTION-required`, []string{"silent"}},
		{`~rule aadsts`, nil}, // rule IDs match whole
		{`~sev info`, []string{"error", "silent", "graph"}},
		{`~sev warning`, []string{"error", "silent"}},
		{`~sev error`, []string{"error"}},
		{`~txn 1`, []string{"authorize", "token"}},
		{`~txn 2`, []string{"error"}},
		{`~txn 9`, nil},
		{`~tid ` + tenant, []string{"token", "silent", "graph"}},
		{`~tid ` + strings.ToUpper(tenant), []string{"token", "silent", "graph"}},
		{`~tid ` + guest, []string{"token"}},    // id_token tid
		{`~tid ` + home, []string{"authorize"}}, // client_info utid
		{`~tid organizations`, []string{"authorize"}},
		{`~tid common`, []string{"error", "pending"}},
		{`~tid 72f988bf`, nil}, // tenants match whole
		{`~client ` + client, []string{"authorize", "token", "error", "silent", "graph"}},
		{`~client ` + azpClient, []string{"token"}},
		{`~cookie ESTSAUTH`, []string{"authorize", "silent"}},
		{`~cookie estsauthpersistent`, []string{"authorize"}},
		{`~cookie ESTSAUTHP`, []string{"authorize"}},
		{`~cookie fpc`, []string{"authorize"}},  // set only
		{`~cookie buid`, []string{"authorize"}}, // sent only
		{`~cookie abc`, nil},                    // a value, not a name

		// Operators and precedence.
		{`~c 3xx & ~cookie estsauthpersistent`, []string{"authorize"}},
		{`~c 400 | ~q`, []string{"error", "pending"}},
		{`!~s`, []string{"pending"}},
		{`!(~d microsoftonline | ~a)`, []string{"graph", "cut", "refused"}},
		{`~m get ~c 200`, []string{"script", "font", "graph", "cut"}},
		{`~m post & ~c 400 | ~c 302`, []string{"authorize", "error", "silent"}}, // & before |
		{`~m post ~c 400 | ~c 302`, []string{"error"}},                          // side by side binds loosest
		{`!~q & ~c 5xx`, []string{"refused"}},                                   // ! before &
		{`!~a ~d aadcdn`, nil},                                                  // (!~a) & ~d aadcdn
		{`!(~a ~d aadcdn)`, except("script", "font")},                           // grouping
		{`~c 302 (~cookie estsauthp | ~tid ` + tenant + `)`, []string{"authorize", "silent"}},
		{``, except()},
		{`   `, except()},
	}
	all := subjects()
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		var got []string
		for _, n := range subjects() { // fresh flows: no decoded cache carried over
			if e.Match(n.s) {
				got = append(got, n.name)
			}
		}
		// Order the answer as the recording is, for a readable diff.
		slices.SortFunc(got, func(a, b string) int {
			return slices.Index(names(all), a) - slices.Index(names(all), b)
		})
		want := tt.want
		slices.SortFunc(want, func(a, b string) int {
			return slices.Index(names(all), a) - slices.Index(names(all), b)
		})
		if !slices.Equal(got, want) {
			t.Errorf("Parse(%q).Match: got %v, want %v", tt.expr, got, want)
		}
	}
}

func TestMatchNil(t *testing.T) {
	s := subjects()[0].s
	var e *Expr
	if !e.Match(s) {
		t.Errorf("(*Expr)(nil).Match: got false, want true")
	}
	if got := e.String(); got != "" {
		t.Errorf("(*Expr)(nil).String(): got %q, want \"\"", got)
	}
	// A subject without a flow matches only the terms about findings and
	// transactions.
	noFlow := Subject{Txn: 4, Findings: []inspect.Finding{{Rule: "r", Severity: inspect.Warning, Code: 7}}}
	for expr, want := range map[string]bool{
		"~d x": false, "!~d x": true, "~q": false, "~s": false, "~tid x": false, "~cookie x": false,
		"~txn 4": true, "~rule r": true, "~sev warning": true, "~aadsts 7": true, "~aadsts 8": false, "~all": true,
	} {
		if got := MustParse(expr).Match(noFlow); got != want {
			t.Errorf("Parse(%q).Match(no flow): got %v, want %v", expr, got, want)
		}
	}
}

// TestMatchLazy checks that cheap terms never decode a body, and that and
// tries its cheap operands first whatever order they are written in.
func TestMatchLazy(t *testing.T) {
	tok := func() *flow.Flow { return subjects()[1].s.Flow } // gzip response, tenant in the path
	decoded := func(f *flow.Flow) bool { return f.Response.Body.DecodedLen() > 0 }
	for _, expr := range []string{
		`~d nomatch | ~u nomatch | ~c 500 | ~m put | ~h nomatch | ~t nomatch | ~e | ~q | ~a`,
		`~b id_token & ~d nomatch`,
		`~tid ` + tenant, // found in the path before tokens are decoded
	} {
		f := tok()
		MustParse(expr).Match(Subject{Flow: f})
		if decoded(f) {
			t.Errorf("Parse(%q).Match decoded the response body; it should not need it", expr)
		}
	}
	// The same check fails when a term does need the body.
	f := tok()
	if !MustParse(`~b id_token & ~d login`).Match(Subject{Flow: f}) || !decoded(f) {
		t.Errorf("~b id_token & ~d login: did not decode and match the gzip body")
	}
}

func TestRequestHost(t *testing.T) {
	for _, u := range []string{
		"https://login.microsoftonline.com/common/oauth2/v2.0/authorize?x=https://other.example/",
		"https://Graph.Microsoft.com:443/v1.0/me",
		"http://user:pw@example.com:8080/p#frag",
		"https://[2001:db8::1]:8443/x",
		"https://[2001:db8::1]/x",
		"http://127.0.0.1/",
		"https://example.com",
		"https://example.com?q=1",
	} {
		got := strings.ToLower(requestHost(&flow.Request{URL: u}))
		want := inspect.RequestHost(&flow.Flow{Request: &flow.Request{URL: u}})
		if got != want {
			t.Errorf("requestHost(%q): got %q, want %q (inspect.RequestHost)", u, got, want)
		}
	}
	if got := requestHost(&flow.Request{URL: "/path", Header: hdr("Host", "app.example:8080")}); got != "app.example" {
		t.Errorf("requestHost(origin form): got %q, want app.example", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{" \t\n", ""},
		{"foo", "~u foo"},
		{"~d a|b", "~d a|b"},
		{"~u a&b!c", "~u a&b!c"},
		{"~q|~s", "~q | ~s"},
		{"~q ~s", "~q & ~s"},
		{"~q ~s | ~e", "~q & (~s | ~e)"},
		{"~q & ~s | ~e", "~q & ~s | ~e"},
		{"~q | ~s & ~e", "~q | ~s & ~e"},
		{"(~q | ~s) & ~e", "(~q | ~s) & ~e"},
		{"!(~q | ~s)", "!(~q | ~s)"},
		{"!(~q & ~s)", "!(~q & ~s)"},
		{"!~q ~s", "!~q & ~s"},
		{"((~q))", "~q"},
		{"~q & (~s & ~e)", "~q & ~s & ~e"},
		{"(~q | ~s) | ~e", "~q | ~s | ~e"},
		{"!!~q", "!!~q"},
		{"(~q ~s)", "~q & ~s"},
		{`~u "a b"`, `~u "a b"`},
		{`~u 'it\'s'`, `~u "it's"`},
		{`~u "say \"hi\""`, `~u "say \"hi\""`},
		{`~u "a\\b"`, `~u a\b`},
		{`~u "\d+"`, `~u \d+`},
		{`~cookie "a b\\"`, `~cookie "a b\\"`},
		{`~u ""`, `~u ""`},
		{`~u "&"`, `~u "&"`},
		{`~cookie "x)"`, `~cookie "x)"`},
		{`~u "(a)?"`, `~u "(a)?"`},
		{`~d"x"~s`, `~d x & ~s`},
		{`~d.x`, `~d .x`},
		{`~u &client_id`, `~u &client_id`},
		{"~c 4XX", "~c 4xx"},
		{"~c 404|~c 500", "~c 404 | ~c 500"},
		{"~aadsts AADSTS50058", "~aadsts 50058"},
		{"~aadsts aadsts50058", "~aadsts 50058"},
		{"~sev WARNING", "~sev warning"},
		{"~txn 12", "~txn 12"},
		{"~rule domain-hint-mismatch&~s", "~rule domain-hint-mismatch & ~s"},
		{"~cookie .AspNetCore.Cookies", "~cookie .AspNetCore.Cookies"},
		{`~cookie "a|b"`, `~cookie "a|b"`},
		{"~tid contoso.onmicrosoft.com", "~tid contoso.onmicrosoft.com"},
		{"~client " + client, "~client " + client},
		{"~a ~all ~e ~q ~s", "~a & ~all & ~e & ~q & ~s"},
		{"~h x ~hq x ~hs x ~b x ~bq x ~bs x ~t x ~tq x ~ts x ~m x", "~h x & ~hq x & ~hs x & ~b x & ~bq x & ~bs x & ~t x & ~tq x & ~ts x & ~m x"},
		{strings.Repeat("(", maxDepth) + "~q" + strings.Repeat(")", maxDepth), "~q"},
		{strings.Repeat("!", maxDepth-2) + "(~q ~s | ~e)", strings.Repeat("!", maxDepth-2) + "(~q & (~s | ~e))"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String(): got %q, want %q", tt.in, got, tt.want)
			continue
		}
		again, err := Parse(tt.want)
		if err != nil || again.String() != tt.want {
			t.Errorf("Parse(%q) of the canonical form: got (%v, %v), want the same form back", tt.want, again, err)
		}
	}
}

// tree writes the structure fully parenthesized, to test precedence apart
// from the canonical form's choice of parentheses.
func tree(n *node) string {
	switch n.op {
	case opNot:
		return "(not " + tree(n.kids[0]) + ")"
	case opAnd, opOr:
		parts := []string{map[op]string{opAnd: "and", opOr: "or"}[n.op]}
		for _, k := range n.kids {
			parts = append(parts, tree(k))
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	var b strings.Builder
	n.term.format(&b)
	return b.String()
}

func TestPrecedence(t *testing.T) {
	for in, want := range map[string]string{
		"~q | ~s & ~e":        "(or ~q (and ~s ~e))",
		"~q & ~s | ~e":        "(or (and ~q ~s) ~e)",
		"!~q & ~s":            "(and (not ~q) ~s)",
		"!~q | ~s":            "(or (not ~q) ~s)",
		"~q ~s | ~e":          "(and ~q (or ~s ~e))",
		"~q | ~s ~e":          "(and (or ~q ~s) ~e)",
		"~q & ~s ~e | ~a":     "(and ~q ~s (or ~e ~a))",
		"!(~q | ~s) ~e":       "(and (not (or ~q ~s)) ~e)",
		"~q | (~s | ~e) | ~a": "(or ~q ~s ~e ~a)",
	} {
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := tree(e.root); got != want {
			t.Errorf("Parse(%q): got %s, want %s", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("(", maxDepth+1) + "~q" + strings.Repeat(")", maxDepth+1)
	tests := []struct {
		in  string
		pos int
		msg string // a part of the message
	}{
		{"~d foo ~x", 7, "~x is not a filter (known: ~d ~u ~m ~c"},
		{"~", 0, "~ is not a filter"},
		{"~D x", 0, "~D is not a filter"},
		{"~q (~s", 3, "missing closing parenthesis"},
		{"((~q)", 0, "missing closing parenthesis"},
		{"~q )", 3, "unexpected ) without an opening parenthesis"},
		{"~q ~s )", 6, "unexpected )"},
		{"()", 0, "empty parentheses"},
		{"~q & ()", 5, "empty parentheses"},
		{"~c abc", 3, "~c wants a status like 404 or 4xx"},
		{"~c", 2, "~c wants a status like 404 or 4xx"},
		{"~c 0", 3, "~c wants a status"},
		{"~c 4000", 3, "~c wants a status"},
		{"~c 099", 3, "~c wants a status"},
		{"~c 0xx", 3, "~c wants a status"},
		{"~c 4x", 3, "~c wants a status"},
		{"~d", 2, "~d wants a regex"},
		{"~d (x)", 3, "~d wants a regex"},
		{"(~d)", 3, "~d wants a regex"},
		{`~d "(a"`, 3, "~d: bad regex: missing closing ): `(a`"},
		{"~u [", 3, "~u: bad regex: missing closing ]"},
		{"foo *x", 4, "~u: bad regex"},
		{"~b a{2,1}", 3, "~b: bad regex: invalid repeat count"},
		{"~q &", 4, "& needs a filter after it"},
		{"~q & )", 5, "& needs a filter after it"},
		{"& ~q", 0, "& needs a filter before it"},
		{"(| ~q)", 1, "| needs a filter before it"},
		{"~q | | ~s", 5, "| needs a filter after it"},
		{"!", 1, "! needs a filter after it"},
		{"~q & !", 6, "! needs a filter after it"},
		{`~u "abc`, 3, "missing closing quote"},
		{`'abc\'`, 0, "missing closing quote"},
		{"~d foo|~d bar", 6, "| runs into ~: put spaces around | between filters"},
		{"foo&(~s)", 3, "& runs into ("},
		{"~d & ~s", 3, "& is an operator here"},
		{"~u |", 3, "| is an operator here"},
		{"~sev critical", 5, "~sev wants info, warning or error"},
		{"~sev", 4, "~sev wants info, warning or error"},
		{"~txn 0", 5, "~txn wants a transaction number"},
		{"~txn x", 5, "~txn wants a transaction number"},
		{"~txn 1234567890", 5, "~txn wants a transaction number"},
		{"~aadsts 0", 8, "~aadsts wants an AADSTS code"},
		{"~aadsts AADSTS", 8, "~aadsts wants an AADSTS code"},
		{"~aadsts -5", 8, "~aadsts wants an AADSTS code"},
		{"~rule", 5, "~rule wants a rule ID"},
		{"~rule &", 6, "~rule wants a rule ID"},
		{`~cookie ""`, 8, "~cookie wants a cookie name"},
		{`~tid " "`, 5, "~tid wants a tenant ID"},
		{"~client", 7, "~client wants a client ID"},
		{deep, maxDepth, "nests deeper than 100"},
		// 100 levels as written, 101 in canonical form: "!…!(~q & (~s | ~e))".
		{strings.Repeat("!", maxDepth-1) + "(~q ~s | ~e)", 0, "nests deeper than 100"},
		{strings.Repeat("!", maxDepth+1) + "~q", maxDepth, "nests deeper than 100"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): got (%v, %v), want a *SyntaxError", tt.in, e, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q): got at %d %q, want at %d %q", tt.in, se.Pos, se.Msg, tt.pos, tt.msg)
		}
		if want := fmt.Sprintf("at %d: %s", se.Pos, se.Msg); err.Error() != want {
			t.Errorf("Parse(%q).Error(): got %q, want %q", tt.in, err.Error(), want)
		}
	}
}

func TestMustParse(t *testing.T) {
	if got := MustParse("~q").String(); got != "~q" {
		t.Errorf("MustParse(~q): got %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("MustParse(~x): did not panic")
		}
	}()
	MustParse("~x")
}

// TestMatchConcurrent runs one Expr over different flows at once, as the
// web inspector may; -race checks that the Expr itself is not written.
func TestMatchConcurrent(t *testing.T) {
	e := MustParse(`~b id_token | ~tid ` + guest + ` | ~aadsts 50143 | ~hs estsauth`)
	var want []bool
	for _, n := range subjects() {
		want = append(want, e.Match(n.s))
	}
	if !slices.Equal(want, []bool{true, true, true, false, false, false, false, false, false, false}) {
		t.Fatalf("Match in sequence: got %v, want authorize, token and error", want)
	}
	got := make([][]bool, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, n := range subjects() { // each goroutine its own flows
				got[g] = append(got[g], e.Match(n.s))
			}
		}()
	}
	wg.Wait()
	for g := range got {
		if !slices.Equal(got[g], want) {
			t.Errorf("concurrent Match, goroutine %d: got %v, want %v", g, got[g], want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "foo", "~d a|b", "~q ~s | ~e", "!(~q | ~s) ~e", `~u "a b\\" | ~b '\d+'`, "~c 4xx & ~aadsts 50058",
		"~sev warning ~rule x ~txn 3 ~tid common ~client abc ~cookie ESTS", "~d foo|~d bar", "((~q)", `~u "&"`,
		"~h ^location: & !~hs x ~hq y ~bq z ~bs w ~t json ~tq a ~ts b ~a ~all", `~d"x"~s`,
	} {
		f.Add(s)
	}
	sample := subjects()
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("Parse(%q): got error %v, want a *SyntaxError inside the input", s, err)
			}
			return
		}
		c := e.String()
		e2, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, c, err)
		}
		if c2 := e2.String(); c2 != c {
			t.Fatalf("Parse(%q): canonical form %q reparses as %q", s, c, c2)
		}
		for _, n := range sample {
			if a, b := e.Match(n.s), e2.Match(n.s); a != b {
				t.Fatalf("Parse(%q) and its canonical form %q disagree on flow %s: %v, %v", s, c, n.name, a, b)
			}
		}
	})
}

// TestLiteral checks that deciding from a regex's literal agrees with the
// regex, on the texts where the two could part: case, anchors, a literal
// that is only part of the regex, and the non-ASCII runes that fold to
// ASCII letters (ſ is s, the Kelvin sign is k).
func TestLiteral(t *testing.T) {
	regexes := []string{"token", "^graph", "com$", "^ab$", "oauth2/v2\\.0/authorize", "login.microsoftonline.com", "(token)", "x-ms-request-id",
		"ab+c", "a|b", "(?-i)Foo", "sk", "", "^", "ſ", "(?m)^set-cookie: esTSauth"}
	texts := []string{"", "token", "TOKEN", "ToKeN/x", "graph.microsoft.com", "a.graph", "x.com", "x.com/", "ab", "AB", "aab",
		"https://login.microsoftonline.com/common/oauth2/v2.0/authorize?x", "LOGINXMICROSOFTONLINEXCOM", "X-MS-Request-Id: 1", "abbbc",
		"Foo", "foo", "sk", "\u017fk", "s\u212a", "\u017f\u212a", "to\u212aen", "\xff\xfe", "a\nset-cookie: estsauth=1", "ſ"}
	for _, rx := range regexes {
		expr := "(?i)" + rx
		re := regexp.MustCompile(expr)
		tm := term{re: re, lit: analyze(expr)}
		for _, s := range texts {
			if got, want := tm.matchString(s), re.MatchString(s); got != want {
				t.Errorf("matchString(%q, %q): got %v, want %v (literal %+v)", rx, s, got, want, tm.lit)
			}
			if got, want := tm.matchBytes([]byte(s)), re.MatchString(s); got != want {
				t.Errorf("matchBytes(%q, %q): got %v, want %v (literal %+v)", rx, s, got, want, tm.lit)
			}
		}
	}
	// The fast path is taken where it should be, or the check above proves
	// nothing about it.
	for rx, want := range map[string]literal{
		"token":                     {lit: "token", exact: true, lead: []byte{0xe2}},
		"^graph":                    {lit: "graph", exact: true, begin: true},
		"com$":                      {lit: "com", exact: true, end: true},
		"login.microsoftonline.com": {lit: "microsoftonline", lead: []byte{0xc5}},
		"sk":                        {lit: "sk", exact: true, lead: []byte{0xc5, 0xe2}},
		"a|b":                       {},
	} {
		if got := analyze("(?i)" + rx); !reflect.DeepEqual(got, want) {
			t.Errorf("analyze(%q): got %+v, want %+v", rx, got, want)
		}
	}
}

func FuzzLiteral(f *testing.F) {
	f.Add("token", "ToKeN")
	f.Add("^sk$", "\u017f\u212a")
	f.Add("a.b", "xAyB")
	f.Fuzz(func(t *testing.T, rx, s string) {
		re, err := regexp.Compile("(?i)" + rx)
		if err != nil {
			return
		}
		tm := term{re: re, lit: analyze("(?i)" + rx)}
		if got, want := tm.matchString(s), re.MatchString(s); got != want {
			t.Fatalf("matchString(%q, %q): got %v, want %v (literal %+v)", rx, s, got, want, tm.lit)
		}
		if got, want := tm.matchBytes([]byte(s)), re.MatchString(s); got != want {
			t.Fatalf("matchBytes(%q, %q): got %v, want %v (literal %+v)", rx, s, got, want, tm.lit)
		}
	})
}
