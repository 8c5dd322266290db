package ui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/proxy"
	"github.com/aadproxy/aadproxy/sanitize"
)

// Bounds of the store, by default.
const (
	// DefaultMaxFlows is how many flow summaries the store keeps at least
	// (unless their findings make them unusually large, see
	// DefaultSummaryBytes); older ones leave with a visible count.
	DefaultMaxFlows = 100_000
	// DefaultSummaryBytes bounds the summaries and findings together.
	DefaultSummaryBytes = 64 << 20
	// DefaultDetailBytes bounds the headers and bodies kept for the detail
	// pane; beyond it the oldest flows keep only their summary ("gone").
	DefaultDetailBytes = 32 << 20
	// maxKeptBody is the most of one body the store keeps; the recording
	// has the rest.
	maxKeptBody = 1 << 20
	// maxLiveTransactions is how many sign-ins one grouper tracks before
	// the store freezes them and starts a new one, so a long capture keeps
	// the grouper's indexes bounded.
	maxLiveTransactions = 2000
)

// StoreOptions bound a Store. Zero fields take the defaults.
type StoreOptions struct {
	MaxFlows     int
	SummaryBytes int64
	DetailBytes  int64
}

func (o StoreOptions) withDefaults() StoreOptions {
	if o.MaxFlows <= 0 {
		o.MaxFlows = DefaultMaxFlows
	}
	if o.SummaryBytes <= 0 {
		o.SummaryBytes = DefaultSummaryBytes
	}
	if o.DetailBytes <= 0 {
		o.DetailBytes = DefaultDetailBytes
	}
	return o
}

// Summary is one row of the flow list (docs/api.md).
type Summary struct {
	ID     int64   `json:"id"`
	Index  int     `json:"index"`
	Time   string  `json:"time"`
	Method string  `json:"method"`
	Host   string  `json:"host"`
	Path   string  `json:"path"`
	Status int     `json:"status"`
	MS     float64 `json:"ms"`
	Size   int64   `json:"size"`
	Txn    int     `json:"txn"`
	Sev    string  `json:"sev"`
	Mark   string  `json:"mark"`
	Error  string  `json:"error"`
	Source string  `json:"source"`
	Tag    string  `json:"tag,omitempty"`
	Gone   bool    `json:"gone"`
}

// maxSummaryPath keeps a row's path short; the detail has the whole URL.
const maxSummaryPath = 300

// entry is one flow in the store. The flow is a detached copy (its bodies
// decode independently of the pipeline's), replaced by a stub holding only
// the request line and status once its details leave memory. Fields other
// than the atomics are fixed once the entry is published.
type entry struct {
	id     int64
	index  int    // in its source
	source string // "" for live capture, else the imported file's name
	base   Summary
	flow   atomic.Pointer[flow.Flow]
	gone   atomic.Bool
	// findings are about this flow, with flow numbers translated to ids;
	// replaced whole (copy on write) when a later finding names the flow.
	findings atomic.Pointer[[]inspect.Finding]
	txn      atomic.Int64 // transaction id + 1; 0 none
	cost     int64        // summary and findings bytes
	detail   int64        // headers and bodies bytes while not gone
}

// Store keeps what the inspector shows: every flow's summary within its
// bounds, recent flows' details, findings and transactions, and the live
// subscribers. It is an Output of the pipeline (Flow, Notice, Final,
// Dropped) and never slows it: its work per flow is a copy and an append.
type Store struct {
	opts StoreOptions

	mu          sync.Mutex
	entries     []*entry // arrival order; entries[0] has id firstID
	firstID     int64
	nextID      int64
	summaryUsed int64
	detailUsed  int64
	detailFrom  int // entries before this index are gone
	evicted     int64
	dropped     int64 // flows the pipeline could not hand over (slow store)
	notices     []proxy.Notice
	live        *source // the capture's own numbering and grouper
	sources     []*source
	frozen      []txnRecord // transactions of retired groupers
	txns        []txnRecord // last computed transactions, ids assigned
	txnDirty    bool
	severity    [4]int64 // finding counts by inspect.Severity

	// decodeMu serialises decoding of stored flows (filters, details): a
	// Body caches its decoded view and is not safe for concurrent use.
	decodeMu sync.Mutex

	subsMu sync.Mutex
	subs   map[*subscriber]struct{}

	// sanitizeOpts is one key for the store's life, so a secret gets the
	// same placeholder in every sanitized answer. Sanitized answers are
	// for sharing (an assistant, a colleague), so user names and e-mail
	// addresses are pseudonymized too (their domain stays).
	sanitizeOpts sanitize.Options

	stop chan struct{}
	wg   sync.WaitGroup
}

