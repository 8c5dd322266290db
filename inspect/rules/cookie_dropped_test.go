package rules

import (
	"path/filepath"
	"testing"

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
