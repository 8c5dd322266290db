package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/ui"
)

// Page sizes: the default, and the most a caller may ask for.
const (
	defaultPage = 50
	maxPage     = 500
)

// StatusOut is status's answer.
type StatusOut struct {
	Source    string `json:"source"` // "live proxy" or the file's name
	Proxy     string `json:"proxy,omitempty"`
	Capture   string `json:"capture"` // "on", "paused", or "file"
	Recording string `json:"recording,omitempty"`
	Flows     int    `json:"flows"`
	Evicted   int64  `json:"evicted,omitempty"`
	Errors    int64  `json:"errors"`
	Warnings  int64  `json:"warnings"`
	Infos     int64  `json:"infos"`
	Sanitized bool   `json:"sanitized"`
}

// ListFlowsIn selects flows; every field is optional.
type ListFlowsIn struct {
	Host        string `json:"host,omitempty" jsonschema:"host name, a regular expression (e.g. login.microsoftonline.com)"`
	Status      string `json:"status,omitempty" jsonschema:"HTTP status: 400, or a class such as 4xx"`
	AADSTS      int    `json:"aadsts,omitempty" jsonschema:"only flows carrying this AADSTS code, e.g. 50143"`
	Rule        string `json:"rule,omitempty" jsonschema:"only flows with a finding of this rule, e.g. domain-hint-mismatch"`
	Transaction *int   `json:"transaction,omitempty" jsonschema:"only flows of this sign-in transaction id"`
	Text        string `json:"text,omitempty" jsonschema:"text (a regular expression) in the URL or a body"`
	Filter      string `json:"filter,omitempty" jsonschema:"a filter expression in aadproxy's language (mitmproxy's: ~d ~u ~c ~h ~b, plus ~aadsts ~rule ~sev ~txn ~tid ~client ~cookie; ! & | ( ))"`
	Page        int    `json:"page,omitempty" jsonschema:"0-based page, newest flows first"`
	PageSize    int    `json:"page_size,omitempty" jsonschema:"flows per page (default 50, at most 500; smaller when the answer would exceed 32 KiB)"`
}

// ListFlowsOut is a page of flow summaries, newest first.
type ListFlowsOut struct {
	Flows    []ui.Summary `json:"flows"`
	Total    int          `json:"total"`
	Page     int          `json:"page"`
	NextPage *int         `json:"next_page,omitempty"`
	Filter   string       `json:"filter,omitempty"`
}

// IDIn names a flow or a transaction.
type IDIn struct {
	ID int `json:"id" jsonschema:"the flow's (or transaction's) id, as list_flows (list_transactions) gives it"`
}

// GetFlowIn names a flow and how much of its bodies to show.
type GetFlowIn struct {
	ID        int `json:"id" jsonschema:"the flow's id, as list_flows gives it"`
	BodyBytes int `json:"body_bytes,omitempty" jsonschema:"at most this much of each body (default 4096, at most 16384)"`
}

// PageIn pages a list.
type PageIn struct {
	Page     int    `json:"page,omitempty" jsonschema:"0-based page, newest first"`
	PageSize int    `json:"page_size,omitempty" jsonschema:"items per page (default 50)"`
	Outcome  string `json:"outcome,omitempty" jsonschema:"only transactions with this outcome: failed, succeeded, abandoned, in-progress"`
}

// FindingsIn selects findings.
type FindingsIn struct {
	Severity string `json:"severity,omitempty" jsonschema:"at least this severe: info, warning or error"`
	Rule     string `json:"rule,omitempty" jsonschema:"only this rule"`
	Code     int    `json:"code,omitempty" jsonschema:"only this AADSTS code"`
	Page     int    `json:"page,omitempty" jsonschema:"0-based page, newest first"`
	PageSize int    `json:"page_size,omitempty" jsonschema:"findings per page (default 50)"`
}

// CodeIn names an AADSTS code.
type CodeIn struct {
	Code string `json:"code" jsonschema:"an AADSTS code: 50143 or AADSTS50143"`
}

