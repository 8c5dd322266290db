package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Sign-in loop thresholds: SignInLoopCount identical authorize requests
// within SignInLoopWindow make a loop. Entra's own loop detection
// (AADSTS50196) steps in later; these report the loop before the user sees
// that page.
const (
	SignInLoopCount  = 4
	SignInLoopWindow = 60 * time.Second
)

// SignInLoop reports an app sending the user to the same authorize request
// again and again.
var SignInLoop = &inspect.Rule{
	ID:    "signin-loop",
	Title: "App repeats the same sign-in in a loop",
	Doc: fmt.Sprintf(`Reports the same authorize request (same client_id, redirect_uri and scope;
state, nonce and PKCE values ignored) made %d or more times within %s:
the app sends the user to sign in, gets an answer, and sends the user back
again, usually because it fails to keep the session it was given (its
session cookie is not set or not sent back, the callback rejects the
token, or a route guard runs before the session is stored). Entra's own
loop detection answers AADSTS50196 only after more rounds; this rule names
the loop earlier, once per loop, with every flow of it as related flows,
and says whether Entra answered each round with a code (then single
sign-on worked and the fault is on the app's side).

The thresholds are the package constants SignInLoopCount (%d) and
SignInLoopWindow (%s). Flows without a recorded time count as inside the
window, as far back as the last 200 flows.

Bad trace: GET /common/oauth2/v2.0/authorize?client_id=…&redirect_uri=https://app/cb&scope=openid
→ 302 https://app/cb?code=…; GET https://app/cb?code=… → 302 /; GET / → 302
to the same authorize URL; four times in twenty seconds.`, SignInLoopCount, SignInLoopWindow, SignInLoopCount, SignInLoopWindow),
	Severity: inspect.Error,
	Run:      runSignInLoop,
}

// loopRound is one authorize request of a candidate loop.
type loopRound struct {
	index int
	at    time.Time
	timed bool
	coded bool // Entra answered it with a code directly (single sign-on)
}

// maxLoopRelated bounds the related flows a loop finding lists.
const maxLoopRelated = 20

// maxLoopRounds bounds the rounds collected per flow: enough to tell
// whether this round is the one that makes a loop, without rereading every
// round of a loop that has run for minutes.
const maxLoopRounds = 2*SignInLoopCount + maxLoopRelated

// untimedLoopLookback bounds the scan for a flow without a recorded time,
// where the window cannot stop it: a loop's rounds are a few flows apart.
const untimedLoopLookback = 200

func runSignInLoop(p *inspect.Pass) error {
	params := p.View().OAuth()
	if !params.Endpoint.IsAuthorize() || params.ClientID == "" {
		return nil
	}
	scopes := scopeSet(params.Scope)
	at, timed := decode.FlowTime(p.Flow)
	cur := loopRound{index: p.Flow.Index, at: at, timed: timed, coded: answeredWithCode(p.View())}
	var rounds []loopRound // newest first, the current one included
	rounds = append(rounds, cur)
	limit := oauthLookback
	if !timed {
		limit = min(limit, untimedLoopLookback)
	}
	for v := range recentIdentityViews(p.History, limit) {
		if timed {
			// Flows join the history in completion order, so allow slack
			// before deciding the scan has left the window for good.
			if vt, ok := decode.FlowTime(v.Flow); ok && at.Sub(vt) > 2*SignInLoopWindow+time.Minute {
				break
			}
		}
		if !oauthLooksAuthorize(v.Flow) {
			continue
		}
		ap := v.OAuth()
		if !ap.Endpoint.IsAuthorize() || !sameSignIn(params, scopes, ap) {
			continue
		}
		vt, vtimed := decode.FlowTime(v.Flow)
		rounds = append(rounds, loopRound{index: v.Flow.Index, at: vt, timed: vtimed, coded: answeredWithCode(v)})
		if len(rounds) == maxLoopRounds {
			break
		}
	}
	window := loopWindow(rounds, 0)
	if len(window) < SignInLoopCount {
		return nil
	}
	// Report once per loop: when the window ending at the previous round was
	// still short of the count.
	if len(rounds) > 1 && len(loopWindow(rounds, 1)) >= SignInLoopCount {
		return nil
	}
	slices.Reverse(window)
	related := make([]int, 0, len(window)-1)
	coded := 0
	for _, r := range window {
		if r.index != cur.index && len(related) < maxLoopRelated {
			related = append(related, r.index)
		}
		if r.coded {
			coded++
		}
	}
	span := "no recorded times"
	if first := window[0]; first.timed && cur.timed {
		span = cur.at.Sub(first.at).Round(time.Millisecond).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d is the %d%s authorize request for client_id %s, redirect_uri %q, scope %q within %s (%s; threshold %d in %s)",
		p.Flow.Index, len(window), ordinalSuffix(len(window)), params.ClientID, params.RedirectURI, params.Scope, span,
		flowList(window), SignInLoopCount, SignInLoopWindow)
	switch {
	case coded == len(window):
		b.WriteString("; Entra answered every round with a code at once (single sign-on works), so the app is not keeping the session it gets")
	case coded > 0:
		fmt.Fprintf(&b, "; Entra answered %d of the rounds with a code at once", coded)
	}
	code := oauthErrorCode(p, 50196)
	if code != 0 {
		b.WriteString("; Entra has detected the loop too (AADSTS50196)")
	}
	p.Report(inspect.Finding{
		Code:     code,
		Title:    "App repeats the same sign-in in a loop",
		Evidence: b.String(),
		Fix:      "Find why the app does not keep the session after its callback: check that its session cookie is set and sent back (SameSite, Secure, domain, size), that the callback accepts the token, and that no route sends a signed-in user to sign in again",
		Related:  related,
	})
	return nil
}

