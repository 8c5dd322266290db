// Package report turns an analysed trace into what a support ticket asks
// for: each failed sign-in with its error code and name, Correlation ID,
// Request ID, Trace ID, UTC timestamp, tenant, client_id, endpoint, the
// findings with their evidence, and the client's clock offset. It renders
// Markdown and a self-contained HTML page. It reads flows that were already
// sanitized for sharing; it must not read files, touch the proxy, or add
// anything secret-bearing (bodies, cookies, tokens) to its output.
package report

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/inspect/decode"
	"github.com/aadproxy/aadproxy/inspect/txn"
)

// Failure is one failed sign-in (or one failed token call).
type Failure struct {
	Code          int
	Name          string
	Message       string
	CorrelationID string
	RequestID     string // x-ms-request-id
	TraceID       string
	Timestamp     time.Time // UTC, from Entra's answer (else the flow's start)
	Tenant        string
	ClientID      string
	Endpoint      string // method and URL without the query
	Flow          int
	Transaction   int // -1 when the failure is not part of a grouped transaction
	Protocol      string
	// ClockOffset is the server's Date minus the client's clock at the
	// request (positive: the client is behind); nil when unknown.
	ClockOffset *time.Duration
	Findings    []inspect.Finding
}

// Report is what a bundle holds besides the trace.
type Report struct {
	Source       string
	Generated    time.Time
	Flows        int
	Transactions []txn.Transaction
	Failures     []Failure
	// Findings are all findings, for the full list at the end.
	Findings []inspect.Finding
	// ClockOffset is the median server-minus-client offset over the trace.
	ClockOffset *time.Duration
}

// Build assembles a report from the flows of a trace (indexed 0..n-1), the
// findings and transactions of its analysis.
func Build(source string, flows []*flow.Flow, findings []inspect.Finding, txns []txn.Transaction, now time.Time) *Report {
	r := &Report{Source: source, Generated: now.UTC(), Flows: len(flows), Transactions: txns, Findings: findings}
	byFlow := map[int][]inspect.Finding{}
	for _, f := range findings {
		byFlow[f.Flow] = append(byFlow[f.Flow], f)
		for _, rel := range f.Related {
			if rel != f.Flow {
				byFlow[rel] = append(byFlow[rel], f)
			}
		}
	}
	txnOf := map[int]*txn.Transaction{}
	for i := range txns {
		for _, fi := range txns[i].Flows {
			txnOf[fi] = &txns[i]
		}
	}
	var offsets []time.Duration
	for _, f := range flows {
		if off, ok := clockOffset(f); ok {
			offsets = append(offsets, off)
		}
	}
	if len(offsets) > 0 {
		sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
		m := offsets[len(offsets)/2]
		r.ClockOffset = &m
	}
	for i, f := range flows {
		fl, ok := FailureOf(f, i, byFlow[i])
		if !ok {
			continue
		}
		if t := txnOf[i]; t != nil {
			fl.Transaction, fl.Protocol = t.ID, t.Protocol
			if fl.ClientID == "" {
				fl.ClientID = t.ClientID
			}
			if fl.Tenant == "" {
				fl.Tenant = t.Tenant
			}
		}
		r.Failures = append(r.Failures, fl)
	}
	return r
}

// FailureOf reads the failure flow f (numbered index) carries, given the
// findings about it: its AADSTS code and name, the IDs support asks for,
// its endpoint, tenant and client. ok is false when f carries no AADSTS
// error, or one that is a step of a healthy flow. Transaction is -1: the
// caller knows which transaction f belongs to.
func FailureOf(f *flow.Flow, index int, findings []inspect.Finding) (fl Failure, ok bool) {
	errs := decode.FlowErrors(f)
	if len(errs) == 0 {
		return fl, false
	}
	e := errs[0]
	if e.Code() == 0 || !failing(e.Code(), findings) {
		return fl, false
	}
	fl = Failure{
		Code: e.Code(), Message: e.Message, CorrelationID: e.CorrelationID, TraceID: e.TraceID,
		Timestamp: e.Timestamp.UTC(), Flow: index, Transaction: -1, Findings: findings,
	}
	if entry, ok := catalog.Lookup(fl.Code); ok {
		fl.Name = entry.Name
	}
	if f.Response != nil {
		fl.RequestID = f.Response.Header.Get("x-ms-request-id")
	}
	if fl.TraceID == "" {
		fl.TraceID = fl.RequestID
	}
	if fl.CorrelationID == "" {
		fl.CorrelationID = f.Request.Header.Get("client-request-id")
	}
	if fl.Timestamp.IsZero() {
		fl.Timestamp = f.Timings.Start.UTC()
	}
	fl.Endpoint, fl.Tenant, fl.ClientID = endpoint(f)
	if off, ok := clockOffset(f); ok {
		fl.ClockOffset = &off
	}
	return fl, true
}

// Text is the failure as a block to paste into a support ticket: the code
// and its name, the IDs, the time and who was signing in where.
func (fl Failure) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Error: AADSTS%d", fl.Code)
	if fl.Name != "" {
		fmt.Fprintf(&b, " (%s)", fl.Name)
	}
	b.WriteString("\n")
	for _, kv := range [][2]string{
		{"Correlation ID", fl.CorrelationID},
		{"Request ID", fl.RequestID},
		{"Trace ID", fl.TraceID},
		{"Timestamp (UTC)", fl.Timestamp.UTC().Format("2006-01-02 15:04:05Z")},
		{"Tenant", fl.Tenant},
		{"Client ID", fl.ClientID},
		{"Endpoint", fl.Endpoint},
		{"Message", fl.Message},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// failing reports whether an error is a failure worth a support ticket:
// some codes are steps of healthy flows (authorization_pending, a silent
// request answered "sign in interactively"), and the rules said so by
// reporting them below error level.
func failing(code int, fs []inspect.Finding) bool {
	for _, f := range fs {
		if f.Code == code && f.Severity >= inspect.Warning {
			return f.Severity == inspect.Error
		}
	}
	entry, ok := catalog.Lookup(code)
	return !ok || entry.Severity == catalog.SeverityError
}

// endpoint returns the request's method and URL without query, the tenant
// path segment and the client_id parameter.
func endpoint(f *flow.Flow) (ep, tenant, clientID string) {
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return f.Request.Method, "", ""
	}
	ep = f.Request.Method + " " + u.Scheme + "://" + u.Host + u.Path
	if seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/"); len(seg) > 1 {
		tenant = seg[0]
	}
	clientID = u.Query().Get("client_id")
	if clientID == "" && strings.Contains(strings.ToLower(f.Request.Header.Get("Content-Type")), "x-www-form-urlencoded") {
		if form, err := url.ParseQuery(f.Request.Body.Text()); err == nil {
			clientID = form.Get("client_id")
		}
	}
	return ep, tenant, clientID
}

// clockOffset is the server's Date header minus the client's clock when the
// request started (HTTP dates have one-second resolution).
func clockOffset(f *flow.Flow) (time.Duration, bool) {
	if f.Response == nil || f.Response.Synthetic || f.Timings.Start.IsZero() {
		return 0, false
	}
	d, err := http1Date(f.Response.Header.Get("Date"))
	if err != nil {
		return 0, false
	}
	return d.Sub(f.Timings.Start).Truncate(time.Second), true
}

func http1Date(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &time.ParseError{Value: s, Message: ": not an HTTP date"}
}