// source is one numbering of flows: the live capture or one imported
// file. Findings and transactions name flows by their index in it.
type source struct {
	name    string
	byIndex map[int]int64 // index in the source -> store id
	grouper *txn.Grouper
	done    bool // an import: its grouper is finished
}

// txnRecord is a transaction with its flows as store ids.
type txnRecord struct {
	t   txn.Transaction
	ids []int64
	src *source
}

// NewStore returns an empty store and starts its transaction refresher;
// Close stops it.
func NewStore(o StoreOptions) *Store {
	s := &Store{opts: o.withDefaults(), subs: map[*subscriber]struct{}{}, stop: make(chan struct{}),
		sanitizeOpts: sanitize.Options{Pseudonymize: true}.Default()}
	s.live = &source{byIndex: map[int]int64{}, grouper: txn.NewGrouper()}
	s.sources = []*source{s.live}
	s.wg.Add(1)
	go s.refreshTransactions()
	return s
}

// Close stops the store's background work and ends every live channel.
func (s *Store) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	s.subsMu.Lock()
	for sub := range s.subs {
		sub.close()
	}
	s.subsMu.Unlock()
}

// Flow receives a flow from the pipeline, after inspection and recording.
func (s *Store) Flow(f *flow.Flow, findings []inspect.Finding) {
	s.mu.Lock()
	src := s.live
	s.mu.Unlock()
	s.add(src, f, findings)
}

// Notice keeps the proxy's notices for the status call.
func (s *Store) Notice(n proxy.Notice) {
	s.mu.Lock()
	if len(s.notices) >= 100 {
		s.notices = s.notices[1:]
	}
	s.notices = append(s.notices, n)
	s.mu.Unlock()
	s.broadcast(event{Type: "notice", Notice: &n})
}

// Final receives the whole-trace findings when the capture ends.
func (s *Store) Final(findings []inspect.Finding) {
	s.mu.Lock()
	src := s.live
	s.mu.Unlock()
	s.attachFindings(src, findings)
}

// Dropped is told how many flows the pipeline could not hand to the store.
func (s *Store) Dropped(n int64) {
	s.mu.Lock()
	s.dropped += n
	s.mu.Unlock()
}

// add stores one flow of src with the findings reported while it was
// inspected (they may be about earlier flows too).
func (s *Store) add(src *source, f *flow.Flow, findings []inspect.Finding) {
	if f == nil || f.Request == nil {
		return
	}
	c := detach(f)
	identity := inspect.NewView(c).Identity() // decodes c, still private
	s.mu.Lock()
	g, done := src.grouper, src.done // regroup may retire the grouper
	s.mu.Unlock()
	if identity && !done {
		g.Add(c)
	}
	trimBodies(c, identity)
	e := &entry{index: f.Index, source: src.name, base: baseSummary(c)}
	e.detail = detailCost(c)
	e.flow.Store(c)

	s.mu.Lock()
	e.id = s.nextID
	s.nextID++
	e.base.ID, e.base.Index, e.base.Source = e.id, e.index, e.source
	src.byIndex[e.index] = e.id
	e.cost = summaryCost(e)
	s.entries = append(s.entries, e)
	s.summaryUsed += e.cost
	s.detailUsed += e.detail
	if identity {
		s.txnDirty = true
	}
	removed := s.evictLocked()
	sum := s.summaryLocked(e)
	s.mu.Unlock()

	if len(removed) > 0 {
		s.broadcast(event{Type: "remove", IDs: removed})
	}
	s.broadcast(event{Type: "add", Flow: &sum})
	s.attachFindings(src, findings)
}

