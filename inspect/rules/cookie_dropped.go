package rules

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// CookieDropped reports a session cookie that a host set and the client
// did not send back.
var CookieDropped = &inspect.Rule{
	ID:    "cookie-dropped",
	Title: "Session cookie set by a host was not sent back",
	Doc: `Follows cookies through the trace the way a browser's cookie store would
(Set-Cookie sets, updates and deletes them per domain, path and name;
Domain, Path, Secure and expiry decide where they go back) and reports a
session cookie that a later request to the same host should have carried
but did not, while it did carry that host's other cookies. That is how
third-party cookie blocking, SameSite rules and rejected cookies look on
the wire: ESTSAUTH missing in a silent prompt=none iframe, an app's
correlation or nonce cookie missing on the cross-site form_post to its
callback, a SameSite=None cookie without Secure that was never stored. The
evidence says which flow set the cookie, with what attributes, and the
likely reason; one finding per cookie and host, with the later misses as
related flows. Session cookies are Entra's SSO and sign-in cookies, the
sign-in cookies of common app frameworks, and unknown cookies whose name
says session, auth, token, state, nonce or correlation.

A browser also keeps cookies back on purpose, and ordinary browsing is
full of it: SameSite=Lax and Strict cookies stay off cross-site
subresources, and Strict ones off cross-site navigations too (sites keep
a Strict twin of their session cookie for that); a Partitioned cookie
goes only to requests under the top-level site it was set in;
third-party contexts go without; sites' scripts delete their own
cookies. So a miss that the cookie's own SameSite explains is reported
only on an app's sign-in callback (a request carrying code, id_token,
state, error or a SAML response) that the app then refused (an error
status, or a redirect to an error or back to sign-in); a miss explained
by a third-party context, or by nothing visible, only on identity
traffic; a partitioned cookie outside its partition never; a cookie the
browser refused to store, always.

Requests without any Cookie header are not evidence: curl, MSAL token
calls and credential-less CORS fetches have no cookie store, and the
Set-Cookie answers to such fetches are not stored by browsers either.
Clients are told apart by User-Agent. A trace with no Cookie and no
Set-Cookie header at all, though Entra answered an authorize request in
it, was exported sanitized; the rule then says once, as info, that the
cookie rules cannot run. A miss is reported on the flow that should have
carried the cookie, as soon as it completes (the "no cookies" note waits for
the end of the trace).

Bad trace: POST https://app.contoso.test/signin-oidc (form_post from
login.microsoftonline.com, Sec-Fetch-Site: cross-site) carries ai_user but
not .AspNetCore.Correlation.x, which flow 3 set with SameSite=Lax.`,
	Severity: inspect.Warning,
	AnyFlow:  true,
	Run:      runCookieDropped,
	Finish:   finishCookieDropped,
}

// cookieClients is the cookie-dropped rule's memory: one jar per client
// (User-Agent), fed every flow of that client as it arrives, so a request
// is judged against what the client was told to store without replaying
// its earlier flows. At most maxCookieClients are kept; the one used least
// recently goes first.
type cookieClients struct {
	byUA map[string]*cookieClient
	seq  int
}

type cookieClient struct {
	jar    *decode.Jar
	missed map[droppedKey]bool // misses reported (or judged) once already
	used   int
}

const (
	maxCookieClients   = 64
	maxMissedPerClient = 4096
)

// cookieClientsKey keys the rule's state in the history.
type cookieClientsKey struct{}

func (cs *cookieClients) client(ua string) *cookieClient {
	cs.seq++
	c := cs.byUA[ua]
	if c == nil {
		if len(cs.byUA) == maxCookieClients {
			oldest, first := "", true
			for k, v := range cs.byUA {
				if first || v.used < cs.byUA[oldest].used {
					oldest, first = k, false
				}
			}
			delete(cs.byUA, oldest)
		}
		c = &cookieClient{jar: decode.NewJar(), missed: map[droppedKey]bool{}}
		cs.byUA[ua] = c
	}
	c.used = cs.seq
	return c
}

// runCookieDropped feeds the flow to its client's cookie jar: a session
// cookie the jar says should have gone with this request, and did not, is
// reported here, once per client, host and cookie.
func runCookieDropped(p *inspect.Pass) error {
	f := p.Flow
	if f == nil || f.Request == nil {
		return nil
	}
	sends, sets := f.Request.Header.Has("Cookie"), f.Response != nil && f.Response.Header.Has("Set-Cookie")
	if !sends && !sets {
		return nil // nothing for the jar: a request without cookies is no evidence
	}
	ua := f.Request.Header.Get("User-Agent")
	cs := p.History.State(cookieClientsKey{}, func() any { return &cookieClients{byUA: map[string]*cookieClient{}} }).(*cookieClients)
	c := cs.client(ua)
	for _, ev := range c.jar.Add(storableFlow(f)) {
		k := droppedKey{ua, ev.Host, ev.Name}
		if ev.Kind != decode.CookieNotSent || !sessionLikeCookie(ev.Name) || c.missed[k] {
			continue
		}
		why, ok := judgeDropped(p.History, p.View(), ev)
		if !ok {
			continue
		}
		if len(c.missed) == maxMissedPerClient {
			clear(c.missed) // a day of browsing: say old misses again rather than grow
		}
		c.missed[k] = true
		p.Report(droppedFinding(p.History, f, ev, why))
	}
	return nil
}

