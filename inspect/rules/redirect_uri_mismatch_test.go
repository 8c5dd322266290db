package rules

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestRedirectURIMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", RedirectURIMismatch.ID), RedirectURIMismatch)
}

func TestRedirectURIMismatchFields(t *testing.T) {
	oauthCheckFields(t, RedirectURIMismatch, []oauthFieldCase{
		{fixture: "token_500112.txtar", title: "Token request's redirect_uri differs from the authorize request's",
			evidence: []string{`redirect_uri "https://app.contoso.test/cb/"`, `flow 0's authorize request`, `sent "https://app.contoso.test/cb"`,
				"only in a trailing slash", "refused it with AADSTS500112", `"0.AW8A-s…" (sha256`},
			fix: "Send redirect_uri=https://app.contoso.test/cb on the token request", related: []int{0}},
		{fixture: "message_only.txtar", evidence: []string{`"http://app.contoso.test/signin-oidc"`, `authorize request used "https://app.contoso.test/signin-oidc"`, "scheme https vs http", "not in this trace"},
			fix: "Send redirect_uri=https://app.contoso.test/signin-oidc"},
		{fixture: "authorize_50011.txtar", title: "redirect_uri is not registered for the application",
			evidence: []string{`sent redirect_uri "http://app.contoso.test/cb"`, "application aaaaaaaa-0000-4000-8000-000000000000", "http on a non-localhost host",
				`got an answer with redirect_uri "https://app.contoso.test/cb"`},
			fix: "Make the app send redirect_uri=https://app.contoso.test/cb", related: []int{0}},
	})
}

func TestDescribeURIDifference(t *testing.T) {
	tests := []struct{ want, got, desc string }{
		{"https://a/cb", "https://a/cb", "identical"},
		{"https://a/CB", "https://a/cb", "letter case"},
		{"https://a/cb", "https://a/cb/", "trailing slash"},
		{"https://a/cb", "https%3A%2F%2Fa%2Fcb", "encoded once more"},
		{"https://a:8443/cb", "https://a/cb", `port "8443" vs ""`},
		{"https://a/cb", "https://b/signin", "host a vs b, path /cb vs /signin"},
		{"https://a/cb?x=1", "https://a/cb?x=2", "query differs"},
	}
	for _, tt := range tests {
		if got := describeURIDifference(tt.want, tt.got); !strings.Contains(got, tt.desc) {
			t.Errorf("describeURIDifference(%q, %q): got %q, want it to contain %q", tt.want, tt.got, got, tt.desc)
		}
	}
}
