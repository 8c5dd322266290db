package ui

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/inspect/filter"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

// match returns the held entries expr selects, in arrival order.
func (s *Store) match(expr *filter.Expr) []*entry {
	es := s.snapshot()
	if expr == nil || expr.String() == "" {
		return es
	}
	out := make([]*entry, 0, len(es)/4)
	s.decodeMu.Lock()
	defer s.decodeMu.Unlock()
	for _, e := range es {
		subj := filter.Subject{Flow: e.flow.Load(), Txn: int(e.txn.Load())}
		if p := e.findings.Load(); p != nil {
			subj.Findings = *p
		}
		if expr.Match(subj) {
			out = append(out, e)
		}
	}
	return out
}

// maxImport bounds an imported file; bigger traces are for `aadproxy ui FILE`.
const maxImport = 512 << 20

// serveImport takes a HAR or SAZ file in the request body.
func (srv *Server) serveImport(w http.ResponseWriter, r *http.Request) {
	if srv.opts.Import == nil {
		httpError(w, http.StatusConflict, "import is not available here")
		return
	}
	// The page percent-encodes the name (headers are ASCII); decode before
	// Base so an encoded "/" cannot name a path.
	raw := r.Header.Get("X-Filename")
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	name := filepath.Base(raw)
	if name == "." || name == "/" || name == "" {
		name = "imported"
	}
	dir, err := os.MkdirTemp("", "aadproxy-import-*")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	n, err := io.Copy(f, http.MaxBytesReader(w, r.Body, maxImport))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("could not receive %s: %v (at most %d MiB; open bigger traces with `aadproxy ui FILE`)", name, err, maxImport>>20))
		return
	}
	if n == 0 {
		httpError(w, http.StatusBadRequest, name+" is empty")
		return
	}
	count, err := srv.opts.Import(path, name)
	if err != nil && count == 0 {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", name, err))
		return
	}
	res := map[string]any{"imported": count, "name": name}
	if err != nil {
		res["warning"] = err.Error()
	}
	writeJSON(w, res)
}

// serveBody sends a body's bytes (decoded when they decode) as an
// attachment or as plain text: never with the captured Content-Type, so a
// captured page can never run on the inspector's origin.
func (srv *Server) serveBody(w http.ResponseWriter, r *http.Request) {
	id, ok := srv.flowID(w, r)
	if !ok {
		return
	}
	side := r.PathValue("side")
	if side != "request" && side != "response" {
		httpError(w, http.StatusNotFound, "a body is /request or /response")
		return
	}
	e := srv.store.entry(id)
	if e == nil || e.gone.Load() {
		httpError(w, http.StatusNotFound, fmt.Sprintf("flow %d's body is no longer held (the recording has it)", id))
		return
	}
	f := e.flow.Load()
	if viewOf(r).sanitized {
		f = srv.store.sanitizedFlow(f)
	}
	var b *flow.Body
	if side == "request" {
		b = reqBody(f)
	} else {
		b = respBody(f)
	}
	if b == nil {
		httpError(w, http.StatusNotFound, "this flow has no response")
		return
	}
	srv.store.decodeMu.Lock()
	data, err := b.Decoded()
	srv.store.decodeMu.Unlock()
	if err != nil && len(data) == 0 {
		data = b.Raw
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	if r.URL.Query().Get("download") != "" {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"flow-%d-%s.bin\"", id, side))
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Write(data)
}

// serveCurl writes the request as a curl command, sanitized unless raw=1.
func (srv *Server) serveCurl(w http.ResponseWriter, r *http.Request) {
	id, ok := srv.flowID(w, r)
	if !ok {
		return
	}
	e := srv.store.entry(id)
	if e == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("flow %d is not held", id))
		return
	}
	f := detach(e.flow.Load())
	if r.URL.Query().Get("raw") != "1" {
		var rep sanitize.Report
		f = sanitize.Flow(f, sanitize.Options{}.Default(), &rep)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, curlCommand(f))
}

