package rules

import (
	"fmt"
	"regexp"
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
WWW-Authenticate challenge. One finding per AADSTS code, named after that
code's catalog entry, with the trace and correlation IDs to quote to
Microsoft and that code's fix. An answer can carry several codes
("error_codes":[70002,70008], the description then has an AADSTS prefix
for each): the first is the decisive one and its finding comes first; each
later code gets a finding of its own, quoting its own part of the message,
whose severity never exceeds the first code's.

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
	var reported []int // codes already reported on this flow
	for _, e := range p.Errors() {
		if e.Code() == 0 {
			continue // a cancel or a bare challenge: not an AADSTS error
		}
		// The first code decides; a later one never outranks it, so the
		// answer's severity (and the flow's decisive finding) is the first
		// code's, as it was when only the first was reported.
		var decisive inspect.Severity
		for i, code := range e.Codes {
			d := describeCode(code, silent)
			if i == 0 {
				decisive = d.sev
			} else if d.sev > decisive {
				d.sev = decisive
			}
			if code <= 0 || slices.Contains(reported, code) {
				continue // another source of the answer carried it too
			}
			reported = append(reported, code)
			p.Report(inspect.Finding{
				Severity: d.sev,
				Code:     code,
				Title:    fmt.Sprintf("AADSTS%d %s", code, d.name),
				Evidence: evidence(p, &e, i, silent && slices.Contains(silentExpected, code), d.lowered),
				Fix:      d.fix,
			})
		}
	}
	return nil
}

// codeReport is what the catalog and the request's context say about one
// code.
type codeReport struct {
	name    string
	sev     inspect.Severity
	fix     string
	lowered bool // a silent request's expected answer, lowered to warning
}

// describeCode looks code up: its catalog name and hint, the catalog's
// severity (error for codes the catalog lacks), lowered to warning for the
// answers a silent request expects, and info for device-code polling.
func describeCode(code int, silent bool) codeReport {
	d := codeReport{name: "unknown", sev: inspect.Error, fix: "Look the code up: " + catalog.ErrorURL(code)}
	if entry, known := catalog.Lookup(code); known {
		d.name = entry.Name
		if s, err := inspect.ParseSeverity(entry.Severity); err == nil {
			d.sev = s
		}
		if entry.Hint != "" {
			d.fix = entry.Hint
		}
	}
	if silent && slices.Contains(silentExpected, code) && d.sev > inspect.Warning {
		d.sev, d.lowered = inspect.Warning, true
	}
	if code == devicePolling {
		d.sev = inspect.Info
	}
	return d
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

// evidence describes the nth code (0-based) of e: where it was found, the
// OAuth error, the other codes of the answer, the IDs and the message (for
// a later code, its own part of the message).
func evidence(p *inspect.Pass, e *decode.AADSTSError, nth int, silent, lowered bool) string {
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
	switch {
	case nth > 0:
		fmt.Fprintf(&b, "; code %d of %d in this answer, after AADSTS%d, the decisive one (each reported as its own finding)", nth+1, len(e.Codes), e.Codes[0])
	case len(e.Codes) > 1:
		more := make([]string, 0, len(e.Codes)-1)
		for _, c := range e.Codes[1:] {
			more = append(more, "AADSTS"+strconv.Itoa(c))
		}
		fmt.Fprintf(&b, "; also %s (each reported as its own finding)", strings.Join(more, ", "))
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
	msg := e.Message
	if nth > 0 {
		msg = codeSegment(msg, e.Codes[nth])
	}
	if msg := oneLine(msg); msg != "" {
		fmt.Fprintf(&b, "; message: %q", msg)
	}
	return b.String()
}

// codeSegment returns the part of a message that belongs to one code: from
// its "AADSTSnnnn" prefix to the next code's prefix ("AADSTS70002: Error
// validating credentials. AADSTS70008: The provided … is expired." gives
// the second sentence for 70008). It returns msg whole when the code is
// not named in it.
func codeSegment(msg string, code int) string {
	at := -1
	for _, m := range codeInTextRE.FindAllStringSubmatchIndex(msg, -1) {
		n, err := strconv.Atoi(msg[m[2]:m[3]])
		if err != nil {
			continue
		}
		switch {
		case at < 0 && n == code:
			at = m[0]
		case at >= 0 && n != code:
			return strings.TrimSpace(msg[at:m[0]])
		}
	}
	if at < 0 {
		return msg
	}
	return strings.TrimSpace(msg[at:])
}

// codeInTextRE matches an AADSTS code in a message, as decode reads them.
var codeInTextRE = regexp.MustCompile(`AADSTS(\d{3,9})`)

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
