package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// ClockSkew compares the clocks the traffic shows: servers' Date headers,
// the clock that timed each request, and token times.
var ClockSkew = &inspect.Rule{
	ID:    "clock-skew",
	Title: "Clocks disagree by more than the skew threshold",
	Doc: `Compares a response's Date header (the server's clock) with the time
the request was made by the clock that timed it: this machine's for live
capture (the proxy stamps flows), the browser's for a HAR (its
startedDateTime). A difference beyond Options.ClockSkewThreshold (5 minutes
by default) outside the exchange's own duration is a warning, reported once
per host and direction, not on every flow. Tokens whose iat or nbf lie
further in the future than the threshold, relative to the Date of the
response to the flow that carries them, are reported the same way.

A Date is only the server's clock when the answer is fresh. A cache's
answer carries the Date of when it was first fetched: the server's clock
is then Date + Age (the Age header), and an answer a browser's HAR marks as
served from its cache, or a CDN marks as a hit without an Age, says nothing
about any clock and is skipped. Entra's clock is the one tokens and
assertions are judged by: a difference on an Entra answer (x-ms-ests-server)
is a warning; on any other host it is a warning only for identity traffic
(a bearer token, an OAuth answer) when no Entra answer was seen in step
with the client's clock, and information otherwise: a web server whose
clock is off does not break a sign-in. A token from the future is a warning
when Entra's Date shows it, or when the host refused the request (401);
otherwise information.

AADSTS700024 and AADSTS500133 carry Entra's own clock ("Current time: …,
assertion valid from …, expiry time of assertion …"); each is reported as
an error saying whether the assertion was not yet valid (client clock
ahead) or already expired (client clock behind, or an assertion reused
past its lifetime), and by how much.

Bad trace: POST /{tenant}/oauth2/v2.0/token with a client_assertion whose
exp is 10:28:26Z, answered AADSTS700024 "Current time:
2023-08-01T11:08:01.5274809Z, … expiry time of assertion
2023-08-01T10:28:26.0000000Z".`,
	Severity: inspect.Warning,
	AnyFlow:  true,
	Run:      runClockSkew,
}

// Skew directions; a finding is made once per host and direction.
const (
	skewServerAhead  = "server-ahead"
	skewServerBehind = "server-behind"
	skewTokenFuture  = "token-future"
)

// assertionTimeCodes carry Entra's clock and an assertion's validity.
var assertionTimeCodes = []int{700024, 500133}

func runClockSkew(p *inspect.Pass) error {
	f := p.Flow
	thr := p.Options.ClockSkewThreshold
	host := inspect.RequestHost(f)
	date, dateOK := serverClock(f)

	explained := false
	for _, e := range p.Errors() {
		code := 0
		for _, c := range e.Codes {
			if slices.Contains(assertionTimeCodes, c) {
				code = c
				break
			}
		}
		if code == 0 {
			continue
		}
		if reportAssertionTimes(p, &e, code) {
			explained = true
		}
	}

	if dateOK {
		if skew, ok := dateSkew(f, date); ok && absDur(skew) > thr {
			dir := skewServerAhead
			if skew < 0 {
				dir = skewServerBehind
			}
			if !skewSeenBefore(p.History, host, dir, thr) {
				rel := "ahead of"
				if skew < 0 {
					rel = "behind"
				}
				sev, whose := inspect.Warning, ""
				switch {
				case entraAnswered(f):
				case !p.View().Identity():
					sev, whose = inspect.Info, "; this answer carries no identity traffic, so it is this server's clock (or an undeclared cache) that is off, not one a sign-in depends on"
				case entraInStep(p.History, thr):
					sev, whose = inspect.Info, "; Entra's answers agree with the client's clock, so it is this server's own clock that is off: it matters only if this host checks tokens' nbf and exp"
				}
				p.Report(inspect.Finding{
					Severity: sev,
					Title:    "Server clock differs from the client clock",
					Evidence: fmt.Sprintf("%s: the response's Date %s%s is %s %s the time the request was made (%s by the clock that timed it: this machine for live capture, the browser for a HAR), beyond the %s threshold%s; later flows to %s are not reported again",
						describeRequest(f), rawDate(f).Format(time.RFC3339), ageNote(f, date), roundDur(absDur(skew)), rel, f.Timings.Start.UTC().Format(time.RFC3339), thr, whose, host),
					Fix: "Sync the client machine's clock with NTP (w32tm /resync, timedatectl set-ntp true); tokens and assertions it builds are judged by Entra's clock",
				})
			}
		}
		if !explained {
			if t, claim, at, ok := futureToken(p.View(), date, thr); ok && !skewSeenBefore(p.History, host, skewTokenFuture, thr) {
				sev := inspect.Info
				if entraAnswered(f) || f.Status() == 401 {
					sev = inspect.Warning
				}
				p.Report(inspect.Finding{
					Severity: sev,
					Title:    "Token issued in the future by the server's clock",
					Evidence: fmt.Sprintf("%s: %s has %s %s, %s after the response's Date %s (threshold %s): the clock that issued it runs ahead of %s's",
						describeRequest(f), t.Where(f.Index), claim, at.Format(time.RFC3339), roundDur(at.Sub(date)), date.Format(time.RFC3339), thr, host),
					Fix: "Sync the clock of the machine that issued the token (for a client assertion, the client's) with NTP; then get a new token",
				})
			}
		}
	}
	return nil
}

