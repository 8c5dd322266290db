// Package txn groups flows into sign-in transactions: the authorize request,
// the sign-in pages and their posts, the redirect back to the app and the
// token redemption of one sign-in; the polls of one device code; one
// client-credentials call; one SAML or WS-Fed round trip. It links flows by
// the values the protocol itself carries from one step to the next (codes,
// ctx and flow tokens, device codes, SAML IDs, redirect URLs, correlation
// ids) and reads each transaction's outcome with inspect/decode.
//
// It owns only the grouping. It reads flow.Flow and inspect/decode, keeps no
// flow bodies, and must not import the rule engine, the sinks, goproxy or
// net/http server code.
package txn

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/decode"
)

// Protocols, as Transaction.Protocol names them.
const (
	ProtoAuthCodePKCE      = "auth-code-pkce"
	ProtoAuthCode          = "auth-code"
	ProtoImplicit          = "implicit"
	ProtoHybrid            = "hybrid"
	ProtoDeviceCode        = "device-code"
	ProtoROPC              = "ropc"
	ProtoClientCredentials = "client-credentials"
	ProtoOBO               = "on-behalf-of"
	ProtoRefreshToken      = "refresh-token"
	ProtoSAML              = "saml"
	ProtoWSFed             = "ws-fed"
	ProtoUnknown           = "unknown"
)

// Outcomes, as Transaction.Outcome names them.
const (
	Succeeded  = "succeeded"
	Failed     = "failed"
	Abandoned  = "abandoned"
	InProgress = "in-progress"
)

// StaleAfter is how long an unfinished transaction may stay quiet, measured
// against the newest flow seen, before it counts as abandoned. It matches
// the lifetime of an authorization code.
const StaleAfter = 10 * time.Minute

// Transaction is one sign-in (or one token call) and the flows it took.
type Transaction struct {
	// ID is the transaction's 0-based position in the order of first flows.
	ID       int    `json:"id"`
	Protocol string `json:"protocol"`
	Outcome  string `json:"outcome"`
	// Code is the AADSTS code of a failed transaction (0 otherwise, and 0
	// for failures without one, such as a user cancel).
	Code     int    `json:"code,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	// Flows holds flow indexes in order.
	Flows []int     `json:"flows"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// CorrelationIDs are the client-request-id and correlation ids seen.
	CorrelationIDs []string `json:"correlationIds,omitempty"`
}

// state is where a transaction stands; the outcome follows from it.
type state int

const (
	stStarted    state = iota
	stCodeIssued       // a code went to the app and waits for redemption
	stSucceeded
	stFailed
)

type txn struct {
	t         Transaction
	state     state
	gotTokens bool   // tokens were issued at some point (refresh grants may follow)
	account   string // uid.utid from client_info
}

// maxCorrelationIDs bounds the ids kept per transaction.
const maxCorrelationIDs = 32

// maxPreludes bounds the unclaimed PRT nonce requests kept.
const maxPreludes = 64

// prelude is a flow that belongs to the sign-in that will use its answer: a
// srv_challenge nonce request, claimed by the authorize that sends the
// nonce as sso_nonce.
type prelude struct {
	index      int
	start, end time.Time
	nonce      string
}

// Grouper groups flows into transactions as they stream in. Add is meant to
// be called from one goroutine in flow order; Transactions and Finish may be
// called from others.
type Grouper struct {
	mu       sync.Mutex
	txns     []*txn
	keys     map[string]*txn
	preludes []prelude
	last     time.Time // newest flow time seen
	ended    bool
}

// NewGrouper returns an empty grouper.
func NewGrouper() *Grouper {
	return &Grouper{keys: map[string]*txn{}}
}

// Key kinds. A key is kind + "\x00" + value.
const (
	keyCode   = "code"
	keyDevice = "device"
	keyUser   = "usercode"
	keySAML   = "saml"
	keyWctx   = "wctx"
	keyCtx    = "ctx"
	keyFT     = "ft"
	keyURL    = "url"
	keyPage   = "hpg" // a page's request id, scoped by host
	keyNonce  = "nonce"
	keyState  = "state"
	keyCorr   = "corr"
	keyRT     = "rt"
)