// SupportIn names a failed transaction (the newest failed one when absent).
type SupportIn struct {
	Transaction *int `json:"transaction,omitempty" jsonschema:"the failed transaction's id; the newest failed one when absent"`
}

// FileIn names a trace file.
type FileIn struct {
	Path string `json:"path" jsonschema:"path of a .har or .saz file"`
}

func (s *Server) register() {
	tool(s, "status", "Where the flows come from (a live proxy or a file), whether capture is on, and how many flows and findings there are.", s.status)
	tool(s, "list_flows", "List captured HTTP flows, newest first, paged: id, time, method, host, path, status, duration, size, transaction and the decisive finding (e.g. 'AADSTS50143 · domain-hint-mismatch'). Filter by host, status, AADSTS code, rule, transaction or text.", s.listFlows)
	tool(s, "get_flow", "One flow in full: request and response lines, headers in wire order, cookies (Entra's labelled), decoded views (JWT header and claims with times against the server's clock, AADSTS errors with their playbook, client_info, SAML, form fields), body excerpts and its findings.", s.getFlow)
	tool(s, "list_transactions", "Sign-in transactions (authorize → sign-in → redirect → token), newest first: protocol, outcome, AADSTS code, client, tenant, steps and the decisive finding.", s.listTransactions)
	tool(s, "get_transaction", "One sign-in transaction: its steps as flow ids, the failing step, the decisive finding and, when it failed, the support block.", s.getTransaction)
	tool(s, "list_findings", "What aadproxy's rules found, newest first: rule, severity, AADSTS code, title, evidence (the flows and values compared) and fix.", s.listFindings)
	tool(s, "explain_code", "What an AADSTS code means: its name, common causes, how to confirm each from the trace, the fix, and what support needs.", s.explainCode)
	tool(s, "support_ticket", "The Correlation ID, Request ID, Trace ID, UTC timestamp, error code and name, tenant and client_id of a failed sign-in, ready to paste into a support ticket.", s.supportTicket)
	tool(s, "analyze_file", "Analyse a HAR or SAZ file (a browser export, a Fiddler archive, an aadproxy recording): flow count, sign-in transactions and findings.", s.analyzeFile)
	if s.opts.AllowControl {
		tool(s, "clear", "Empty the inspector and the rules' memory of the running proxy (the recording is untouched).", s.control("/api/clear"))
		tool(s, "pause", "Stop capturing in the running proxy: traffic is still relayed but not captured or recorded.", s.control("/api/pause"))
		tool(s, "resume", "Start capturing again after pause.", s.control("/api/resume"))
	}
}

func (s *Server) status(ctx context.Context, _ struct{}) (any, error) {
	var st ui.Status
	if err := s.get(ctx, "/api/status", nil, &st); err != nil {
		return nil, err
	}
	out := StatusOut{Flows: st.Flows, Evicted: st.Evicted, Errors: st.Errors, Warnings: st.Warnings, Infos: st.Infos,
		Recording: st.Recording, Proxy: st.Proxy, Sanitized: !s.opts.Raw}
	switch {
	case st.Mode == "file":
		out.Source, out.Capture = st.Source, "file"
	case st.Paused:
		out.Source, out.Capture = "live proxy", "paused"
	default:
		out.Source, out.Capture = "live proxy", "on"
	}
	return out, nil
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return defaultPage
	case n > maxPage:
		return maxPage
	}
	return n
}

func (s *Server) listFlows(ctx context.Context, in ListFlowsIn) (any, error) {
	txn := ""
	if in.Transaction != nil {
		txn = "~txn " + strconv.Itoa(*in.Transaction)
	}
	text := ""
	if in.Text != "" {
		text = term("~u", in.Text) + " | " + term("~b", in.Text)
	}
	expr := filterOf(in.Filter, term("~d", in.Host), statusTerm(in.Status), intTerm("~aadsts", in.AADSTS), term("~rule", in.Rule), txn, text)
	q := url.Values{"filter": {expr}, "limit": {"0"}}
	var head struct {
		Total int `json:"total"`
	}
	if err := s.get(ctx, "/api/flows", q, &head); err != nil {
		return nil, err
	}
	size := pageSize(in.PageSize)
	for {
		out, err := s.flowPage(ctx, expr, head.Total, in.Page, size)
		if err != nil {
			return nil, err
		}
		if size == 1 || fits(out) {
			return out, nil
		}
		size /= 2 // pages shrink until the answer fits
		in.Page = in.Page * 2
	}
}

