// Package filter is aadproxy's flow filter language: one parser and one
// evaluator, shared by the web inspector (which filters on the server, over
// up to 100 000 flows), `aadproxy analyze --filter` and the MCP server.
//
// The language mirrors mitmproxy's filter expressions
// (https://docs.mitmproxy.org/stable/concepts/filters/) where the two
// overlap, so a mitmproxy user's filters mean the same here:
//
//	~d REGEX     request host, without the port
//	~u REGEX     request URL
//	~m REGEX     request method
//	~c CODE      response status: 404, or a class such as 4xx
//	~h REGEX     a request or response header line, as "Name: value"
//	~hq, ~hs     the same, request or response headers only
//	~b REGEX     request or response body, with Content-Encoding undone
//	~bq, ~bs     the same, request or response body only
//	~t REGEX     a request or response Content-Type
//	~tq, ~ts     the same, request or response only
//	~e           a transport error, or a response aadproxy made itself
//	~q           a request without a response
//	~s           a flow with a response
//	~a           an asset: the response is CSS, JavaScript, an image or a font
//	~all         every flow
//
// and adds terms for Microsoft Entra ID sign-ins:
//
//	~aadsts N    the response carries AADSTS error N, or a finding has Code N
//	~rule ID     a finding of rule ID
//	~sev LEVEL   a finding at least this severe: info, warning or error
//	~txn N       the flow belongs to sign-in transaction N, as the UI numbers them
//	~tid TENANT  the path's tenant, a token's tid or client_info's utid is TENANT
//	~client ID   client_id in the query or form, or a token's azp or appid, is ID
//	~cookie NAME the request sent, or the response set, a cookie whose name
//	             starts with NAME (ESTSAUTH also matches ESTSAUTHPERSISTENT)
//
// Terms combine with ! (not), & (and) and | (or), grouped by parentheses;
// ! binds tightest, then &, then |. Terms written side by side are also
// joined by and, as in mitmproxy, and that and binds loosest:
// "~d login ~c 400 | ~c 500" is "~d login & (~c 400 | ~c 500)". A word that
// does not start with ~ is a URL regex ("authorize" is "~u authorize").
// Regexes are Go regexps (RE2 syntax), case-insensitive as in mitmproxy,
// and search anywhere in the text; in ~b, ~bq and ~bs a . also matches a
// newline. Identity arguments are compared whole and case-insensitively,
// except ~cookie, which matches a name prefix. An empty expression matches
// every flow.
//
// An unquoted argument runs to white space, a parenthesis, ~ or a quote, so
// "~u a|b" and "~u client_id=x&scope" are single regexes, as in mitmproxy:
// put spaces around & and | between terms. Where mitmproxy would silently
// read "~d a|~d b" as the regex "a|" (which matches everything) and then
// ~d b, Parse refuses it. Arguments of ~c and the identity terms also end
// at &, | and !, so "~c 404|~c 500" works. Quote an argument with '…' or
// "…" to include any of these; inside quotes a backslash escapes the quote
// and itself, and any other backslash is kept, so "\d+" stays a regex
// (mitmproxy would drop that backslash). Beyond mitmproxy, ~c also takes a
// class, and ~e also matches the responses aadproxy made itself.
//
// An Expr is immutable and may be shared between goroutines. Matching
// decodes bodies into the Flow's cache (flow.Body.Decoded), so the caller
// must not match one Flow from two goroutines at once.
//
// The package owns parsing and matching only. It reads flows, findings and
// the decoders of inspect and inspect/decode; it must not import the web
// UI, the command line, the engine's sinks or goproxy.
package filter

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// Subject is what an expression is evaluated against.
type Subject struct {
	// Flow may have its bodies stripped (Raw nil); body terms then do not
	// match.
	Flow *flow.Flow
	// Findings are the findings about this flow (Finding.Flow is its index,
	// or it is in Related); the caller selects them.
	Findings []inspect.Finding
	// Txn is the transaction number + 1, as the UI shows it; 0 means none.
	Txn int
}

// Expr is a parsed filter expression. It is immutable, and safe to share
// between goroutines; see Match for what is not.
type Expr struct {
	root *node // nil: the empty expression
}