// usable reports whether a value can link flows: long enough to be unique,
// and not a placeholder a sanitizer left (every redacted code would
// otherwise link to every other).
func usable(v string) bool {
	if len(v) < 6 {
		return false
	}
	if _, ok := decode.ParsePlaceholder(v); ok {
		// aadproxy's sanitizer writes the same placeholder for the same
		// value, so these still link.
		return true
	}
	l := strings.ToLower(v)
	for _, p := range []string{"redact", "sanitiz", "removed", "hidden", "xxxxxx", "******", "<", "{"} {
		if strings.Contains(l, p) {
			return false
		}
	}
	return true
}

func (g *Grouper) lookup(kind, v string) *txn {
	if !usable(v) {
		return nil
	}
	return g.keys[kind+"\x00"+v]
}

func (g *Grouper) index(t *txn, kind, v string) {
	if usable(v) {
		g.keys[kind+"\x00"+v] = t
	}
}

// Add groups one completed flow. Flows that belong to no sign-in (static
// assets, discovery, app pages that link to nothing) are left out.
func (g *Grouper) Add(f *flow.Flow) {
	// A flow that breaks grouping is left out rather than ending a live
	// capture or an analysis. The fuzz target calls add directly, so this
	// does not hide such bugs from it.
	defer func() { _ = recover() }()
	g.add(f)
}

func (g *Grouper) add(f *flow.Flow) {
	if f == nil || f.Request == nil {
		return
	}
	x := examine(f)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = false
	if x.start.After(g.last) {
		g.last = x.start
	}
	if x.end.After(g.last) {
		g.last = x.end
	}

	if x.kind == kindToken && x.grant == "srv_challenge" {
		g.addPrelude(x)
		return
	}
	t := g.find(x)
	if t == nil {
		proto, ok := g.starts(x)
		if !ok {
			return
		}
		t = &txn{t: Transaction{Protocol: proto, Start: x.start, End: x.end}}
		g.txns = append(g.txns, t)
	}
	g.claimPrelude(t, x)
	g.join(t, x)
}

// addPrelude keeps a PRT nonce request until an authorize claims it.
func (g *Grouper) addPrelude(x *facts) {
	nonce := x.jsonString("Nonce")
	if !usable(nonce) {
		return
	}
	if len(g.preludes) >= maxPreludes {
		g.preludes = g.preludes[1:]
	}
	g.preludes = append(g.preludes, prelude{index: x.f.Index, start: x.start, end: x.end, nonce: nonce})
}

func (g *Grouper) claimPrelude(t *txn, x *facts) {
	nonce := x.params.Get("sso_nonce")
	if nonce == "" {
		return
	}
	for i, p := range g.preludes {
		if p.nonce == nonce {
			t.t.Flows = append(t.t.Flows, p.index)
			if p.start.Before(t.t.Start) || t.t.Start.IsZero() {
				t.t.Start = p.start
			}
			g.preludes = slices.Delete(g.preludes, i, i+1)
			return
		}
	}
}

// find returns the transaction a flow continues, or nil.
func (g *Grouper) find(x *facts) *txn {
	switch x.kind {
	case kindAuthorize:
		// A fresh authorize starts a sign-in unless Entra itself sent the
		// browser here (a redirect to the same or another authorize).
		if t := g.lookup(keyURL, stripFragment(x.f.Request.URL)); t != nil {
			return t
		}
		return g.lookup(keyNonce, x.params.Get("sso_nonce"))
	case kindDeviceCode:
		return nil
	case kindToken:
		return g.findForGrant(x)
	}
	for _, k := range []struct{ kind, v string }{
		{keyCode, x.params.Get("code")},
		{keyUser, x.params.Get("otc")},
		{keyUser, x.params.Get("user_code")},
	} {
		if t := g.lookup(k.kind, k.v); t != nil {
			return t
		}
	}
	for _, m := range x.saml {
		for _, id := range []string{m.InResponseTo, m.ID} {
			if t := g.lookup(keySAML, id); t != nil {
				return t
			}
		}
		if m.WSFed != nil {
			if t := g.lookup(keyWctx, m.WSFed.Context); t != nil {
				return t
			}
		}
	}
	for _, k := range []struct{ kind, v string }{
		{keyCtx, x.params.Get("ctx")},
		{keyCtx, x.jsonReq["originalRequest"]},
		{keyFT, x.params.Get("flowToken")},
		{keyFT, x.jsonReq["flowToken"]},
		{keyURL, stripFragment(x.f.Request.URL)},
		{keyPage, x.host + "\x00" + x.f.Request.Header.Get("hpgrequestid")},
		{keyPage, x.host + "\x00" + x.params.Get("hpgrequestid")},
		{keyState, x.params.Get("state")},
	} {
		if strings.HasSuffix(k.v, "\x00") {
			continue
		}
		if t := g.lookup(k.kind, k.v); t != nil {
			return t
		}
	}
	if t := g.lookup(keyCorr, x.crid); t != nil && sameClient(t, x.clientID) {
		return t
	}
	return nil
}

