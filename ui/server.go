// Package ui is aadproxy's web inspector: a page embedded in the binary and
// the local JSON API it reads (docs/api.md), served on loopback. It is a
// sink: the pipeline hands it finished flows (Store is a pipeline Output),
// and it never slows the proxy — a slow tab loses live events and
// resynchronises. It shows what the engine already computed (findings,
// transactions) and runs the same decoders for the detail pane; filters
// run on the server (inspect/filter), so 100 000 flows stay usable.
//
// The page shows passwords, codes and tokens, so every data call needs the
// run's token (a cookie the page gets in exchange for ?token=, or a Bearer
// header), the Host must be the UI's own loopback name (DNS rebinding), and
// state-changing calls and the live channel refuse other origins.
package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/inspect/filter"
)

//go:embed assets
var assets embed.FS

// DefaultAddr is where the inspector listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8081"

// Controls are the live capture's switches the page may use; nil for an
// inspector of a file.
type Controls interface {
	// Pause stops capturing (traffic is still relayed); who says where the
	// request came from. They report whether the state changed.
	Pause(who string) bool
	Resume(who string) bool
	Paused() bool
	// Clear makes the rules forget the flows seen so far.
	Clear()
}

// Listeners is what a live proxy offers `aadproxy run --attach`: a
// listener of the command's own, so its flows carry its name.
type Listeners interface {
	AddListener(tag string) (addr string, err error)
	RemoveListener(addr string) bool
}

// BundleFunc writes a support bundle (a zip) of the HAR at har to w,
// sanitized unless raw.
type BundleFunc func(w io.Writer, har string, raw bool) error

// Options configure a Server.
type Options struct {
	// Token authenticates the page and API calls; a random one when "".
	Token string
	// Mode is "live" (a running proxy) or "file" (aadproxy ui FILE).
	Mode string
	// Source names the file in file mode.
	Source    string
	Proxy     string // the proxy's address, live mode
	Recording string // the recording's path, if any
	Version   string
	Controls  Controls
	Bundle    BundleFunc
	// Import analyses an imported trace file and adds it to the store;
	// Store.ImportFile when nil.
	Import func(path, name string) (int, error)
}

// Server serves the page and the API for one Store.
type Server struct {
	opts  Options
	store *Store
	token string
	hosts map[string]bool // Host header values accepted
	mux   *http.ServeMux
}

// NewServer returns a server for store. Call Handler with its listener's
// address known (AllowHost) before serving.
func NewServer(store *Store, o Options) (*Server, error) {
	if o.Token == "" {
		t, err := NewToken()
		if err != nil {
			return nil, err
		}
		o.Token = t
	}
	if o.Mode == "" {
		o.Mode = "live"
	}
	if o.Import == nil {
		o.Import = store.ImportFile
	}
	srv := &Server{opts: o, store: store, token: o.Token, hosts: map[string]bool{}}
	srv.routes()
	return srv, nil
}

// NewToken returns 32 random bytes in hex.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Token is the run's token.
func (srv *Server) Token() string { return srv.token }

// Store is the server's store.
func (srv *Server) Store() *Store { return srv.store }

// AllowHost accepts addr ("host:port", the listener's) as a Host header,
// with its loopback aliases when it is a loopback address.
func (srv *Server) AllowHost(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	srv.hosts[strings.ToLower(addr)] = true
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
			srv.hosts[h+":"+port] = true
		}
	}
}

// URL is the page's address with the token, as the banner prints it.
func URL(addr, token string) string {
	return "http://" + addr + "/?token=" + token
}

// Listen opens the inspector's listener. Unless explicit, it binds
// DefaultAddr and, when that port is taken, a free loopback port (never
// fatal). An explicit address binds as given.
func Listen(addr string, explicit bool) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err == nil || explicit {
		return l, err
	}
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") ||
		strings.Contains(err.Error(), "Only one usage") {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	return nil, err
}

