package rules

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// TenantMismatch compares the tenant a request addresses with the tenant
// its tokens belong to.
var TenantMismatch = &inspect.Rule{
	ID:    "tenant-mismatch",
	Title: "A token belongs to another tenant than the one addressed",
	Doc: `Compares tenant IDs, never issuer hosts or guessed domains. The tenant a
request addresses is the GUID in the path (/{tenant}/oauth2/…), a domain in
the path whose tenant the traffic itself shows (an OpenID discovery answer's
issuer, or the tid of tokens issued on that path), or the tenant a resource
names in its 401 WWW-Authenticate authorization_uri. It is compared with the
tid of the tokens involved: tokens Entra returned on that path, an
on-behalf-of assertion sent to it, or the bearer token the resource refused.

It also reports, as info, a guest sign-in (client_info utid, the home tenant,
differs from the id_token's tid, the resource tenant), and explains
AADSTS50194: a single-tenant app used on /common or /organizations, naming
the app's tenant when the traffic shows it.

Bad trace: GET https://management.azure.com/subscriptions/… with a bearer
token whose tid is a3d9e7b1-… answered 401 with WWW-Authenticate
authorization_uri="https://login.windows.net/5f3c1e2a-…": the client got its
token from the wrong tenant.`,
	Severity: inspect.Warning,
	Run:      runTenantMismatch,
}

// tenantClue is a tenant ID and how the traffic shows it.
type tenantClue struct {
	tenant string // lowercase GUID
	flow   int
	how    string
}

// tenantClues is what earlier traffic shows about tenants.
type tenantClues struct {
	// domains maps a domain to its tenant.
	domains map[string]tenantClue
	// home is the home tenant of the account most recently signed in.
	home *tenantClue
	user string
	// apps maps a client ID to the tenant of id_tokens issued to it.
	apps map[string]tenantClue
}

// gatherTenantClues reads the history, newest first, so the newest clue for
// each name wins.
func gatherTenantClues(h *inspect.History) *tenantClues {
	c := &tenantClues{domains: map[string]tenantClue{}, apps: map[string]tenantClue{}}
	for v := range recentIdentityViews(h, lookbackFlows) {
		c.learn(v)
	}
	return c
}

func (c *tenantClues) setDomain(domain, tenant string, flow int, how string) {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain == "" || inspect.IsGUID(domain) || inspect.IsMetaTenant(domain) {
		return
	}
	if _, ok := c.domains[domain]; !ok {
		c.domains[domain] = tenantClue{strings.ToLower(tenant), flow, how}
	}
}

func (c *tenantClues) learn(v *inspect.View) {
	idx := v.Flow.Index
	if pt, it, ok := v.DiscoveryIssuer(); ok {
		c.setDomain(pt, it, idx, fmt.Sprintf("the issuer of the OpenID discovery answer for %s in flow %d", pt, idx))
	}
	if v.Flow.Response == nil {
		return
	}
	toks := v.Tokens()
	ci := receivedClientInfo(toks)
	pathT := v.TenantInPath()
	for i := range toks {
		t := &toks[i]
		j := t.JWT()
		if t.Sent || j == nil || (t.Field != "id_token" && t.Field != "access_token") {
			continue
		}
		tid := strings.ToLower(j.Tid())
		if !inspect.IsGUID(tid) {
			continue
		}
		c.setDomain(pathT, tid, idx, fmt.Sprintf("the tid of the %s Entra issued on /%s/ in flow %d", t.Field, pathT, idx))
		if t.Field != "id_token" {
			continue
		}
		home, how := homeTenant(j, ci, idx)
		if c.home == nil && home != "" {
			c.home = &tenantClue{home, idx, how}
			c.user = j.Username()
		}
		if user := j.Username(); home == tid && strings.Contains(user, "@") {
			_, dom, _ := strings.Cut(user, "@")
			c.setDomain(dom, tid, idx, fmt.Sprintf("the tenant of %s's id_token in flow %d (a member: tid equals the home tenant)", user, idx))
		}
		for _, aud := range j.Aud() {
			aud = strings.ToLower(aud)
			if _, ok := c.apps[aud]; !ok {
				c.apps[aud] = tenantClue{tid, idx, fmt.Sprintf("the tid of the id_token issued to %s in flow %d", aud, idx)}
			}
		}
	}
	if c.home == nil && ci != nil && inspect.IsGUID(ci.UTID) {
		c.home = &tenantClue{strings.ToLower(ci.UTID), idx, fmt.Sprintf("client_info utid in flow %d", idx)}
	}
}

// receivedClientInfo returns the client_info Entra returned in a flow.
func receivedClientInfo(toks []inspect.FoundToken) *decode.ClientInfo {
	for i := range toks {
		if toks[i].ClientInfo != nil && !toks[i].Sent {
			return toks[i].ClientInfo
		}
	}
	return nil
}