// flowPage reads page p (newest first) of size n among total matches.
func (s *Server) flowPage(ctx context.Context, expr string, total, p, n int) (ListFlowsOut, error) {
	out := ListFlowsOut{Flows: []ui.Summary{}, Total: total, Page: p, Filter: expr}
	end := total - p*n
	if end <= 0 {
		return out, nil
	}
	start := max(0, end-n)
	q := url.Values{"filter": {expr}, "offset": {strconv.Itoa(start)}, "limit": {strconv.Itoa(end - start)}}
	var list struct {
		Flows []ui.Summary `json:"flows"`
	}
	if err := s.get(ctx, "/api/flows", q, &list); err != nil {
		return out, err
	}
	for i := len(list.Flows) - 1; i >= 0; i-- {
		out.Flows = append(out.Flows, list.Flows[i])
	}
	if start > 0 {
		next := p + 1
		out.NextPage = &next
	}
	return out, nil
}

func statusTerm(v string) string {
	if v == "" {
		return ""
	}
	return "~c " + v
}

func fits(v any) bool {
	b, err := json.MarshalIndent(v, "", " ")
	return err == nil && len(b) <= MaxAnswer
}

// getFlow answers with the inspector's detail, bodies cut to an excerpt.
func (s *Server) getFlow(ctx context.Context, in GetFlowIn) (any, error) {
	var d ui.Detail
	if err := s.get(ctx, "/api/flows/"+strconv.Itoa(in.ID), nil, &d); err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("no flow %d: list_flows gives the ids held (older flows may have left memory)", in.ID)
		}
		return nil, err
	}
	limit := 4096
	if in.BodyBytes > 0 {
		limit = min(in.BodyBytes, 16384)
	}
	// Shrink in steps until it fits: bodies, then playbooks (explain_code
	// has them), then headers' long values.
	for _, step := range []func(){
		func() { cutBodies(&d, limit) },
		func() { cutBodies(&d, 1024) },
		func() {
			for i := range d.Decoded.Errors {
				d.Decoded.Errors[i].Playbook = "(omitted for size: call explain_code)"
			}
		},
		func() { cutHeaders(&d, 256) },
		func() { cutBodies(&d, 0) },
	} {
		step()
		if fits(d) {
			break
		}
	}
	return d, nil
}

func cutBodies(d *ui.Detail, n int) {
	if d.Request != nil {
		cutBody(&d.Request.Body, n)
	}
	if d.Response != nil {
		cutBody(&d.Response.Body, n)
	}
}

func cutBody(b *ui.BodyDetail, n int) {
	if len(b.Text) > n {
		k := n
		for k > 0 && !utf8.RuneStart(b.Text[k]) {
			k--
		}
		b.Omitted += len(b.Text) - k
		b.Text = b.Text[:k]
	}
	if enc := (n / 3) * 4; len(b.Base64) > enc {
		b.Omitted += (len(b.Base64) - enc) / 4 * 3
		b.Base64 = b.Base64[:enc]
	}
}

func cutHeaders(d *ui.Detail, n int) {
	cut := func(v string) string {
		if len(v) <= n {
			return v
		}
		k := n
		for k > 0 && !utf8.RuneStart(v[k]) {
			k--
		}
		return v[:k] + "…"
	}
	if d.Request != nil {
		for i := range d.Request.Header {
			d.Request.Header[i].Value = cut(d.Request.Header[i].Value)
		}
	}
	if d.Response != nil {
		for i := range d.Response.Header {
			d.Response.Header[i].Value = cut(d.Response.Header[i].Value)
		}
	}
}

