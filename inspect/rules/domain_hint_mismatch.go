package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/inspect"
)

// DomainHintMismatch compares an authorize request's domain hint with the
// tenant in its path and with the tenant of the session it carries.
var DomainHintMismatch = &inspect.Rule{
	ID:    "domain-hint-mismatch",
	Title: "The domain hint names another tenant than the path or the session",
	Doc: `Reads domain_hint (or whr; or, failing both, the domain of login_hint) on
authorize requests and resolves it to a tenant ID from the traffic only:
an OpenID discovery answer for that domain, the tid of tokens Entra issued
on that domain's path, or the id_token of a member account of that domain.
"consumers" means the personal-account tenant
9188040d-6c67-4c5b-b112-36a304b66dad, and "organizations" any other. A
domain the traffic does not resolve is never guessed.

The hint is compared with the tenant in the path (Entra ignores a hint that
is not a domain of that tenant) and, when the request carries a session
cookie (ESTSAUTH, ESTSAUTHPERSISTENT or the PRT), with the home tenant of the
account signed in earlier (client_info utid, else the id_token). A
disagreement is a warning before Entra answers; when Entra answers
AADSTS50143 (SessionMismatch) the finding is an error that names the values.

Bad trace: an id_token for alice@contoso.com (tid 5f3c1e2a-…) and a
discovery answer for fabrikam.com (issuer …/a3d9e7b1-…/v2.0), then
GET /organizations/oauth2/v2.0/authorize?prompt=none&domain_hint=fabrikam.com
with Alice's ESTSAUTH cookie, answered login_required with AADSTS50143.`,
	Severity: inspect.Warning,
	Run:      runDomainHintMismatch,
}

// sessionMismatchRE reads AADSTS50143's message: "Session is invalid
// because user tenant '<guid>' does not match the domain hint '<hint>'";
// the wording drifts ("the signed-in user's tenant '…'"), so only the
// quoted values and "does not match the domain hint" are relied on.
var sessionMismatchRE = regexp.MustCompile(`(?i)tenant '([^']*)' does not match the domain hint '([^']*)'`)

func runDomainHintMismatch(p *inspect.Pass) error {
	v := p.View()
	if !v.IsAuthorize() {
		return nil
	}
	f := p.Flow
	params := v.Params()
	hint, field := "", ""
	for _, k := range []string{"domain_hint", "whr"} {
		if h := strings.TrimSpace(params.Get(k)); h != "" {
			hint, field = strings.ToLower(h), k
			break
		}
	}
	if hint == "" {
		if lh := params.Get("login_hint"); strings.Contains(lh, "@") {
			_, dom, _ := strings.Cut(lh, "@")
			hint, field = strings.ToLower(strings.TrimSpace(dom)), "login_hint's domain"
		}
	}
	var mismatch50143 bool
	var msgUserTenant, msgHint string
	for _, e := range p.Errors() {
		if slices.Contains(e.Codes, 50143) {
			mismatch50143 = true
			if m := sessionMismatchRE.FindStringSubmatch(e.Description); m != nil {
				msgUserTenant, msgHint = strings.ToLower(m[1]), m[2]
			}
		}
	}
	if hint == "" && !mismatch50143 {
		return nil
	}

	clues := gatherTenantClues(p.History)
	hintTenant, hintHow, hintFlow := clues.resolve(hint)
	pathT := v.TenantInPath()
	pathTenant, pathHow, pathFlow := clues.resolve(pathT)
	cookies := inspect.SessionCookiesSent(f)

	var problems []string
	related := map[int]bool{}
	hintDesc := fmt.Sprintf("%s %s", field, hint)
	// names renders the hint's side of a disagreement, saying how the
	// traffic resolved a domain.
	names := func(msg string) string {
		if hintFlow >= 0 {
			msg += " (per " + hintHow + ")"
		}
		return hintDesc + " names " + msg
	}

	// Hint vs path. login_hint names a user, who may be a guest of the
	// path's tenant, so only a real domain hint is held to the path.
	if field != "login_hint's domain" {
		if msg := compareTenants(hint, hintTenant, pathT, pathTenant); msg != "" {
			pd := "/" + pathT + "/"
			if pathTenant != "" && pathTenant != pathT {
				pd += fmt.Sprintf(" (tenant %s, per %s)", pathTenant, pathHow)
			}
			problems = append(problems, fmt.Sprintf("%s, but the path's tenant is %s; Entra ignores a domain hint that is not a domain of the tenant addressed", names(msg), pd))
			related[hintFlow], related[pathFlow] = true, true
		}
	}

	// Hint vs the session the request carries.
	if len(cookies) > 0 && clues.home != nil {
		if msg := compareTenants(hint, hintTenant, clues.home.tenant, clues.home.tenant); msg != "" {
			who := "the account"
			if clues.user != "" {
				who = clues.user
			}
			problems = append(problems, fmt.Sprintf("%s, but the request carries the session cookie (%s) of %s, whose home tenant is %s (per %s)",
				names(msg), strings.Join(cookies, ", "), who, clues.home.tenant, clues.home.how))
			related[clues.home.flow], related[hintFlow] = true, true
		}
	}

	if mismatch50143 {
		ev := fmt.Sprintf("%s got AADSTS50143 (SessionMismatch): Entra refused to reuse the signed-in session for this request", describeRequest(f))
		if msgUserTenant != "" {
			ev += fmt.Sprintf("; Entra's message says the session's user tenant is %s and the domain hint is %q", msgUserTenant, msgHint)
		}
		if len(problems) > 0 {
			ev += "; " + strings.Join(problems, "; ")
		} else if hint != "" {
			ev += "; " + hintDesc + " was sent"
		}
		p.Report(inspect.Finding{
			Severity: inspect.Error,
			Code:     50143,
			Title:    "Domain hint does not match the signed-in session's tenant (AADSTS50143)",
			Evidence: ev,
			Fix:      "Send the domain_hint of the signed-in account's home tenant (or none), or sign in interactively (prompt=select_account) to switch to an account of the hinted tenant",
			Related:  sortedFlows(related, f.Index),
		})
		return nil
	}
	if len(problems) == 0 {
		return nil
	}
	p.Report(inspect.Finding{
		Title:    "Domain hint names another tenant than the path or the session",
		Evidence: describeRequest(f) + ": " + strings.Join(problems, "; "),
		Fix:      "Derive domain_hint from the signed-in account's tenant (consumers for tid 9188040d-6c67-4c5b-b112-36a304b66dad, else organizations or the tenant's domain), or drop it",
		Related:  sortedFlows(related, f.Index),
	})
	return nil
}

// compareTenants compares a hint with another tenant (a path or a session
// home tenant), both already resolved where the traffic allows. It returns
// a description of the hint's side when they disagree, "" when they agree
// or cannot be compared.
func compareTenants(hint, hintTenant, other, otherTenant string) string {
	other = strings.ToLower(other)
	switch {
	case hint == "organizations":
		if otherTenant == inspect.ConsumersTenantID {
			return "work or school accounts (organizations)"
		}
		return ""
	case other == "organizations":
		if hintTenant == inspect.ConsumersTenantID {
			return "personal accounts (" + hint + ")"
		}
		return ""
	case hintTenant == "" || otherTenant == "":
		return ""
	case hintTenant != otherTenant:
		if hint == "consumers" {
			return "personal accounts (consumers)"
		}
		return "tenant " + hintTenant
	}
	return ""
}

// sortedFlows lists the related flows, without the finding's own flow and
// the -1 of clues that need no flow.
func sortedFlows(m map[int]bool, self int) []int {
	var out []int
	for i := range m {
		if i >= 0 && i != self {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}