// SyntaxError is a bad expression: Pos is the byte offset (from 0) where it
// goes wrong, for a caret under the input.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error says where and what, e.g. "at 7: ~x is not a filter (known: ~d …)".
func (e *SyntaxError) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

// maxDepth bounds nesting (parentheses and !), so an expression sent to the
// web inspector cannot make the parser or the evaluator recurse without end.
const maxDepth = 100

// Parse reads a filter expression. An empty (or all-blank) expression
// matches every flow. A bad one returns a *SyntaxError.
func Parse(s string) (*Expr, error) {
	p := &parser{s: s}
	n, err := p.parseSeq()
	if err != nil {
		return nil, err
	}
	if !p.eof() { // parseSeq stops only at the end or at a ')'
		return nil, p.errf(p.pos, "unexpected ) without an opening parenthesis")
	}
	// The canonical form may need a level the input did not write
	// ("a b | c" is "a & (b | c)"); refuse here what String could not give
	// back to Parse.
	if n != nil && n.nesting(opOr) > maxDepth {
		return nil, p.errf(0, "expression nests deeper than %d levels", maxDepth)
	}
	return &Expr{root: n}, nil
}

// MustParse is Parse for expressions known to be good; it panics on a bad
// one.
func MustParse(s string) *Expr {
	e, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("filter: MustParse(%q): %v", s, err))
	}
	return e
}

// String returns the expression in canonical form: explicit ~u, & and |
// with one space around them, parentheses only where needed, and arguments
// quoted only where needed. Parse(e.String()) gives an equivalent Expr.
func (e *Expr) String() string {
	if e == nil || e.root == nil {
		return ""
	}
	var b strings.Builder
	e.root.format(&b, opOr)
	return b.String()
}

// op is a node's kind.
type op uint8

const (
	opTerm op = iota
	opNot
	opAnd
	opOr
)

// node is one operator or term of the tree.
type node struct {
	op op
	// kids are the operands as written: one for not, two or more for and
	// and or.
	kids []*node
	// order is kids with the cheapest first, which is how and and or
	// evaluate them: a URL test ahead of a body scan skips most scans.
	order []*node
	term  term
	cost  int
}

// argKind is what a term takes as its argument.
type argKind uint8

const (
	argNone argKind = iota
	argRegex
	argStatus
	argCode
	argTxn
	argSeverity
	argName
)

// kind names a term.
type kind uint8

const (
	kDomain kind = iota
	kURL
	kMethod
	kCode
	kHeader
	kHeaderReq
	kHeaderResp
	kBody
	kBodyReq
	kBodyResp
	kType
	kTypeReq
	kTypeResp
	kError
	kNoResponse
	kResponse
	kAsset
	kAll
	kAADSTS
	kRule
	kSeverity
	kTxn
	kTenant
	kClient
	kCookie
)

// spec describes a term: its name after ~, its argument and what it costs
// to evaluate (0 reads a field, 1 a short string, 2 headers, 3 bodies, 4
// decoded tokens or errors).
type spec struct {
	name string
	arg  argKind
	cost int
	// want completes "~c wants …" when the argument is missing or bad.
	want string
}

// specs lists the terms in the order the documentation gives them.
var specs = [...]spec{
	kDomain:     {"d", argRegex, 1, "a regex"},
	kURL:        {"u", argRegex, 1, "a regex"},
	kMethod:     {"m", argRegex, 1, "a regex"},
	kCode:       {"c", argStatus, 0, "a status like 404 or 4xx"},
	kHeader:     {"h", argRegex, 2, "a regex"},
	kHeaderReq:  {"hq", argRegex, 2, "a regex"},
	kHeaderResp: {"hs", argRegex, 2, "a regex"},
	kBody:       {"b", argRegex, 3, "a regex"},
	kBodyReq:    {"bq", argRegex, 3, "a regex"},
	kBodyResp:   {"bs", argRegex, 3, "a regex"},
	kType:       {"t", argRegex, 2, "a regex"},
	kTypeReq:    {"tq", argRegex, 2, "a regex"},
	kTypeResp:   {"ts", argRegex, 2, "a regex"},
	kError:      {"e", argNone, 0, ""},
	kNoResponse: {"q", argNone, 0, ""},
	kResponse:   {"s", argNone, 0, ""},
	kAsset:      {"a", argNone, 2, ""},
	kAll:        {"all", argNone, 0, ""},
	kAADSTS:     {"aadsts", argCode, 4, "an AADSTS code like 50058"},
	kRule:       {"rule", argName, 0, "a rule ID like domain-hint-mismatch"},
	kSeverity:   {"sev", argSeverity, 0, "info, warning or error"},
	kTxn:        {"txn", argTxn, 0, "a transaction number like 3"},
	kTenant:     {"tid", argName, 4, "a tenant ID"},
	kClient:     {"client", argName, 4, "a client ID"},
	kCookie:     {"cookie", argName, 2, "a cookie name"},
}