// Serve serves the inspector on l until l is closed.
func (srv *Server) Serve(l net.Listener) error {
	srv.AllowHost(l.Addr().String())
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

const cookieName = "aadproxy_token"

// contentSecurityPolicy lets the page run only its own script and style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// ServeHTTP applies the protections every request goes through, then routes.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !srv.hosts[strings.ToLower(r.Host)] {
		httpError(w, http.StatusMisdirectedRequest, "this is aadproxy's inspector; it answers only to its own address")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.Path == "/api/events" {
		if !srv.sameOrigin(r) {
			httpError(w, http.StatusForbidden, "cross-site request refused")
			return
		}
	}
	srv.mux.ServeHTTP(w, r)
}

// sameOrigin accepts requests without browser origin headers (scripts with
// a Bearer token) and browser requests from the page itself.
func (srv *Server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return strings.EqualFold(o, "http://"+r.Host) && srv.hosts[strings.ToLower(r.Host)]
	}
	return true
}

// authorized checks the token from the cookie or the Bearer header.
func (srv *Server) authorized(r *http.Request) bool {
	got := ""
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else if c, err := r.Cookie(cookieName); err == nil {
		got = c.Value
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(srv.token)) == 1
}

// api wraps a data handler with the token check and no caching.
func (srv *Server) api(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !srv.authorized(r) {
			httpError(w, http.StatusUnauthorized, "missing or wrong token: open the link with ?token=… that aadproxy printed, or send Authorization: Bearer <token> (from the run file)")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fn(w, r)
	}
}

func (srv *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServer(http.FS(static))
	m.HandleFunc("GET /{$}", srv.serveIndex)
	m.Handle("GET /app.js", files)
	m.Handle("GET /app.css", files)
	m.Handle("GET /favicon.svg", files)
	m.HandleFunc("GET /api/status", srv.api(srv.serveStatus))
	m.HandleFunc("GET /api/flows", srv.api(srv.serveFlows))
	m.HandleFunc("GET /api/match", srv.api(srv.serveMatch))
	m.HandleFunc("GET /api/flows/{id}", srv.api(srv.serveDetail))
	m.HandleFunc("GET /api/flows/{id}/body/{side}", srv.api(srv.serveBody))
	m.HandleFunc("GET /api/flows/{id}/curl", srv.api(srv.serveCurl))
	m.HandleFunc("GET /api/transactions", srv.api(srv.serveTransactions))
	m.HandleFunc("GET /api/findings", srv.api(srv.serveFindings))
	m.HandleFunc("GET /api/explain/{code}", srv.api(srv.serveExplain))
	m.HandleFunc("GET /api/export", srv.api(srv.serveExport))
	m.HandleFunc("GET /api/bundle", srv.api(srv.serveBundle))
	m.HandleFunc("POST /api/clear", srv.api(srv.serveClear))
	m.HandleFunc("POST /api/pause", srv.api(srv.servePause(true)))
	m.HandleFunc("POST /api/resume", srv.api(srv.servePause(false)))
	m.HandleFunc("POST /api/import", srv.api(srv.serveImport))
	m.HandleFunc("GET /api/events", srv.api(srv.serveEvents))
	m.HandleFunc("POST /api/listeners", srv.api(srv.serveAddListener))
	m.HandleFunc("DELETE /api/listeners/{addr}", srv.api(srv.serveRemoveListener))
	srv.mux = m
}

// serveIndex exchanges ?token= for the cookie and a clean URL, and serves
// the page to a browser that holds the cookie.
func (srv *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	if t := r.URL.Query().Get("token"); t != "" {
		if subtle.ConstantTimeCompare([]byte(t), []byte(srv.token)) != 1 {
			httpError(w, http.StatusUnauthorized, "this link's token is not this run's: open the link aadproxy printed when it started")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: srv.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !srv.authorized(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, "aadproxy inspector: open the link with ?token=… that aadproxy printed when it started (it is also in the run file, <home>/run/<pid>.json).")
		return
	}
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// Status is the answer of /api/status.
type Status struct {
	Version   string `json:"version"`
	Mode      string `json:"mode"`
	Source    string `json:"source"`
	Proxy     string `json:"proxy"`
	Paused    bool   `json:"paused"`
	Recording string `json:"recording"`
	Counts
}

func (srv *Server) status() Status {
	st := Status{Version: srv.opts.Version, Mode: srv.opts.Mode, Source: srv.opts.Source, Proxy: srv.opts.Proxy, Recording: srv.opts.Recording, Counts: srv.store.counts()}
	if c := srv.opts.Controls; c != nil {
		st.Paused = c.Paused()
	}
	return st
}

func (srv *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, srv.status())
}

// parseFilter reads ?filter=; a bad expression is answered with 400.
func parseFilter(w http.ResponseWriter, r *http.Request) (*filter.Expr, bool) {
	expr, err := filter.Parse(r.URL.Query().Get("filter"))
	if err != nil {
		var se *filter.SyntaxError
		pos := -1
		if errors.As(err, &se) {
			pos = se.Pos
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "pos": pos})
		return nil, false
	}
	return expr, true
}