// dateSkew returns how far the server's Date lies outside the exchange as
// the request's clock timed it: positive when the server is ahead, 0 when
// the Date falls inside [start, end]. Date has one-second resolution, so a
// second of slack is allowed before a difference counts. ok is false when the flow has no start time.
func dateSkew(f *flow.Flow, date time.Time) (time.Duration, bool) {
	start := f.Timings.Start
	if start.IsZero() {
		return 0, false
	}
	end := f.Done
	if end.IsZero() || end.Before(start) {
		end = start.Add(f.Timings.Total())
	}
	switch {
	case date.After(end.Add(time.Second)):
		return date.Sub(end), true
	case date.Add(time.Second).Before(start):
		return date.Sub(start), true
	}
	return 0, true
}

// futureToken finds a JWT in the flow whose iat or nbf is more than thr
// after the server's Date.
func futureToken(v *inspect.View, date time.Time, thr time.Duration) (*inspect.FoundToken, string, time.Time, bool) {
	toks := v.Tokens()
	for i := range toks {
		j := toks[i].JWT()
		if j == nil {
			continue
		}
		for _, c := range []struct {
			name string
			get  func() (time.Time, bool)
		}{{"iat", j.Iat}, {"nbf", j.Nbf}} {
			if at, ok := c.get(); ok && at.Sub(date) > thr {
				return &toks[i], c.name, at, true
			}
		}
	}
	return nil, "", time.Time{}, false
}

// skewSeenBefore reports whether an earlier flow to host already showed
// skew in the same direction, so the rule reported it there.
func skewSeenBefore(h *inspect.History, host, dir string, thr time.Duration) bool {
	for v := range recentViews(h, lookbackFlows) {
		f := v.Flow
		if inspect.RequestHost(f) != host || f.Response == nil || f.Response.Synthetic {
			continue
		}
		date, ok := serverClock(f)
		if !ok {
			continue
		}
		switch dir {
		case skewTokenFuture:
			if _, _, _, ok := futureToken(v, date, thr); ok {
				return true
			}
		default:
			skew, ok := dateSkew(f, date)
			if ok && absDur(skew) > thr && (skew > 0) == (dir == skewServerAhead) {
				return true
			}
		}
	}
	return false
}

