package decode

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// Cookie is one Set-Cookie line, decoded. The value itself is not kept:
// session cookies are bearer credentials, and rules need only its size.
type Cookie struct {
	Name     string
	ValueLen int
	// Domain is the Domain attribute, lower-case without its leading dot;
	// "" means a host-only cookie.
	Domain string
	// Path is the Path attribute; "" when absent (the jar then uses the
	// request path's directory).
	Path     string
	Secure   bool
	HttpOnly bool
	// SameSite is "Strict", "Lax" or "None" when the attribute carried one
	// of those (any case), the raw value otherwise, "" when absent (which
	// Chromium treats as Lax).
	SameSite    string
	Partitioned bool
	// Expires is the Expires attribute; zero when absent or unreadable.
	Expires time.Time
	// MaxAge is the Max-Age attribute in seconds when HasMaxAge; it wins
	// over Expires.
	MaxAge    int
	HasMaxAge bool
	// Session reports a cookie with neither Expires nor Max-Age: it lives
	// until the browser closes.
	Session bool
	// Deleted reports a line that removes the cookie: Max-Age ≤ 0, or an
	// Expires in the past (see ParseSetCookieAt).
	Deleted bool
}

// Size is what the cookie costs in a Cookie header and against the
// browsers' 4096-byte per-cookie limit: name, "=" and value.
func (c Cookie) Size() int { return len(c.Name) + 1 + c.ValueLen }

// MaxCookieSize is the per-cookie limit (name plus value) that browsers
// enforce by ignoring larger Set-Cookie lines (RFC 6265 section 6.1 asks
// for at least 4096 bytes; Chromium and Firefox stop there).
const MaxCookieSize = 4096

// RejectReason says why a browser would refuse to store this cookie when
// set by host over a connection that is or is not https, or "" when it
// would store it.
func (c Cookie) RejectReason(host string, https bool) string {
	host = strings.ToLower(hostOnly(host))
	switch {
	case c.Size() > MaxCookieSize:
		return fmt.Sprintf("it is %d bytes, over the %d-byte per-cookie limit browsers enforce", c.Size(), MaxCookieSize)
	case strings.EqualFold(c.SameSite, "None") && !c.Secure:
		return "it says SameSite=None without Secure, which Chromium rejects"
	case c.Secure && !https:
		return "it is Secure but was set over plain http"
	case c.Domain != "" && !domainMatch(host, c.Domain):
		return fmt.Sprintf("its Domain %s does not cover the host %s that set it", c.Domain, host)
	}
	return ""
}

// deletionCutoff stands for "the past" when no clock is given: servers
// delete cookies with an Expires in 1970 or thereabouts, and no live cookie
// expires before 2000.
var deletionCutoff = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseSetCookie decodes one Set-Cookie header value. Deleted is judged
// without a clock: Max-Age ≤ 0, or an Expires before the year 2000 (the
// "1970" idiom servers use to delete). Use ParseSetCookieAt to judge against
// the time of the response.
func ParseSetCookie(line string) (Cookie, error) {
	return ParseSetCookieAt(line, time.Time{})
}

// ParseSetCookieAt decodes one Set-Cookie header value, judging Deleted
// against now (the zero time means the year-2000 cutoff). Unknown
// attributes are ignored and bad attribute values are skipped, as browsers
// do; only a line without a name=value pair is an error.
func ParseSetCookieAt(line string, now time.Time) (Cookie, error) {
	parts := strings.Split(line, ";")
	name, value, ok := strings.Cut(parts[0], "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Cookie{}, errors.New("set-cookie line has no name=value pair")
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) }); i >= 0 {
		return Cookie{}, fmt.Errorf("set-cookie name %q has a forbidden character", name)
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	c := Cookie{Name: name, ValueLen: len(value)}
	for _, attr := range parts[1:] {
		k, v, _ := strings.Cut(attr, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "domain":
			d := strings.ToLower(strings.TrimPrefix(v, "."))
			if d != "" {
				c.Domain = d
			}
		case "path":
			if strings.HasPrefix(v, "/") {
				c.Path = v
			}
		case "secure":
			c.Secure = true
		case "httponly":
			c.HttpOnly = true
		case "partitioned":
			c.Partitioned = true
		case "samesite":
			c.SameSite = v
			for _, s := range []string{"Strict", "Lax", "None"} {
				if strings.EqualFold(v, s) {
					c.SameSite = s
				}
			}
		case "expires":
			if t, ok := parseCookieTime(v); ok {
				c.Expires = t
			}
		case "max-age":
			if n, err := strconv.Atoi(v); err == nil {
				c.MaxAge, c.HasMaxAge = n, true
			}
		}
	}
	c.Session = !c.HasMaxAge && c.Expires.IsZero()
	switch {
	case c.HasMaxAge:
		c.Deleted = c.MaxAge <= 0
	case !c.Expires.IsZero():
		cut := deletionCutoff
		if !now.IsZero() {
			cut = now
		}
		c.Deleted = !c.Expires.After(cut)
	}
	return c, nil
}