// homeTenant is the signed-in account's home tenant: client_info's utid,
// else the tenant in a guest's idp claim (live.com means a personal
// account), else the id_token's tid.
func homeTenant(j *decode.JWT, ci *decode.ClientInfo, flow int) (string, string) {
	if ci != nil && inspect.IsGUID(ci.UTID) {
		return strings.ToLower(ci.UTID), fmt.Sprintf("client_info utid in flow %d", flow)
	}
	if idp := j.Idp(); idp != "" {
		if t := inspect.IssuerTenant(idp); t != "" {
			return t, fmt.Sprintf("the id_token's idp claim in flow %d", flow)
		}
		if strings.EqualFold(idp, "live.com") {
			return inspect.ConsumersTenantID, fmt.Sprintf("the id_token's idp live.com (a personal account) in flow %d", flow)
		}
		return "", ""
	}
	if tid := strings.ToLower(j.Tid()); inspect.IsGUID(tid) {
		return tid, fmt.Sprintf("the id_token's tid in flow %d", flow)
	}
	return "", ""
}

// resolve turns a path tenant or hint into a tenant ID using only what the
// traffic shows: a GUID is itself, consumers is the MSA tenant, a domain is
// what earlier flows proved (flow is then that flow, else -1). common and
// organizations resolve to "".
func (c *tenantClues) resolve(name string) (tenant, how string, flow int) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch {
	case inspect.IsGUID(name):
		return name, "the GUID itself", -1
	case name == "consumers":
		return inspect.ConsumersTenantID, "consumers means the personal-account (MSA) tenant", -1
	case inspect.IsMetaTenant(name) || name == "":
		return "", "", -1
	}
	if cl, ok := c.domains[name]; ok {
		return cl.tenant, cl.how, cl.flow
	}
	return "", "", -1
}