// transactions reads every transaction, newest first.
func (s *Server) transactions(ctx context.Context) ([]ui.Transaction, error) {
	var list struct {
		Transactions []ui.Transaction `json:"transactions"`
	}
	if err := s.get(ctx, "/api/transactions", nil, &list); err != nil {
		return nil, err
	}
	ts := list.Transactions
	for i, j := 0, len(ts)-1; i < j; i, j = i+1, j-1 {
		ts[i], ts[j] = ts[j], ts[i]
	}
	return ts, nil
}

// TransactionsOut is a page of transactions, newest first.
type TransactionsOut struct {
	Transactions []ui.Transaction `json:"transactions"`
	Total        int              `json:"total"`
	Page         int              `json:"page"`
	NextPage     *int             `json:"next_page,omitempty"`
}

func (s *Server) listTransactions(ctx context.Context, in PageIn) (any, error) {
	ts, err := s.transactions(ctx)
	if err != nil {
		return nil, err
	}
	var kept []ui.Transaction
	for _, t := range ts {
		if in.Outcome == "" || t.Outcome == in.Outcome {
			t.Support = nil // get_transaction and support_ticket have it
			kept = append(kept, t)
		}
	}
	return pageOf(kept, in.Page, pageSize(in.PageSize), func(items []ui.Transaction, total, p int, next *int) any {
		return TransactionsOut{Transactions: orEmpty(items), Total: total, Page: p, NextPage: next}
	}), nil
}

