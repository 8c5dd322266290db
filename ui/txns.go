package ui

import (
	"net/url"
	"slices"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/decode"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/report"
)

// txnRefresh is how often the store regroups sign-ins while flows arrive:
// grouping is per batch of flows, not per flow, so a busy capture costs
// the same as a quiet one.
const txnRefresh = 300 * time.Millisecond

// refreshTransactions regroups on a timer while there is something new.
func (s *Store) refreshTransactions() {
	defer s.wg.Done()
	t := time.NewTicker(txnRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.regroup(false)
		}
	}
}

// regroup recomputes the transactions, numbers them, marks each flow with
// its own and tells subscribers what changed. force regroups even when
// nothing new arrived (an import finished).
func (s *Store) regroup(force bool) {
	s.mu.Lock()
	if !s.txnDirty && !force {
		s.mu.Unlock()
		return
	}
	s.txnDirty = false
	live := s.live
	if len(live.grouper.Transactions()) > maxLiveTransactions {
		// Retire the grouper: its sign-ins stay as they are now.
		s.frozen = append(s.frozen, s.recordsLocked(live, live.grouper.Finish())...)
		live.grouper = txn.NewGrouper()
	}
	var all []txnRecord
	for _, r := range s.frozen {
		if s.anyHeldLocked(r.ids) {
			all = append(all, r)
		}
	}
	s.frozen = all[:len(all):len(all)]
	all = append(all, s.recordsLocked(live, live.grouper.Transactions())...)
	for i := range all {
		all[i].t.ID = i
	}
	// Flows whose transaction changed get an update.
	want := map[int64]int64{}
	for _, r := range all {
		for _, id := range r.ids {
			want[id] = int64(r.t.ID) + 1
		}
	}
	var changed []Summary
	for _, e := range s.entries {
		if n := want[e.id]; e.txn.Load() != n {
			e.txn.Store(n)
			changed = append(changed, s.summaryLocked(e))
		}
	}
	s.txns = all
	s.mu.Unlock()
	for i := range changed {
		s.broadcast(event{Type: "update", Flow: &changed[i]})
	}
	s.broadcast(event{Type: "txn"})
}