// cookieTimeLayouts are the Expires shapes seen in traffic: RFC 1123, the
// Netscape dashes Entra uses ("Wed, 24-Feb-2021 01:41:13 GMT"), two-digit
// years and asctime.
var cookieTimeLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 MST",
	"Mon, 02-Jan-2006 15:04:05 MST",
	"Monday, 02-Jan-06 15:04:05 MST",
	"Mon, 02-Jan-06 15:04:05 MST",
	"Mon, 02 Jan 06 15:04:05 MST",
	"Mon Jan _2 15:04:05 2006",
	"02 Jan 2006 15:04:05 MST",
	"02-Jan-2006 15:04:05 MST",
}

func parseCookieTime(v string) (time.Time, bool) {
	v = strings.Join(strings.Fields(v), " ")
	for _, layout := range cookieTimeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// CookiePair is one name=value pair of a Cookie request header.
type CookiePair struct {
	Name  string
	Value string
}

// Size is the pair's length in the header, without the "; " separator.
func (p CookiePair) Size() int { return len(p.Name) + 1 + len(p.Value) }

// ParseCookieHeader splits a Cookie request header into its pairs, in
// order. A pair without "=" has an empty name and the text as its value, as
// browsers send a nameless cookie; empty pieces and a bare "=" are
// skipped.
func ParseCookieHeader(v string) []CookiePair {
	var out []CookiePair
	for piece := range strings.SplitSeq(v, ";") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		name, value, ok := strings.Cut(piece, "=")
		if !ok {
			out = append(out, CookiePair{Value: piece})
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "" && value == "" {
			continue
		}
		out = append(out, CookiePair{Name: name, Value: value})
	}
	return out
}

// RequestCookies returns the pairs of every Cookie header of a request
// (HTTP/2 clients may split them over several headers).
func RequestCookies(r *flow.Request) []CookiePair {
	if r == nil {
		return nil
	}
	var out []CookiePair
	for _, v := range r.Header.Values("Cookie") {
		out = append(out, ParseCookieHeader(v)...)
	}
	return out
}

// RequestCookie returns the value of the first pair called name (matched
// case-insensitively) in the request's Cookie headers, as a server that
// reads one value per name sees it.
func RequestCookie(r *flow.Request, name string) (string, bool) {
	for _, p := range RequestCookies(r) {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// FlowTime returns when a flow happened: its recorded start, else the
// response's Date header. ok is false when neither is known (hand-written
// fixtures, some sanitized exports).
func FlowTime(f *flow.Flow) (time.Time, bool) {
	if f == nil {
		return time.Time{}, false
	}
	if !f.Timings.Start.IsZero() {
		return f.Timings.Start, true
	}
	return ResponseDate(f)
}

// ResponseDate returns the response's Date header, in UTC: the server's
// clock when it answered. It accepts the three HTTP-date forms RFC 9110
// requires readers to accept, the cookie-date variants parseCookieTime
// knows and a numeric zone; ok is false without a response or a readable
// Date.
func ResponseDate(f *flow.Flow) (time.Time, bool) {
	if f == nil || f.Response == nil {
		return time.Time{}, false
	}
	d := f.Response.Header.Get("Date")
	if d == "" {
		return time.Time{}, false
	}
	if t, ok := parseCookieTime(d); ok {
		return t, true
	}
	if t, err := time.Parse(time.RFC1123Z, strings.TrimSpace(d)); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// knownCookie is one entry of the cookie table.
type knownCookie struct {
	name    string
	prefix  bool // name is a prefix (esctx-xxxx, .AspNetCore.Correlation.xxxx)
	session bool
	purpose string
}

// knownCookies labels Entra ID's cookies (and a few sign-in cookies of
// common app frameworks) in our own words. session marks cookies whose loss
// breaks single sign-on or a sign-in in progress.
var knownCookies = []knownCookie{
	{name: "ESTSAUTH", session: true, purpose: "Entra sign-in session for this browser session (single sign-on)"},
	{name: "ESTSAUTHPERSISTENT", session: true, purpose: "Entra sign-in session kept across browser restarts (\"Stay signed in\")"},
	{name: "ESTSAUTHLIGHT", session: true, purpose: "Entra session ID readable by script, used for front-channel sign-out"},
	{name: "SignInStateCookie", session: true, purpose: "list of services signed in to, used at sign-out"},
	{name: "CCState", session: true, purpose: "session state for Entra's backup authentication service"},
	{name: "x-ms-RefreshTokenCredential", session: true, purpose: "device primary refresh token (PRT) presented by the browser for device SSO"},
	{name: "ESTSSC", session: true, purpose: "legacy Entra session cookie"},
	{name: "esctx", session: true, purpose: "binds a sign-in in progress to this browser (anti-forgery)"},
	{name: "esctx-", prefix: true, session: true, purpose: "binds a sign-in in progress to this browser (anti-forgery)"},
	{name: "estsStateTransient", session: true, purpose: "state of a sign-in in progress (this browser session)"},
	{name: "estsStatePersistent", session: true, purpose: "state of a sign-in in progress (kept across restarts)"},
	{name: "ESTSWCTXFLOWTOKEN", session: true, purpose: "keeps the sign-in flow while the user is at a federated identity provider"},
	{name: "buid", purpose: "browser identifier for Entra telemetry and throttling"},
	{name: "fpc", purpose: "browser fingerprint for Entra tracking and throttling"},
	{name: "x-ms-gateway-slice", purpose: "routes the browser to the same Entra front-end slice"},
	{name: "stsservicecookie", purpose: "Entra gateway tracking"},
	{name: "ESTSUSERLIST", purpose: "accounts offered in Entra's account picker"},
	{name: "ESTSSSOTILES", purpose: "shows account tiles after sign-out"},
	{name: "AADSSOTILES", purpose: "shows account tiles after sign-out"},
	{name: "SSOCOOKIEPULLED", purpose: "stops Entra from fetching the device SSO cookie again (loop guard)"},
	{name: "brcap", purpose: "records whether the device supports touch (set by script)"},
	{name: "clrc", purpose: "client-side record of cookie state (set by script)"},
	{name: "ch", purpose: "hash binding a proof-of-possession cookie"},
	{name: "cltm", purpose: "Entra client telemetry"},
	{name: "CkTst", purpose: "tests whether the browser accepts cookies (set by script)"},
	{name: "wlidperf", purpose: "sign-in page performance telemetry (set by script)"},
	{name: "ESTSNCLOGIN", purpose: "remembers a national-cloud sign-in"},
	{name: "UsGovTraffic", purpose: "routes US Government cloud traffic"},
	{name: "threxp", purpose: "throttling expiry"},
	{name: "rrc", purpose: "B2B invitation redemption state"},
	{name: "MSFPC", purpose: "Microsoft-wide browser identifier"},
	{name: "Ccs", prefix: true, purpose: "routing hint for Entra's cache (CCS)"},
	{name: "ai_session", purpose: "Application Insights telemetry session"},
	{name: ".AspNetCore.Correlation.", prefix: true, session: true, purpose: "ASP.NET Core ties the OIDC callback to the sign-in it started (state check)"},
	{name: ".AspNetCore.OpenIdConnect.Nonce.", prefix: true, session: true, purpose: "ASP.NET Core keeps the OIDC nonce to check the id_token"},
	{name: ".AspNetCore.Cookies", prefix: true, session: true, purpose: "ASP.NET Core app session after sign-in"},
	{name: "OpenIdConnect.nonce.", prefix: true, session: true, purpose: "ASP.NET OWIN keeps the OIDC nonce to check the id_token"},
	{name: "AppServiceAuthSession", session: true, purpose: "App Service Authentication (Easy Auth) session"},
}

// KnownCookie labels a cookie by name: Entra ID's cookies and the sign-in
// cookies of common app frameworks. session reports a cookie whose loss
// breaks single sign-on or a sign-in in progress; ok is false for names it
// does not know. Names match case-insensitively, because Entra's casing
// varies between cookies and over time.
func KnownCookie(name string) (purpose string, session bool, ok bool) {
	for _, k := range knownCookies {
		if k.prefix {
			if len(name) >= len(k.name) && strings.EqualFold(name[:len(k.name)], k.name) {
				return k.purpose, k.session, true
			}
			continue
		}
		if strings.EqualFold(name, k.name) {
			return k.purpose, k.session, true
		}
	}
	return "", false, false
}

// CookieEventKind says what happened to a cookie in a flow.
type CookieEventKind string

// Cookie event kinds.
const (
	// CookieSet: a response set a cookie the jar did not hold.
	CookieSet CookieEventKind = "set"
	// CookieUpdated: a response set a cookie the jar already held.
	CookieUpdated CookieEventKind = "updated"
	// CookieDeleted: a response deleted a cookie (or set it already expired).
	CookieDeleted CookieEventKind = "deleted"
	// CookieSent: a request carried a cookie.
	CookieSent CookieEventKind = "sent"
	// CookieNotSent: a request did not carry a cookie the jar holds for its
	// URL, which a browser would have sent.
	CookieNotSent CookieEventKind = "not-sent"
)

// CookieEvent is one thing the Jar saw happen to a cookie.
type CookieEvent struct {
	Kind CookieEventKind
	// Flow is the index of the flow it happened in.
	Flow int
	// Host is the request's host.
	Host string
	Name string
	// Cookie is the Set-Cookie line for set, updated and deleted, and the
	// jar's record for sent and not-sent (zero for a sent cookie the jar
	// never saw set).
	Cookie Cookie
	// SetBy is the flow that last set the cookie, -1 when unknown.
	SetBy int
	// SetByHost is the host whose response set it.
	SetByHost string
}

// JarCookie is a cookie the Jar holds.
type JarCookie struct {
	Cookie
	// Host is the host whose response set it; a host-only cookie (Domain
	// "") is sent back to that host only.
	Host  string
	SetBy int
	// Path is the effective path: the attribute, or the default path of
	// the request that set it.
	Path string
	// expiry is the absolute time Max-Age or Expires gives; zero for a
	// session cookie.
	expiry time.Time
	seq    int
}

// MaxJarCookies bounds the Jar, as browsers bound theirs (Chromium keeps
// about 3300); the oldest cookies go first.
const MaxJarCookies = 3000

// Jar follows cookies through a sequence of flows the way a browser's
// cookie store would: Set-Cookie lines set, update and delete cookies per
// domain, path and name, and each request is compared with what the jar
// would send to its URL (Domain, Path, Secure and expiry honoured). It
// records what servers asked for, including cookies a browser would refuse
// (see Cookie.RejectReason), so rules can explain why one never came back.
// A Jar is not safe for concurrent use; the zero value is ready.
type Jar struct {
	cookies map[string]*JarCookie
	seq     int
}

// NewJar returns an empty jar.
func NewJar() *Jar { return &Jar{} }

// Len returns how many cookies the jar holds.
func (j *Jar) Len() int { return len(j.cookies) }

// Add feeds one flow to the jar: first its request (sent and not-sent
// events), then its response's Set-Cookie lines (set, updated, deleted).
// Flows must be added in order.
func (j *Jar) Add(f *flow.Flow) []CookieEvent {
	if f == nil || f.Request == nil {
		return nil
	}
	u, err := url.Parse(f.Request.URL)
	if err != nil || u.Host == "" {
		return nil
	}
	at, timed := FlowTime(f)
	if !timed {
		at = time.Time{}
	}
	host := strings.ToLower(u.Hostname())
	var events []CookieEvent
	if f.Request.Header.Has("Cookie") {
		sent := map[string]bool{}
		for _, p := range RequestCookies(f.Request) {
			sent[p.Name] = true
			ev := CookieEvent{Kind: CookieSent, Flow: f.Index, Host: host, Name: p.Name, SetBy: -1}
			if c := j.best(u, p.Name, at); c != nil {
				ev.Cookie, ev.SetBy, ev.SetByHost = c.Cookie, c.SetBy, c.Host
			}
			events = append(events, ev)
		}
		for _, c := range j.Cookies(u, at) {
			if !sent[c.Name] {
				events = append(events, CookieEvent{Kind: CookieNotSent, Flow: f.Index, Host: host, Name: c.Name, Cookie: c.Cookie, SetBy: c.SetBy, SetByHost: c.Host})
			}
		}
	} else {
		// A request without any Cookie header still lets the jar drop what
		// expired, but reports nothing: clients without a jar send none.
		j.expire(at)
	}
	if f.Response == nil {
		return events
	}
	for _, line := range f.Response.Header.Values("Set-Cookie") {
		c, err := ParseSetCookieAt(line, at)
		if err != nil {
			continue
		}
		events = append(events, j.set(f.Index, host, u.Path, c, at))
	}
	return events
}

// set stores, updates or deletes one cookie and returns the event.
func (j *Jar) set(index int, host, reqPath string, c Cookie, at time.Time) CookieEvent {
	if j.cookies == nil {
		j.cookies = map[string]*JarCookie{}
	}
	jc := &JarCookie{Cookie: c, Host: host, SetBy: index, Path: c.Path}
	if jc.Path == "" {
		jc.Path = defaultPath(reqPath)
	}
	switch {
	case c.HasMaxAge && !at.IsZero():
		jc.expiry = at.Add(time.Duration(c.MaxAge) * time.Second)
	case !c.HasMaxAge && !c.Expires.IsZero():
		jc.expiry = c.Expires
	}
	k := jarKey(jc)
	ev := CookieEvent{Flow: index, Host: host, Name: c.Name, Cookie: c, SetBy: index, SetByHost: host}
	old, had := j.cookies[k]
	if c.Deleted {
		ev.Kind = CookieDeleted
		delete(j.cookies, k)
		return ev
	}
	ev.Kind = CookieSet
	if had {
		ev.Kind = CookieUpdated
		jc.seq = old.seq
	} else {
		j.seq++
		jc.seq = j.seq
	}
	j.cookies[k] = jc
	if len(j.cookies) > MaxJarCookies {
		j.evictOldest()
	}
	return ev
}

func (j *Jar) evictOldest() {
	var oldest string
	lowest := -1
	for k, c := range j.cookies {
		if lowest < 0 || c.seq < lowest {
			oldest, lowest = k, c.seq
		}
	}
	delete(j.cookies, oldest)
}

func (j *Jar) expire(at time.Time) {
	if at.IsZero() {
		return
	}
	for k, c := range j.cookies {
		if !c.expiry.IsZero() && !c.expiry.After(at) {
			delete(j.cookies, k)
		}
	}
}

func jarKey(c *JarCookie) string {
	dom := c.Domain
	if dom == "" {
		dom = "host:" + c.Host
	}
	return dom + "\x00" + c.Path + "\x00" + c.Name
}

// Cookies returns the cookies a browser would send to u at time at (zero:
// ignore expiry), most specific path first, and drops expired ones.
func (j *Jar) Cookies(u *url.URL, at time.Time) []JarCookie {
	j.expire(at)
	if u == nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	path := u.Path
	if path == "" {
		path = "/"
	}
	https := strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "wss")
	var out []JarCookie
	for _, c := range j.cookies {
		if c.Secure && !https {
			continue
		}
		if c.Domain == "" {
			if host != c.Host {
				continue
			}
		} else if !domainMatch(host, c.Domain) {
			continue
		}
		if !pathMatch(path, c.Path) {
			continue
		}
		out = append(out, *c)
	}
	// Longer paths first, then older cookies first (RFC 6265 section 5.4).
	for i := 1; i < len(out); i++ {
		for k := i; k > 0 && cookieBefore(out[k], out[k-1]); k-- {
			out[k], out[k-1] = out[k-1], out[k]
		}
	}
	return out
}

func cookieBefore(a, b JarCookie) bool {
	if len(a.Path) != len(b.Path) {
		return len(a.Path) > len(b.Path)
	}
	return a.seq < b.seq
}

// best returns the jar's cookie named name that u would get, or nil.
func (j *Jar) best(u *url.URL, name string, at time.Time) *JarCookie {
	for _, c := range j.Cookies(u, at) {
		if c.Name == name {
			return &c
		}
	}
	return nil
}

// domainMatch is RFC 6265's domain-match: host equals domain or ends with
// "."+domain, and is not an IP address.
func domainMatch(host, domain string) bool {
	host, domain = strings.ToLower(host), strings.ToLower(strings.TrimPrefix(domain, "."))
	if host == domain {
		return true
	}
	if net.ParseIP(host) != nil {
		return false
	}
	return strings.HasSuffix(host, "."+domain)
}

// pathMatch is RFC 6265's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if strings.HasPrefix(reqPath, cookiePath) {
		return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
	}
	return false
}

// defaultPath is RFC 6265's default-path: the request path up to, not
// including, its last "/", or "/".
func defaultPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// hostOnly strips a port from host.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
