package decode

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// SAML and WS-Federation decoding. The messages come from untrusted traffic,
// so the XML is read with encoding/xml (which never fetches or expands
// external entities), under a size cap that also bounds DEFLATE bombs, and a
// nesting cap. Nothing here checks signatures: aadproxy reports that a
// signature is present, not that it is valid.

// MaxSAMLSize caps a SAML or WS-Fed XML document after base64 decoding and
// inflating; real messages are a few KiB, so a larger one is an attack or
// garbage.
const MaxSAMLSize = 4 << 20

// maxSAMLDepth caps element nesting; SAML documents are about ten deep.
const maxSAMLDepth = 256

// Caps on the attribute statement, so one hostile assertion cannot build an
// unbounded map.
const (
	maxSAMLAttributes  = 128
	maxSAMLAttrValues  = 32
	maxSAMLTextLen     = 64 << 10
	maxSAMLAssertTexts = 64 // audiences kept
)

// SourceSAMLStatus names an AADSTSError read from a SAML response's Status.
const SourceSAMLStatus = "saml-status"

// SAML bindings, as SAMLMessage.Binding reports them.
const (
	SAMLBindingRedirect = "redirect" // HTTP-Redirect: base64 of raw DEFLATE in a query
	SAMLBindingPost     = "post"     // HTTP-POST: base64 XML in a form field
	SAMLBindingWSFed    = "ws-fed"   // WS-Federation passive requestor profile
)

// Where FlowSAML found a message, as SAMLMessage.Source reports it.
const (
	SAMLSourceQuery    = "request-query"      // the request URL's query
	SAMLSourceForm     = "request-form"       // a urlencoded request body
	SAMLSourceLocation = "response-location"  // a redirect's Location header
	SAMLSourceFormPost = "response-form-post" // an auto-submitting HTML form in the response
)

// SAMLAssertion is what aadproxy reads from a SAML 1.1 or 2.0 assertion.
type SAMLAssertion struct {
	ID      string
	Version string // "2.0" or "1.1"
	// Issuer is the assertion's issuer; Entra writes https://sts.windows.net/{tid}/.
	Issuer       string
	IssueInstant time.Time
	// NameID is the subject's identifier as sent (an e-mail, a UPN, a
	// persistent opaque value); sanitizing it is the recorder's job.
	NameID       string
	NameIDFormat string
	// SubjectConfirmationData of a bearer confirmation (SAML 2.0).
	Recipient           string
	SubjectInResponseTo string
	SubjectNotOnOrAfter time.Time
	// Conditions.
	NotBefore    time.Time
	NotOnOrAfter time.Time
	Audiences    []string
	// AuthnStatement (2.0) or AuthenticationStatement (1.1).
	AuthnInstant time.Time
	SessionIndex string
	AuthnContext string // AuthnContextClassRef, or 1.1's AuthenticationMethod
	// Attributes maps attribute names (2.0 Name, or 1.1 AttributeNamespace/AttributeName)
	// to their values, capped.
	Attributes map[string][]string
	// Signed reports an XML signature element directly inside the assertion.
	Signed bool
}

