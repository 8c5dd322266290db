package rules

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Cookie size thresholds. Entra's front end, like IIS/HTTP.sys behind many
// apps, refuses requests whose header block grows past roughly 16 KiB with
// a 400 ("Request Header Or Cookie Too Large", "The size of the request
// headers is too long") or 431; the exact limit is not documented, so the
// rule warns from that size on.
const (
	// HeaderLimitWarnBytes is the size of the Cookie header, or of all
	// request headers, from which cookie-oversize warns.
	HeaderLimitWarnBytes = 16 << 10
	// oversizeMinCookie is how big the Cookie header must be before a 400
	// about header size is blamed on cookies.
	oversizeMinCookie = 4 << 10
	// cookieFamilyMin is how many cookies of one family (same name but a
	// random suffix) count as a pile-up worth naming.
	cookieFamilyMin = 3
)

// CookieOversize reports requests whose cookies approach or break the
// header size limits.
var CookieOversize = &inspect.Rule{
	ID:    "cookie-oversize",
	Title: "Cookie header near or over the request header size limit",
	Doc: fmt.Sprintf(`Servers cap the size of request headers: Entra's front end, IIS and
HTTP.sys (which many apps run behind), nginx and proxies answer 400
("Request Header Or Cookie Too Large", "The size of the request headers is
too long") or 431 when the headers grow past their limit. Cookies are what
grows: chunked session cookies holding tokens (.AspNetCore.CookiesC1…Cn),
and nonce and correlation cookies that pile up, one per sign-in that never
completed. The rule warns when a request's Cookie header or its header
block reaches %d bytes (HeaderLimitWarnBytes, about Entra's limit), and
reports an error when the server answered 400 or 431 about header size. It
names the biggest cookies and the piles of same-named cookies; when another
header is the biggest (an Authorization header carrying a token with
hundreds of group claims), it names the largest headers and their sizes
instead. One finding per run of oversized requests to a host from one
client, not one per request.

Bad trace: GET https://app.contoso.test/ with a 19 KiB Cookie header
(.AspNetCore.CookiesC1…C4 and 14 OpenIdConnect.nonce.* cookies) → 400
Bad Request "The size of the request headers is too long".`, HeaderLimitWarnBytes),
	Severity: inspect.Warning,
	AnyFlow:  true,
	Run:      runCookieOversize,
}

// headerTooLarge are the phrases of a 400 about header size.
var headerTooLarge = []string{
	"request header or cookie too large",
	"size of the request headers is too long",
	"request header too long",
	"request too long",
	"header fields too large",
	"headers too large",
}

// oversizeLookback bounds the search for the previous request to a host.
const oversizeLookback = 500

func runCookieOversize(p *inspect.Pass) error {
	req := p.Flow.Request
	if req == nil {
		return nil
	}
	cookieBytes, headerBytes := requestSizes(req)
	largest := largestHeaders(req)
	// Another header is to blame when it outweighs the cookies.
	other := len(largest) > 0 && !strings.EqualFold(largest[0].name, "Cookie") && largest[0].bytes > cookieBytes
	refused := headerRefusal(p.Flow)
	if refused != "" && cookieBytes < oversizeMinCookie && !(other && largest[0].bytes >= oversizeMinCookie) {
		refused = ""
	}
	over := cookieBytes >= HeaderLimitWarnBytes || headerBytes >= HeaderLimitWarnBytes
	if refused == "" && !over {
		return nil
	}
	if refused == "" && previousOversized(p) {
		return nil // the same run of oversized requests, already reported
	}
	if other {
		reportOversizedHeader(p, largest, headerBytes, refused)
		return nil
	}
	pairs := decode.RequestCookies(req)
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d's %s request to %s sends a %d-byte Cookie header (%d cookies) in %d bytes of headers",
		p.Flow.Index, req.Method, hostOf(req.URL), cookieBytes, len(pairs), headerBytes)
	if refused != "" {
		fmt.Fprintf(&b, "; the server answered HTTP %d %q", p.Flow.Status(), refused)
	} else {
		fmt.Fprintf(&b, "; servers refuse header blocks past about %d bytes (400 or 431)", HeaderLimitWarnBytes)
	}
	if big := biggestCookies(pairs, 3); big != "" {
		fmt.Fprintf(&b, "; biggest: %s", big)
	}
	fams := cookieFamilies(pairs)
	if len(fams) > 0 {
		fmt.Fprintf(&b, "; piled up: %s", strings.Join(fams, ", "))
	}
	fix := "Shrink the cookies: keep tokens in a server-side session store instead of the cookie, and drop cookies the app no longer needs"
	if len(fams) > 0 {
		fix = "Clear the piled-up cookies and stop them accumulating (delete nonce and correlation cookies when a sign-in completes or fails); keep tokens out of the session cookie"
	}
	f := inspect.Finding{Title: "Cookie header near or over the request header size limit", Evidence: b.String(), Fix: fix}
	if refused != "" {
		f.Severity = inspect.Error
		f.Title = "Request refused because its headers are too large"
	}
	p.Report(f)
	return nil
}