// findForGrant links a token request: a code to the sign-in that issued
// it, a device code to its device authorization, a refresh to the latest
// sign-in of the same client and account. Client credentials, ROPC and OBO
// stand alone.
func (g *Grouper) findForGrant(x *facts) *txn {
	switch x.tokenProtocol() {
	case ProtoAuthCode, ProtoAuthCodePKCE:
		if t := g.lookup(keyCode, x.oauth.Code); t != nil {
			return t
		}
		if t := g.lookup(keyCorr, x.crid); t != nil && sameClient(t, x.clientID) {
			return t
		}
		// Sanitized traces replace codes: fall back to the latest sign-in of
		// this client still waiting for its code to be redeemed.
		for i := len(g.txns) - 1; i >= 0; i-- {
			t := g.txns[i]
			if t.state == stCodeIssued && sameClient(t, x.clientID) && x.start.Sub(t.t.End) <= StaleAfter {
				return t
			}
		}
	case ProtoDeviceCode:
		code := x.params.Get("device_code")
		if code == "" {
			code = x.params.Get("code")
		}
		return g.lookup(keyDevice, code)
	case ProtoRefreshToken:
		// The refresh token itself is the best link; sanitized traces
		// replace it, so fall back to the latest sign-in of the same client
		// and account.
		if t := g.lookup(keyRT, x.params.Get("refresh_token")); t != nil {
			return t
		}
		acct := x.account()
		for i := len(g.txns) - 1; i >= 0; i-- {
			t := g.txns[i]
			if !t.gotTokens || standalone(t.t.Protocol) || !sameClient(t, x.clientID) || x.clientID == "" {
				continue
			}
			if acct != "" && t.account != "" && acct != t.account {
				continue
			}
			if isGUID(x.tenant) && isGUID(t.t.Tenant) && x.tenant != t.t.Tenant {
				continue
			}
			return t
		}
	}
	return nil
}

// starts reports whether an unlinked flow begins a transaction, and its
// protocol.
func (g *Grouper) starts(x *facts) (string, bool) {
	switch x.kind {
	case kindAuthorize:
		return x.authorizeProtocol(), true
	case kindDeviceCode:
		return ProtoDeviceCode, true
	case kindToken:
		return x.tokenProtocol(), true
	}
	for _, m := range x.saml {
		switch {
		case m.Binding == decode.SAMLBindingWSFed && strings.HasPrefix(m.Kind, "SignIn"):
			return ProtoWSFed, true
		case m.Binding != decode.SAMLBindingWSFed && m.Kind != "":
			return ProtoSAML, true
		}
	}
	return "", false
}

