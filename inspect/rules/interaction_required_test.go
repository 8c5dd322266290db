package rules

import (
	"path/filepath"
	"strings"
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
		{"other_client_session_50058.txtar", "Silent sign-in failed: the browser did not send the session cookie", "Let the session cookie reach Entra", []string{
			"Cookie header has no ESTSAUTH",
		}, nil},
		{"revoked_50133.txtar", "Silent sign-in failed: session revoked or expired", "Sign in interactively", []string{"AADSTS50133", "revoked or has expired"}, nil},
		{"mfa_50076.txtar", "Silent sign-in failed: MFA required", "Retry interactively so the user can complete multi-factor", []string{"interaction_required / AADSTS50076"}, nil},
	})
}

// A session cookie set for another client (another User-Agent) is not
// evidence that this browser held a session.
func TestInteractionRequiredIgnoresOtherClientsSessions(t *testing.T) {
	for _, f := range fixtureFindings(t, InteractionRequired, "other_client_session_50058.txtar") {
		if strings.Contains(f.Evidence, "flow 0 set") || len(f.Related) > 0 {
			t.Errorf("finding blames another client's sign-in: evidence %q, related %v", f.Evidence, f.Related)
		}
	}
}