// reportOversizedHeader reports a request whose header block is too large
// because of a header other than Cookie, naming the largest ones.
func reportOversizedHeader(p *inspect.Pass, largest []headerSize, headerBytes int, refused string) {
	req := p.Flow.Request
	var b strings.Builder
	fmt.Fprintf(&b, "flow %d's %s request to %s sends %d bytes of headers; the largest: ", p.Flow.Index, req.Method, hostOf(req.URL), headerBytes)
	n := min(len(largest), 3)
	for i, h := range largest[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d bytes", h.name, h.bytes)
		if h.lines > 1 {
			fmt.Fprintf(&b, " in %d lines", h.lines)
		}
		b.WriteString(")")
	}
	cookie := slices.IndexFunc(largest, func(h headerSize) bool { return strings.EqualFold(h.name, "Cookie") })
	switch {
	case cookie < 0:
		b.WriteString("; no Cookie header")
	case cookie >= n:
		fmt.Fprintf(&b, "; Cookie (%d bytes)", largest[cookie].bytes)
	}
	if refused != "" {
		fmt.Fprintf(&b, "; the server answered HTTP %d %q", p.Flow.Status(), refused)
	} else {
		fmt.Fprintf(&b, "; servers refuse header blocks past about %d bytes (400 or 431)", HeaderLimitWarnBytes)
	}
	name := largest[0].name
	fix := fmt.Sprintf("Shrink the %s header, or stop sending it: servers refuse a header block this large", name)
	if strings.EqualFold(name, "Authorization") {
		fix = "Shrink the token in the Authorization header: request it for fewer scopes, and let Entra send a groups overage claim (or app roles) instead of every group the user is in"
	}
	f := inspect.Finding{Title: "Request headers near or over the size limit", Evidence: b.String(), Fix: fix}
	if refused != "" {
		f.Severity = inspect.Error
		f.Title = "Request refused because its headers are too large"
	}
	p.Report(f)
}

// headerSize is the bytes one header name takes on the wire, over all its
// lines.
type headerSize struct {
	name         string
	bytes, lines int
}

// largestHeaders returns the request's headers by name (first casing seen),
// largest first.
func largestHeaders(r *flow.Request) []headerSize {
	var out []headerSize
	idx := map[string]int{}
	for _, h := range r.Header {
		k := strings.ToLower(h.Name)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, headerSize{name: h.Name})
		}
		out[i].bytes += len(h.Name) + 2 + len(h.Value) + 2
		out[i].lines++
	}
	slices.SortStableFunc(out, func(a, b headerSize) int { return b.bytes - a.bytes })
	return out
}