// SAMLMessage is one SAML protocol message (or, with Binding "ws-fed", a
// WS-Federation message in the same shape).
type SAMLMessage struct {
	// Source says where FlowSAML found the message; empty from the Parse
	// functions.
	Source string
	// Binding is SAMLBindingRedirect, SAMLBindingPost or SAMLBindingWSFed.
	Binding string
	// Param is the field that carried it: SAMLRequest, SAMLResponse,
	// wresult, or wa for a WS-Fed request.
	Param string
	// Kind is the root element's local name (AuthnRequest, Response,
	// LogoutRequest, LogoutResponse…), or for WS-Fed SignInRequest,
	// SignInResponse, SignOutRequest or SignOutCleanup.
	Kind         string
	Version      string // "2.0" or "1.1"
	ID           string
	InResponseTo string
	Destination  string // SAML 1.1: Recipient; WS-Fed: wreply
	Issuer       string
	IssueInstant time.Time
	// AuthnRequest details.
	AssertionConsumerServiceURL string
	ProtocolBinding             string
	NameIDPolicyFormat          string
	ForceAuthn, IsPassive       bool
	// NameID is a LogoutRequest's subject.
	NameID string
	// StatusCode is the top-level status URI (…:status:Success,
	// …:status:Responder) or, in SAML 1.1, a QName such as samlp:Success;
	// SubStatusCode is the nested second-level code.
	StatusCode    string
	SubStatusCode string
	StatusMessage string
	// Assertion is the first assertion in clear; nil when there is none.
	Assertion *SAMLAssertion
	// Encrypted reports an EncryptedAssertion, which aadproxy cannot read.
	Encrypted bool
	// Signed reports a message-level signature: a Signature element directly
	// inside the root, or (HTTP-Redirect, set by FlowSAML) a Signature query
	// parameter.
	Signed bool
	// RelayState is the RelayState (SAML) or wctx (WS-Fed) sent alongside.
	RelayState string
	// WSFed holds the WS-Fed fields when Binding is SAMLBindingWSFed.
	WSFed *WSFedMessage
}

// Succeeded reports a response whose top-level status is Success.
func (m *SAMLMessage) Succeeded() bool {
	return m != nil && strings.HasSuffix(m.StatusCode, ":Success")
}

// WSFedMessage is a WS-Federation passive-profile message.
type WSFedMessage struct {
	// Action is wa: wsignin1.0, wsignout1.0, wsignoutcleanup1.0.
	Action    string
	Realm     string // wtrealm: the relying party
	Reply     string // wreply
	Context   string // wctx, echoed back by the STS
	HomeRealm string // whr
	// Result fields, set when wresult was present.
	HasResult bool
	TokenType string
	AppliesTo string
	Created   time.Time
	Expires   time.Time
	Assertion *SAMLAssertion
	// Fault is a SOAP or WS-Trust fault's reason, when the result is one.
	Fault string
}

// ParseSAMLRedirect decodes a SAMLRequest or SAMLResponse value of the
// HTTP-Redirect binding (already URL-decoded): base64 of raw DEFLATE. It is
// lenient about what real clients send: '+' turned into ' ' by a sloppy
// encoder, URL-safe base64, zlib instead of raw DEFLATE, or no compression.
func ParseSAMLRedirect(param string) (*SAMLMessage, error) {
	raw, err := samlBase64(param)
	if err != nil {
		return nil, fmt.Errorf("parse saml redirect: %w", err)
	}
	doc, err := samlInflate(raw)
	if err != nil {
		return nil, fmt.Errorf("parse saml redirect: %w", err)
	}
	m, err := parseSAMLXML(doc)
	if err != nil {
		return nil, fmt.Errorf("parse saml redirect: %w", err)
	}
	m.Binding = SAMLBindingRedirect
	return m, nil
}

// ParseSAMLPost decodes a SAMLRequest or SAMLResponse value of the HTTP-POST
// binding: base64 XML, often with line breaks. A deflated value, which some
// service providers send by mistake, is accepted too.
func ParseSAMLPost(b64 string) (*SAMLMessage, error) {
	raw, err := samlBase64(b64)
	if err != nil {
		return nil, fmt.Errorf("parse saml post: %w", err)
	}
	doc := raw
	if !samlLooksLikeXML(raw) {
		if doc, err = samlInflate(raw); err != nil {
			return nil, fmt.Errorf("parse saml post: not XML and %w", err)
		}
	}
	m, err := parseSAMLXML(doc)
	if err != nil {
		return nil, fmt.Errorf("parse saml post: %w", err)
	}
	m.Binding = SAMLBindingPost
	return m, nil
}

