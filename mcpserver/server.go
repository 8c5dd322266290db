// Package mcpserver is `aadproxy mcp`: a Model Context Protocol server
// (github.com/modelcontextprotocol/go-sdk) that lets a coding assistant
// read a sign-in trace the way aadproxy does — flows, decoded views,
// findings, transactions, playbooks and support-ticket fields.
//
// It is a sink that adds no server of its own: every tool reads the web
// inspector's local JSON API (docs/api.md), from the running proxy found
// through the run file, or in process over a trace file. Every answer is
// sanitized by the inspector (?sanitized=1) unless the user asked for raw
// answers, and every answer is capped so it fits a model's context.
package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MaxAnswer caps one tool answer (JSON text); lists page to fit it.
const MaxAnswer = 32 << 10

// Options configure the server.
type Options struct {
	// Source is what the tools read: the live proxy or a trace file.
	Source API
	// Live says Source is a running proxy (status says so; control tools
	// make sense).
	Live bool
	// Raw turns sanitizing off: answers then hold live secrets.
	Raw bool
	// AllowControl adds clear, pause and resume.
	AllowControl bool
	// OpenFile analyses a trace for analyze_file, returning an API over it.
	OpenFile func(ctx context.Context, path string) (API, func(), error)
	Version  string
}

// Server is the MCP server.
type Server struct {
	opts Options
	mcp  *mcp.Server
}

// New builds the server and registers its tools.
func New(o Options) *Server {
	s := &Server{opts: o}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "aadproxy", Version: o.Version}, &mcp.ServerOptions{
		Instructions: "aadproxy decodes Microsoft Entra ID (Azure AD) sign-in traffic. Start with status, then list_transactions " +
			"to find failed sign-ins, get_transaction and get_flow for details, support_ticket for what Microsoft support asks for, " +
			"and explain_code for what an AADSTS code means and how to fix it. Answers are sanitized: secrets are REDACTED placeholders " +
			"(the same secret gets the same placeholder).",
	})
	s.register()
	return s
}

// MCP returns the underlying server, to run over a transport.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// ServeIO serves one client over r and w (the process's stdin and stdout)
// until it goes away.
func (s *Server) ServeIO(ctx context.Context, r io.Reader, w io.Writer) error {
	return s.mcp.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(r), Writer: nopWriteCloser{w}})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// tool registers a handler whose answer is JSON text, capped.
func tool[In any](s *Server, name, description string, h func(ctx context.Context, in In) (any, error)) {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: name, Description: description}, func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		text, err := json.MarshalIndent(out, "", " ")
		if err != nil {
			return nil, nil, err
		}
		if len(text) > MaxAnswer {
			// Lists page to fit and details shrink first; this is the last
			// resort, and it says so rather than cutting JSON in half.
			text, _ = json.Marshal(map[string]any{"error": fmt.Sprintf(
				"the answer is %d KiB, over the %d KiB cap: ask for a smaller page or a narrower filter", len(text)>>10, MaxAnswer>>10)})
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(text)}}}, nil, nil
	})
}

// get calls the source with ?sanitized=1 unless raw.
func (s *Server) get(ctx context.Context, path string, q url.Values, v any) error {
	return s.call(ctx, "GET", path, q, v)
}

func (s *Server) call(ctx context.Context, method, path string, q url.Values, v any) error {
	if q == nil {
		q = url.Values{}
	}
	if !s.opts.Raw {
		q.Set("sanitized", "1")
	}
	return s.opts.Source.Do(ctx, method, path, q, v)
}

// quote makes v one argument of a filter expression.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// filterOf joins the given conditions into one filter expression.
func filterOf(terms ...string) string {
	var parts []string
	for _, t := range terms {
		if t != "" {
			parts = append(parts, "("+t+")")
		}
	}
	return strings.Join(parts, " & ")
}

func term(op, v string) string {
	if v == "" {
		return ""
	}
	return op + " " + quote(v)
}

func intTerm(op string, v int) string {
	if v == 0 {
		return ""
	}
	return op + " " + strconv.Itoa(v)
}
