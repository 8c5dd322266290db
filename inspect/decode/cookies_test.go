package decode

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

func TestParseSetCookie(t *testing.T) {
	tests := []struct {
		line string
		want Cookie
	}{
		{"fpc=Am26iPGssf9Pl7gwXMSdRFCsQTTcFAAAAIEYoNcOAAAA; expires=Wed, 24-Feb-2021 01:41:13 GMT; path=/; secure; HttpOnly; SameSite=None",
			Cookie{Name: "fpc", ValueLen: 44, Path: "/", Secure: true, HttpOnly: true, SameSite: "None", Expires: time.Date(2021, 2, 24, 1, 41, 13, 0, time.UTC)}},
		{"esctx=PAQABBwEAAAB-synthetic; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
			Cookie{Name: "esctx", ValueLen: 22, Domain: "login.microsoftonline.com", Path: "/", Secure: true, HttpOnly: true, SameSite: "None", Session: true}},
		{"x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly",
			Cookie{Name: "x-ms-gateway-slice", ValueLen: 6, Path: "/", Secure: true, HttpOnly: true, SameSite: "None", Session: true}},
		{"ESTSAUTH=; expires=Thu, 01-Jan-1970 00:00:00 GMT; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
			Cookie{Name: "ESTSAUTH", Domain: "login.microsoftonline.com", Path: "/", Secure: true, HttpOnly: true, SameSite: "None", Expires: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Deleted: true}},
		{`a="quoted"; Max-Age=0; SameSite=Weird; Path=relative`,
			Cookie{Name: "a", ValueLen: 6, SameSite: "Weird", HasMaxAge: true, Deleted: true}},
		{"b=1; Max-Age=3600; Expires=Thu, 01-Jan-1970 00:00:00 GMT; Partitioned",
			Cookie{Name: "b", ValueLen: 1, MaxAge: 3600, HasMaxAge: true, Expires: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Partitioned: true}},
		{"c=1; expires=never; max-age=soon; domain=.", Cookie{Name: "c", ValueLen: 1, Session: true}},
	}
	for _, tt := range tests {
		got, err := ParseSetCookie(tt.line)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSetCookie(%q):\n got %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "novalue", "=v", "a b=c", "; path=/"} {
		if c, err := ParseSetCookie(bad); err == nil {
			t.Errorf("ParseSetCookie(%q): got %+v, want an error", bad, c)
		}
	}
}

func TestParseSetCookieAt(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	line := "x=1; expires=Fri, 31-May-2024 12:00:00 GMT"
	if c, _ := ParseSetCookie(line); c.Deleted {
		t.Errorf("ParseSetCookie(%q).Deleted: got true, want false without a clock", line)
	}
	if c, _ := ParseSetCookieAt(line, now); !c.Deleted {
		t.Errorf("ParseSetCookieAt(%q, %v).Deleted: got false, want true", line, now)
	}
	if c, _ := ParseSetCookieAt("x=1; expires=Sun, 02 Jun 2024 12:00:00 GMT", now); c.Deleted {
		t.Errorf("ParseSetCookieAt(future).Deleted: got true, want false")
	}
}

func TestRejectReason(t *testing.T) {
	tests := []struct {
		line, host string
		https      bool
		want       string // substring, "" for none
	}{
		{"a=1; Secure; SameSite=None", "app.contoso.test", true, ""},
		{"a=1; SameSite=None", "app.contoso.test", true, "without Secure"},
		{"a=1; Secure", "app.contoso.test", false, "plain http"},
		{"a=1; Domain=contoso.test", "app.contoso.test:8443", true, ""},
		{"a=1; Domain=fabrikam.test", "app.contoso.test", true, "does not cover"},
		{"a=" + strings.Repeat("v", 4095), "h", true, "per-cookie limit"},
	}
	for _, tt := range tests {
		c, err := ParseSetCookie(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		got := c.RejectReason(tt.host, tt.https)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("RejectReason(%.40q, %q, %v): got %q, want %q", tt.line, tt.host, tt.https, got, tt.want)
		}
	}
}

