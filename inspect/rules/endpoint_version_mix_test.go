package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestEndpointVersionMixFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", EndpointVersionMix.ID), EndpointVersionMix)
}

func TestEndpointVersionMixFields(t *testing.T) {
	oauthCheckFields(t, EndpointVersionMix, []oauthFieldCase{
		{fixture: "v2_resource.txtar", title: "v1 resource parameter sent to a v2 endpoint",
			evidence: []string{"flow 0 sends resource=https://graph.microsoft.com to the token-v2 endpoint https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", "refused it with AADSTS901002"},
			fix:      "Drop resource and ask for scope=https://graph.microsoft.com/.default"},
		{fixture: "v1_scopes.txtar", title: "v2 scopes relied on at a v1 endpoint",
			evidence: []string{`scope "openid offline_access https://graph.microsoft.com/Mail.Read"`, "authorize-v1", "not from https://graph.microsoft.com/Mail.Read"},
			fix:      "Use the v2 endpoint /oauth2/v2.0/authorize for scopes, or send resource=https://graph.microsoft.com"},
	})
}

func TestResourceOf(t *testing.T) {
	tests := []struct{ scope, want string }{
		{"https://graph.microsoft.com/Mail.Read", "https://graph.microsoft.com"},
		{"https://graph.microsoft.com/.default", "https://graph.microsoft.com"},
		{"api://bbbbbbbb-0000-4000-8000-000000000000/access_as_user", "api://bbbbbbbb-0000-4000-8000-000000000000"},
		{"api://bbbbbbbb-0000-4000-8000-000000000000", "api://bbbbbbbb-0000-4000-8000-000000000000"},
		{"User.Read", "https://graph.microsoft.com"},
		{"https://contoso.test", "https://contoso.test"},
	}
	for _, tt := range tests {
		if got := resourceOf(tt.scope); got != tt.want {
			t.Errorf("resourceOf(%q): got %q, want %q", tt.scope, got, tt.want)
		}
	}
}