// requestSizes returns the bytes of the Cookie header(s) and of the whole
// header block (request line included), as sent on HTTP/1.1.
func requestSizes(r *flow.Request) (cookie, total int) {
	total = len(r.Method) + 1 + len(r.URL) + 1 + len(r.Proto) + 2
	vals := 0
	for _, h := range r.Header {
		total += len(h.Name) + 2 + len(h.Value) + 2
		if strings.EqualFold(h.Name, "Cookie") {
			if vals > 0 {
				cookie += 2 // joined with "; "
			}
			cookie += len(h.Value)
			vals++
		}
	}
	return cookie, total
}

// headerRefusal returns the phrase of a 400/431 answer about header size,
// or "".
func headerRefusal(f *flow.Flow) string {
	st := f.Status()
	if st == 431 {
		return "Request Header Fields Too Large"
	}
	if st != 400 {
		return ""
	}
	body, err := f.Response.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = f.Response.Body.Raw
	}
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	low := bytes.ToLower(append([]byte(f.Response.Reason+" "), body...))
	for _, m := range headerTooLarge {
		if i := bytes.Index(low, []byte(m)); i >= 0 {
			return m
		}
	}
	return ""
}

// previousOversized reports whether the previous request from the same
// client to the same host was oversized too.
func previousOversized(p *inspect.Pass) bool {
	host := hostOf(p.Flow.Request.URL)
	ua := p.Flow.Request.Header.Get("User-Agent")
	for v := range recentViews(p.History, oversizeLookback) {
		r := v.Flow.Request
		if r == nil || hostOf(r.URL) != host || r.Header.Get("User-Agent") != ua {
			continue
		}
		c, t := requestSizes(r)
		return c >= HeaderLimitWarnBytes || t >= HeaderLimitWarnBytes
	}
	return false
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// biggestCookies names the n largest cookies with their sizes.
func biggestCookies(pairs []decode.CookiePair, n int) string {
	s := slices.Clone(pairs)
	slices.SortStableFunc(s, func(a, b decode.CookiePair) int { return b.Size() - a.Size() })
	if len(s) > n {
		s = s[:n]
	}
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = fmt.Sprintf("%s (%d bytes)", c.Name, c.Size())
	}
	return strings.Join(parts, ", ")
}

// cookieFamilies finds cookies that share a name up to a random or
// numbered suffix (OpenIdConnect.nonce.<random>, .AspNetCore.CookiesC<n>)
// and names each family with at least cookieFamilyMin members.
func cookieFamilies(pairs []decode.CookiePair) []string {
	type fam struct {
		count, bytes int
	}
	fams := map[string]*fam{}
	var order []string
	for _, c := range pairs {
		k := familyOf(c.Name)
		if k == "" {
			continue
		}
		if fams[k] == nil {
			fams[k] = &fam{}
			order = append(order, k)
		}
		fams[k].count++
		fams[k].bytes += c.Size()
	}
	var out []string
	for _, k := range order {
		if f := fams[k]; f.count >= cookieFamilyMin {
			out = append(out, fmt.Sprintf("%d cookies named %s (%d bytes)", f.count, k, f.bytes))
		}
	}
	return out
}

// familyOf returns a cookie's family pattern, or "" when its name has no
// variable suffix: a part of ten or more characters after the last "." (or
// the first "-" in a name without dots), as in OpenIdConnect.nonce.<random>
// and esctx-<random>, or a short number, as in the chunks
// .AspNetCore.CookiesC1…Cn.
func familyOf(name string) string {
	// Random suffixes are base64url and may hold "-" but not ".": split at
	// the last dot, or else at the first dash.
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		i = strings.IndexByte(name, '-')
	}
	if i > 0 && len(name)-i-1 >= 10 {
		return name[:i+1] + "*"
	}
	trimmed := strings.TrimRight(name, "0123456789")
	if trimmed != name && trimmed != "" && len(name)-len(trimmed) <= 3 {
		return trimmed + "<n>"
	}
	return ""
}
