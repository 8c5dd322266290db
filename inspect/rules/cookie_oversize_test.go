package rules

import (
	"path/filepath"
	"reflect"
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
	})
}

func TestCookieFamilies(t *testing.T) {
	pairs := decode.ParseCookieHeader("a.b.randomsuffixA=1; a.b.randomsuffixB=1; a.b.randomsuffixC=1; C1=x; C2=x; C3=x; x.short=1; y.short=1; z.short=1; plain=1; .AspNetCore.Cookies=1; esctx-abcdefghijk=1; esctx-abc-efghijk=1; esctx-a_cdefghijk=1")
	got := cookieFamilies(pairs)
	want := []string{"3 cookies named a.b.* (57 bytes)", "3 cookies named C<n> (12 bytes)", "3 cookies named esctx-* (57 bytes)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cookieFamilies: got %q, want %q", got, want)
	}
}