// ParseWSFed decodes a WS-Federation message from its parameters (a query or
// a form): wa, wtrealm, wreply, wctx, whr, and wresult, the XML
// RequestSecurityTokenResponse whose RequestedSecurityToken holds a SAML 1.1
// or 2.0 assertion. Without wa the values are not WS-Fed.
func ParseWSFed(form url.Values) (*WSFedMessage, error) {
	w := &WSFedMessage{
		Action:    strings.TrimSpace(form.Get("wa")),
		Realm:     form.Get("wtrealm"),
		Reply:     form.Get("wreply"),
		Context:   form.Get("wctx"),
		HomeRealm: form.Get("whr"),
	}
	if !strings.HasPrefix(w.Action, "wsignin") && !strings.HasPrefix(w.Action, "wsignout") && !strings.HasPrefix(w.Action, "wattr") {
		return nil, errors.New("parse ws-fed: no wa parameter naming a ws-federation action")
	}
	result := form.Get("wresult")
	if result == "" {
		return w, nil
	}
	if len(result) > MaxSAMLSize {
		return nil, fmt.Errorf("parse ws-fed: wresult is %d bytes, more than %d", len(result), MaxSAMLSize)
	}
	var s samlScan
	if err := s.run([]byte(result)); err != nil {
		return nil, fmt.Errorf("parse ws-fed wresult: %w", err)
	}
	switch s.root {
	case "RequestSecurityTokenResponse", "RequestSecurityTokenResponseCollection", "Envelope", "Fault":
	default:
		return nil, fmt.Errorf("parse ws-fed wresult: root element %q is not a RequestSecurityTokenResponse", s.root)
	}
	w.HasResult = true
	w.TokenType = s.tokenType
	w.AppliesTo = s.appliesTo
	w.Created = samlTime(s.created)
	w.Expires = samlTime(s.expires)
	w.Assertion = s.assertion
	w.Fault = s.fault
	return w, nil
}

// Kind names a WS-Fed message the way SAMLMessage.Kind does.
func (w *WSFedMessage) Kind() string {
	switch {
	case w == nil:
		return ""
	case strings.HasPrefix(w.Action, "wsignin") && w.HasResult:
		return "SignInResponse"
	case strings.HasPrefix(w.Action, "wsignin"):
		return "SignInRequest"
	case w.Action == "wsignoutcleanup1.0":
		return "SignOutCleanup"
	case strings.HasPrefix(w.Action, "wsignout"):
		return "SignOutRequest"
	}
	return w.Action
}

// asSAML presents a WS-Fed message in the SAMLMessage shape FlowSAML returns.
func (w *WSFedMessage) asSAML() SAMLMessage {
	m := SAMLMessage{
		Binding:     SAMLBindingWSFed,
		Param:       "wa",
		Kind:        w.Kind(),
		Destination: w.Reply,
		RelayState:  w.Context,
		Assertion:   w.Assertion,
		WSFed:       w,
	}
	if w.HasResult {
		m.Param = "wresult"
		m.StatusMessage = w.Fault
	}
	if a := w.Assertion; a != nil {
		m.ID, m.Issuer, m.Version, m.IssueInstant = a.ID, a.Issuer, a.Version, a.IssueInstant
	}
	if m.Destination == "" {
		m.Destination = w.AppliesTo
	}
	return m
}

// SAMLStatusError reads the error a SAML response reports: a top-level
// status other than Success, with the AADSTS codes Entra writes into
// StatusMessage ("AADSTS75011: Authentication method … doesn't match …").
// A successful response or a message without status is not an error.
func SAMLStatusError(m *SAMLMessage) (*AADSTSError, error) {
	if m == nil || m.StatusCode == "" || m.Succeeded() {
		if m != nil && m.WSFed != nil && m.WSFed.Fault != "" {
			e := &AADSTSError{OAuthError: "fault", Description: m.WSFed.Fault, Source: SourceSAMLStatus}
			e.fillFromDescription()
			return e, nil
		}
		return nil, fmt.Errorf("saml message reports no failure: %w", ErrNotError)
	}
	e := &AADSTSError{
		OAuthError:  samlStatusName(m.StatusCode),
		SubError:    samlStatusName(m.SubStatusCode),
		Description: m.StatusMessage,
		Source:      SourceSAMLStatus,
	}
	e.fillFromDescription()
	return e, nil
}

