package rules

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestPKCEMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", PKCEMismatch.ID), PKCEMismatch)
}

func TestPKCEMismatchFields(t *testing.T) {
	oauthCheckFields(t, PKCEMismatch, []oauthFieldCase{
		{fixture: "other_signin.txtar", title: "PKCE code_verifier does not match the authorize request's code_challenge",
			evidence: []string{`S256 challenge is "YHz7iPeq1DYBxU2RWH7pQjQL2Mxjrw2HyyiECAVBMuk"`, `flow 0's authorize request sent code_challenge "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"`,
				"refused it with AADSTS501481", "matches the challenge of flow 1's authorize request"},
			fix: "Send the code_verifier", related: []int{0, 1}},
		{fixture: "missing_verifier.txtar", title: "Token request omits code_verifier for a PKCE-bound code",
			evidence: []string{"without code_verifier", "public client"}, fix: "Send code_verifier", related: []int{0}},
	})
}

func TestPKCEChallenge(t *testing.T) {
	const v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
	tests := []struct {
		method, want string
		ok           bool
	}{
		{"S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", true},
		{"s256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", true},
		{"plain", v, true},
		{"", v, true},
		{"S512", "", false},
	}
	for _, tt := range tests {
		got, ok := pkceChallenge(v, tt.method)
		if got != tt.want || ok != tt.ok {
			t.Errorf("pkceChallenge(%q, %q): got %q %v, want %q %v", v, tt.method, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPKCEWhy(t *testing.T) {
	const v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	tests := []struct{ challenge, method, want string }{
		{v, "S256", "verifier itself"},
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "", "did not send code_challenge_method=S256"},
		{"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM=", "S256", "standard base64"},
		{"13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3", "S256", "hex"},
		{"unrelated", "S256", ""},
	}
	for _, tt := range tests {
		got := pkceWhy(v, tt.challenge, tt.method)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("pkceWhy(%q, %q): got %q, want %q", tt.challenge, tt.method, got, tt.want)
		}
	}
	if got := verifierShape("short"); !strings.Contains(got, "43 to 128") {
		t.Errorf("verifierShape(short): got %q", got)
	}
	if got := verifierShape(strings.Repeat("a", 42) + "+"); !strings.Contains(got, `'+'`) {
		t.Errorf("verifierShape(plus): got %q", got)
	}
	if got := verifierShape(v); got != "" {
		t.Errorf("verifierShape(RFC sample): got %q, want none", got)
	}
}
