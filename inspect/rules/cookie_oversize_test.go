package rules

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/decode"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestCookieOversizeFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", CookieOversize.ID), CookieOversize)
}

func TestCookieOversizeFields(t *testing.T) {
	oauthCheckFields(t, CookieOversize, []oauthFieldCase{
		{fixture: "refused_400.txtar", title: "Request refused because its headers are too large",
			evidence: []string{"flow 0's GET request to app.contoso.test sends a", "(20 cookies)", `answered HTTP 400 "size of the request headers is too long"`,
				"biggest: .AspNetCore.CookiesC", "(3922 bytes)", "14 cookies named OpenIdConnect.nonce.*", "4 cookies named .AspNetCore.CookiesC<n>"},
			fix: "Clear the piled-up cookies"},
		{fixture: "near_limit.txtar", title: "Cookie header near or over the request header size limit",
			evidence: []string{"login.microsoftonline.com", "13 cookies named esctx-*", "biggest: ESTSAUTH"}, fix: "Clear the piled-up cookies"},
		// The big header is Authorization: name it with its real size, not
		// a "0-byte Cookie header (0 cookies)".
		{fixture: "authorization_oversize.txtar", title: "Request headers near or over the size limit",
			evidence: []string{"flow 0's GET request to api.contoso.test sends 22", "the largest: Authorization (22755 bytes), User-Agent (", "no Cookie header", "past about 16384 bytes"},
			fix:      "Shrink the token in the Authorization header"},
		{fixture: "authorization_refused.txtar", title: "Request refused because its headers are too large",
			evidence: []string{"the largest: Authorization (13688 bytes), User-Agent (115 bytes), Cookie (32 bytes);", `answered HTTP 400 "request header or cookie too large"`},
			fix:      "Shrink the token in the Authorization header"},
	})
	for _, fixture := range []string{"authorization_oversize.txtar", "authorization_refused.txtar"} {
		for _, f := range fixtureFindings(t, CookieOversize, fixture) {
			if strings.Contains(f.Evidence, "-byte Cookie header") {
				t.Errorf("%s: evidence blames the Cookie header: %s", fixture, f.Evidence)
			}
		}
	}
}

func TestCookieFamilies(t *testing.T) {
	pairs := decode.ParseCookieHeader("a.b.randomsuffixA=1; a.b.randomsuffixB=1; a.b.randomsuffixC=1; C1=x; C2=x; C3=x; x.short=1; y.short=1; z.short=1; plain=1; .AspNetCore.Cookies=1; esctx-abcdefghijk=1; esctx-abc-efghijk=1; esctx-a_cdefghijk=1")
	got := cookieFamilies(pairs)
	want := []string{"3 cookies named a.b.* (57 bytes)", "3 cookies named C<n> (12 bytes)", "3 cookies named esctx-* (57 bytes)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cookieFamilies: got %q, want %q", got, want)
	}
}
