package rules

import (
	"fmt"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// TokenExpired reports tokens used or delivered past their expiry.
var TokenExpired = &inspect.Rule{
	ID:    "token-expired",
	Title: "A token was used or delivered after it expired",
	Doc: `Reports a bearer token sent (Authorization: Bearer <JWT>) after its exp,
judged at the time the request was made (the flow's start time, else the
response's Date), once per token however often it is resent; an error when
the resource answered 401, else a warning. It also reports an id_token or
access_token that arrived already expired by the response's own Date
(a cached or replayed answer, or a server clock far off).

Bad trace: GET https://graph.microsoft.com/v1.0/me with a bearer token whose
exp is 11:50:00Z, sent at 12:00:00Z and answered 401 invalid_token: the
client kept using a token from its cache instead of refreshing it.`,
	Severity: inspect.Warning,
	Run:      runTokenExpired,
}

func runTokenExpired(p *inspect.Pass) error {
	f := p.Flow
	date, dateOK := decode.ResponseDate(f)
	reqTime, basis := f.Timings.Start.UTC(), "the time the request was made"
	if f.Timings.Start.IsZero() {
		reqTime, basis = date, "the response's Date"
		if !dateOK {
			reqTime = time.Time{}
		}
	}
	toks := p.View().Tokens()
	for i := range toks {
		t := &toks[i]
		j := t.JWT()
		if j == nil {
			continue
		}
		exp, ok := j.Exp()
		if !ok {
			continue
		}
		switch {
		case t.Sent && t.Field == "Authorization":
			if reqTime.IsZero() || !reqTime.After(exp) || bearerExpiredBefore(p.History, t.Value) {
				continue
			}
			sev, answer := inspect.Warning, ""
			if f.Status() == 401 {
				sev, answer = inspect.Error, "; the resource answered 401"
			} else if f.Status() != 0 {
				answer = fmt.Sprintf("; the resource answered %d", f.Status())
			}
			p.Report(inspect.Finding{
				Severity: sev,
				Title:    "Expired bearer token sent",
				Evidence: fmt.Sprintf("%s sent a bearer token (%s) for %s whose exp %s is %s before %s (%s)%s; resends of the same token are not reported again",
					describeRequest(f), t.Where(f.Index), audience(j.Aud()), exp.Format(time.RFC3339), roundDur(reqTime.Sub(exp)), basis, reqTime.Format(time.RFC3339), answer),
				Fix: "Refresh the token before it expires (acquire it silently before each call, letting the library use its refresh token) instead of reusing a cached one",
			})
		case !t.Sent && (t.Field == "id_token" || t.Field == "access_token"):
			if !dateOK || !date.After(exp) {
				continue
			}
			p.Report(inspect.Finding{
				Title: "Token delivered already expired",
				Evidence: fmt.Sprintf("%s: %s has exp %s, %s before the response's Date %s: the answer was cached or replayed, or the server's clock is off",
					describeRequest(f), t.Where(f.Index), exp.Format(time.RFC3339), roundDur(date.Sub(exp)), date.Format(time.RFC3339)),
				Fix: "Check for a cache or replay between the client and Entra (responses from the token endpoint must not be cached), then request a new token",
			})
		}
	}
	return nil
}

// audience renders a token's audience for evidence.
func audience(aud []string) string {
	switch len(aud) {
	case 0:
		return "no audience"
	case 1:
		return aud[0]
	}
	return fmt.Sprint(aud)
}

// bearerExpiredBefore reports whether an earlier flow already sent the
// same token after its expiry (and so was reported).
func bearerExpiredBefore(h *inspect.History, value string) bool {
	for v := range recentIdentityViews(h, lookbackFlows) {
		f := v.Flow
		if f.Request == nil {
			continue
		}
		found := false
		for _, a := range f.Request.Header.Values("Authorization") {
			if len(a) > len(value) && a[len(a)-len(value):] == value {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		at := f.Timings.Start
		if at.IsZero() {
			at, _ = decode.ResponseDate(f)
		}
		for _, t := range v.Tokens() {
			if t.Field != "Authorization" || t.Value != value {
				continue
			}
			if exp, ok := t.JWT().Exp(); ok && !at.IsZero() && at.After(exp) {
				return true
			}
		}
	}
	return false
}