// curlCommand renders the request for a POSIX shell.
func curlCommand(f *flow.Flow) string {
	var b strings.Builder
	b.WriteString("curl")
	if f.Request.Method != "GET" {
		b.WriteString(" -X " + shellQuote(f.Request.Method))
	}
	b.WriteString(" " + shellQuote(f.Request.URL))
	compressed := false
	for _, h := range f.Request.Header {
		switch strings.ToLower(h.Name) {
		case "content-length", "connection", "proxy-connection", "proxy-authorization", "host", "keep-alive", "transfer-encoding":
			continue
		case "accept-encoding":
			compressed = true
			continue
		}
		b.WriteString(" \\\n  -H " + shellQuote(h.Name+": "+h.Value))
	}
	if compressed {
		b.WriteString(" \\\n  --compressed")
	}
	if body, err := f.Request.Body.Decoded(); err == nil && len(body) > 0 {
		b.WriteString(" \\\n  --data-binary " + shellQuote(string(body)))
	}
	b.WriteString("\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// serveExplain answers with the text of `aadproxy explain CODE`.
func (srv *Server) serveExplain(w http.ResponseWriter, r *http.Request) {
	code, err := catalog.ParseCode(r.PathValue("code"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	var b bytes.Buffer
	known, err := catalog.Explain(&b, code)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	name := ""
	if e, ok := catalog.Lookup(code); ok {
		name = e.Name
	}
	writeJSON(w, map[string]any{"code": code, "name": name, "known": known, "text": b.String()})
}

// writeHAR writes the held (not gone) entries to a private HAR in dir and
// returns its path and how many flows were left out.
func writeHAR(dir string, es []*entry, name string) (path string, skipped int, err error) {
	path = filepath.Join(dir, name)
	rec, err := trace.Create(path, "aadproxy", "inspector")
	if err != nil {
		return "", 0, err
	}
	var flows []*flow.Flow
	for i, e := range es {
		if e.gone.Load() {
			skipped++
			continue
		}
		f := detach(e.flow.Load())
		f.Index = i
		flows = append(flows, f)
		if len(flows) == 256 {
			if err := rec.WriteBatch(flows); err != nil {
				rec.Close()
				return "", 0, err
			}
			flows = flows[:0]
		}
	}
	if err := rec.WriteBatch(flows); err != nil {
		rec.Close()
		return "", 0, err
	}
	return path, skipped, rec.Close()
}

// serveExport sends the flows the filter selects as a sanitized HAR.
func (srv *Server) serveExport(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseFilter(w, r)
	if !ok {
		return
	}
	dir, err := os.MkdirTemp("", "aadproxy-export-*")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.RemoveAll(dir)
	raw, skipped, err := writeHAR(dir, srv.store.match(expr), "raw.har")
	if err != nil {
		httpError(w, http.StatusInternalServerError, "export: "+err.Error())
		return
	}
	out := filepath.Join(dir, "sanitized.har")
	if _, err := sanitize.HARFile(raw, out, sanitize.Options{}); err != nil {
		httpError(w, http.StatusInternalServerError, "export: sanitize: "+err.Error())
		return
	}
	// Fail closed, as the bundle does: what leaves here is for sharing.
	if left, err := sanitize.Check(out); err != nil || len(left) > 0 {
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("export: the sanitized trace still holds %d secret-looking values; nothing was sent — report this as a bug", len(left)))
		return
	}
	w.Header().Set("X-Aadproxy-Skipped", fmt.Sprint(skipped))
	sendFile(w, out, "application/json", "aadproxy-"+time.Now().Format("20060102-150405")+".sanitized.har")
}

// serveBundle sends a support bundle of every held flow.
func (srv *Server) serveBundle(w http.ResponseWriter, r *http.Request) {
	if srv.opts.Bundle == nil {
		httpError(w, http.StatusConflict, "bundles are not available here")
		return
	}
	raw := r.URL.Query().Get("raw") == "1"
	dir, err := os.MkdirTemp("", "aadproxy-bundle-*")
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer os.RemoveAll(dir)
	har, _, err := writeHAR(dir, srv.store.snapshot(), "trace.har")
	if err != nil {
		httpError(w, http.StatusInternalServerError, "bundle: "+err.Error())
		return
	}
	zipPath := filepath.Join(dir, "bundle.zip")
	zf, err := os.OpenFile(zipPath, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	err = srv.opts.Bundle(zf, har, raw)
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "bundle: "+err.Error())
		return
	}
	name := "aadproxy-bundle-" + time.Now().Format("20060102-150405")
	if raw {
		name += "-RAW"
	}
	sendFile(w, zipPath, "application/zip", name+".zip")
}

func sendFile(w http.ResponseWriter, path, contentType, name string) {
	f, err := os.Open(path)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		w.Header().Set("Content-Length", fmt.Sprint(st.Size()))
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	io.Copy(w, f)
}