// samlStatusName shortens a status URI or QName to its last part (Responder,
// RequestDenied).
func samlStatusName(s string) string {
	if i := strings.LastIndexAny(s, ":#/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// FlowSAML returns the SAML and WS-Fed messages a flow carries: SAMLRequest
// and SAMLResponse in the request's query (HTTP-Redirect) or urlencoded body
// (HTTP-POST), in a redirect's Location, and in an auto-submitting form_post
// page in the response; and WS-Fed parameters (wa, wresult) in the same
// places. Values that do not decode are skipped.
func FlowSAML(f *flow.Flow) []SAMLMessage {
	if f == nil || f.Request == nil {
		return nil
	}
	var out []SAMLMessage
	if u, err := url.Parse(f.Request.URL); err == nil {
		q, _ := url.ParseQuery(u.RawQuery)
		out = append(out, samlFromValues(q, SAMLSourceQuery, true)...)
	}
	if form := samlRequestForm(f.Request); form != nil {
		out = append(out, samlFromValues(form, SAMLSourceForm, false)...)
	}
	if resp := f.Response; resp != nil {
		for _, loc := range resp.Header.Values("Location") {
			if u, err := url.Parse(strings.TrimSpace(loc)); err == nil {
				q, _ := url.ParseQuery(u.RawQuery)
				out = append(out, samlFromValues(q, SAMLSourceLocation, true)...)
			}
		}
		body, err := resp.Body.Decoded()
		if err != nil && len(body) == 0 {
			body = resp.Body.Raw
		}
		if len(body) > 0 && HasFormTag(body) {
			if fields, _, err := ParseFormPost(body); err == nil {
				out = append(out, samlFromValues(valuesOf(fields), SAMLSourceFormPost, false)...)
			}
		}
	}
	return out
}

// samlRequestForm returns a urlencoded request body's fields, or nil.
func samlRequestForm(req *flow.Request) url.Values {
	ct := strings.ToLower(req.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil
	}
	body, err := req.Body.Decoded()
	if err != nil && len(body) == 0 {
		body = req.Body.Raw
	}
	form, _ := url.ParseQuery(string(body))
	return form
}

// samlFromValues decodes the SAML and WS-Fed parameters of one query or form.
func samlFromValues(v url.Values, source string, redirect bool) []SAMLMessage {
	var out []SAMLMessage
	for _, param := range []string{"SAMLRequest", "SAMLResponse"} {
		val := v.Get(param)
		if val == "" {
			continue
		}
		var m *SAMLMessage
		var err error
		if redirect {
			m, err = ParseSAMLRedirect(val)
		} else {
			m, err = ParseSAMLPost(val)
		}
		if err != nil {
			continue
		}
		m.Source, m.Param, m.RelayState = source, param, v.Get("RelayState")
		if redirect && v.Get("Signature") != "" {
			m.Signed = true
		}
		out = append(out, *m)
	}
	if v.Get("wa") != "" {
		if w, err := ParseWSFed(v); err == nil {
			m := w.asSAML()
			m.Source = source
			out = append(out, m)
		}
	}
	return out
}

// samlBase64 decodes base64 in any of its alphabets, ignoring line breaks
// and reading spaces as the '+' a careless encoder left unescaped.
func samlBase64(s string) ([]byte, error) {
	if len(s) > MaxSAMLSize/3*4+1024 {
		return nil, fmt.Errorf("value is %d bytes, more than the %d-byte cap", len(s), MaxSAMLSize)
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t':
			return -1
		case ' ':
			return '+'
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" {
		return nil, errors.New("empty value")
	}
	var lastErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("not base64: %w", lastErr)
}

// samlInflate undoes the redirect binding's raw DEFLATE, accepting zlib and
// plain XML too, and stops at MaxSAMLSize.
func samlInflate(raw []byte) ([]byte, error) {
	out, err := samlReadCapped(flate.NewReader(bytes.NewReader(raw)))
	if err == nil {
		return out, nil
	}
	if errors.Is(err, errSAMLTooLarge) {
		return nil, err
	}
	if zr, zerr := zlib.NewReader(bytes.NewReader(raw)); zerr == nil {
		if out, zerr := samlReadCapped(zr); zerr == nil {
			return out, nil
		} else if errors.Is(zerr, errSAMLTooLarge) {
			return nil, zerr
		}
	}
	if samlLooksLikeXML(raw) {
		return raw, nil
	}
	return nil, fmt.Errorf("inflate: %w", err)
}

var errSAMLTooLarge = fmt.Errorf("inflated message exceeds %d bytes", MaxSAMLSize)

func samlReadCapped(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, MaxSAMLSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxSAMLSize {
		return nil, errSAMLTooLarge
	}
	return out, nil
}

func samlLooksLikeXML(b []byte) bool {
	b = bytes.TrimLeft(b, "\ufeff \t\r\n")
	return len(b) > 0 && b[0] == '<'
}

// samlRoots are the root elements accepted as SAML protocol messages.
var samlRoots = map[string]bool{
	"AuthnRequest": true, "Response": true, "LogoutRequest": true, "LogoutResponse": true,
	"ArtifactResolve": true, "ArtifactResponse": true, "AttributeQuery": true, "AuthnQuery": true,
	"AuthzDecisionQuery": true, "ManageNameIDRequest": true, "ManageNameIDResponse": true,
	"NameIDMappingRequest": true, "NameIDMappingResponse": true, "Assertion": true, "Request": true,
}

// parseSAMLXML reads a SAML protocol message.
func parseSAMLXML(doc []byte) (*SAMLMessage, error) {
	if len(doc) > MaxSAMLSize {
		return nil, fmt.Errorf("message is %d bytes, more than %d", len(doc), MaxSAMLSize)
	}
	var s samlScan
	if err := s.run(doc); err != nil {
		return nil, err
	}
	if !samlRoots[s.root] || (s.rootSpace != "" && !strings.Contains(strings.ToLower(s.rootSpace), "saml")) {
		return nil, fmt.Errorf("root element %q (namespace %q) is not a SAML message", s.root, s.rootSpace)
	}
	m := s.msg
	m.Kind = s.root
	m.Assertion = s.assertion
	if s.root == "Assertion" && s.assertion != nil {
		m.ID, m.Issuer, m.IssueInstant, m.Version = s.assertion.ID, s.assertion.Issuer, s.assertion.IssueInstant, s.assertion.Version
	}
	return &m, nil
}

// samlScan walks a SAML or WS-Trust document token by token, matching
// elements by local name so that SAML 1.1, SAML 2.0 and any namespace
// prefixes read the same.
type samlScan struct {
	root, rootSpace string
	msg             SAMLMessage
	assertion       *SAMLAssertion
	assertionDepth  int // depth of the first assertion's element; 0 outside it
	assertionDone   bool

	stack []string // local names of open elements

	// Text capture for the innermost element that wants its text.
	capture      func(string)
	captureDepth int
	text         strings.Builder

	attrName string // the Attribute being read

	// WS-Trust fields.
	tokenType, appliesTo, created, expires, fault string
}

func (s *samlScan) run(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	// Only UTF-8 (and its ASCII subset) is read; any other declared charset
	// is reported rather than guessed.
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(s.stack) >= maxSAMLDepth {
				return fmt.Errorf("xml nests deeper than %d elements", maxSAMLDepth)
			}
			if len(s.stack) == 0 && s.root != "" {
				return errors.New("xml has more than one root element")
			}
			s.start(t)
		case xml.EndElement:
			s.end()
		case xml.CharData:
			if s.capture != nil && s.text.Len() < maxSAMLTextLen {
				s.text.Write(t)
			}
		}
	}
	if s.root == "" {
		return errors.New("no xml element found")
	}
	return nil
}

