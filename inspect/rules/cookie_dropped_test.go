package rules

import (
	"fmt"
	"github.com/aadproxy/aadproxy/flow"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestCookieDroppedFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", CookieDropped.ID), CookieDropped)
}

func TestCookieDroppedFields(t *testing.T) {
	oauthCheckFields(t, CookieDropped, []oauthFieldCase{
		{fixture: "form_post_lax.txtar", title: "Cookie .AspNetCore.Correlation.CfDJ8synthetic set by app.contoso.test was not sent back",
			evidence: []string{"flow 2's POST request to https://app.contoso.test/signin-oidc carries 1 other cookie(s)", "ties the OIDC callback", "which flow 0 set with host-only, Path=/signin-oidc, SameSite=Lax, Secure, HttpOnly",
				"cross-site POST document", "top-level GET navigations"},
			fix: "Set .AspNetCore.Correlation.CfDJ8synthetic with SameSite=None; Secure", related: []int{0}},
		{fixture: "silent_iframe.txtar", title: "Cookie ESTSAUTH set by login.microsoftonline.com was not sent back",
			evidence: []string{"Domain=login.microsoftonline.com", "cross-site iframe", "third-party cookie blocking"},
			fix:      "Avoid depending on third-party cookies", related: []int{0}},
		{fixture: "set_in_iframe.txtar", title: "Cookie SignInStateCookie set by login.microsoftonline.com was not sent back",
			evidence: []string{"flow 0 set it inside a cross-site frame"}, fix: "Set the cookie in a top-level navigation", related: []int{0}},
		{fixture: "sanitized.txtar", title: "Cookie rules disabled: the trace carries no cookies", evidence: []string{"authorize request of flow 0", "exported sanitized"}, fix: "Export the HAR again"},
	})
}

func TestSessionLikeCookie(t *testing.T) {
	for name, want := range map[string]bool{
		"ESTSAUTH": true, "fpc": false, "buid": false, ".AspNetCore.Cookies": true, "ARRAffinitySameSite": false,
		"my_session": true, "JSESSIONID": true, "ai_user": false, "XSRF-TOKEN": true, "theme": false,
	} {
		if got := sessionLikeCookie(name); got != want {
			t.Errorf("sessionLikeCookie(%q): got %v, want %v", name, got, want)
		}
	}
}

func TestSiteOf(t *testing.T) {
	for host, want := range map[string]string{"login.microsoftonline.com": "microsoftonline.com", "app.contoso.test.": "contoso.test", "localhost": "localhost"} {
		if got := siteOf(host); got != want {
			t.Errorf("siteOf(%q): got %q, want %q", host, got, want)
		}
	}
}

// The miss is reported live, by Add on the flow that lacked the cookie, not
// only when the trace ends.
func TestCookieDroppedReportsAsFlowsStream(t *testing.T) {
	fx, err := inspecttest.LoadFixture(filepath.Join("testdata", CookieDropped.ID, "silent_iframe.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := inspect.NewEngine([]*inspect.Rule{CookieDropped}, inspect.Options{Now: func() time.Time { return inspecttest.FixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for i, f := range fx.Flows {
		f.Index = i
		for _, fd := range eng.Add(f) {
			if fd.Rule == CookieDropped.ID && fd.Flow == i {
				live++
			}
		}
	}
	if live == 0 {
		t.Errorf("cookie-dropped reported nothing while the flows streamed")
	}
	if fs := eng.Finish(); len(fs) != 0 {
		t.Errorf("cookie-dropped reported again at the end: %v", fs)
	}
}

// The client's jar is built as flows arrive, not replayed from a window of
// recent flows: a session cookie set before thousands of the client's
// other requests is still missed when it is not sent. A Reset (a cleared
// inspector) forgets the jar.
func TestCookieDroppedRemembersAcrossALongSession(t *testing.T) {
	fx, err := inspecttest.LoadFixture(filepath.Join("testdata", CookieDropped.ID, "silent_iframe.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := inspect.NewEngine([]*inspect.Rule{CookieDropped}, inspect.Options{Now: func() time.Time { return inspecttest.FixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	set, miss := fx.Flows[0], fx.Flows[1]
	ua := set.Request.Header.Get("User-Agent")
	n := 0
	add := func(f *flow.Flow) []inspect.Finding {
		f.Index = n
		n++
		return eng.Add(f)
	}
	add(set)
	for i := range 3000 { // more than the 2000 flows a backward scan reads
		add(&flow.Flow{
			Request: &flow.Request{Method: "GET", URL: fmt.Sprintf("https://cdn.contoso.test/app.%d.js", i), Proto: "HTTP/1.1",
				Header: flow.Headers{{Name: "User-Agent", Value: ua}, {Name: "Cookie", Value: "theme=dark"}}},
			Response: &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: flow.Headers{{Name: "Content-Type", Value: "text/javascript"}}},
		})
	}
	if fs := add(miss); len(fs) != 1 || fs[0].Rule != CookieDropped.ID || !strings.Contains(fs[0].Title, "ESTSAUTH") {
		t.Errorf("after 3000 other requests: %v, want ESTSAUTH not sent", fs)
	}
	eng.Reset()
	if fs := add(miss); len(fs) != 0 {
		t.Errorf("after Reset the jar is empty, so nothing was dropped; got %v", fs)
	}
}
