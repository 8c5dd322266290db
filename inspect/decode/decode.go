// Package decode turns the places where Microsoft Entra ID reports an error
// into one typed value, AADSTSError: token endpoint JSON, error redirects
// (query or fragment), form_post pages, the $Config object of the HTML error
// page, the x-ms-clitelem header and WWW-Authenticate challenges.
//
// Every decoder here is a pure function of bytes or strings: it is lenient
// (Entra's shapes drift), returns an error instead of guessing when the input
// is not an Entra error, and never panics on garbage. The package owns no
// state and must not import the engine, the rules, goproxy or net/http server
// code; it reads flow.Flow and nothing else of aadproxy.
package decode

import (
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Sources name where an AADSTSError was found.
const (
	SourceTokenJSON        = "token-json"
	SourceRedirectQuery    = "redirect-query"
	SourceRedirectFragment = "redirect-fragment"
	SourceFormPost         = "form-post"
	SourceHTMLConfig       = "html-config"
	SourceCliTelem         = "clitelem"
	SourceWWWAuthenticate  = "www-authenticate"
)

// AADSTSError is one error reported by Entra ID, whatever carried it.
type AADSTSError struct {
	// Codes holds every AADSTS code found, from the error_codes array and
	// from AADSTSnnnn prefixes in the text; the first is the primary one.
	Codes []int
	// OAuthError is the OAuth error value (invalid_grant, login_required…).
	OAuthError string
	// SubError is the suberror (basic_action, message_only…), the redirect's
	// error_subcode (cancel), the HTML page's symbolic sErrorCode, or the
	// x-ms-clitelem sub-code.
	SubError string
	// Description is the full error_description or page message.
	Description string
	// Message is Description without the Trace ID / Correlation ID /
	// Timestamp trailer.
	Message       string
	TraceID       string
	CorrelationID string
	// Timestamp is when Entra says the error happened; zero if absent.
	Timestamp time.Time
	ErrorURI  string
	// Claims is the claims challenge as a JSON string, already decoded from
	// base64 when it came in a WWW-Authenticate header.
	Claims string
	// Source is one of the Source constants.
	Source string
}

// Code returns the primary AADSTS code, or 0 when the error carries none
// (a user cancel, a bare insufficient_claims challenge).
func (e *AADSTSError) Code() int {
	if e == nil || len(e.Codes) == 0 {
		return 0
	}
	return e.Codes[0]
}

// codeRE matches an AADSTS code in free text. Real codes have 5 to 7
// digits; allowing 3 to 9 keeps odd shapes while the cap keeps Atoi safe.
var codeRE = regexp.MustCompile(`AADSTS(\d{3,9})`)

// codesIn returns the AADSTS codes mentioned in s, in order, without
// duplicates.
func codesIn(s string) []int {
	var out []int
	for _, m := range codeRE.FindAllStringSubmatch(s, -1) {
		out = appendCode(out, m[1])
	}
	return out
}

// appendCode adds the decimal code s to codes unless it is invalid, zero or
// already present.
func appendCode(codes []int, s string) []int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || slices.Contains(codes, n) {
		return codes
	}
	return append(codes, n)
}

// mergeCodes appends the codes of more that are not yet in codes.
func mergeCodes(codes, more []int) []int {
	for _, c := range more {
		if c > 0 && !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	return codes
}

// fillFromDescription sets Message, codes and any trailer fields the
// structured fields did not already provide.
func (e *AADSTSError) fillFromDescription() {
	msg, trace, corr, ts := ParseTrailer(e.Description)
	e.Message = msg
	if e.TraceID == "" {
		e.TraceID = trace
	}
	if e.CorrelationID == "" {
		e.CorrelationID = corr
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = ts
	}
	e.Codes = mergeCodes(e.Codes, codesIn(e.Description))
}