func TestParseCookieHeader(t *testing.T) {
	got := ParseCookieHeader(" ESTSAUTH=1.AW8A-x; ;buid=1.A=B==; nameless ;e= ")
	want := []CookiePair{{"ESTSAUTH", "1.AW8A-x"}, {"buid", "1.A=B=="}, {"", "nameless"}, {"e", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCookieHeader: got %q, want %q", got, want)
	}
	if got := ParseCookieHeader(""); got != nil {
		t.Errorf("ParseCookieHeader(\"\"): got %q, want nil", got)
	}
}

func TestRequestCookie(t *testing.T) {
	r := &flow.Request{Header: flow.Headers{
		{Name: "Cookie", Value: "ESTSAUTH=; buid=1.A"},
		{Name: "cookie", Value: "estsauth=second; x-ms-RefreshTokenCredential=eyJ.prt; nameless"},
	}}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"ESTSAUTH", "", true}, // the first pair of a name wins, even empty
		{"BUID", "1.A", true},
		{"x-ms-RefreshTokenCredential", "eyJ.prt", true},
		{"nameless", "", false},
		{"ESTSAUTHPERSISTENT", "", false},
	}
	for _, tt := range tests {
		if got, ok := RequestCookie(r, tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("RequestCookie(%q): got %q %v, want %q %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := RequestCookie(nil, "ESTSAUTH"); ok {
		t.Errorf("RequestCookie(nil): got %q, want none", got)
	}
}

func TestKnownCookie(t *testing.T) {
	tests := []struct {
		name         string
		session, ok  bool
		purposeMatch string
	}{
		{"ESTSAUTH", true, true, "session"},
		{"estsauthpersistent", true, true, "restarts"},
		{"buid", false, true, "browser identifier"},
		{"esctx-kRm9f0AbCdE", true, true, "anti-forgery"},
		{"x-ms-RefreshTokenCredential", true, true, "PRT"},
		{"x-ms-refreshtokencredential", true, true, "PRT"},
		{"CcsNtv", false, true, "CCS"},
		{".AspNetCore.Correlation.abc123", true, true, "callback"},
		{"ESTSAUTHX", false, false, ""},
		{"", false, false, ""},
	}
	for _, tt := range tests {
		purpose, session, ok := KnownCookie(tt.name)
		if session != tt.session || ok != tt.ok || !strings.Contains(purpose, tt.purposeMatch) {
			t.Errorf("KnownCookie(%q): got %q %v %v, want session %v ok %v purpose containing %q", tt.name, purpose, session, ok, tt.session, tt.ok, tt.purposeMatch)
		}
	}
}

// jarFlow builds a flow for the jar tests: a request with an optional Cookie
// header, and a response with Set-Cookie lines.
func jarFlow(index int, rawURL, cookie string, at time.Time, setCookies ...string) *flow.Flow {
	f := &flow.Flow{Index: index, Request: &flow.Request{Method: "GET", URL: rawURL}, Timings: flow.Timings{Start: at}}
	if cookie != "" {
		f.Request.Header = flow.Headers{{Name: "Cookie", Value: cookie}}
	}
	f.Response = &flow.Response{Status: 200}
	for _, sc := range setCookies {
		f.Response.Header = append(f.Response.Header, flow.Header{Name: "Set-Cookie", Value: sc})
	}
	return f
}

func eventStrings(evs []CookieEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Kind)+":"+e.Name)
	}
	return out
}