// loopWindow returns the rounds inside the window that ends at
// rounds[end] (rounds are newest first), newest first.
func loopWindow(rounds []loopRound, end int) []loopRound {
	last := rounds[end]
	var out []loopRound
	for _, r := range rounds[end:] {
		if last.timed && r.timed {
			d := last.at.Sub(r.at)
			if d > SignInLoopWindow || d < -SignInLoopWindow {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// sameSignIn reports whether b repeats the sign-in a (whose scope set is
// scopes): a loop repeats one request, so everything but the per-attempt
// values (state, nonce, PKCE challenge, sso_nonce) must match — client,
// redirect, scope set, tenant, prompt, hints and response shape. Requests
// that differ in tenant or prompt are an app trying alternatives, not a
// loop. It compares field by field, cheapest first, because a loop's every
// round is compared with every later one.
func sameSignIn(a *decode.Params, scopes string, b *decode.Params) bool {
	return strings.EqualFold(a.ClientID, b.ClientID) && a.RedirectURI == b.RedirectURI &&
		strings.EqualFold(a.Tenant, b.Tenant) && strings.EqualFold(a.Prompt, b.Prompt) &&
		strings.EqualFold(a.ResponseType, b.ResponseType) && strings.EqualFold(a.ResponseMode, b.ResponseMode) &&
		strings.EqualFold(a.Resource, b.Resource) && strings.EqualFold(a.DomainHint, b.DomainHint) &&
		strings.EqualFold(a.LoginHint, b.LoginHint) &&
		(strings.EqualFold(a.Scope, b.Scope) || scopes == scopeSet(b.Scope))
}

// scopeSet is a scope parameter as a set: lowered, sorted, without repeats.
func scopeSet(scope string) string {
	scopes := strings.Fields(strings.ToLower(scope))
	slices.Sort(scopes)
	return strings.Join(slices.Compact(scopes), " ")
}

// answeredWithCode reports an authorize request that Entra answered with a
// code straight away. The answer is decoded once per view: a loop's
// rounds are read again by every later round.
func answeredWithCode(v *inspect.View) bool {
	if !oauthMayCarryResponse(v.Flow) {
		return false
	}
	r := v.AuthResponse()
	return r != nil && r.Code != ""
}

func ordinalSuffix(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// flowList names rounds as "flows 1, 4, 7 and 10".
func flowList(rounds []loopRound) string {
	names := make([]string, len(rounds))
	for i, r := range rounds {
		names[i] = fmt.Sprint(r.index)
	}
	if len(names) > maxLoopRelated {
		names = append(names[:maxLoopRelated], "…")
	}
	if len(names) == 1 {
		return "flow " + names[0]
	}
	return "flows " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
