package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// InteractionRequired explains why a silent (prompt=none) sign-in failed.
var InteractionRequired = &inspect.Rule{
	ID:    "interaction-required",
	Title: "Silent sign-in (prompt=none) needs the user",
	Doc: `Explains why a silent authorize request (prompt=none) came back with
login_required, interaction_required, consent_required or
account_selection_required (AADSTS50058, 50076, 50079, 65001, 16000, 50143,
50133, 50173…). The likely cause is read from the request and the code:
no session cookie in the request's Cookie header (no ESTSAUTH,
ESTSAUTHPERSISTENT or x-ms-RefreshTokenCredential) means the browser did not
send it, typically a hidden iframe with third-party cookies blocked, and an
earlier Set-Cookie for the session makes that certain; 50133, 50132, 50173
and 70043 mean the session was revoked or expired; 50076/50079 that MFA is
needed; 65001 that consent is; 16000/16001 that Entra cannot pick the
account. A warning: the client is expected to fall back to an interactive
request. A silent failure without an AADSTS code from a server that is not
Entra (no x-ms-ests-server header: Okta, Auth0 and Keycloak answer
login_required too) is not explained, since the causes above are Entra's.

Bad trace: GET /common/oauth2/v2.0/authorize?prompt=none&… from a hidden
iframe with no Cookie header, answered
#error=login_required&error_description=AADSTS50058…, although flow 4 had set
ESTSAUTH on .login.microsoftonline.com.`,
	Severity: inspect.Warning,
	Run:      runInteractionRequired,
}

// silentOAuthErrors are the OAuth errors a silent request gets when the
// user must act.
var silentOAuthErrors = []string{"login_required", "interaction_required", "consent_required", "account_selection_required"}

// silentCodes are the AADSTS codes that mean the user must act.
var silentCodes = []int{50058, 50076, 50079, 50078, 65001, 16000, 16001, 50143, 50133, 50132, 50173, 70043, 50072, 50074, 50097, 53000, 53001, 53003, 9002341}

// sessionCookieNames are the cookies that carry an Entra SSO session.
var sessionCookieNames = []string{"ESTSAUTH", "ESTSAUTHPERSISTENT"}

func runInteractionRequired(p *inspect.Pass) error {
	v := p.View()
	if !v.IsSilentAuthorize() {
		return nil
	}
	var e *decode.AADSTSError
	for i, x := range p.Errors() {
		if slices.Contains(silentOAuthErrors, strings.ToLower(x.OAuthError)) || slices.ContainsFunc(x.Codes, func(c int) bool { return slices.Contains(silentCodes, c) }) {
			e = &p.Errors()[i]
			break
		}
	}
	if e == nil || (e.Code() == 0 && !entraAnswered(p.Flow)) {
		// Okta, Auth0 and Keycloak answer a silent request login_required
		// too; the causes below are Entra's (its cookies, its codes).
		return nil
	}
	f := p.Flow
	code := e.Code()
	var parts []string
	if e.OAuthError != "" {
		parts = append(parts, e.OAuthError)
	}
	if code != 0 {
		parts = append(parts, fmt.Sprintf("AADSTS%d", code))
	}
	what := strings.Join(parts, " / ")
	sent := inspect.SessionCookiesSent(f)
	ev := fmt.Sprintf("silent authorize %s (prompt=none) got %s", describeRequest(f), what)
	var title, why, fix string
	var related []int
	switch {
	case hasAny(e.Codes, 50133, 50132, 50173, 70043):
		title = "session revoked or expired"
		why = "the SSO session was revoked or has expired (password change, admin revocation or sign-in frequency), so the session cookie sent cannot be reused"
		fix = "Sign in interactively (without prompt=none) to start a new session"
	case hasAny(e.Codes, 50076, 50079, 50078, 50072, 50074) || e.SubError == "basic_action":
		title = "MFA required"
		why = "multi-factor authentication (or its registration) is required, which needs the user"
		fix = "Retry interactively so the user can complete multi-factor authentication"
	case hasAny(e.Codes, 65001) || strings.EqualFold(e.OAuthError, "consent_required"):
		title = "consent required"
		why = "the user or an admin has not consented to the requested scopes"
		fix = "Retry interactively so the user can consent, or have an admin grant consent for the tenant"
	case hasAny(e.Codes, 53000, 53001, 53003, 50097, 9002341):
		title = "Conditional Access requires the user"
		why = "a Conditional Access, device or SSO-permission requirement needs the user"
		fix = "Retry interactively and satisfy the policy Entra names"
	case hasAny(e.Codes, 50143):
		title = "session belongs to another tenant"
		why = "the session belongs to another tenant than the domain hint or path asks for (see domain-hint-mismatch)"
		fix = "Send the domain_hint of the signed-in account's tenant, or retry interactively to switch accounts"
	case hasAny(e.Codes, 16000, 16001) || strings.EqualFold(e.OAuthError, "account_selection_required"):
		title = "account selection required"
		why = "Entra cannot choose the account: several sessions, or the hinted account is not the signed-in one"
		fix = "Pass login_hint (or sid) for the signed-in account, or retry with prompt=select_account"
	case len(sent) == 0:
		title = "the browser did not send the session cookie"
		why = "the browser did not send the session cookie: the request's Cookie header has no ESTSAUTH, ESTSAUTHPERSISTENT or x-ms-RefreshTokenCredential"
		if at, host := sessionSetEarlier(p.History, p.Flow.Request.Header.Get("User-Agent")); at >= 0 {
			related = []int{at}
			why += fmt.Sprintf("; flow %d set %s, so the browser held a session it did not send: a hidden iframe with third-party cookies blocked, SameSite, or another authority host", at, host)
		}
		fix = "Let the session cookie reach Entra (use a redirect or popup where third-party cookies are blocked, and keep one authority host), else sign in interactively"
	default:
		title = "no usable session"
		why = fmt.Sprintf("the request carried %s, but Entra found no usable session in it (signed out, expired, or for another cloud or account)", strings.Join(sent, ", "))
		fix = "Sign in interactively to start a new session, then retry silently"
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    "Silent sign-in failed: " + title,
		Evidence: ev + "; " + why,
		Fix:      fix,
		Related:  related,
	})
	return nil
}

func hasAny(codes []int, want ...int) bool {
	return slices.ContainsFunc(codes, func(c int) bool { return slices.Contains(want, c) })
}

// sessionSetEarlier finds the newest earlier response to the same client
// (User-Agent) that set an Entra session cookie, returning its flow index
// and the cookie and host ("ESTSAUTH on login.microsoftonline.com"), or -1.
// A cookie set in another browser (or for curl, which keeps none) says
// nothing about what this client held.
func sessionSetEarlier(h *inspect.History, userAgent string) (int, string) {
	for v := range recentIdentityViews(h, lookbackFlows) {
		if v.Flow.Response == nil || v.Flow.Request.Header.Get("User-Agent") != userAgent {
			continue
		}
		for _, sc := range v.Flow.Response.Header.Values("Set-Cookie") {
			name, val, _ := strings.Cut(sc, "=")
			name = strings.TrimSpace(name)
			val, _, _ = strings.Cut(val, ";")
			if slices.ContainsFunc(sessionCookieNames, func(s string) bool { return strings.EqualFold(s, name) }) && strings.TrimSpace(val) != "" {
				return v.Flow.Index, name + " on " + inspect.RequestHost(v.Flow)
			}
		}
	}
	return -1, ""
}