// join adds the flow to t, indexes the values later flows may carry, and
// moves t's state.
func (g *Grouper) join(t *txn, x *facts) {
	tr := &t.t
	if !slices.Contains(tr.Flows, x.f.Index) {
		tr.Flows = append(tr.Flows, x.f.Index)
	}
	if tr.Start.IsZero() || (!x.start.IsZero() && x.start.Before(tr.Start)) {
		tr.Start = x.start
	}
	if x.end.After(tr.End) {
		tr.End = x.end
	}
	if tr.Protocol == ProtoUnknown {
		if p, ok := g.starts(x); ok && p != ProtoUnknown {
			tr.Protocol = p
		}
	}
	if tr.Protocol == ProtoAuthCode && x.kind == kindToken && x.oauth.CodeVerifier != "" {
		tr.Protocol = ProtoAuthCodePKCE
	}
	if tr.ClientID == "" {
		tr.ClientID = x.clientID
	}
	if x.tenant != "" && (tr.Tenant == "" || (genericTenant(tr.Tenant) && !genericTenant(x.tenant))) {
		tr.Tenant = x.tenant
	}
	if tid := x.idTokenTenant(); tid != "" && (tr.Tenant == "" || genericTenant(tr.Tenant)) {
		tr.Tenant = tid
	}
	if acct := x.account(); acct != "" {
		t.account = acct
	}

	// Correlation ids.
	addCorr := func(id string) {
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" || slices.Contains(tr.CorrelationIDs, id) || len(tr.CorrelationIDs) >= maxCorrelationIDs {
			return
		}
		tr.CorrelationIDs = append(tr.CorrelationIDs, id)
		g.index(t, keyCorr, id)
	}
	addCorr(x.crid)
	addCorr(x.respCorrID)
	addCorr(x.configString("correlationId"))
	for _, e := range x.errs {
		addCorr(e.CorrelationID)
	}

	// Values the next steps carry.
	if x.location != "" {
		g.index(t, keyURL, stripFragment(x.location))
	}
	g.index(t, keyCode, x.delivered.Get("code"))
	g.index(t, keyState, x.delivered.Get("state"))
	if x.kind == kindAuthorize {
		g.index(t, keyState, x.oauth.State)
	}
	g.index(t, keyCtx, x.configString("sCtx"))
	g.index(t, keyCtx, x.params.Get("ctx"))
	g.index(t, keyFT, x.configString("sFT"))
	g.index(t, keyFT, x.jsonString("FlowToken"))
	g.index(t, keyFT, x.params.Get("flowToken"))
	for _, id := range []string{x.configString("sessionId"), x.requestID} {
		if id != "" {
			g.index(t, keyPage, x.host+"\x00"+id)
		}
	}
	if x.kind == kindToken {
		g.index(t, keyRT, x.jsonString("refresh_token"))
	}
	if x.kind == kindDeviceCode {
		g.index(t, keyDevice, x.jsonString("device_code"))
		g.index(t, keyUser, x.jsonString("user_code"))
	}
	if x.kind == kindAuthorize {
		g.index(t, keyNonce, x.params.Get("sso_nonce"))
	}
	for _, m := range x.saml {
		g.index(t, keySAML, m.ID)
		g.index(t, keySAML, m.InResponseTo)
		if m.WSFed != nil {
			g.index(t, keyWctx, m.WSFed.Context)
		}
		if tr.ClientID == "" {
			tr.ClientID = samlClient(&m)
		}
		if tid := samlTenant(&m); tid != "" && (tr.Tenant == "" || genericTenant(tr.Tenant)) {
			tr.Tenant = tid
		}
	}

	g.advance(t, x)
}

// advance moves t's state by what the flow's answer says.
func (g *Grouper) advance(t *txn, x *facts) {
	for _, e := range x.errs {
		if pending(e) {
			continue
		}
		t.state, t.t.Code = stFailed, e.Code()
		return
	}
	for _, m := range x.saml {
		if m.Binding == decode.SAMLBindingWSFed {
			if m.WSFed != nil && m.WSFed.Fault != "" {
				e, _ := decode.SAMLStatusError(&m)
				t.state, t.t.Code = stFailed, e.Code()
				return
			}
			if m.Kind == "SignInResponse" && m.Assertion != nil {
				t.state, t.t.Code = stSucceeded, 0
			}
			continue
		}
		if m.StatusCode == "" {
			continue
		}
		if m.Succeeded() {
			t.state, t.t.Code = stSucceeded, 0
			continue
		}
		if e, err := decode.SAMLStatusError(&m); err == nil {
			t.state, t.t.Code = stFailed, e.Code()
			return
		}
	}
	switch {
	case x.tokensIssued():
		t.state, t.t.Code, t.gotTokens = stSucceeded, 0, true
	case x.delivered.Get("code") != "" && (t.state == stStarted || t.state == stFailed):
		t.state, t.t.Code = stCodeIssued, 0
	}
}

