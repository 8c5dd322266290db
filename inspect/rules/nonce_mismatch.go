package rules

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// NonceMismatch compares the nonce an authorize request sent with the nonce
// claim of the id_token that answers it.
var NonceMismatch = &inspect.Rule{
	ID:    "nonce-mismatch",
	Title: "id_token nonce differs from the nonce the authorize request sent",
	Doc: `OpenID Connect clients send a nonce on the authorize request and reject an
id_token whose nonce claim differs (ASP.NET reports IDX10311/IDX21323,
MSAL "nonce mismatch"). Entra copies the nonce faithfully, so a difference
on the wire means the id_token answers another sign-in than the one the
client is checking against: two sign-ins overlapped, or the client stored
one nonce slot and a second sign-in overwrote it. The rule finds the
id_token of a code redemption (the token response for the code) or of the
implicit and hybrid flows (the redirect fragment or form_post), follows it
to its authorize request and compares. It also says when the id_token's
nonce belongs to another authorize request in the trace.

Bad trace: GET …/authorize?…&state=A&nonce=n-A → 302 …#code=C&state=A;
POST …/token code=C → 200 with an id_token whose nonce claim is "n-B",
the nonce of a second authorize request started in another tab.`,
	Severity: inspect.Error,
	Run:      runNonceMismatch,
}

func runNonceMismatch(p *inspect.Pass) error {
	params := p.View().OAuth()
	var idToken, where string
	var auth *oauthAuthorize
	switch {
	case params.Endpoint.IsToken() && params.Code != "":
		idToken = tokenResponseIDToken(p.Flow)
		if idToken == "" {
			return nil
		}
		issue := oauthFindIssue(p, params.Code)
		if issue == nil {
			return nil
		}
		auth = issue.Authorize
		where = fmt.Sprintf("the id_token flow %d got for code %s", p.Flow.Index, oauthFingerprint(params.Code))
	default:
		if !oauthMayCarryResponse(p.Flow) {
			return nil
		}
		r := p.View().AuthResponse()
		if r == nil || r.IDToken == "" {
			return nil
		}
		idToken = r.IDToken
		auth, _ = oauthLinkAuthorize(p, p.Flow, r)
		where = fmt.Sprintf("the id_token in flow %d's %s response", p.Flow.Index, r.Source)
	}
	if auth == nil || auth.Params.Nonce == "" {
		return nil
	}
	tok, err := decode.ParseJWT(idToken)
	if err != nil || tok.Encrypted {
		return nil // not ours to judge; token decoders report unreadable tokens
	}
	sent, got := auth.Params.Nonce, tok.Nonce()
	if got == sent {
		return nil
	}
	related := []int{auth.Index}
	var ev string
	if got == "" {
		ev = fmt.Sprintf("flow %d's authorize request sent nonce %q; %s carries no nonce claim", auth.Index, sent, where)
	} else {
		ev = fmt.Sprintf("flow %d's authorize request sent nonce %q; %s has nonce %q", auth.Index, sent, where, got)
		if other := oauthOtherAuthorize(p, auth.Index, func(ap *decode.Params) bool { return ap.Nonce == got }); other >= 0 {
			ev += fmt.Sprintf("; that is the nonce of flow %d's authorize request, so the id_token answers another sign-in", other)
			related = append(related, other)
		}
	}
	p.Report(inspect.Finding{
		Title:    "id_token nonce differs from the nonce the authorize request sent",
		Evidence: ev,
		Fix:      "Keep nonce (and state) per sign-in rather than in one slot, and do not start a second sign-in while one is in progress",
		Related:  related,
	})
	return nil
}

// tokenResponseIDToken returns the id_token of a successful token response.
func tokenResponseIDToken(f *flow.Flow) string {
	if f == nil || f.Response == nil || f.Response.Status != 200 {
		return ""
	}
	body, err := f.Response.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = f.Response.Body.Raw
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return ""
	}
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if json.Unmarshal(body, &tr) != nil {
		return ""
	}
	return tr.IDToken
}