// Kinds of reason a browser kept a cookie back (see droppedReason).
const (
	// dropRefused: the browser most likely never stored it.
	dropRefused = iota
	// dropSameSite: the cookie's own SameSite attribute keeps it off this
	// request; the server asked for exactly that.
	dropSameSite
	// dropContext: the request or the cookie's setting ran in a
	// cross-site context where browsers block or partition cookies.
	dropContext
	// dropUnexplained: nothing on the wire explains it.
	dropUnexplained
)

// droppedWhy is the likeliest reason for a miss and its fix.
type droppedWhy struct {
	kind        int
	reason, fix string
}

// judgeDropped decides whether a miss is evidence of a problem. A browser
// keeps cookies back on purpose in ordinary browsing: a SameSite=Lax or
// Strict cookie stays off cross-site subresources and (Strict) cross-site
// navigations — sites rely on it, GitHub's __Host-user_session_same_site
// twin for one — a partitioned cookie stays in the top-level site it was
// set under, third-party contexts go without, and sites' scripts delete
// their own cookies. So only a cookie the browser refused to store is
// always reported; one its own SameSite keeps back only on a sign-in
// callback the app then refused (form_post without the correlation
// cookie); one kept back by the context, or for no visible reason, only on
// identity traffic (a silent authorize in a hidden iframe without
// ESTSAUTH).
func judgeDropped(h *inspect.History, v *inspect.View, ev decode.CookieEvent) (droppedWhy, bool) {
	if inOtherPartition(h, v.Flow, ev) {
		return droppedWhy{}, false
	}
	why := droppedReason(h, v.Flow, ev)
	switch why.kind {
	case dropSameSite:
		return why, refusedCallback(v)
	case dropContext, dropUnexplained:
		return why, v.Identity()
	}
	return why, true
}

// inOtherPartition reports a Partitioned (CHIPS) cookie that the request
// could not get: browsers keep such a cookie under the top-level site it
// was set in, so it goes only to requests made under that same top-level
// site.
func inOtherPartition(h *inspect.History, f *flow.Flow, ev decode.CookieEvent) bool {
	if !ev.Cookie.Partitioned || ev.SetBy < 0 {
		return false
	}
	setter := h.Flow(ev.SetBy)
	if setter == nil || setter.Flow.Request == nil {
		return false
	}
	a, b := topLevelSite(setter.Flow), topLevelSite(f)
	return a != "" && b != "" && a != b
}

// topLevelSite approximates the site of the top-level page a request was
// made under: its own site unless it is cross-site, then the site of the
// page that made it (Origin, else Referer).
func topLevelSite(f *flow.Flow) string {
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return ""
	}
	site, _, _ := requestContext(f)
	if site != "cross-site" {
		return siteOf(u.Hostname())
	}
	from := f.Request.Header.Get("Origin")
	if from == "" || from == "null" {
		from = f.Request.Header.Get("Referer")
	}
	if fu, err := url.Parse(from); err == nil && fu.Host != "" {
		return siteOf(fu.Hostname())
	}
	return ""
}

// refusedCallback reports a request that delivers a sign-in answer to the
// app (code, id_token, state, error or a SAML response in its query or
// form) and that the app did not accept: an error status, no answer, or a
// redirect to an error or back to sign-in.
func refusedCallback(v *inspect.View) bool {
	params := v.OAuth()
	if params.Endpoint != decode.EndpointOther {
		return false
	}
	if params.Code == "" && params.State == "" && !params.Has("id_token") && !params.Has("error") && !params.Has("SAMLResponse") {
		return false
	}
	f := v.Flow
	switch st := f.Status(); {
	case st == 0 || st >= 400:
		return true
	case st >= 300 && st < 400:
		loc := strings.ToLower(f.Response.Header.Get("Location"))
		return strings.Contains(loc, "error") || strings.Contains(loc, "/authorize")
	}
	return false
}

// droppedKey is one cookie of one host as seen by one client.
type droppedKey struct{ ua, host, name string }