// serverClock returns what the response says the server's clock read when
// it answered: its Date, plus its Age when a cache kept it that long (or
// Date alone when a CDN restamped it, whichever is in step). ok is
// false when the response says nothing about a clock: no Date, aadproxy's
// own answer (its Date is this machine's clock), an answer a browser's
// cache served (its headers are the stored ones), or a CDN hit that does
// not say how old it is.
func serverClock(f *flow.Flow) (time.Time, bool) {
	date, ok := decode.ResponseDate(f)
	if !ok || f.Response.Synthetic || f.Cached != "" {
		return time.Time{}, false
	}
	if age, ok := responseAge(f); ok {
		// A cache should pass the origin's Date on (RFC 9111 4), which
		// makes Date + Age its clock; some CDNs (Cloudflare) restamp Date
		// when they serve a hit yet keep the copy's Age. The reading that
		// agrees with the request's own clock is the one the cache used.
		aged := date.Add(age)
		fresh, ok1 := dateSkew(f, date)
		kept, ok2 := dateSkew(f, aged)
		if ok1 && ok2 && absDur(fresh) < absDur(kept) {
			return date, true
		}
		return aged, true
	}
	if cacheHit(f.Response.Header) {
		return time.Time{}, false
	}
	return date, true
}

// responseAge reads the Age header: whole seconds (RFC 9111 5.1). A
// malformed one is ignored, as caches must.
func responseAge(f *flow.Flow) (time.Duration, bool) {
	v := strings.TrimSpace(f.Response.Header.Get("Age"))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 10*365*24*3600 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// rawDate is the Date header as sent, for evidence.
func rawDate(f *flow.Flow) time.Time {
	d, _ := decode.ResponseDate(f)
	return d
}

// ageNote tells the evidence reader that serverClock added the Age.
func ageNote(f *flow.Flow, clock time.Time) string {
	if age, ok := responseAge(f); ok && age > 0 && !clock.Equal(rawDate(f)) {
		return " (plus Age " + roundDur(age) + ")"
	}
	return ""
}

// cacheHitHeaders are headers in which CDNs and caches say they answered
// from storage (Cloudflare, Fastly, Akamai, CloudFront, Azure Front Door,
// nginx, Varnish).
var cacheHitHeaders = []string{"CF-Cache-Status", "X-Cache", "X-Cache-Status", "X-Proxy-Cache", "X-Cache-Hits", "CDN-Cache", "X-Azure-Ref-Cache", "Cache-Status"}

// cacheHit reports whether a cache says it answered from storage.
func cacheHit(h flow.Headers) bool {
	for _, name := range cacheHitHeaders {
		v := strings.ToLower(h.Get(name))
		if v == "" {
			continue
		}
		if name == "X-Cache-Hits" {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.Split(v, ",")[0])); err == nil && n > 0 {
				return true
			}
			continue
		}
		// "HIT", "TCP_MEM_HIT", "Hit from cloudfront", Cache-Status's
		// "ExampleCache; hit"; in "MISS, HIT" one of the caches on the way
		// answered, so the Date may be as old as what it stored.
		if strings.Contains(v, "hit") {
			return true
		}
	}
	return false
}

// entraAnswered reports whether Entra itself answered: its token service
// names itself in x-ms-ests-server on every answer.
func entraAnswered(f *flow.Flow) bool {
	return f.Response != nil && f.Response.Header.Get("x-ms-ests-server") != ""
}

// entraInStep reports whether a recent Entra answer agreed with the clock
// that timed its request, within thr.
func entraInStep(h *inspect.History, thr time.Duration) bool {
	for v := range recentViews(h, lookbackFlows) {
		f := v.Flow
		if !entraAnswered(f) {
			continue
		}
		date, ok := serverClock(f)
		if !ok {
			continue
		}
		if skew, ok := dateSkew(f, date); ok && absDur(skew) <= thr {
			return true
		}
	}
	return false
}

