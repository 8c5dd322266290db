package fakests

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
)

// baseConfig is the part of $Config every ESTS page has.
func (s *Server) baseConfig(rq *reqInfo, pgid string) map[string]any {
	return map[string]any{
		"pgid":          pgid,
		"correlationId": rq.correlationID,
		"sessionId":     rq.traceID,
		"country":       "US",
		"serverDetails": map[string]any{
			"dc":  "NEULR1",
			"ri":  "DB3XXXX",
			"ver": map[string]any{"v": []int{2, 1, 19005, 9}},
			"rt":  rq.now.UTC().Format("2006-01-02T15:04:05"),
			"et":  0,
		},
	}
}

// writePage renders an ESTS HTML page: $Config in a CDATA script block,
// Entra's page headers, gzip when the client accepts it, HTTP 200.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, rq *reqInfo, cfg map[string]any, body string) {
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pgid, _ := cfg["pgid"].(string)
	page := fmt.Sprintf(pageTemplate, html.EscapeString(pgid), cfgJSON, body)

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Vary", "Accept-Encoding")
	h.Add("Link", "<https://aadcdn.msauth.net>; rel=preconnect; crossorigin")
	h.Add("Link", "<https://aadcdn.msauth.net>; rel=dns-prefetch")
	h.Add("Link", "<https://aadcdn.msftauth.net>; rel=dns-prefetch")
	setRaw(h, "X-DNS-Prefetch-Control", "on")
	s.setTrackingCookies(w, r, rq)
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		gz := gzip.NewWriter(w)
		_, _ = gz.Write([]byte(page))
		_ = gz.Close()
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(page))
}

// pageTemplate is the skeleton of ESTS pages: PageID meta, then $Config
// inside //<![CDATA[ … //]]> where tools look for it.
const pageTemplate = `<!DOCTYPE html>
<html dir="ltr" class="" lang="en">
<head>
    <title>Sign in to your account</title>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
    <meta http-equiv="X-UA-Compatible" content="IE=edge">
    <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=2.0, user-scalable=yes">
    <meta http-equiv="Pragma" content="no-cache">
    <meta http-equiv="Expires" content="-1">
    <meta name="PageID" content="%s" />
    <meta name="SiteID" content="" />
    <meta name="ReqLC" content="1033" />
    <meta name="LocLC" content="en-US" />
    <meta name="robots" content="none" />
<script type="text/javascript">//<![CDATA[
$Config=%s;
//]]></script>
</head>
<body>
%s
</body>
</html>
`

// errorPageBody is the visible part of the error page, with the
// "Troubleshooting details" panel users copy into tickets.
func errorPageBody(e *stsError, rq *reqInfo) string {
	return fmt.Sprintf(`<div id="errorPage">
<h1>Sign in</h1>
<div id="errorMessage">Sign-in could not be completed.</div>
<div id="errorDescription">AADSTS%d: %s</div>
<div id="debugDetails">
<h2>Troubleshooting details</h2>
<div>Request Id: %s</div>
<div>Correlation Id: %s</div>
<div>Timestamp: %s</div>
<div>Message: AADSTS%d: %s</div>
</div>
</div>`, e.Code, html.EscapeString(e.Message), rq.traceID, rq.correlationID, htmlTimestamp(rq.now), e.Code, html.EscapeString(e.Message))
}

// signInForm is the visible sign-in form. Real ESTS collects the username
// and password on two JS-driven panes; one plain form posting the same field
// names (and the same element ids, which browser automation targets) keeps
// the fake usable without JavaScript.
func signInForm(urlPost, loginHint, ctx, flowToken, canary, hpgrequestid, errText string) string {
	var errDiv string
	if errText != "" {
		errDiv = `<div id="passwordError" role="alert">` + html.EscapeString(errText) + `</div>`
	}
	return fmt.Sprintf(`<form name="f1" id="i0281" novalidate="novalidate" spellcheck="false" method="post" target="_top" autocomplete="off" action="%s">
<div role="heading" id="loginHeader">Sign in</div>
%s
<input type="email" name="loginfmt" id="i0116" maxlength="113" autocomplete="username" value="%s" placeholder="Email, phone, or Skype">
<input name="passwd" type="password" id="i0118" autocomplete="current-password" placeholder="Password">
<input type="hidden" name="ctx" value="%s">
<input type="hidden" name="hpgrequestid" value="%s">
<input type="hidden" name="flowToken" value="%s">
<input type="hidden" name="canary" value="%s">
<input type="hidden" name="i13" value="0">
<input type="hidden" name="type" value="11">
<input type="submit" id="idSIButton9" value="Sign in">
</form>`, html.EscapeString(urlPost), errDiv, html.EscapeString(loginHint), html.EscapeString(ctx),
		html.EscapeString(hpgrequestid), html.EscapeString(flowToken), html.EscapeString(canary))
}

// kmsiForm is the visible "Stay signed in?" page: Yes posts
// LoginOptions=1, No posts 3, with the element ids of the real page.
func kmsiForm(ctx, flowToken, canary, hpgrequestid string) string {
	return fmt.Sprintf(`<form name="f1" id="i0281" method="post" target="_top" action="/kmsi">
<div role="heading" id="kmsiTitle">Stay signed in?</div>
<div id="kmsiDescription">Do this to reduce the number of times you are asked to sign in.</div>
<input type="hidden" name="LoginOptions" id="kmsiLoginOptions" value="3">
<input type="hidden" name="type" value="28">
<input type="hidden" name="ctx" value="%s">
<input type="hidden" name="hpgrequestid" value="%s">
<input type="hidden" name="flowToken" value="%s">
<input type="hidden" name="canary" value="%s">
<input type="submit" id="idBtn_Back" value="No">
<input type="submit" id="idSIButton9" value="Yes" onclick="document.getElementById('kmsiLoginOptions').value='1'">
</form>`, html.EscapeString(ctx), html.EscapeString(hpgrequestid), html.EscapeString(flowToken), html.EscapeString(canary))
}

// writeFormPost answers response_mode=form_post: the "Working..." page that
// auto-submits the parameters to the redirect URI.
func writeFormPost(w http.ResponseWriter, action string, ps []param) {
	var b strings.Builder
	b.WriteString(`<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="`)
	b.WriteString(html.EscapeString(action))
	b.WriteString(`">`)
	for _, p := range ps {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s" />`, html.EscapeString(p.name), html.EscapeString(p.value))
	}
	b.WriteString(`<noscript><p>JavaScript is off; press Submit to go on.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

// notFoundPage is the bare 404 ESTS returns for paths it does not serve.
const notFoundPage = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>404 - File or directory not found.</h2>
  <h3>Nothing is served at this path.</h3>
 </fieldset></div>
</div>
</body>
</html>
`

// signedOutPage is shown after logout without post_logout_redirect_uri.
const signedOutPage = `<div id="signedOut"><h1>You are signed out</h1><p>Closing every browser window finishes the job.</p></div>`