// finishCookieDropped says, once at the end, when the trace carries no
// cookies at all although Entra answered an authorize request in it: a
// sanitized export, which the cookie rules cannot judge.
func finishCookieDropped(p *inspect.Pass) error {
	h := p.History
	if h == nil || h.Len() == 0 {
		return nil
	}
	authorize := -1
	for i := range h.Len() {
		f := h.At(i).Flow
		if f == nil || f.Request == nil {
			continue
		}
		if f.Request.Header.Has("Cookie") || (f.Response != nil && f.Response.Header.Has("Set-Cookie")) {
			return nil
		}
		if authorize < 0 && f.Response != nil && oauthLooksAuthorize(f) && h.At(i).OAuth().Endpoint.IsAuthorize() {
			authorize = f.Index
		}
	}
	if authorize >= 0 {
		p.ReportAt(h.At(0).Flow.Index, inspect.Finding{
			Severity: inspect.Info,
			Title:    "Cookie rules disabled: the trace carries no cookies",
			Evidence: fmt.Sprintf("no request in the trace carries a Cookie header and no response a Set-Cookie header, although Entra answered the authorize request of flow %d (it sets cookies on every sign-in page): the trace was probably exported sanitized, so cookie-dropped and cookie-oversize cannot judge it", authorize),
			Fix:      "Export the HAR again with cookies included (not the sanitized export), or record the sign-in through aadproxy",
		})
	}
	return nil
}

// storableFlow returns f without the Set-Cookie lines a browser ignores: a
// response to a request that sent no cookies and was a CORS fetch (an
// Origin header, not a navigation) is answered to a credential-less fetch,
// whose cookies the browser does not store.
func storableFlow(f *flow.Flow) *flow.Flow {
	if f.Response == nil || f.Request.Header.Has("Cookie") || !f.Response.Header.Has("Set-Cookie") {
		return f
	}
	req := f.Request.Header
	mode := strings.ToLower(req.Get("Sec-Fetch-Mode"))
	cors := mode == "cors" || (mode == "" && req.Has("Origin") && !strings.EqualFold(f.Request.Method, "GET") && !isFormNavigation(f.Request))
	if !cors {
		return f
	}
	c := *f
	resp := *f.Response
	resp.Header = nil
	for _, hd := range f.Response.Header {
		if !strings.EqualFold(hd.Name, "Set-Cookie") {
			resp.Header = append(resp.Header, hd)
		}
	}
	c.Response = &resp
	return &c
}

// isFormNavigation recognises a form POST navigation (form_post) when the
// client sent no Sec-Fetch headers.
func isFormNavigation(r *flow.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/html")
}