// reportAssertionTimes explains AADSTS700024/500133 from the times in
// Entra's message. It reports nothing when the message has no times.
func reportAssertionTimes(p *inspect.Pass, e *decode.AADSTSError, code int) bool {
	cur, from, exp := assertionTimes(e.Description)
	if cur.IsZero() || (from.IsZero() && exp.IsZero()) {
		return false
	}
	f := p.Flow
	ev := fmt.Sprintf("%s got AADSTS%d; Entra's message says current time %s", describeRequest(f), code, cur.Format(time.RFC3339Nano))
	if !from.IsZero() {
		ev += ", valid from " + from.Format(time.RFC3339Nano)
	}
	if !exp.IsZero() {
		ev += ", expiry " + exp.Format(time.RFC3339Nano)
	}
	var fix string
	switch {
	case !exp.IsZero() && cur.After(exp):
		ev += fmt.Sprintf(": the assertion had expired %s before Entra received it, so the client's clock is behind Entra's by at least that much or the assertion was built long ago and reused", roundDur(cur.Sub(exp)))
		fix = "Build a fresh client assertion for each token request (exp a few minutes after now), cache it no longer than its lifetime, and sync the client's clock with NTP"
	case !from.IsZero() && cur.Before(from):
		ev += fmt.Sprintf(": the assertion becomes valid %s after Entra's current time, so the client's clock is ahead of Entra's by at least that much", roundDur(from.Sub(cur)))
		fix = "Sync the client machine's clock with NTP (w32tm /resync, timedatectl set-ntp true), or set the assertion's nbf a few minutes in the past"
	default:
		ev += ": the times are inside the window by Entra's own account; the assertion's lifetime may be longer than Entra allows"
		fix = "Build the client assertion with a short lifetime (at most an hour) and nbf/iat at the current time"
	}
	for _, t := range p.View().Tokens() {
		if t.Field != "client_assertion" {
			continue
		}
		if j := t.JWT(); j != nil {
			var parts []string
			for _, c := range []struct {
				name string
				get  func() (time.Time, bool)
			}{{"iat", j.Iat}, {"nbf", j.Nbf}, {"exp", j.Exp}} {
				if at, ok := c.get(); ok {
					parts = append(parts, c.name+" "+at.Format(time.RFC3339))
				}
			}
			if len(parts) > 0 {
				ev += "; the client_assertion sent has " + strings.Join(parts, ", ")
			}
		}
		break
	}
	if !f.Timings.Start.IsZero() {
		ev += fmt.Sprintf("; the request was made at %s by the clock that timed it (%s from Entra's current time)", f.Timings.Start.UTC().Format(time.RFC3339), signedDur(f.Timings.Start.Sub(cur)))
	}
	p.Report(inspect.Finding{
		Severity: inspect.Error,
		Code:     code,
		Title:    fmt.Sprintf("AADSTS%d: client assertion outside its valid time range", code),
		Evidence: ev,
		Fix:      fix,
	})
	return true
}

// assertionTimes reads the times in AADSTS700024/500133 messages:
// "Current time: T1, assertion valid from T2, expiry time of assertion T3".
func assertionTimes(msg string) (cur, from, exp time.Time) {
	lower := strings.ToLower(msg)
	after := func(label string) time.Time {
		i := strings.Index(lower, label)
		if i < 0 {
			return time.Time{}
		}
		rest := msg[i+len(label):]
		// Only the timestamp right after the label, not a later one.
		if j := strings.IndexAny(rest, ","); j >= 0 {
			rest = rest[:j]
		}
		if t := decode.ParseTimestamp(rest); !t.IsZero() {
			return t
		}
		// .NET's default en-US format, in case a message uses it.
		t, err := time.Parse("1/2/2006 3:04:05 PM", strings.TrimSuffix(strings.TrimSpace(rest), "."))
		if err != nil {
			return time.Time{}
		}
		return t
	}
	return after("current time:"), after("valid from"), after("expiry time of assertion")
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// signedDur renders a duration with its sign: "+10m0s", "-3s".
func signedDur(d time.Duration) string {
	if d >= 0 {
		return "+" + roundDur(d)
	}
	return "-" + roundDur(-d)
}