// attachFindings files findings under the flows they are about, in store
// ids, and tells subscribers about summaries that changed.
func (s *Store) attachFindings(src *source, findings []inspect.Finding) {
	if len(findings) == 0 {
		return
	}
	var changed []Summary
	s.mu.Lock()
	touched := map[*entry]bool{}
	for _, fd := range findings {
		t, ok := s.translateLocked(src, fd)
		if !ok {
			continue
		}
		e := s.entryLocked(int64(t.Flow))
		if e == nil {
			continue
		}
		var list []inspect.Finding
		if old := e.findings.Load(); old != nil {
			list = append(list, *old...)
		}
		list = append(list, t)
		e.findings.Store(&list)
		n := findingCost(t)
		e.cost += n
		s.summaryUsed += n
		if t.Severity.Valid() {
			s.severity[t.Severity]++
		}
		touched[e] = true
	}
	for e := range touched {
		changed = append(changed, s.summaryLocked(e))
	}
	s.mu.Unlock()
	for i := range changed {
		s.broadcast(event{Type: "update", Flow: &changed[i]})
	}
}

// translateLocked rewrites a finding's flow numbers from src's indexes to
// store ids, dropping related flows that already left.
func (s *Store) translateLocked(src *source, fd inspect.Finding) (inspect.Finding, bool) {
	id, ok := src.byIndex[fd.Flow]
	if !ok {
		return fd, false
	}
	fd.Flow = int(id)
	var rel []int
	for _, r := range fd.Related {
		if rid, ok := src.byIndex[r]; ok {
			rel = append(rel, int(rid))
		}
	}
	fd.Related = rel
	return fd, true
}

// entryLocked returns the entry with id, or nil when it left or never was.
func (s *Store) entryLocked(id int64) *entry {
	i := id - s.firstID
	if i < 0 || i >= int64(len(s.entries)) {
		return nil
	}
	return s.entries[i]
}

// evictLocked applies the bounds: the oldest details go first, then the
// oldest summaries. It returns the ids that left.
func (s *Store) evictLocked() []int64 {
	for s.detailUsed > s.opts.DetailBytes && s.detailFrom < len(s.entries) {
		e := s.entries[s.detailFrom]
		s.detailFrom++
		s.detailUsed -= e.detail
		e.detail = 0
		e.flow.Store(stub(e.flow.Load()))
		e.gone.Store(true)
	}
	var removed []int64
	for len(s.entries) > 1 && (len(s.entries) > s.opts.MaxFlows || s.summaryUsed > s.opts.SummaryBytes) {
		e := s.entries[0]
		s.entries[0] = nil
		s.entries = s.entries[1:]
		s.firstID++
		if s.detailFrom > 0 {
			s.detailFrom--
		} else {
			s.detailUsed -= e.detail
		}
		s.summaryUsed -= e.cost
		s.evicted++
		for _, src := range s.sources {
			if src.name == e.source && src.byIndex[e.index] == e.id {
				delete(src.byIndex, e.index)
			}
		}
		removed = append(removed, e.id)
	}
	if len(s.entries) == 0 || cap(s.entries) > 2*len(s.entries)+1024 {
		// Let the array the evicted entries lived in go.
		s.entries = append([]*entry(nil), s.entries...)
	}
	return removed
}

// summaryLocked is e's current row.
func (s *Store) summaryLocked(e *entry) Summary {
	sum := e.base
	sum.Txn = int(e.txn.Load())
	sum.Gone = e.gone.Load()
	if p := e.findings.Load(); p != nil {
		if d, ok := decisive(*p); ok {
			sum.Sev = d.Severity.String()
			sum.Mark = markOf(d)
		}
	}
	return sum
}

// decisive is the most severe finding; among equals a specific rule's
// (domain-hint-mismatch says why) wins over the generic aadsts-error
// (which says what), then the first.
func decisive(fs []inspect.Finding) (inspect.Finding, bool) {
	best := -1
	for i, f := range fs {
		if best < 0 || rankOf(f) > rankOf(fs[best]) {
			best = i
		}
	}
	if best < 0 {
		return inspect.Finding{}, false
	}
	return fs[best], true
}

