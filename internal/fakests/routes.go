package fakests

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// estsServer is the x-ms-ests-server value, in the shape of real ones.
const estsServer = "2.1.19005.9 - NEULR1 ProdSlices"

// reqInfo is the per-request state every answer needs: the ids and clock
// that appear in headers, error descriptions and pages.
type reqInfo struct {
	traceID       string // also x-ms-request-id
	correlationID string // the client's client-request-id when it sent one
	now           time.Time
	errorCode     int // set by error writers, for x-ms-clitelem and Log
}

type reqInfoKey struct{}

// routes builds the handler. Paths are matched whatever the Host header
// says, so every identity hostname mapped here behaves the same.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(fn func(http.ResponseWriter, *http.Request, *reqInfo)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			fn(w, r, r.Context().Value(reqInfoKey{}).(*reqInfo))
		}
	}
	mux.HandleFunc("GET /{tenant}/discovery/instance", h(s.instanceDiscovery))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", h(s.openIDConfigV2))
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", h(s.openIDConfigV1))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", h(s.jwks))
	mux.HandleFunc("GET /{tenant}/discovery/keys", h(s.jwks))
	mux.HandleFunc("GET /common/UserRealm/{user}", h(s.userRealm))

	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", h(s.authorizeV2))
	mux.HandleFunc("/{tenant}/oauth2/authorize", h(s.authorizeV1))
	mux.HandleFunc("POST /{tenant}/login", h(s.login))
	mux.HandleFunc("POST /kmsi", h(s.kmsi))
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", h(s.logout))
	mux.HandleFunc("GET /{tenant}/oauth2/logout", h(s.logout))

	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", h(s.tokenV2))
	mux.HandleFunc("/{tenant}/oauth2/token", h(s.tokenV1))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", h(s.deviceCodeV2))
	mux.HandleFunc("POST /{tenant}/oauth2/devicecode", h(s.deviceCodeV1))
	mux.HandleFunc("/common/oauth2/deviceauth", h(s.deviceAuth))

	mux.HandleFunc("GET "+ARMHost+"/subscriptions", h(s.armList))
	mux.HandleFunc("GET "+ARMHost+"/tenants", h(s.armList))

	mux.HandleFunc("/", h(s.notFound))
	return s.withEntraHeaders(mux)
}

// loggedHeaders are the request headers Log keeps: enough to prove which
// client sent what through which hop, without cookies or credentials.
var loggedHeaders = []string{"client-request-id", "x-client-SKU", "x-client-VER", "User-Agent", "Origin", "Content-Type", "X-AnchorMailbox"}

// guidPattern accepts the GUID forms clients send as client-request-id.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// withEntraHeaders sets the headers every ESTS response carries, fixes the
// request's trace and correlation ids, and records the exchange in Log.
func (s *Server) withEntraHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq := &reqInfo{now: s.now(), traceID: s.newTraceID()}
		crid := r.Header.Get("client-request-id")
		if crid == "" {
			// MSAL.js sends it as a query parameter on /authorize.
			crid = r.URL.Query().Get("client-request-id")
		}
		rq.correlationID = crid
		if !guidPattern.MatchString(crid) {
			rq.correlationID = newGUID()
		}

		hd := w.Header()
		hd.Set("Cache-Control", "no-store, no-cache")
		hd.Set("Pragma", "no-cache")
		hd.Set("Expires", "-1")
		hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		hd.Set("X-Content-Type-Options", "nosniff")
		setRaw(hd, "P3P", `CP="DSP CUR OTPi IND OTRi ONL FIN"`)
		hd.Set("X-XSS-Protection", "0")
		hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		setRaw(hd, "x-ms-request-id", rq.traceID)
		if !strings.EqualFold(r.Host, ARMHost) { // ARM is not the token service
			setRaw(hd, "x-ms-ests-server", estsServer)
			setRaw(hd, "x-ms-srs", "1.P")
			setRaw(hd, "x-ms-httpver", "1.1")
			setRaw(hd, "x-ms-clitelem", "1,0,0,,")
		}
		if crid != "" {
			setRaw(hd, "client-request-id", crid)
		}
		hd.Set("Date", rq.now.UTC().Format(http.TimeFormat))

		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, rq)))

		ex := Exchange{
			Time:            rq.now,
			Method:          r.Method,
			Proto:           r.Proto,
			Host:            r.Host,
			Path:            r.URL.Path,
			Query:           r.URL.RawQuery,
			ClientRequestID: r.Header.Get("client-request-id"),
			RequestID:       rq.traceID,
			Status:          rec.status,
			ErrorCode:       rq.errorCode,
		}
		for _, name := range loggedHeaders {
			if v := r.Header.Get(name); v != "" {
				if ex.Headers == nil {
					ex.Headers = map[string]string{}
				}
				ex.Headers[name] = v
			}
		}
		for _, c := range r.Cookies() {
			ex.CookieNames = append(ex.CookieNames, c.Name)
		}
		s.mu.Lock()
		s.log = append(s.log, ex)
		s.mu.Unlock()
	})
}

// statusRecorder remembers the status code for Log.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// newTraceID makes a request id whose last byte is a small counter, as in
// real x-ms-request-id values.
func (s *Server) newTraceID() string {
	s.mu.Lock()
	n := s.reqCounter
	s.reqCounter++
	s.mu.Unlock()
	g := newGUID()
	return g[:len(g)-2] + fmt.Sprintf("%02x", n)
}

// newGUID returns a random version 4 GUID in lowercase.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// notFound mimics ESTS's answer to a path it does not serve.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, notFoundPage)
}

// setRaw sets a header with Entra's exact name casing (x-ms-request-id,
// P3P), which Header.Set would canonicalize; it replaces any canonical twin.
func setRaw(h http.Header, name, value string) {
	delete(h, http.CanonicalHeaderKey(name))
	h[name] = []string{value}
}