func (srv *Server) serveFlows(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseFilter(w, r)
	if !ok {
		return
	}
	es := srv.store.match(expr)
	total := len(es)
	q := r.URL.Query()
	if off, err := strconv.Atoi(q.Get("offset")); err == nil && off > 0 {
		es = es[min(off, len(es)):]
	}
	if lim, err := strconv.Atoi(q.Get("limit")); err == nil && lim >= 0 && lim < len(es) {
		es = es[:lim]
	}
	c := srv.store.counts()
	writeJSON(w, map[string]any{"flows": srv.store.summaries(es, viewOf(r)), "total": total, "evicted": c.Evicted})
}

func (srv *Server) serveMatch(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseFilter(w, r)
	if !ok {
		return
	}
	es := srv.store.match(expr)
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.id
	}
	writeJSON(w, map[string]any{"ids": ids})
}

func (srv *Server) flowID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 0 {
		httpError(w, http.StatusBadRequest, "a flow id is a number, as in /api/flows/12")
		return 0, false
	}
	return id, true
}

func (srv *Server) serveDetail(w http.ResponseWriter, r *http.Request) {
	id, ok := srv.flowID(w, r)
	if !ok {
		return
	}
	d, ok := srv.store.detail(id, viewOf(r))
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("flow %d is not held (it left the store, or never was)", id))
		return
	}
	writeJSON(w, d)
}

func (srv *Server) serveTransactions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"transactions": srv.store.transactions(viewOf(r))})
}

func (srv *Server) serveFindings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"findings": srv.store.findings(viewOf(r))})
}

func (srv *Server) serveClear(w http.ResponseWriter, r *http.Request) {
	if c := srv.opts.Controls; c != nil {
		c.Clear()
	}
	srv.store.Clear()
	writeJSON(w, map[string]any{"cleared": true})
}

func (srv *Server) servePause(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := srv.opts.Controls
		if c == nil {
			httpError(w, http.StatusConflict, "nothing to pause: this inspector shows a file")
			return
		}
		if pause {
			c.Pause("the web inspector")
		} else {
			c.Resume("the web inspector")
		}
		st := srv.status()
		srv.store.broadcast(event{Type: "status", Status: &st})
		writeJSON(w, st)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// serveAddListener opens a listener of the proxy's for one client program
// (?tag=NAME): its flows are tagged NAME.
func (srv *Server) serveAddListener(w http.ResponseWriter, r *http.Request) {
	ls, ok := srv.opts.Controls.(Listeners)
	if !ok {
		httpError(w, http.StatusConflict, "this inspector has no proxy to add a listener to")
		return
	}
	tag := r.URL.Query().Get("tag")
	if tag == "" || len(tag) > 64 {
		httpError(w, http.StatusBadRequest, "want ?tag=NAME (at most 64 characters): the name the flows will carry")
		return
	}
	addr, err := ls.AddListener(tag)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, map[string]string{"proxy": addr, "tag": tag})
}

func (srv *Server) serveRemoveListener(w http.ResponseWriter, r *http.Request) {
	ls, ok := srv.opts.Controls.(Listeners)
	if !ok || !ls.RemoveListener(r.PathValue("addr")) {
		httpError(w, http.StatusNotFound, "no such listener")
		return
	}
	writeJSON(w, map[string]bool{"closed": true})
}
