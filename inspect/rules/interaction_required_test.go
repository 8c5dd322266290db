package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestInteractionRequiredFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", InteractionRequired.ID), InteractionRequired)
}

func TestInteractionRequiredFields(t *testing.T) {
	checkFields(t, InteractionRequired, []fieldCase{
		{"no_cookie_50058.txtar", "Silent sign-in failed: the browser did not send the session cookie", "Let the session cookie reach Entra", []string{
			"silent authorize flow 1 (GET https://login.microsoftonline.com/common/oauth2/v2.0/authorize) (prompt=none) got login_required / AADSTS50058",
			"Cookie header has no ESTSAUTH", "flow 0 set ESTSAUTH on login.microsoftonline.com",
		}, []int{0}},
		{"revoked_50133.txtar", "Silent sign-in failed: session revoked or expired", "Sign in interactively", []string{"AADSTS50133", "revoked or has expired"}, nil},
		{"mfa_50076.txtar", "Silent sign-in failed: MFA required", "Retry interactively so the user can complete multi-factor", []string{"interaction_required / AADSTS50076"}, nil},
	})
}