// authorizationURITenant returns the tenant a resource names in a
// WWW-Authenticate challenge's authorization_uri
// (https://login.windows.net/{tenant}), or "".
func authorizationURITenant(challenge string) string {
	scheme, params, err := decode.ParseChallenge(challenge)
	if err != nil || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	raw := params["authorization_uri"]
	if raw == "" {
		raw = params["authorization"]
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	return strings.ToLower(seg)
}

func runTenantMismatch(p *inspect.Pass) error {
	v := p.View()
	f := p.Flow
	toks := v.Tokens()
	var clues *tenantClues
	getClues := func() *tenantClues {
		if clues == nil {
			clues = gatherTenantClues(p.History)
		}
		return clues
	}
	// resolve reads the history only for a domain: most paths hold a GUID,
	// and scanning the history on every token request would be costly.
	resolve := func(name string) (string, string) {
		if inspect.IsGUID(name) || inspect.IsMetaTenant(name) {
			t, how, _ := (&tenantClues{}).resolve(name)
			return t, how
		}
		t, how, _ := getClues().resolve(name)
		return t, how
	}

	// A tenant-specific path: tokens issued there, and on-behalf-of
	// assertions sent there, carry its tid.
	if pathT := v.TenantInPath(); pathT != "" && !inspect.IsMetaTenant(pathT) {
		want, how := resolve(pathT)
		if want != "" {
			for i := range toks {
				t := &toks[i]
				j := t.JWT()
				if j == nil || !inspect.IsGUID(j.Tid()) || strings.EqualFold(j.Tid(), want) {
					continue
				}
				issued := !t.Sent && (t.Field == "id_token" || t.Field == "access_token")
				obo := t.Sent && t.Field == "assertion"
				if !issued && !obo {
					continue
				}
				ev := fmt.Sprintf("the path of %s names tenant %s, but %s has tid %s", describeRequest(f), tenantWithHow(want, how, pathT), t.Where(f.Index), strings.ToLower(j.Tid()))
				fix := "Point the client's authority at the tenant the token belongs to, or get the token from the tenant in the path"
				if obo {
					ev += "; an on-behalf-of assertion must come from the tenant the middle-tier app asks"
					fix = "Request the on-behalf-of token from the tenant the incoming token was issued in (its tid), or make the caller get its token from the path's tenant"
				}
				p.Report(inspect.Finding{
					Title:    "Token tenant differs from the tenant in the path",
					Evidence: ev,
					Fix:      fix,
				})
			}
		}
	}

	// A resource's 401 names the tenant it expects.
	if f.Status() == 401 {
		for _, ch := range f.Response.Header.Values("WWW-Authenticate") {
			want := authorizationURITenant(ch)
			if want == "" || inspect.IsMetaTenant(want) {
				continue
			}
			wantID, how := resolve(want)
			if wantID == "" {
				continue
			}
			for i := range toks {
				t := &toks[i]
				j := t.JWT()
				if t.Field != "Authorization" || j == nil || !inspect.IsGUID(j.Tid()) || strings.EqualFold(j.Tid(), wantID) {
					continue
				}
				p.Report(inspect.Finding{
					Severity: inspect.Error,
					Title:    "Bearer token from another tenant than the resource expects",
					Evidence: fmt.Sprintf("%s answered 401 and its WWW-Authenticate authorization_uri names tenant %s; the bearer token sent (%s) has tid %s (issuer %s)",
						describeRequest(f), tenantWithHow(wantID, how, want), t.Where(f.Index), strings.ToLower(j.Tid()), j.Iss()),
					Fix: fmt.Sprintf("Get the token from https://login.microsoftonline.com/%s (the tenant the resource names) instead of the tenant %s", wantID, strings.ToLower(j.Tid())),
				})
			}
		}
	}

	// A guest sign-in: home tenant (utid) differs from the token's tenant.
	if ci := receivedClientInfo(toks); ci != nil && inspect.IsGUID(ci.UTID) {
		for i := range toks {
			t := &toks[i]
			j := t.JWT()
			if t.Sent || t.Field != "id_token" || j == nil || !inspect.IsGUID(j.Tid()) || strings.EqualFold(j.Tid(), ci.UTID) {
				continue
			}
			if guestSeenBefore(p.History, ci.UTID, j.Tid(), ci.UID) {
				break
			}
			p.Report(inspect.Finding{
				Severity: inspect.Info,
				Title:    "Signed in as a guest of another tenant",
				Evidence: fmt.Sprintf("client_info in flow %d says home tenant (utid) %s for %s, while the id_token's tid is %s: the account is a guest in that tenant",
					f.Index, strings.ToLower(ci.UTID), accountName(j, ci), strings.ToLower(j.Tid())),
				Fix: "Expect tokens from the resource tenant; use utid (not tid) to find the user's home tenant, and send domain_hint for the home tenant only",
			})
			break
		}
	}

	// AADSTS50194: a single-tenant app on /common or /organizations.
	for _, e := range p.Errors() {
		if e.Code() != 50194 {
			continue
		}
		pathT := v.TenantInPath()
		clientID := strings.ToLower(v.Params().Get("client_id"))
		ev := fmt.Sprintf("%s used the tenant path /%s/ with client_id %s and Entra answered AADSTS50194: the app is registered as single-tenant, so Entra cannot pick a tenant for it", describeRequest(f), pathT, clientID)
		fix := "Use a tenant-specific authority (https://login.microsoftonline.com/<the app's tenant ID or verified domain>) instead of /" + pathT + "/, or make the app multi-tenant (signInAudience AzureADMultipleOrgs)"
		if cl, ok := getClues().apps[clientID]; ok && clientID != "" {
			ev += fmt.Sprintf("; the traffic shows the app's tenant as %s (%s)", cl.tenant, cl.how)
			fix = fmt.Sprintf("Use the authority https://login.microsoftonline.com/%s instead of /%s/, or make the app multi-tenant (signInAudience AzureADMultipleOrgs)", cl.tenant, pathT)
		}
		p.Report(inspect.Finding{
			Severity: inspect.Error,
			Code:     50194,
			Title:    "Single-tenant app used on a multi-tenant path",
			Evidence: ev,
			Fix:      fix,
		})
		break
	}
	return nil
}

// guestSeenBefore reports whether an earlier flow already returned the same
// guest account (same uid, utid and tid), so a refresh does not repeat the
// info finding.
func guestSeenBefore(h *inspect.History, utid, tid, uid string) bool {
	for v := range recentIdentityViews(h, lookbackFlows) {
		if v.Flow.Response == nil {
			continue
		}
		toks := v.Tokens()
		ci := receivedClientInfo(toks)
		if ci == nil || !strings.EqualFold(ci.UTID, utid) || !strings.EqualFold(ci.UID, uid) {
			continue
		}
		for i := range toks {
			if j := toks[i].JWT(); j != nil && !toks[i].Sent && toks[i].Field == "id_token" && strings.EqualFold(j.Tid(), tid) {
				return true
			}
		}
	}
	return false
}

// accountName names the account in evidence: its username, else its uid.
func accountName(j *decode.JWT, ci *decode.ClientInfo) string {
	if u := j.Username(); u != "" {
		return u
	}
	if ci != nil && ci.UID != "" {
		return "uid " + ci.UID
	}
	return "the account"
}

// tenantWithHow renders a tenant as named in traffic for evidence: a GUID
// as itself, a domain with the tenant it resolved to and how the traffic
// showed it ("fabrikam.com (a3d9…, per the issuer of …)").
func tenantWithHow(tenant, how, name string) string {
	if strings.EqualFold(tenant, name) || how == "" {
		return tenant
	}
	return fmt.Sprintf("%s (%s, per %s)", name, tenant, how)
}

// describeRequest names a flow and its request without the query, which
// holds codes and hints that make evidence long:
// "flow 3 (GET https://login.microsoftonline.com/common/oauth2/v2.0/authorize)".
func describeRequest(f *flow.Flow) string {
	if f == nil {
		return "the flow"
	}
	if f.Request == nil {
		return fmt.Sprintf("flow %d", f.Index)
	}
	return fmt.Sprintf("flow %d (%s %s)", f.Index, f.Request.Method, trimQuery(f.Request.URL))
}