var (
	byName = func() map[string]kind {
		m := make(map[string]kind, len(specs))
		for k, s := range specs {
			m[s.name] = kind(k)
		}
		return m
	}()
	knownList = func() string {
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = "~" + s.name
		}
		return strings.Join(names, " ")
	}()
)

// term is one ~x with its argument, checked and compiled.
type term struct {
	kind kind
	// arg is the argument as given, quotes removed: the regex, the rule
	// ID, the tenant… (numbers are kept in n).
	arg string
	re  *regexp.Regexp
	lit literal // decides most texts without re
	// n is the status (or its class's first digit), AADSTS code or
	// transaction number.
	n     int
	class bool
	sev   inspect.Severity
}

type parser struct {
	s     string
	pos   int
	depth int
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// parseSeq reads or-expressions written side by side (joined by and) up to
// the end or a ')'. It returns nil when there are none.
func (p *parser) parseSeq() (*node, error) {
	var items []*node
	for {
		p.skipSpace()
		if p.eof() || p.s[p.pos] == ')' {
			return join(opAnd, items), nil
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		items = append(items, n)
	}
}

func (p *parser) parseOr() (*node, error) {
	first, err := p.parseAnd("")
	if err != nil {
		return nil, err
	}
	items := []*node{first}
	for {
		p.skipSpace()
		if p.eof() || p.s[p.pos] != '|' {
			return join(opOr, items), nil
		}
		p.pos++
		n, err := p.parseAnd("|")
		if err != nil {
			return nil, err
		}
		items = append(items, n)
	}
}

// parseAnd reads unaries joined by &; after names the operator before it,
// for the message when the operand is missing.
func (p *parser) parseAnd(after string) (*node, error) {
	first, err := p.parseUnary(after)
	if err != nil {
		return nil, err
	}
	items := []*node{first}
	for {
		p.skipSpace()
		if p.eof() || p.s[p.pos] != '&' {
			return join(opAnd, items), nil
		}
		p.pos++
		n, err := p.parseUnary("&")
		if err != nil {
			return nil, err
		}
		items = append(items, n)
	}
}

func (p *parser) parseUnary(after string) (*node, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errf(p.pos, "%s needs a filter after it", after)
	}
	switch c := p.s[p.pos]; c {
	case '!':
		if p.depth >= maxDepth {
			return nil, p.errf(p.pos, "expression nests deeper than %d levels", maxDepth)
		}
		p.pos++
		p.depth++
		n, err := p.parseUnary("!")
		p.depth--
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, kids: []*node{n}, order: []*node{n}, cost: n.cost}, nil
	case '(':
		open := p.pos
		if p.depth >= maxDepth {
			return nil, p.errf(open, "expression nests deeper than %d levels", maxDepth)
		}
		p.pos++
		p.depth++
		n, err := p.parseSeq()
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.errf(open, "missing closing parenthesis")
		}
		if n == nil {
			return nil, p.errf(open, "empty parentheses")
		}
		p.pos++ // ')'
		return n, nil
	case ')':
		if after != "" {
			return nil, p.errf(p.pos, "%s needs a filter after it", after)
		}
		return nil, p.errf(p.pos, "unexpected ) without an opening parenthesis")
	case '&', '|':
		if after != "" {
			return nil, p.errf(p.pos, "%s needs a filter after it", after)
		}
		return nil, p.errf(p.pos, "%c needs a filter before it", c)
	case '~':
		return p.parseTerm()
	}
	// A bare word is a URL regex.
	at := p.pos
	arg, ok, err := p.readArg(argRegex)
	if err != nil {
		return nil, err
	}
	if !ok { // unreachable: every byte that ends a word is handled above
		return nil, p.errf(at, "unexpected %q", p.s[at])
	}
	return newTerm(kURL, arg, at)
}