// rankOf orders findings for decisive.
func rankOf(f inspect.Finding) int {
	r := int(f.Severity) * 2
	if f.Rule != genericErrorRule {
		r++
	}
	return r
}

// genericErrorRule reports every AADSTS code by its catalog entry.
const genericErrorRule = "aadsts-error"

// markOf is a finding as the list shows it: "AADSTS50143 · domain-hint-mismatch".
func markOf(f inspect.Finding) string {
	if f.Code != 0 {
		return fmt.Sprintf("AADSTS%d · %s", f.Code, f.Rule)
	}
	return f.Rule
}

func baseSummary(f *flow.Flow) Summary {
	sum := Summary{Method: f.Request.Method, Status: f.Status(), Error: f.Error, Tag: f.Tag}
	if !f.Timings.Start.IsZero() {
		sum.Time = f.Timings.Start.UTC().Format(time.RFC3339Nano)
	}
	if u, err := url.Parse(f.Request.URL); err == nil {
		sum.Host = u.Host
		sum.Path = u.RequestURI()
	} else {
		sum.Path = f.Request.URL
	}
	if len(sum.Path) > maxSummaryPath {
		sum.Path = truncateUTF8(sum.Path, maxSummaryPath) + "…"
	}
	if d := f.Done.Sub(f.Timings.Start); !f.Done.IsZero() && !f.Timings.Start.IsZero() && d >= 0 {
		sum.MS = float64(d.Microseconds()) / 1000
	} else {
		sum.MS = float64(f.Timings.Total().Microseconds()) / 1000
	}
	if f.Response != nil {
		sum.Size = f.Response.Body.Size
	}
	return sum
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// detach copies a flow's structure, sharing its immutable bytes but not
// its bodies' decoded caches (see flow.Body.Detached).
func detach(f *flow.Flow) *flow.Flow {
	c := &flow.Flow{
		Index: f.Index, Error: f.Error, Timings: f.Timings, Tag: f.Tag,
		ClientAddr: f.ClientAddr, ServerAddr: f.ServerAddr,
		ClientTLS: f.ClientTLS, ServerTLS: f.ServerTLS, Done: f.Done,
	}
	if r := f.Request; r != nil {
		c.Request = &flow.Request{Method: r.Method, URL: r.URL, Proto: r.Proto, Header: r.Header, Body: r.Body.Detached()}
	}
	if r := f.Response; r != nil {
		c.Response = &flow.Response{Status: r.Status, Reason: r.Reason, Proto: r.Proto, Header: r.Header, Body: r.Body.Detached(), Synthetic: r.Synthetic}
	}
	return c
}

// trimBodies keeps at most maxKeptBody of each body: a bundle of script
// must not push every sign-in out of the store. Identity bodies are kept
// whole (they are small, and they are what the user came for).
func trimBodies(f *flow.Flow, identity bool) {
	if identity {
		return
	}
	for _, b := range []*flow.Body{reqBody(f), respBody(f)} {
		if b != nil && len(b.Raw) > maxKeptBody {
			*b = flow.Body{Raw: b.Raw[:maxKeptBody:maxKeptBody], Size: b.Size, Truncated: true, Encoding: b.Encoding, DecodeLimit: b.DecodeLimit}
		}
	}
}

func reqBody(f *flow.Flow) *flow.Body {
	if f.Request == nil {
		return nil
	}
	return &f.Request.Body
}

func respBody(f *flow.Flow) *flow.Body {
	if f.Response == nil {
		return nil
	}
	return &f.Response.Body
}

// stub keeps what filters on the request line and status need once a
// flow's details have left.
func stub(f *flow.Flow) *flow.Flow {
	c := &flow.Flow{Index: f.Index, Error: f.Error, Timings: f.Timings, Done: f.Done}
	c.Request = &flow.Request{Method: f.Request.Method, URL: f.Request.URL, Proto: f.Request.Proto, Body: f.Request.Body.WithoutBytes()}
	if r := f.Response; r != nil {
		c.Response = &flow.Response{Status: r.Status, Reason: r.Reason, Proto: r.Proto, Body: r.Body.WithoutBytes(), Synthetic: r.Synthetic}
	}
	return c
}

func detailCost(f *flow.Flow) int64 {
	n := 256
	for _, r := range []*flow.Body{reqBody(f), respBody(f)} {
		if r != nil {
			n += len(r.Raw) + r.DecodedLen()
		}
	}
	if f.Request != nil {
		n += headerBytes(f.Request.Header)
	}
	if f.Response != nil {
		n += headerBytes(f.Response.Header)
	}
	return int64(n)
}

func headerBytes(h flow.Headers) int {
	n := 0
	for _, kv := range h {
		n += len(kv.Name) + len(kv.Value) + 32
	}
	return n
}

func summaryCost(e *entry) int64 {
	b := e.base
	return int64(320 + len(b.Time) + len(b.Method) + len(b.Host) + len(b.Path) + len(b.Error) + len(b.Source) +
		len(e.flow.Load().Request.URL))
}

func findingCost(f inspect.Finding) int64 {
	return int64(160 + len(f.Rule) + len(f.Title) + len(f.Evidence) + len(f.Fix) + 8*len(f.Related))
}

// Clear empties the store (the recording is another matter).
func (s *Store) Clear() {
	s.mu.Lock()
	s.entries = nil
	s.firstID = s.nextID
	s.summaryUsed, s.detailUsed, s.detailFrom = 0, 0, 0
	s.severity = [4]int64{}
	s.live = &source{byIndex: map[int]int64{}, grouper: txn.NewGrouper()}
	s.sources = []*source{s.live}
	s.frozen, s.txns, s.txnDirty = nil, nil, false
	s.mu.Unlock()
	s.broadcast(event{Type: "clear"})
}

// snapshot returns the entries in arrival order.
func (s *Store) snapshot() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*entry(nil), s.entries...)
}