// want asks for the text of the element just opened.
func (s *samlScan) want(fn func(string)) {
	if s.capture != nil {
		return // the first, outer capture wins
	}
	s.capture, s.captureDepth = fn, len(s.stack)
	s.text.Reset()
}

func (s *samlScan) end() {
	if len(s.stack) == 0 {
		return
	}
	if s.capture != nil && s.captureDepth == len(s.stack) {
		text := strings.TrimSpace(s.text.String())
		if len(text) > maxSAMLTextLen {
			text = text[:maxSAMLTextLen]
		}
		s.capture(text)
		s.capture = nil
	}
	if s.assertionDepth == len(s.stack) {
		s.assertionDepth = 0
		s.assertionDone = true
	}
	if s.stack[len(s.stack)-1] == "Attribute" {
		s.attrName = ""
	}
	s.stack = s.stack[:len(s.stack)-1]
}

func samlAttr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func (s *samlScan) parent() string {
	if len(s.stack) < 2 {
		return ""
	}
	return s.stack[len(s.stack)-2]
}

func (s *samlScan) inside(name string) bool {
	for _, n := range s.stack[:len(s.stack)-1] {
		if n == name {
			return true
		}
	}
	return false
}

func samlIsSignature(t xml.StartElement) bool {
	return t.Name.Local == "Signature" && (t.Name.Space == "" || strings.Contains(t.Name.Space, "xmldsig"))
}