// parseTerm reads ~name and its argument.
func (p *parser) parseTerm() (*node, error) {
	start := p.pos
	p.pos++ // '~'
	for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
		p.pos++
	}
	name := p.s[start+1 : p.pos]
	k, ok := byName[name]
	if !ok {
		return nil, p.errf(start, "~%s is not a filter (known: %s)", name, knownList)
	}
	sp := specs[k]
	if sp.arg == argNone {
		return newTerm(k, "", start)
	}
	p.skipSpace()
	at := p.pos
	arg, ok, err := p.readArg(sp.arg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.errf(at, "~%s wants %s", sp.name, sp.want)
	}
	return newTerm(k, arg, at)
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// wordEnd reports the bytes that end an unquoted argument: for regexes
// (and bare words) white space, parentheses, ~ and quotes, as in
// mitmproxy; other arguments also end at the operators.
func wordEnd(c byte, a argKind) bool {
	switch c {
	case '(', ')', '~', '\'', '"':
		return true
	case '&', '|', '!':
		return a != argRegex
	}
	return isSpace(c)
}

// readArg reads a quoted or unquoted argument at p.pos, quotes removed.
// ok is false when there is none there (the end, or a byte that ends
// words).
func (p *parser) readArg(a argKind) (arg string, ok bool, err error) {
	if p.eof() {
		return "", false, nil
	}
	start := p.pos
	if q := p.s[p.pos]; q == '"' || q == '\'' {
		var b strings.Builder
		for i := start + 1; i < len(p.s); i++ {
			c := p.s[i]
			switch {
			case c == q:
				p.pos = i + 1
				return b.String(), true, nil
			case c == '\\' && i+1 < len(p.s) && (p.s[i+1] == q || p.s[i+1] == '\\'):
				b.WriteByte(p.s[i+1])
				i++
			default:
				b.WriteByte(c)
			}
		}
		return "", false, p.errf(start, "missing closing quote")
	}
	for p.pos < len(p.s) && !wordEnd(p.s[p.pos], a) {
		p.pos++
	}
	w := p.s[start:p.pos]
	if w == "" {
		return "", false, nil
	}
	if a == argRegex {
		// Unquoted, "~d a|~d b" would be the regex "a|" (which matches
		// everything) and then ~d b; mitmproxy reads it so, silently.
		if last := w[len(w)-1]; strings.IndexByte("&|!", last) >= 0 && p.pos < len(p.s) && (p.s[p.pos] == '~' || p.s[p.pos] == '(') {
			return "", false, p.errf(p.pos-1, "%c runs into %c: put spaces around %c between filters, or quote the regex", last, p.s[p.pos], last)
		}
		if w == "&" || w == "|" || w == "!" {
			return "", false, p.errf(start, "%s is an operator here: give the filter its regex first, or quote it", w)
		}
	}
	return w, true, nil
}

// newTerm checks and compiles the argument of a term of kind k; at is
// where the argument starts, for errors.
func newTerm(k kind, arg string, at int) (*node, error) {
	sp := specs[k]
	t := term{kind: k, arg: arg}
	bad := func() error { return &SyntaxError{Pos: at, Msg: fmt.Sprintf("~%s wants %s", sp.name, sp.want)} }
	switch sp.arg {
	case argRegex:
		flags := "(?i)"
		if k == kBody || k == kBodyReq || k == kBodyResp {
			flags = "(?is)"
		}
		re, err := regexp.Compile(flags + t.arg)
		if err != nil {
			return nil, &SyntaxError{Pos: at, Msg: fmt.Sprintf("~%s: bad regex: %s", sp.name, regexError(err, flags))}
		}
		t.re, t.lit = re, analyze(flags+t.arg)
	case argStatus:
		s := strings.ToLower(t.arg)
		switch {
		case len(s) == 3 && '1' <= s[0] && s[0] <= '9' && s[1:] == "xx":
			t.n, t.class = int(s[0]-'0'), true
		case len(s) == 3 && allDigits(s) && s[0] != '0':
			t.n, _ = strconv.Atoi(s)
		default:
			return nil, bad()
		}
	case argCode:
		s := t.arg
		if len(s) > 6 && strings.EqualFold(s[:6], "AADSTS") {
			s = s[6:]
		}
		n, ok := smallPositive(s)
		if !ok {
			return nil, bad()
		}
		t.n = n
	case argTxn:
		n, ok := smallPositive(t.arg)
		if !ok {
			return nil, bad()
		}
		t.n = n
	case argSeverity:
		sev, err := inspect.ParseSeverity(t.arg)
		if err != nil || strings.TrimSpace(t.arg) != t.arg {
			return nil, bad()
		}
		t.sev = sev
	case argName:
		if strings.TrimSpace(t.arg) == "" {
			return nil, bad()
		}
	}
	return &node{op: opTerm, term: t, cost: sp.cost}, nil
}

