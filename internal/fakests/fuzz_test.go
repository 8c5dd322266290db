package fakests

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestDotnetEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AADSTS50058: A b", "AADSTS50058%3a+A+b"},
		{"user's {x}", "user%27s+%7bx%7d"},
		{"a\r\nb", "a%0d%0ab"},
		{"https://login.microsoftonline.com/error?code=1", "https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d1"},
		{"keep-_.!*()", "keep-_.!*()"},
		{"é", "%c3%a9"},
	}
	for _, tt := range tests {
		if got := dotnetEscape(tt.in); got != tt.want {
			t.Errorf("dotnetEscape(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDotnetEscape(f *testing.F) {
	for _, s := range []string{"", "AADSTS50058: x\r\nTrace ID: y", "a+b c%", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := dotnetEscape(s)
		if upperEscape.MatchString(enc) {
			t.Fatalf("dotnetEscape(%q) = %q: uppercase escape", s, enc)
		}
		got, err := url.QueryUnescape(enc)
		if err != nil || got != s {
			t.Fatalf("QueryUnescape(dotnetEscape(%q)): got %q, %v", s, got, err)
		}
	})
}

// FuzzUntrustedArtifacts feeds arbitrary cookie, token and scope values to
// the parsers that read client input: none may panic or accept a forgery.
func FuzzUntrustedArtifacts(f *testing.F) {
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	valid := s.SessionCookieFor(UserAlice.UPN).Value
	sealed := valid[strings.LastIndex(valid[:strings.LastIndex(valid, ".")], ".")+1:]
	f.Add(valid)
	f.Add(s.PRTCookie(UserAlice.UPN, false, "n"))
	f.Add(s.Nonce())
	f.Add("1.AV8AeyJ1IjoiYSJ9.c2ln")
	f.Add("openid api://x/ https://graph.microsoft.com/.default User.Read")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		// Only the sealed part is authenticated; the prefix is informational.
		if _, err := s.parseSessionCookie(v); err == nil && !strings.HasSuffix(v, "."+sealed) {
			t.Fatalf("parseSessionCookie(%q) accepted a forgery", v)
		}
		var rt refreshToken
		if rest, ok := strings.CutPrefix(v, rtPrefix); ok && s.unseal("rt", rest, &rt) == nil {
			t.Fatalf("unseal rt(%q) accepted a forgery", v)
		}
		s.nonceFresh(v)
		s.dir.parseScopes(v, "Contoso")
		s.dir.parseResource(v, "Contoso")
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(CookiePRT, v)
		if u, err := s.prtFromRequest(r); err == nil {
			t.Fatalf("prtFromRequest(%q) accepted as %v", v, u)
		}
	})
}

// TestHeaderCasing reads the raw response: ESTS's lowercase x-ms-* names
// and P3P must reach the wire as Entra spells them.
func TestHeaderCasing(t *testing.T) {
	s := start(t, Options{})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: s.CAPool(), ServerName: Host})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /common/discovery/instance?api-version=1.1 HTTP/1.1\r\nHost: login.microsoftonline.com\r\nclient-request-id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\r\nx-ms-request-id: ", "\r\nx-ms-clitelem: 1,900144,0,,", "\r\nP3P: CP=", "\r\nclient-request-id: 0a1b2c3d-", "\r\nx-ms-ests-server: "} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("raw response lacks %q:\n%s", want, raw)
		}
	}
}