func (s *Server) getTransaction(ctx context.Context, in IDIn) (any, error) {
	ts, err := s.transactions(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.ID == in.ID {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no transaction %d: list_transactions gives the ids", in.ID)
}

// FindingsOut is a page of findings, newest first.
type FindingsOut struct {
	Findings []inspect.Finding `json:"findings"`
	Total    int               `json:"total"`
	Page     int               `json:"page"`
	NextPage *int              `json:"next_page,omitempty"`
}

func (s *Server) listFindings(ctx context.Context, in FindingsIn) (any, error) {
	var least inspect.Severity
	if in.Severity != "" {
		sev, err := inspect.ParseSeverity(in.Severity)
		if err != nil {
			return nil, err
		}
		least = sev
	}
	var list struct {
		Findings []inspect.Finding `json:"findings"`
	}
	if err := s.get(ctx, "/api/findings", nil, &list); err != nil {
		return nil, err
	}
	var kept []inspect.Finding
	for i := len(list.Findings) - 1; i >= 0; i-- {
		f := list.Findings[i]
		if f.Severity >= least && (in.Rule == "" || f.Rule == in.Rule) && (in.Code == 0 || f.Code == in.Code) {
			kept = append(kept, f)
		}
	}
	return pageOf(kept, in.Page, pageSize(in.PageSize), func(items []inspect.Finding, total, p int, next *int) any {
		return FindingsOut{Findings: orEmpty(items), Total: total, Page: p, NextPage: next}
	}), nil
}

// pageOf cuts page p of size n from items, halving n until the answer fits.
func pageOf[T any](items []T, p, n int, wrap func([]T, int, int, *int) any) any {
	for {
		start := min(p*n, len(items))
		end := min(start+n, len(items))
		var next *int
		if end < len(items) {
			np := p + 1
			next = &np
		}
		out := wrap(items[start:end], len(items), p, next)
		if n == 1 || fits(out) {
			return out
		}
		n /= 2
		p *= 2
	}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ExplainOut is explain_code's answer.
type ExplainOut struct {
	Code  int    `json:"code"`
	Name  string `json:"name,omitempty"`
	Known bool   `json:"known"`
	Text  string `json:"text"`
}

func (s *Server) explainCode(_ context.Context, in CodeIn) (any, error) {
	code, err := catalog.ParseCode(in.Code)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	known, err := catalog.Explain(&b, code)
	if err != nil {
		return nil, err
	}
	out := ExplainOut{Code: code, Known: known, Text: b.String()}
	if e, ok := catalog.Lookup(code); ok {
		out.Name = e.Name
	}
	return out, nil
}

// SupportOut is support_ticket's answer.
type SupportOut struct {
	Transaction int `json:"transaction"`
	*ui.Support
}

func (s *Server) supportTicket(ctx context.Context, in SupportIn) (any, error) {
	ts, err := s.transactions(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts { // newest first
		if in.Transaction != nil && t.ID != *in.Transaction {
			continue
		}
		if t.Support == nil {
			if in.Transaction != nil {
				return nil, fmt.Errorf("transaction %d has no support block: its outcome is %s", t.ID, t.Outcome)
			}
			continue
		}
		return SupportOut{Transaction: t.ID, Support: t.Support}, nil
	}
	if in.Transaction != nil {
		return nil, fmt.Errorf("no transaction %d: list_transactions gives the ids", *in.Transaction)
	}
	return nil, errors.New("no failed sign-in with an AADSTS error in this trace")
}

// AnalysisOut is analyze_file's answer.
type AnalysisOut struct {
	File         string            `json:"file"`
	Flows        int               `json:"flows"`
	Transactions []ui.Transaction  `json:"transactions"`
	Findings     []inspect.Finding `json:"findings"`
	// Omitted counts what did not fit, most severe findings and newest
	// transactions kept.
	Omitted map[string]int `json:"omitted,omitempty"`
}

func (s *Server) analyzeFile(ctx context.Context, in FileIn) (any, error) {
	if s.opts.OpenFile == nil {
		return nil, errors.New("analyze_file is not available")
	}
	api, done, err := s.opts.OpenFile(ctx, in.Path)
	if err != nil {
		return nil, err
	}
	defer done()
	sub := &Server{opts: s.opts}
	sub.opts.Source = api
	st, err := sub.status(ctx, struct{}{})
	if err != nil {
		return nil, err
	}
	ts, err := sub.transactions(ctx)
	if err != nil {
		return nil, err
	}
	var fs struct {
		Findings []inspect.Finding `json:"findings"`
	}
	if err := sub.get(ctx, "/api/findings", nil, &fs); err != nil {
		return nil, err
	}
	status := st.(StatusOut)
	out := AnalysisOut{File: in.Path, Flows: status.Flows, Transactions: orEmpty(ts), Findings: orEmpty(fs.Findings), Omitted: map[string]int{}}
	for i := range out.Transactions {
		out.Transactions[i].Support = nil
	}
	// Keep the most severe findings and the newest transactions when the
	// whole analysis does not fit; the rest is a call to ui or analyze.
	sortBySeverity(out.Findings)
	for !fits(out) && (len(out.Findings) > 10 || len(out.Transactions) > 10) {
		if len(out.Findings) > 10 {
			out.Omitted["findings"] += len(out.Findings) - len(out.Findings)/2
			out.Findings = out.Findings[:len(out.Findings)/2]
		}
		if len(out.Transactions) > 10 {
			out.Omitted["transactions"] += len(out.Transactions) - len(out.Transactions)/2
			out.Transactions = out.Transactions[:len(out.Transactions)/2]
		}
	}
	if len(out.Omitted) == 0 {
		out.Omitted = nil
	}
	return out, nil
}

// sortBySeverity puts the most severe first, keeping the trace's order
// within a severity.
func sortBySeverity(fs []inspect.Finding) {
	slices.SortStableFunc(fs, func(a, b inspect.Finding) int { return int(b.Severity) - int(a.Severity) })
}

func (s *Server) control(path string) func(context.Context, struct{}) (any, error) {
	return func(ctx context.Context, _ struct{}) (any, error) {
		if !s.opts.Live {
			return nil, errors.New("nothing to control: this server reads a file")
		}
		var out map[string]any
		if err := s.opts.Source.Do(ctx, "POST", path, nil, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
}
