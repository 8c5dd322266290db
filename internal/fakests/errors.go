package fakests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// stsError is an AADSTS error before it is rendered as token JSON, an error
// redirect or the HTML error page.
type stsError struct {
	Code     int    // the AADSTS number
	OAuth    string // error, e.g. invalid_grant
	Message  string // text after "AADSTSnnnn: "
	Status   int    // HTTP status of the JSON form; 0 means 400
	SubError string // suberror, e.g. basic_action
	Claims   string // claims challenge, a JSON string
}

func (e *stsError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.Code, e.Message) }

func newErr(code int, oauth, format string, args ...any) *stsError {
	return &stsError{Code: code, OAuth: oauth, Message: fmt.Sprintf(format, args...)}
}

// jsonTimestamp is Entra's error timestamp: a space, no T, no fraction.
const jsonTimestamp = "2006-01-02 15:04:05Z"

// description builds error_description with Entra's trailer.
func (s *Server) description(e *stsError, rq *reqInfo) string {
	sep := s.opts.TrailerSeparator
	return fmt.Sprintf("AADSTS%d: %s%sTrace ID: %s%sCorrelation ID: %s%sTimestamp: %s",
		e.Code, e.Message, sep, rq.traceID, sep, rq.correlationID, sep, rq.now.UTC().Format(jsonTimestamp))
}

func errorURI(code int) string {
	return "https://login.microsoftonline.com/error?code=" + strconv.Itoa(code)
}

// tokenErrorBody is the token endpoint's error JSON; field order follows
// Entra's.
type tokenErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
	SubError         string `json:"suberror,omitempty"`
	Claims           string `json:"claims,omitempty"`
}

// writeJSONError answers with the token endpoint's error JSON.
func (s *Server) writeJSONError(w http.ResponseWriter, rq *reqInfo, e *stsError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	rq.errorCode = e.Code
	setRaw(w.Header(), "x-ms-clitelem", clitelem(e.Code))
	writeJSON(w, status, tokenErrorBody{
		Error:            e.OAuth,
		ErrorDescription: s.description(e, rq),
		ErrorCodes:       []int{e.Code},
		Timestamp:        rq.now.UTC().Format(jsonTimestamp),
		TraceID:          rq.traceID,
		CorrelationID:    rq.correlationID,
		ErrorURI:         errorURI(e.Code),
		SubError:         e.SubError,
		Claims:           e.Claims,
	})
}

func clitelem(code int) string { return fmt.Sprintf("1,%d,0,,", code) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// param is one name=value pair of a redirect, kept in order.
type param struct{ name, value string }

// dotnetEscape encodes like .NET's HttpUtility.UrlEncode as Entra emits it:
// "+" for space and lowercase hex. Unlike .NET it also escapes "'", which
// captures show as %27.
func dotnetEscape(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '!', c == '*', c == '(', c == ')':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func encodeParams(ps []param) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, dotnetEscape(p.name)+"="+dotnetEscape(p.value))
	}
	return strings.Join(parts, "&")
}

// errorParams is an error redirect's parameters: error, error_description,
// error_uri and state last.
func (s *Server) errorParams(e *stsError, rq *reqInfo, state string) []param {
	ps := []param{
		{"error", e.OAuth},
		{"error_description", s.description(e, rq)},
		{"error_uri", errorURI(e.Code)},
	}
	if state != "" {
		ps = append(ps, param{"state", state})
	}
	return ps
}

// writeErrorPage answers with Entra's HTML error page: HTTP 200, the code in
// x-ms-clitelem and a ConvergedError $Config.
func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request, rq *reqInfo, e *stsError) {
	rq.errorCode = e.Code
	setRaw(w.Header(), "x-ms-clitelem", clitelem(e.Code))
	cfg := s.baseConfig(rq, "ConvergedError")
	cfg["iErrorCode"] = strconv.Itoa(e.Code)
	cfg["sErrorCode"] = strconv.Itoa(e.Code)
	cfg["strServiceExceptionMessage"] = e.Message
	cfg["strServiceExceptionDetail"] = s.description(e, rq)
	cfg["strTraceId"] = rq.traceID
	cfg["iHttpErrorCode"] = 400
	s.writePage(w, r, rq, cfg, errorPageBody(e, rq))
}

// htmlTimestamp is the troubleshooting panel's timestamp, ISO with a T.
func htmlTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