// recordsLocked turns a grouper's transactions into records with store ids.
func (s *Store) recordsLocked(src *source, ts []txn.Transaction) []txnRecord {
	out := make([]txnRecord, 0, len(ts))
	for _, t := range ts {
		r := txnRecord{t: t, src: src}
		for _, i := range t.Flows {
			if id, ok := src.byIndex[i]; ok {
				r.ids = append(r.ids, id)
			}
		}
		if len(r.ids) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func (s *Store) anyHeldLocked(ids []int64) bool {
	for _, id := range ids {
		if s.entryLocked(id) != nil {
			return true
		}
	}
	return false
}

// Transaction is a sign-in as the API shows it (docs/api.md).
type Transaction struct {
	txn.Transaction
	Steps    []Step           `json:"steps"`
	Decisive *inspect.Finding `json:"decisive"`
	Support  *Support         `json:"support,omitempty"`
}

// Step is one flow of a transaction's timeline.
type Step struct {
	Flow   int64  `json:"flow"`
	Label  string `json:"label"`
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Failed bool   `json:"failed"`
	Mark   string `json:"mark,omitempty"`
	Sev    string `json:"sev,omitempty"`
}

// Support is what a support ticket asks for about a failed sign-in.
type Support struct {
	CorrelationID string `json:"correlationId"`
	RequestID     string `json:"requestId"`
	TraceID       string `json:"traceId"`
	Timestamp     string `json:"timestamp"`
	Code          int    `json:"code"`
	Name          string `json:"name"`
	Tenant        string `json:"tenant"`
	ClientID      string `json:"clientId"`
	Text          string `json:"text"`
}

// transactions returns the sign-ins held, with steps, the decisive finding
// and, for failed ones, the support block.
func (s *Store) transactions(v viewOpts) []Transaction {
	s.mu.Lock()
	recs := append([]txnRecord(nil), s.txns...)
	s.mu.Unlock()
	out := make([]Transaction, 0, len(recs))
	for _, r := range recs {
		out = append(out, s.transaction(r, v))
	}
	return out
}

// transactionOf returns the sign-in flow id belongs to, if any.
func (s *Store) transactionOf(id int64, v viewOpts) *Transaction {
	s.mu.Lock()
	var rec *txnRecord
	for i := range s.txns {
		if slices.Contains(s.txns[i].ids, id) {
			r := s.txns[i]
			rec = &r
			break
		}
	}
	s.mu.Unlock()
	if rec == nil {
		return nil
	}
	t := s.transaction(*rec, v)
	return &t
}

// transaction builds the API's view of one record: the steps still held,
// the decisive finding and, when it failed, the support block.
func (s *Store) transaction(r txnRecord, v viewOpts) Transaction {
	s.mu.Lock()
	byID := map[int64]held{}
	for _, id := range r.ids {
		if e := s.entryLocked(id); e != nil {
			byID[id] = held{e, s.summaryLocked(e)}
		}
	}
	s.mu.Unlock()
	if v.sanitized {
		for id, h := range byID {
			s.sanitizeSummary(&h.sum, h.e)
			byID[id] = h
		}
	}
	t := Transaction{Transaction: r.t, Steps: []Step{}}
	t.Flows = []int{}
	var failing *entry
	for _, id := range r.ids {
		h, ok := byID[id]
		if !ok {
			continue
		}
		t.Flows = append(t.Flows, int(id))
		st := Step{Flow: id, Label: stepLabel(h.e), Method: h.sum.Method, Host: h.sum.Host, Path: h.sum.Path, Status: h.sum.Status, Mark: h.sum.Mark, Sev: h.sum.Sev}
		if fs := s.findingsOf(h.e, v); fs != nil {
			if d, ok := decisive(fs); ok && (t.Decisive == nil || rankOf(d) > rankOf(*t.Decisive)) {
				t.Decisive = &d
				failing = h.e
			}
		}
		t.Steps = append(t.Steps, st)
	}
	if t.Outcome == txn.Failed {
		if failing == nil {
			failing = lastWithStatusError(byID, r.ids)
		}
		if failing != nil {
			for i := range t.Steps {
				t.Steps[i].Failed = t.Steps[i].Flow == failing.id
			}
			t.Support = s.support(failing, t.Transaction, v)
		}
	}
	return t
}

// held is an entry with its row, read under the store's lock.
type held struct {
	e   *entry
	sum Summary
}

// lastWithStatusError is the last flow of ids that failed by its status or
// a transport error: the failing step when no finding names one.
func lastWithStatusError(byID map[int64]held, ids []int64) *entry {
	for i := len(ids) - 1; i >= 0; i-- {
		if h, ok := byID[ids[i]]; ok && (h.sum.Status >= 400 || h.sum.Error != "") {
			return h.e
		}
	}
	return nil
}

// support builds the support block of a failed transaction from its
// failing flow, with the report's own reading of the failure.
func (s *Store) support(e *entry, t txn.Transaction, v viewOpts) *Support {
	fs := s.findingsOf(e, v)
	f := e.flow.Load()
	if v.sanitized {
		f = s.sanitizedFlow(f)
	}
	s.decodeMu.Lock()
	fl, ok := report.FailureOf(f, int(e.id), fs)
	s.decodeMu.Unlock()
	if !ok {
		return nil
	}
	if fl.ClientID == "" {
		fl.ClientID = t.ClientID
	}
	if fl.Tenant == "" {
		fl.Tenant = t.Tenant
	}
	return &Support{
		CorrelationID: fl.CorrelationID, RequestID: fl.RequestID, TraceID: fl.TraceID,
		Timestamp: fl.Timestamp.UTC().Format(time.RFC3339), Code: fl.Code, Name: fl.Name,
		Tenant: fl.Tenant, ClientID: fl.ClientID, Text: fl.Text(),
	}
}

// stepLabel names a step of the sign-in by what the endpoint is for.
func stepLabel(e *entry) string {
	f := e.flow.Load()
	u, err := url.Parse(f.Request.URL)
	if err != nil {
		return f.Request.Method
	}
	p := u.Path
	switch {
	case decode.ContainsFold(p, "/oauth2/") && decode.ContainsFold(p, "/authorize"):
		return "authorize"
	case decode.ContainsFold(p, "/oauth2/") && decode.ContainsFold(p, "/token"):
		return "token"
	case decode.ContainsFold(p, "/devicecode"):
		return "device code"
	case decode.ContainsFold(p, "/saml2"):
		return "SAML"
	case decode.ContainsFold(p, "/wsfed"):
		return "WS-Fed"
	case decode.ContainsFold(p, "/login") || decode.ContainsFold(p, "/kmsi") || decode.ContainsFold(p, "/reprocess") || decode.ContainsFold(p, "/GetCredentialType"):
		return "sign-in page"
	case decode.ContainsFold(p, "/.well-known/") || decode.ContainsFold(p, "/discovery/"):
		return "discovery"
	case f.Response != nil && f.Response.Status >= 300 && f.Response.Status < 400:
		return "redirect"
	case f.Request.Method == "POST":
		return "form post"
	}
	return f.Request.Method
}
