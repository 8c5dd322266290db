package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/ui"
)

// API is the inspector's local JSON API (docs/api.md), the only way the
// MCP server reads flows: over HTTP from a running proxy, or in process
// over a trace file.
type API interface {
	// Do calls method path?query and decodes the JSON answer into v (when
	// not nil). An answer other than 2xx is an *APIError.
	Do(ctx context.Context, method, path string, query url.Values, v any) error
}

// APIError is an answer other than 2xx.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the inspector answered %d", e.Status)
	}
	return e.Message
}

// maxAnswer bounds what is read from one API answer.
const maxAnswer = 64 << 20

// decode reads an API answer.
func decode(status int, body io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(body, maxAnswer))
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		return &APIError{Status: status, Message: e.Error}
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// HTTPAPI reaches a running proxy's inspector with the run file's token.
type HTTPAPI struct {
	Base   string // "http://127.0.0.1:8081/"
	Token  string
	Client *http.Client
}

// Do implements API.
func (a *HTTPAPI) Do(ctx context.Context, method, path string, query url.Values, v any) error {
	u := strings.TrimSuffix(a.Base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	c := a.Client
	if c == nil {
		// Never through a proxy: the inspector is local, and aadproxy
		// refuses to be reached through itself anyway.
		c = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("the running aadproxy's inspector at %s did not answer: %w", a.Base, err)
	}
	defer resp.Body.Close()
	return decode(resp.StatusCode, resp.Body, v)
}

// inProcessHost is the Host an in-process API call names.
const inProcessHost = "aadproxy.in-process:0"

// LocalAPI serves the API in process from a ui.Server, for a trace file:
// the same answers, with no listener.
type LocalAPI struct {
	srv *ui.Server
}

// NewLocalAPI wraps srv.
func NewLocalAPI(srv *ui.Server) *LocalAPI {
	srv.AllowHost(inProcessHost)
	return &LocalAPI{srv: srv}
}

// Do implements API.
func (a *LocalAPI) Do(ctx context.Context, method, path string, query url.Values, v any) error {
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req := httptest.NewRequestWithContext(ctx, method, "http://"+inProcessHost+target, nil)
	req.Header.Set("Authorization", "Bearer "+a.srv.Token())
	rec := httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	return decode(rec.Code, rec.Body, v)
}

// noProxyError is what every live tool answers when no proxy runs.
type noProxyError struct{ why string }

func (e noProxyError) Error() string { return e.why }

// NoProxy is an API for when there is nothing to read: every call says
// why and how to start a proxy.
type NoProxy struct{ Why string }

// Do implements API.
func (n NoProxy) Do(context.Context, string, string, url.Values, any) error {
	return noProxyError{n.Why}
}

// isNotFound reports an API answer 404.
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
