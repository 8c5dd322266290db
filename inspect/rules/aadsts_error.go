package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// AADSTSError reports every AADSTS error Entra ID returned, wherever it
// appeared in the response.
var AADSTSError = &inspect.Rule{
	ID:    "aadsts-error",
	Title: "Entra ID answered with an AADSTS error",
	Doc: `Reports each AADSTS error code found in a response: the token endpoint's
JSON error body, an error redirect (query, fragment or form_post), the HTML
error page's $Config, the x-ms-clitelem header, or a resource's
WWW-Authenticate challenge. One finding per error, named after the catalog
entry, with the trace and correlation IDs to quote to Microsoft and a fix.

The severity is the catalog's default for the code. Answers that a silent
request (prompt=none) is designed to receive — 50058 login_required, 65001
consent, 50076/50079 MFA, 16000 interaction required — are at most warnings
there, because the client is expected to retry interactively; 70016
(device-code polling) is always info.

Bad trace: GET /common/oauth2/v2.0/authorize?client_id=…&redirect_uri=https://app/cb
answered by the HTML error page with $Config.iErrorCode "50011": the
redirect URI is not registered, so Entra cannot send the user back.`,
	Severity: inspect.Error,
	Run:      runAADSTSError,
}

// silentExpected are the codes a prompt=none request is designed to get back
// when interaction is needed; the client then prompts, so they are not
// failures there.
var silentExpected = []int{50058, 65001, 50076, 50079, 16000}

// devicePolling is authorization_pending: the normal answer while the user
// is still entering the device code.
const devicePolling = 70016

func runAADSTSError(p *inspect.Pass) error {
	silent := p.View().IsSilentAuthorize()
	for _, e := range p.Errors() {
		code := e.Code()
		if code == 0 {
			continue // a cancel or a bare challenge: not an AADSTS error
		}
		entry, known := catalog.Lookup(code)
		name, sev, fix := "unknown", inspect.Error, "Look the code up: "+catalog.ErrorURL(code)
		if known {
			name = entry.Name
			if s, err := inspect.ParseSeverity(entry.Severity); err == nil {
				sev = s
			}
			if entry.Hint != "" {
				fix = entry.Hint
			}
		}
		lowered := false
		if silent && slices.Contains(silentExpected, code) && sev > inspect.Warning {
			sev, lowered = inspect.Warning, true
		}
		if code == devicePolling {
			sev = inspect.Info
		}
		p.Report(inspect.Finding{
			Severity: sev,
			Code:     code,
			Title:    fmt.Sprintf("AADSTS%d %s", code, name),
			Evidence: evidence(p, &e, silent && slices.Contains(silentExpected, code), lowered),
			Fix:      fix,
		})
	}
	return nil
}

// sourceText says where in the response an error was found.
var sourceText = map[string]string{
	decode.SourceTokenJSON:        "the JSON error body",
	decode.SourceRedirectQuery:    "the redirect's query (Location header)",
	decode.SourceRedirectFragment: "the redirect's fragment (Location header)",
	decode.SourceFormPost:         "the form_post page's fields",
	decode.SourceHTMLConfig:       "the HTML error page's $Config",
	decode.SourceCliTelem:         "the x-ms-clitelem header",
	decode.SourceWWWAuthenticate:  "the WWW-Authenticate challenge",
}

// maxMessage bounds the message quoted in evidence; Entra messages are a
// few sentences, but a hostile or broken page could be anything.
const maxMessage = 400

func evidence(p *inspect.Pass, e *decode.AADSTSError, silent, lowered bool) string {
	var b strings.Builder
	src := sourceText[e.Source]
	if src == "" {
		src = e.Source
	}
	fmt.Fprintf(&b, "found in %s of HTTP %d", src, p.Flow.Status())
	if req := p.Flow.Request; req != nil {
		fmt.Fprintf(&b, " to %s %s", req.Method, trimQuery(req.URL))
	}
	var oauth []string
	if e.OAuthError != "" {
		oauth = append(oauth, "error="+e.OAuthError)
	}
	if e.SubError != "" {
		oauth = append(oauth, "suberror="+e.SubError)
	}
	if len(oauth) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(oauth, ", "))
	}
	if len(e.Codes) > 1 {
		more := make([]string, 0, len(e.Codes)-1)
		for _, c := range e.Codes[1:] {
			more = append(more, "AADSTS"+strconv.Itoa(c))
		}
		fmt.Fprintf(&b, "; also %s", strings.Join(more, ", "))
	}
	var ids []string
	if e.TraceID != "" {
		ids = append(ids, "trace ID "+e.TraceID)
	}
	if e.CorrelationID != "" {
		ids = append(ids, "correlation ID "+e.CorrelationID)
	}
	if !e.Timestamp.IsZero() {
		ids = append(ids, "at "+e.Timestamp.UTC().Format(time.RFC3339))
	}
	if len(ids) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(ids, ", "))
	}
	if e.Claims != "" {
		fmt.Fprintf(&b, "; claims challenge %s", oneLine(e.Claims))
	}
	if silent {
		b.WriteString("; the request was a silent prompt=none authorize, so the client is expected to retry interactively")
		if lowered {
			b.WriteString(" (severity lowered to warning)")
		}
	}
	if msg := oneLine(e.Message); msg != "" {
		fmt.Fprintf(&b, "; message: %q", msg)
	}
	return b.String()
}

// trimQuery drops the query and fragment: they hold codes, states and
// hints that make evidence long without saying where the request went.
func trimQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// oneLine collapses whitespace runs (Entra's CRLFs included) and bounds the
// length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxMessage {
		s = string(r[:maxMessage]) + "…"
	}
	return s
}