// regexError words a regexp compile error without Go's "error parsing
// regexp: " prefix and without the flags the term put before the user's
// regex.
func regexError(err error, flags string) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s: `%s`", se.Code, strings.TrimPrefix(se.Expr, flags))
	}
	return strings.TrimPrefix(err.Error(), "regexp: ")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// smallPositive reads 1 to 9 digits with a value above 0.
func smallPositive(s string) (int, bool) {
	if len(s) > 9 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n > 0
}

// join makes an and or an or of items, flattening operands of the same
// kind; one item is returned as is, none gives nil.
func join(o op, items []*node) *node {
	switch len(items) {
	case 0:
		return nil
	case 1:
		return items[0]
	}
	n := &node{op: o}
	for _, it := range items {
		if it.op == o {
			n.kids = append(n.kids, it.kids...)
		} else {
			n.kids = append(n.kids, it)
		}
	}
	n.order = make([]*node, len(n.kids))
	copy(n.order, n.kids)
	// A stable insertion sort: operands are few, and equal costs keep the
	// written order.
	for i := 1; i < len(n.order); i++ {
		for j := i; j > 0 && n.order[j].cost < n.order[j-1].cost; j-- {
			n.order[j], n.order[j-1] = n.order[j-1], n.order[j]
		}
	}
	for _, k := range n.kids {
		n.cost = max(n.cost, k.cost)
	}
	return n
}

// format writes n in canonical form; parent is the operator n appears
// under, which decides the parentheses.
func (n *node) format(b *strings.Builder, parent op) {
	switch n.op {
	case opTerm:
		n.term.format(b)
	case opNot:
		b.WriteByte('!')
		n.kids[0].format(b, opNot)
	case opAnd, opOr:
		sep := " & "
		if n.op == opOr {
			sep = " | "
		}
		// Tighter-binding parents: ! over everything, & over |.
		paren := parent == opNot || (parent == opAnd && n.op == opOr)
		if paren {
			b.WriteByte('(')
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.format(b, n.op)
		}
		if paren {
			b.WriteByte(')')
		}
	}
}

// nesting is how deep format nests n under parent, counting each ! and
// each parenthesis as Parse does.
func (n *node) nesting(parent op) int {
	switch n.op {
	case opNot:
		return 1 + n.kids[0].nesting(opNot)
	case opAnd, opOr:
		d := 0
		for _, k := range n.kids {
			d = max(d, k.nesting(n.op))
		}
		if parent == opNot || (parent == opAnd && n.op == opOr) {
			d++
		}
		return d
	}
	return 0
}

func (t *term) format(b *strings.Builder) {
	sp := specs[t.kind]
	b.WriteByte('~')
	b.WriteString(sp.name)
	switch sp.arg {
	case argNone:
		return
	case argStatus:
		if t.class {
			fmt.Fprintf(b, " %dxx", t.n)
		} else {
			fmt.Fprintf(b, " %d", t.n)
		}
	case argCode, argTxn:
		fmt.Fprintf(b, " %d", t.n)
	case argSeverity:
		b.WriteString(" " + t.sev.String())
	default:
		b.WriteByte(' ')
		b.WriteString(quoteArg(t.arg, sp.arg))
	}
}

// quoteArg writes an argument so that readArg gives it back: bare when it
// is a plain word, else in double quotes with " and \ escaped.
func quoteArg(s string, a argKind) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		plain = !wordEnd(s[i], a)
	}
	if plain && a == argRegex && (s == "&" || s == "|" || s == "!") {
		plain = false
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