// sessionLikeCookie says whether losing a cookie matters for sign-in.
func sessionLikeCookie(name string) bool {
	if _, session, ok := decode.KnownCookie(name); ok {
		return session
	}
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "arraffinity") {
		return false // App Service sends a SameSite twin on purpose
	}
	for _, w := range []string{"sess", "auth", "sid", "token", "correlation", "nonce", "state", "login", "oidc", "saml"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// droppedFinding describes the first time a cookie was not sent back.
func droppedFinding(h *inspect.History, f *flow.Flow, ev decode.CookieEvent, why droppedWhy) inspect.Finding {
	c := ev.Cookie
	others := len(decode.RequestCookies(f.Request))
	purpose := "a session cookie"
	if pur, _, ok := decode.KnownCookie(ev.Name); ok {
		purpose = pur
	}
	reason, fix := why.reason, why.fix
	related := []int{}
	if ev.SetBy >= 0 && ev.SetBy != f.Index {
		related = append(related, ev.SetBy)
	}
	return inspect.Finding{
		Flow:  f.Index,
		Title: fmt.Sprintf("Cookie %s set by %s was not sent back", ev.Name, ev.SetByHost),
		Evidence: fmt.Sprintf("flow %d's %s request to %s carries %d other cookie(s) but not %s (%s), which flow %d set with %s; %s",
			f.Index, f.Request.Method, trimQuery(f.Request.URL), others, ev.Name, purpose, ev.SetBy, cookieAttrs(c), reason),
		Fix:     fix,
		Related: related,
	}
}

// cookieAttrs renders the attributes that decide where a cookie goes.
func cookieAttrs(c decode.Cookie) string {
	var parts []string
	if c.Domain != "" {
		parts = append(parts, "Domain="+c.Domain)
	} else {
		parts = append(parts, "host-only")
	}
	if c.Path != "" {
		parts = append(parts, "Path="+c.Path)
	}
	if c.SameSite != "" {
		parts = append(parts, "SameSite="+c.SameSite)
	} else {
		parts = append(parts, "no SameSite (Lax in Chromium)")
	}
	if c.Secure {
		parts = append(parts, "Secure")
	}
	if c.HttpOnly {
		parts = append(parts, "HttpOnly")
	}
	if c.Partitioned {
		parts = append(parts, "Partitioned")
	}
	if c.Session {
		parts = append(parts, "session lifetime")
	}
	parts = append(parts, fmt.Sprintf("%d bytes", c.Size()))
	return strings.Join(parts, ", ")
}

// droppedReason names the likeliest reason a browser kept a cookie back.
func droppedReason(h *inspect.History, f *flow.Flow, ev decode.CookieEvent) droppedWhy {
	c := ev.Cookie
	https := true
	var setter *flow.Flow
	if ev.SetBy >= 0 {
		if v := h.Flow(ev.SetBy); v != nil && v.Flow.Request != nil {
			setter = v.Flow
			https = strings.HasPrefix(strings.ToLower(v.Flow.Request.URL), "https:")
		}
	}
	if r := c.RejectReason(ev.SetByHost, https); r != "" {
		return droppedWhy{dropRefused, "the browser most likely refused to store it: " + r,
			fmt.Sprintf("Fix how %s sets %s so browsers store it (Secure with SameSite=None, over https, under %d bytes, a Domain that covers the host)", ev.SetByHost, ev.Name, decode.MaxCookieSize)}
	}
	if setter != nil {
		if site, dest, _ := requestContext(setter); site == "cross-site" && (dest == "iframe" || dest == "frame") {
			return droppedWhy{dropContext, fmt.Sprintf("flow %d set it inside a cross-site frame, where browsers that block third-party cookies do not store it (or keep it partitioned to that frame's top-level site)", ev.SetBy),
				"Set the cookie in a top-level navigation (a redirect, not a hidden iframe), or mark it Partitioned if it is only needed inside that frame"}
		}
	}
	site, dest, mode := requestContext(f)
	cross := site == "cross-site"
	switch {
	case cross && c.SameSite == "Strict":
		return droppedWhy{dropSameSite, "the request is cross-site and SameSite=Strict cookies never go on cross-site requests",
			fmt.Sprintf("Set %s with SameSite=None; Secure if it must survive the return from Entra", ev.Name)}
	case cross && (c.SameSite == "Lax" || c.SameSite == "") && !(mode == "navigate" && strings.EqualFold(f.Request.Method, "GET")):
		return droppedWhy{dropSameSite, fmt.Sprintf("the request is a cross-site %s %s and SameSite=Lax cookies go cross-site only on top-level GET navigations (a form_post return is a POST)", f.Request.Method, orWord(dest, "request")),
			fmt.Sprintf("Set %s with SameSite=None; Secure, or use response_mode=query so the return is a GET", ev.Name)}
	case cross && (dest == "iframe" || dest == "frame" || mode == "cors" || mode == "no-cors"):
		return droppedWhy{dropContext, fmt.Sprintf("the request is a cross-site %s, where third-party cookie blocking (Safari, Firefox, Chrome with third-party cookies off) withholds cookies even with SameSite=None", orWord(dest, mode)),
			"Avoid depending on third-party cookies: use a top-level redirect (or MSAL's redirect APIs) instead of a hidden iframe, or the browser's Storage Access API"}
	}
	return droppedWhy{dropUnexplained, "nothing in its attributes or the request explains it, so something removed it on the client (script, the user, an extension, a different browser profile with the same User-Agent)",
		fmt.Sprintf("Find what removes %s on the client between flow %d and flow %d", ev.Name, ev.SetBy, f.Index)}
}

// requestContext returns the Fetch Metadata of a request; without those
// headers the site is judged from Origin or Referer against the host.
func requestContext(f *flow.Flow) (site, dest, mode string) {
	hd := f.Request.Header
	site = strings.ToLower(hd.Get("Sec-Fetch-Site"))
	dest = strings.ToLower(hd.Get("Sec-Fetch-Dest"))
	mode = strings.ToLower(hd.Get("Sec-Fetch-Mode"))
	if site != "" {
		return site, dest, mode
	}
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return "", dest, mode
	}
	from := hd.Get("Origin")
	if from == "" || from == "null" {
		from = hd.Get("Referer")
	}
	if fu, err := url.Parse(from); err == nil && fu.Host != "" {
		if siteOf(fu.Hostname()) != siteOf(u.Hostname()) {
			site = "cross-site"
		} else {
			site = "same-site"
		}
	}
	return site, dest, mode
}

// siteOf approximates a host's site (registrable domain) by its last two
// labels; good enough to tell login.microsoftonline.com from
// app.contoso.test without a public-suffix list.
func siteOf(host string) string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(host, ".")), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

func orWord(s, alt string) string {
	if s == "" || s == "empty" {
		return alt
	}
	return s
}
