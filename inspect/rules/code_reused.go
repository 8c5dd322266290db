package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// CodeReused reports an authorization code redeemed more than once.
var CodeReused = &inspect.Rule{
	ID:    "code-reused",
	Title: "Authorization code redeemed more than once",
	Doc: `An authorization code is single-use. When a token request carries a code
that an earlier token request in the trace already redeemed successfully,
Entra refuses the repeat with invalid_grant AADSTS54005, and whatever made
the second request (a callback handler running twice, two components both
redeeming, an automatic retry, a reload of the callback URL) gets no
tokens. The finding names both flows, how far apart they were, and what
differs between them (User-Agent, client-request-id), which points at the
cause. A 54005 whose first redemption is not in the trace is reported as a
warning: something outside the proxy redeemed the code first.

A repeat after a failed first attempt is not reported: only a successful
redemption uses the code up.

Bad trace: POST /common/oauth2/v2.0/token code=0.AW8A…X → 200 with tokens;
400 ms later POST /common/oauth2/v2.0/token code=0.AW8A…X → 400
invalid_grant AADSTS54005.`,
	Severity: inspect.Error,
	Run:      runCodeReused,
}

func runCodeReused(p *inspect.Pass) error {
	params := p.View().OAuth()
	if !params.Endpoint.IsToken() || params.Code == "" || (params.GrantType != "" && params.GrantType != "authorization_code") {
		return nil
	}
	code := oauthErrorCode(p, 54005)
	var earlier []*inspect.View // newest first
	for v := range oauthCodeViews(p, params.Code, oauthCodeMaxAge) {
		ep := v.OAuth()
		if ep.Endpoint.IsToken() && ep.Code == params.Code {
			earlier = append(earlier, v)
		}
	}
	var used *inspect.View // the oldest successful redemption
	for _, v := range slices.Backward(earlier) {
		if v.Flow.Status() == 200 {
			used = v
			break
		}
	}
	if used == nil {
		if code != 0 {
			p.Report(inspect.Finding{
				Severity: inspect.Warning,
				Code:     code,
				Title:    "Authorization code was already redeemed outside this trace",
				Evidence: fmt.Sprintf("flow %d redeems code %s and Entra answers AADSTS54005, but no earlier redemption of it is in the trace: another component (server-side middleware, another process) that does not go through the proxy redeemed it first",
					p.Flow.Index, oauthFingerprint(params.Code)),
				Fix: "Leave code redemption to exactly one component, and make the callback ignore a code it has already handled",
			})
		}
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d redeems code %s, which flow %d already redeemed (HTTP 200 with tokens)", p.Flow.Index, oauthFingerprint(params.Code), used.Flow.Index)
	if gap, ok := flowGap(used.Flow, p.Flow); ok {
		fmt.Fprintf(&b, " %s earlier", gap)
	}
	if code != 0 {
		b.WriteString("; Entra refused the repeat with AADSTS54005")
	} else if p.Flow.Response == nil {
		b.WriteString("; Entra will refuse the repeat with AADSTS54005")
	}
	cause, fix := reuseCause(used.Flow, p.Flow)
	if cause != "" {
		b.WriteString("; " + cause)
	}
	related := make([]int, 0, len(earlier))
	for _, v := range slices.Backward(earlier) {
		related = append(related, v.Flow.Index)
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    "Authorization code redeemed more than once",
		Evidence: b.String(),
		Fix:      fix,
		Related:  related,
	})
	return nil
}

// reuseCause compares the two redemptions for the usual causes.
func reuseCause(first, second *flow.Flow) (cause, fix string) {
	ua1, ua2 := first.Request.Header.Get("User-Agent"), second.Request.Header.Get("User-Agent")
	id1, id2 := first.Request.Header.Get("client-request-id"), second.Request.Header.Get("client-request-id")
	switch {
	case ua1 != ua2:
		return fmt.Sprintf("the two requests come from different clients (User-Agent %q vs %q), so two components both redeem the code", ua1, ua2),
			"Leave code redemption to exactly one component (the authentication middleware or the app's own handler, not both)"
	case id1 != "" && id1 == id2:
		return fmt.Sprintf("both carry client-request-id %s, so the second is a retry of the first", id1),
			"Stop retrying the token request once it has reached Entra; retry only when no bytes were sent"
	case first.Error != "":
		return fmt.Sprintf("the first request ended with a transport error (%s) after reaching Entra, and the client retried", oneLine(first.Error)),
			"Stop retrying the token request once it has reached Entra; retry only when no bytes were sent"
	}
	return "", "Make the callback idempotent: mark the state as used before redeeming the code, ignore repeats, and redirect to a clean URL afterwards"
}

// flowGap says how far apart two flows started, when both times are known.
func flowGap(a, b *flow.Flow) (string, bool) {
	ta, okA := decode.FlowTime(a)
	tb, okB := decode.FlowTime(b)
	if !okA || !okB {
		return "", false
	}
	return tb.Sub(ta).Round(1e6).String(), true
}