func TestJar(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		f    *flow.Flow
		want []string
	}{
		{jarFlow(0, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize", "", t0,
			"fpc=A; expires=Mon, 01-Jul-2024 12:00:00 GMT; path=/; secure; HttpOnly; SameSite=None",
			"esctx=E; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
			"short=1; max-age=60; path=/; secure",
			"scoped=1; path=/common/oauth2; secure",
			"plain=1; path=/"),
			[]string{"set:fpc", "set:esctx", "set:short", "set:scoped", "set:plain"}},
		// The browser sends all but esctx: esctx is reported not sent.
		{jarFlow(1, "https://login.microsoftonline.com/common/oauth2/v2.0/token", "fpc=A; short=1; scoped=1; plain=1", t0.Add(10*time.Second),
			"ESTSAUTH=S; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
			"fpc=B; expires=Mon, 01-Jul-2024 12:00:00 GMT; path=/; secure; HttpOnly; SameSite=None"),
			[]string{"sent:fpc", "sent:short", "sent:scoped", "sent:plain", "not-sent:esctx", "set:ESTSAUTH", "updated:fpc"}},
		// Path /common/login is outside /common/oauth2; short has expired.
		{jarFlow(2, "https://login.microsoftonline.com/common/login", "fpc=B; esctx=E; ESTSAUTH=S; plain=1; stray=1", t0.Add(2*time.Minute),
			"ESTSAUTH=; expires=Thu, 01-Jan-1970 00:00:00 GMT; domain=.login.microsoftonline.com; path=/"),
			[]string{"sent:fpc", "sent:esctx", "sent:ESTSAUTH", "sent:plain", "sent:stray", "deleted:ESTSAUTH"}},
		// Another host: the domain cookie esctx matches a subdomain, the
		// host-only ones do not. Plain http drops the Secure ones.
		{jarFlow(3, "http://x.login.microsoftonline.com/", "plain=1", t0.Add(3*time.Minute)), []string{"sent:plain"}},
		{jarFlow(4, "https://x.login.microsoftonline.com/", "other=1", t0.Add(3*time.Minute)), []string{"sent:other", "not-sent:esctx"}},
		// No Cookie header at all: nothing reported.
		{jarFlow(5, "https://login.microsoftonline.com/common/oauth2/v2.0/token", "", t0.Add(4*time.Minute)), nil},
	}
	j := NewJar()
	for _, s := range steps {
		got := eventStrings(j.Add(s.f))
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("Jar.Add(flow %d): got %q, want %q", s.f.Index, got, s.want)
		}
	}
	u, _ := url.Parse("https://login.microsoftonline.com/common/oauth2/x")
	var names []string
	for _, c := range j.Cookies(u, t0.Add(5*time.Minute)) {
		names = append(names, c.Name)
	}
	if want := []string{"scoped", "fpc", "esctx", "plain"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Jar.Cookies: got %q, want %q (longest path first, then oldest)", names, want)
	}
}

func TestJarSentEventCarriesOrigin(t *testing.T) {
	j := &Jar{}
	j.Add(jarFlow(7, "https://app.contoso.test/login", "", time.Time{}, "sid=1; path=/; secure; SameSite=Lax"))
	evs := j.Add(jarFlow(8, "https://app.contoso.test/cb", "sid=1", time.Time{}))
	if len(evs) != 1 || evs[0].SetBy != 7 || evs[0].SetByHost != "app.contoso.test" || evs[0].Cookie.SameSite != "Lax" {
		t.Errorf("Jar.Add: got %+v, want one sent event naming flow 7 and the Lax cookie", evs)
	}
}

func TestJarBounded(t *testing.T) {
	j := NewJar()
	lines := make([]string, 0, MaxJarCookies+10)
	for i := range MaxJarCookies + 10 {
		lines = append(lines, "c"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"="+"1; path=/p"+string(rune('a'+i/26%26))+string(rune('a'+i/676)))
	}
	j.Add(jarFlow(0, "https://h/", "", time.Time{}, lines...))
	if j.Len() > MaxJarCookies {
		t.Errorf("Jar.Len: got %d, want at most %d", j.Len(), MaxJarCookies)
	}
}

func TestFlowTime(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	withDate := &flow.Flow{Response: &flow.Response{Header: flow.Headers{{Name: "Date", Value: "Sat, 01 Jun 2024 12:00:00 GMT"}}}}
	tests := []struct {
		f    *flow.Flow
		want time.Time
		ok   bool
	}{
		{&flow.Flow{Timings: flow.Timings{Start: t0}}, t0, true},
		{withDate, t0, true},
		{&flow.Flow{}, time.Time{}, false},
		{nil, time.Time{}, false},
	}
	for i, tt := range tests {
		got, ok := FlowTime(tt.f)
		if !got.Equal(tt.want) || ok != tt.ok {
			t.Errorf("FlowTime(#%d): got %v %v, want %v %v", i, got, ok, tt.want, tt.ok)
		}
	}
}