// pending reports the answers of a poll that simply has to continue.
func pending(e decode.AADSTSError) bool {
	switch e.OAuthError {
	case "authorization_pending", "slow_down":
		return true
	}
	return e.Code() == 70016
}

// Transactions returns a snapshot of the transactions so far, ordered by
// first flow. A transaction with nothing conclusive yet is in progress, or
// abandoned once it has been quiet for StaleAfter (measured against the
// newest flow) or the trace has ended (Finish).
func (g *Grouper) Transactions() []Transaction {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Transaction, 0, len(g.txns))
	for _, t := range g.txns {
		tr := t.t
		tr.Flows = slices.Clone(tr.Flows)
		sort.Ints(tr.Flows)
		tr.CorrelationIDs = slices.Clone(tr.CorrelationIDs)
		switch t.state {
		case stSucceeded:
			tr.Outcome, tr.Code = Succeeded, 0
		case stFailed:
			tr.Outcome = Failed
		default:
			tr.Code = 0
			if g.ended || g.last.Sub(tr.End) > StaleAfter {
				tr.Outcome = Abandoned
			} else {
				tr.Outcome = InProgress
			}
		}
		out = append(out, tr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return firstFlow(out[i]) < firstFlow(out[j])
	})
	for i := range out {
		out[i].ID = i
	}
	return out
}

// Finish marks the end of the trace, so nothing is in progress any more,
// and returns the final transactions. A later Add reopens the trace.
func (g *Grouper) Finish() []Transaction {
	g.mu.Lock()
	g.ended = true
	g.mu.Unlock()
	return g.Transactions()
}

func firstFlow(t Transaction) int {
	if len(t.Flows) == 0 {
		return int(^uint(0) >> 1)
	}
	return t.Flows[0]
}

// standalone reports the grants that are one-flow transactions whatever
// follows them.
func standalone(proto string) bool {
	switch proto {
	case ProtoClientCredentials, ProtoROPC, ProtoOBO:
		return true
	}
	return false
}

func sameClient(t *txn, clientID string) bool {
	return clientID == "" || t.t.ClientID == "" || strings.EqualFold(t.t.ClientID, clientID)
}

func genericTenant(s string) bool {
	switch strings.ToLower(s) {
	case "common", "organizations", "consumers", "":
		return true
	}
	return false
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// samlClient names the relying party of a SAML or WS-Fed message: the
// request's issuer, else the assertion's audience, else wtrealm.
func samlClient(m *decode.SAMLMessage) string {
	switch {
	case m.WSFed != nil && m.WSFed.Realm != "":
		return m.WSFed.Realm
	case strings.HasSuffix(m.Kind, "Request") && m.Issuer != "":
		return m.Issuer
	case m.Assertion != nil && len(m.Assertion.Audiences) > 0:
		return m.Assertion.Audiences[0]
	}
	return ""
}

// samlTenant reads the tenant from an Entra issuer
// (https://sts.windows.net/{tid}/) or the tenantid claim.
func samlTenant(m *decode.SAMLMessage) string {
	if a := m.Assertion; a != nil {
		if v := a.Attributes["http://schemas.microsoft.com/identity/claims/tenantid"]; len(v) > 0 && isGUID(v[0]) {
			return strings.ToLower(v[0])
		}
	}
	for _, iss := range []string{m.Issuer, assertionIssuer(m)} {
		for _, prefix := range []string{"https://sts.windows.net/", "https://login.microsoftonline.com/"} {
			if rest, ok := strings.CutPrefix(iss, prefix); ok {
				tid, _, _ := strings.Cut(rest, "/")
				if isGUID(tid) {
					return strings.ToLower(tid)
				}
			}
		}
	}
	return ""
}

func assertionIssuer(m *decode.SAMLMessage) string {
	if m.Assertion == nil {
		return ""
	}
	return m.Assertion.Issuer
}