// summaries returns the rows of entries, sanitized when v says so.
func (s *Store) summaries(es []*entry, v viewOpts) []Summary {
	s.mu.Lock()
	out := make([]Summary, len(es))
	for i, e := range es {
		out[i] = s.summaryLocked(e)
	}
	s.mu.Unlock()
	if v.sanitized {
		for i, e := range es {
			s.sanitizeSummary(&out[i], e)
		}
	}
	return out
}

// Counts is the store's part of the status call.
type Counts struct {
	Flows    int   `json:"flows"`
	Seen     int64 `json:"seen"`
	Evicted  int64 `json:"evicted"`
	Dropped  int64 `json:"dropped"`
	Errors   int64 `json:"errors"`
	Warnings int64 `json:"warnings"`
	Infos    int64 `json:"infos"`
}

func (s *Store) counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Counts{
		Flows: len(s.entries), Seen: s.nextID, Evicted: s.evicted, Dropped: s.dropped,
		Errors: s.severity[inspect.Error], Warnings: s.severity[inspect.Warning], Infos: s.severity[inspect.Info],
	}
}

// findings returns every finding held, in flow order.
func (s *Store) findings(v viewOpts) []inspect.Finding {
	out := []inspect.Finding{}
	for _, e := range s.snapshot() {
		out = append(out, s.findingsOf(e, v)...)
	}
	return out
}

// findingsOf returns the findings about e.
func (s *Store) findingsOf(e *entry, v viewOpts) []inspect.Finding {
	p := e.findings.Load()
	if p == nil {
		return nil
	}
	if !v.sanitized {
		return *p
	}
	out := make([]inspect.Finding, len(*p))
	for i, f := range *p {
		out[i] = s.scrubFinding(f)
	}
	return out
}

// event is one message of the live channel (docs/api.md).
type event struct {
	Type   string        `json:"type"`
	Flow   *Summary      `json:"flow,omitempty"`
	IDs    []int64       `json:"ids,omitempty"`
	Status *Status       `json:"status,omitempty"`
	Notice *proxy.Notice `json:"notice,omitempty"`
}

func (e event) encode() []byte {
	b, _ := json.Marshal(e)
	return b
}