func samlSetOnce(dst *string) func(string) {
	return func(v string) {
		if *dst == "" {
			*dst = v
		}
	}
}

func (s *samlScan) start(t xml.StartElement) {
	local := t.Name.Local
	s.stack = append(s.stack, local)
	depth := len(s.stack)
	if depth == 1 {
		s.root, s.rootSpace = local, t.Name.Space
		s.readRoot(t)
	}
	if local == "Assertion" && s.assertionDepth == 0 && !s.assertionDone && s.assertion == nil {
		s.assertionDepth = depth
		s.assertion = &SAMLAssertion{
			ID:           samlFirst(samlAttr(t, "ID"), samlAttr(t, "AssertionID")),
			Issuer:       samlAttr(t, "Issuer"), // SAML 1.1 carries it as an attribute
			IssueInstant: samlTime(samlAttr(t, "IssueInstant")),
			Version:      samlVersion(t),
		}
		return
	}
	if s.assertionDepth > 0 {
		s.startInAssertion(t, depth)
		return
	}
	if s.assertionDone && s.inside("Assertion") {
		return // a second assertion: only the first is read
	}
	m := &s.msg
	switch local {
	case "Issuer":
		if depth == 2 {
			s.want(samlSetOnce(&m.Issuer))
		}
	case "Signature":
		if depth == 2 && samlIsSignature(t) {
			m.Signed = true
		}
	case "StatusCode":
		switch s.parent() {
		case "Status":
			if m.StatusCode == "" {
				m.StatusCode = samlAttr(t, "Value")
			}
		case "StatusCode":
			if m.SubStatusCode == "" {
				m.SubStatusCode = samlAttr(t, "Value")
			}
		}
	case "StatusMessage":
		s.want(samlSetOnce(&m.StatusMessage))
	case "NameIDPolicy":
		m.NameIDPolicyFormat = samlAttr(t, "Format")
	case "NameID":
		if depth == 2 {
			s.want(samlSetOnce(&m.NameID))
		}
	case "EncryptedAssertion":
		m.Encrypted = true
	case "TokenType":
		s.want(samlSetOnce(&s.tokenType))
	case "Created":
		if s.parent() == "Lifetime" {
			s.want(samlSetOnce(&s.created))
		}
	case "Expires":
		if s.parent() == "Lifetime" {
			s.want(samlSetOnce(&s.expires))
		}
	case "Address":
		if s.inside("AppliesTo") {
			s.want(samlSetOnce(&s.appliesTo))
		}
	case "faultstring", "Text":
		if s.inside("Fault") {
			s.want(samlSetOnce(&s.fault))
		}
	}
}