func TestResponseDate(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		date string
		want time.Time
		ok   bool
	}{
		{"Sat, 01 Jun 2024 12:00:00 GMT", t0, true},
		{" Sat, 01 Jun 2024 12:00:00 GMT ", t0, true},
		{"Saturday, 01-Jun-24 12:00:00 GMT", t0, true},
		{"Sat Jun  1 12:00:00 2024", t0, true},
		{"Sat, 01 Jun 2024 14:00:00 +0200", t0, true},
		{"Sat, 01-Jun-2024 12:00:00 GMT", t0, true},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		f := &flow.Flow{Timings: flow.Timings{Start: t0.Add(time.Hour)}, Response: &flow.Response{Header: flow.Headers{{Name: "Date", Value: tt.date}}}}
		got, ok := ResponseDate(f)
		if !got.Equal(tt.want) || ok != tt.ok || (ok && got.Location() != time.UTC) {
			t.Errorf("ResponseDate(%q): got %v %v, want %v %v", tt.date, got, ok, tt.want, tt.ok)
		}
	}
	for _, f := range []*flow.Flow{nil, {}} {
		if got, ok := ResponseDate(f); ok {
			t.Errorf("ResponseDate(%+v): got %v, want none", f, got)
		}
	}
}

func FuzzParseSetCookie(f *testing.F) {
	for _, s := range []string{
		"fpc=A; expires=Wed, 24-Feb-2021 01:41:13 GMT; path=/; secure; HttpOnly; SameSite=None",
		"ESTSAUTH=; expires=Thu, 01-Jan-1970 00:00:00 GMT; domain=.login.microsoftonline.com",
		`a="b"; max-age=-1; samesite`, "=", ";;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseSetCookie(line)
		if err != nil {
			return
		}
		if c.Name == "" || c.ValueLen < 0 || c.ValueLen > len(line) {
			t.Fatalf("ParseSetCookie(%q): got %+v", line, c)
		}
		if c.Session && c.Deleted {
			t.Fatalf("ParseSetCookie(%q): session and deleted at once", line)
		}
		_ = c.RejectReason(line, false)
	})
}

func FuzzParseCookieHeader(f *testing.F) {
	f.Add("ESTSAUTH=1.AW8A; buid=1.A==; nameless")
	f.Add(";=;==")
	f.Fuzz(func(t *testing.T, v string) {
		total := 0
		for _, p := range ParseCookieHeader(v) {
			if p.Name == "" && p.Value == "" {
				t.Fatalf("ParseCookieHeader(%q): empty pair", v)
			}
			total += len(p.Name) + len(p.Value)
		}
		if total > len(v) {
			t.Fatalf("ParseCookieHeader(%q): pairs larger than the header", v)
		}
	})
}

func FuzzResponseDate(f *testing.F) {
	f.Add("Sat, 01 Jun 2024 12:00:00 GMT")
	f.Add("Sat Jun  1 12:00:00 2024")
	f.Add("Sat, 01 Jun 2024 14:00:00 +0200")
	f.Add("\t Saturday,  01-Jun-24 12:00:00 GMT")
	f.Fuzz(func(t *testing.T, d string) {
		fl := &flow.Flow{Response: &flow.Response{Header: flow.Headers{{Name: "Date", Value: d}}}}
		got, ok := ResponseDate(fl)
		if !ok && !got.IsZero() || ok && got.Location() != time.UTC {
			t.Fatalf("ResponseDate(%q): got %v %v", d, got, ok)
		}
		if at, ok2 := FlowTime(fl); ok2 != ok || !at.Equal(got) {
			t.Fatalf("FlowTime(%q): got %v %v, want ResponseDate's %v %v", d, at, ok2, got, ok)
		}
	})
}

// FuzzJar feeds arbitrary Set-Cookie and Cookie headers through a jar.
func FuzzJar(f *testing.F) {
	f.Add("https://login.microsoftonline.com/common/oauth2/authorize", "a=1; domain=.microsoftonline.com; path=/common", "a=1; b=2", "https://login.microsoftonline.com/common/login")
	f.Add("http://[::1]:80/", "x=1; max-age=-5", "", "%")
	f.Fuzz(func(t *testing.T, u1, set, cookie, u2 string) {
		j := NewJar()
		j.Add(jarFlow(0, u1, "", time.Time{}, set))
		for _, ev := range j.Add(jarFlow(1, u2, cookie, time.Time{}, set)) {
			if ev.Kind == "" || ev.Flow != 1 {
				t.Fatalf("Jar.Add: bad event %+v", ev)
			}
		}
	})
}