func (s *samlScan) readRoot(t xml.StartElement) {
	m := &s.msg
	m.ID = samlFirst(samlAttr(t, "ID"), samlAttr(t, "ResponseID"), samlAttr(t, "RequestID"))
	m.InResponseTo = samlAttr(t, "InResponseTo")
	m.Destination = samlFirst(samlAttr(t, "Destination"), samlAttr(t, "Recipient"))
	m.IssueInstant = samlTime(samlAttr(t, "IssueInstant"))
	m.Version = samlVersion(t)
	m.AssertionConsumerServiceURL = samlAttr(t, "AssertionConsumerServiceURL")
	m.ProtocolBinding = samlAttr(t, "ProtocolBinding")
	m.ForceAuthn = samlBool(samlAttr(t, "ForceAuthn"))
	m.IsPassive = samlBool(samlAttr(t, "IsPassive"))
}

func (s *samlScan) startInAssertion(t xml.StartElement, depth int) {
	a := s.assertion
	rel := depth - s.assertionDepth // 1 for a direct child of Assertion
	switch t.Name.Local {
	case "Issuer":
		if rel == 1 {
			s.want(samlSetOnce(&a.Issuer))
		}
	case "Signature":
		if rel == 1 && samlIsSignature(t) {
			a.Signed = true
		}
	case "NameID", "NameIdentifier":
		if a.NameID == "" && s.inside("Subject") {
			a.NameIDFormat = samlAttr(t, "Format")
			s.want(samlSetOnce(&a.NameID))
		}
	case "SubjectConfirmationData":
		if a.Recipient == "" {
			a.Recipient = samlAttr(t, "Recipient")
			a.SubjectInResponseTo = samlAttr(t, "InResponseTo")
			a.SubjectNotOnOrAfter = samlTime(samlAttr(t, "NotOnOrAfter"))
		}
	case "Conditions":
		a.NotBefore = samlTime(samlAttr(t, "NotBefore"))
		a.NotOnOrAfter = samlTime(samlAttr(t, "NotOnOrAfter"))
	case "Audience":
		s.want(func(v string) {
			if v != "" && len(a.Audiences) < maxSAMLAssertTexts {
				a.Audiences = append(a.Audiences, v)
			}
		})
	case "AuthnStatement":
		a.AuthnInstant = samlTime(samlAttr(t, "AuthnInstant"))
		a.SessionIndex = samlAttr(t, "SessionIndex")
	case "AuthenticationStatement":
		a.AuthnInstant = samlTime(samlAttr(t, "AuthenticationInstant"))
		a.AuthnContext = samlAttr(t, "AuthenticationMethod")
	case "AuthnContextClassRef":
		s.want(samlSetOnce(&a.AuthnContext))
	case "Attribute":
		s.attrName = samlAttr(t, "Name")
		if s.attrName == "" {
			// SAML 1.1 splits the name in two.
			ns, name := samlAttr(t, "AttributeNamespace"), samlAttr(t, "AttributeName")
			s.attrName = strings.TrimSuffix(ns, "/") + "/" + name
			if ns == "" {
				s.attrName = name
			}
		}
	case "AttributeValue":
		name := s.attrName
		if name == "" {
			return
		}
		s.want(func(v string) {
			if a.Attributes == nil {
				a.Attributes = map[string][]string{}
			}
			vals, ok := a.Attributes[name]
			if !ok && len(a.Attributes) >= maxSAMLAttributes {
				return
			}
			if len(vals) < maxSAMLAttrValues {
				a.Attributes[name] = append(vals, v)
			}
		})
	}
}

func samlVersion(t xml.StartElement) string {
	if v := samlAttr(t, "Version"); v != "" {
		return v
	}
	if major := samlAttr(t, "MajorVersion"); major != "" {
		return major + "." + samlFirst(samlAttr(t, "MinorVersion"), "0")
	}
	return ""
}

func samlBool(s string) bool { return s == "true" || s == "1" }

// samlTime reads an xs:dateTime ("2024-03-19T08:08:52.1234567Z"); a value
// without zone is taken as UTC, as SAML requires. Bad values give zero.
func samlTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

func samlFirst(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
