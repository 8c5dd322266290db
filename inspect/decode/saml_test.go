package decode

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// Real-shaped SAML and WS-Fed samples, with Entra (tenant
// 5f3c1e2a-0000-4000-8000-00000000c0de) as the IdP. Signatures are cut to
// their skeleton: only their presence matters here.

const samlTenant = "5f3c1e2a-0000-4000-8000-00000000c0de"

const samlAuthnRequest = `<samlp:AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:metadata" ID="id6c1c178c166d486687be4aaf5e482730" Version="2.0" IssueInstant="2024-03-19T08:08:40.512Z" Destination="https://login.microsoftonline.com/` + samlTenant + `/saml2" AssertionConsumerServiceURL="https://app.contoso.test/saml/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="false" IsPassive="false" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://app.contoso.test/saml</Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/></samlp:AuthnRequest>`

const samlSignature = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_x"><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>MIIC8DCCAdigAwIBAgIQ</ds:X509Certificate></ds:X509Data></KeyInfo></ds:Signature>`

const samlResponseOK = `<samlp:Response ID="_5e8d2f36-2a0b-4d3c-9d5c-1f2e3a4b5c6d" Version="2.0" IssueInstant="2024-03-19T08:08:52.771Z" Destination="https://app.contoso.test/saml/acs" InResponseTo="id6c1c178c166d486687be4aaf5e482730" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://sts.windows.net/` + samlTenant + `/</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><Assertion ID="_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" IssueInstant="2024-03-19T08:08:52.755Z" Version="2.0" xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Issuer>https://sts.windows.net/` + samlTenant + `/</Issuer>` + samlSignature + `<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@contoso.com</NameID><SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData InResponseTo="id6c1c178c166d486687be4aaf5e482730" NotOnOrAfter="2024-03-19T09:08:52.677Z" Recipient="https://app.contoso.test/saml/acs"/></SubjectConfirmation></Subject><Conditions NotBefore="2024-03-19T08:03:52.677Z" NotOnOrAfter="2024-03-19T09:08:52.677Z"><AudienceRestriction><Audience>https://app.contoso.test/saml</Audience></AudienceRestriction></Conditions><AttributeStatement><Attribute Name="http://schemas.microsoft.com/identity/claims/tenantid"><AttributeValue>` + samlTenant + `</AttributeValue></Attribute><Attribute Name="http://schemas.microsoft.com/claims/authnmethodsreferences"><AttributeValue>http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password</AttributeValue><AttributeValue>http://schemas.microsoft.com/claims/multipleauthn</AttributeValue></Attribute></AttributeStatement><AuthnStatement AuthnInstant="2024-03-19T08:08:50.000Z" SessionIndex="_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion></samlp:Response>`

const samlResponseError = `<samlp:Response ID="_9f8e7d6c-0000-4000-8000-000000000001" Version="2.0" IssueInstant="2024-03-19T08:09:00.000Z" Destination="https://app.contoso.test/saml/acs" InResponseTo="id6c1c178c166d486687be4aaf5e482730" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://sts.windows.net/` + samlTenant + `/</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported"/></samlp:StatusCode><samlp:StatusMessage>AADSTS750054: SAMLRequest or SAMLResponse must be present as query string parameters in HTTP request for SAML Redirect binding.&#xD;&#xA;Trace ID: 0c1d2e3f-0000-4000-8000-000000000000&#xD;&#xA;Correlation ID: 7a6b5c4d-0000-4000-8000-000000000000&#xD;&#xA;Timestamp: 2024-03-19 08:09:00Z</samlp:StatusMessage></samlp:Status></samlp:Response>`

const samlLogoutRequest = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo1" Version="2.0" IssueInstant="2024-03-19T10:00:00Z" Destination="https://login.microsoftonline.com/` + samlTenant + `/saml2">` + samlSignature + `<saml:Issuer>https://app.contoso.test/saml</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@contoso.com</saml:NameID><samlp:SessionIndex>_0a1b</samlp:SessionIndex></samlp:LogoutRequest>`

// samlAssertion11 is the SAML 1.1 assertion Entra issues to WS-Fed relying
// parties by default.
const samlAssertion11 = `<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="_a11-0000-4000-8000-000000000011" Issuer="https://sts.windows.net/` + samlTenant + `/" IssueInstant="2024-03-19T08:10:00.123Z" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"><saml:Conditions NotBefore="2024-03-19T08:05:00.123Z" NotOnOrAfter="2024-03-19T09:10:00.123Z"><saml:AudienceRestrictionCondition><saml:Audience>https://app.contoso.test/wsfed</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AttributeStatement><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">AbCdEf123</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject><saml:Attribute AttributeName="tenantid" AttributeNamespace="http://schemas.microsoft.com/identity/claims"><saml:AttributeValue>` + samlTenant + `</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="2024-03-19T08:09:58.000Z"><saml:Subject><saml:NameIdentifier>AbCdEf123</saml:NameIdentifier></saml:Subject></saml:AuthenticationStatement>` + samlSignature + `</saml:Assertion>`

const samlWSFedResult = `<t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><t:Lifetime><wsu:Created xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2024-03-19T08:10:00.123Z</wsu:Created><wsu:Expires xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2024-03-19T09:10:00.123Z</wsu:Expires></t:Lifetime><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://app.contoso.test/wsfed</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><t:RequestedSecurityToken>` + samlAssertion11 + `</t:RequestedSecurityToken><t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType><t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType><t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType></t:RequestSecurityTokenResponse>`

func samlDeflate(s string) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func samlZlib(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func samlB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// samlWrapped breaks base64 at 76 columns with CRLF, as .NET's POST binding does.
func samlWrapped(s string) string {
	enc := samlB64(s)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String()
}

func samlTS(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseSAMLRedirect(t *testing.T) {
	tests := []struct {
		name, in string
		want     SAMLMessage
	}{
		{"authn request raw deflate", samlDeflate(samlAuthnRequest), SAMLMessage{
			Binding: SAMLBindingRedirect, Kind: "AuthnRequest", Version: "2.0", ID: "id6c1c178c166d486687be4aaf5e482730",
			Destination: "https://login.microsoftonline.com/" + samlTenant + "/saml2", Issuer: "https://app.contoso.test/saml",
			IssueInstant:                samlTS("2024-03-19T08:08:40.512Z"),
			AssertionConsumerServiceURL: "https://app.contoso.test/saml/acs", ProtocolBinding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
			NameIDPolicyFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		}},
		{"zlib instead of raw deflate", samlZlib(samlAuthnRequest), SAMLMessage{
			Binding: SAMLBindingRedirect, Kind: "AuthnRequest", Version: "2.0", ID: "id6c1c178c166d486687be4aaf5e482730",
			Destination: "https://login.microsoftonline.com/" + samlTenant + "/saml2", Issuer: "https://app.contoso.test/saml",
			IssueInstant:                samlTS("2024-03-19T08:08:40.512Z"),
			AssertionConsumerServiceURL: "https://app.contoso.test/saml/acs", ProtocolBinding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
			NameIDPolicyFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		}},
		{"logout request with '+' turned to space", strings.ReplaceAll(samlDeflate(samlLogoutRequest), "+", " "), SAMLMessage{
			Binding: SAMLBindingRedirect, Kind: "LogoutRequest", Version: "2.0", ID: "_lo1",
			Destination: "https://login.microsoftonline.com/" + samlTenant + "/saml2", Issuer: "https://app.contoso.test/saml",
			IssueInstant: samlTS("2024-03-19T10:00:00Z"), NameID: "alice@contoso.com", Signed: true,
		}},
		{"error response", samlDeflate(samlResponseError), SAMLMessage{
			Binding: SAMLBindingRedirect, Kind: "Response", Version: "2.0", ID: "_9f8e7d6c-0000-4000-8000-000000000001",
			InResponseTo: "id6c1c178c166d486687be4aaf5e482730", Destination: "https://app.contoso.test/saml/acs",
			Issuer: "https://sts.windows.net/" + samlTenant + "/", IssueInstant: samlTS("2024-03-19T08:09:00Z"),
			StatusCode: "urn:oasis:names:tc:SAML:2.0:status:Requester", SubStatusCode: "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported",
			StatusMessage: "AADSTS750054: SAMLRequest or SAMLResponse must be present as query string parameters in HTTP request for SAML Redirect binding.\r\nTrace ID: 0c1d2e3f-0000-4000-8000-000000000000\r\nCorrelation ID: 7a6b5c4d-0000-4000-8000-000000000000\r\nTimestamp: 2024-03-19 08:09:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSAMLRedirect(tt.in)
			if err != nil {
				t.Fatalf("ParseSAMLRedirect(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ParseSAMLRedirect(%q):\n got %+v\nwant %+v", tt.in, *got, tt.want)
			}
		})
	}
}

func TestParseSAMLPostResponse(t *testing.T) {
	for _, in := range []string{samlB64(samlResponseOK), samlWrapped(samlResponseOK), base64.RawURLEncoding.EncodeToString([]byte(samlResponseOK)), samlDeflate(samlResponseOK)} {
		got, err := ParseSAMLPost(in)
		if err != nil {
			t.Fatalf("ParseSAMLPost(%.40q…): %v", in, err)
		}
		want := SAMLMessage{
			Binding: SAMLBindingPost, Kind: "Response", Version: "2.0", ID: "_5e8d2f36-2a0b-4d3c-9d5c-1f2e3a4b5c6d",
			InResponseTo: "id6c1c178c166d486687be4aaf5e482730", Destination: "https://app.contoso.test/saml/acs",
			Issuer: "https://sts.windows.net/" + samlTenant + "/", IssueInstant: samlTS("2024-03-19T08:08:52.771Z"),
			StatusCode: "urn:oasis:names:tc:SAML:2.0:status:Success",
			Assertion: &SAMLAssertion{
				ID: "_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", Version: "2.0", Issuer: "https://sts.windows.net/" + samlTenant + "/",
				IssueInstant: samlTS("2024-03-19T08:08:52.755Z"), NameID: "alice@contoso.com",
				NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
				Recipient:    "https://app.contoso.test/saml/acs", SubjectInResponseTo: "id6c1c178c166d486687be4aaf5e482730",
				SubjectNotOnOrAfter: samlTS("2024-03-19T09:08:52.677Z"),
				NotBefore:           samlTS("2024-03-19T08:03:52.677Z"), NotOnOrAfter: samlTS("2024-03-19T09:08:52.677Z"),
				Audiences:    []string{"https://app.contoso.test/saml"},
				AuthnInstant: samlTS("2024-03-19T08:08:50Z"), SessionIndex: "_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
				AuthnContext: "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
				Attributes: map[string][]string{
					"http://schemas.microsoft.com/identity/claims/tenantid":      {samlTenant},
					"http://schemas.microsoft.com/claims/authnmethodsreferences": {"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password", "http://schemas.microsoft.com/claims/multipleauthn"},
				},
				Signed: true,
			},
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("ParseSAMLPost(%.40q…):\n got %+v\n     %+v\nwant %+v\n     %+v", in, *got, got.Assertion, want, want.Assertion)
		}
		if !got.Succeeded() {
			t.Errorf("ParseSAMLPost(%.40q…).Succeeded(): got false, want true", in)
		}
	}
}

func TestSAMLStatusError(t *testing.T) {
	bad, err := ParseSAMLPost(samlB64(samlResponseError))
	if err != nil {
		t.Fatal(err)
	}
	e, err := SAMLStatusError(bad)
	if err != nil {
		t.Fatalf("SAMLStatusError: %v", err)
	}
	if e.Code() != 750054 || e.OAuthError != "Requester" || e.SubError != "RequestUnsupported" || e.CorrelationID != "7a6b5c4d-0000-4000-8000-000000000000" || e.Source != SourceSAMLStatus {
		t.Errorf("SAMLStatusError: got %+v, want code 750054, Requester/RequestUnsupported and the correlation id", e)
	}
	ok, _ := ParseSAMLPost(samlB64(samlResponseOK))
	req, _ := ParseSAMLRedirect(samlDeflate(samlAuthnRequest))
	for _, m := range []*SAMLMessage{ok, req, nil} {
		if e, err := SAMLStatusError(m); e != nil || err == nil {
			t.Errorf("SAMLStatusError(%v): got (%v, %v), want ErrNotError", m, e, err)
		}
	}
}

func TestParseSAMLRejects(t *testing.T) {
	// A deflate bomb: 8 MiB of spaces inside an element compress to a few KiB.
	bomb := samlDeflate("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">" + strings.Repeat(" ", 8<<20) + "</samlp:Response>")
	deep := strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300)
	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"><samlp:Status><samlp:StatusMessage>&x;</samlp:StatusMessage></samlp:Status></samlp:Response>`
	tests := []struct {
		name, in string
		redirect bool
		errHas   string
	}{
		{"empty", "", true, "empty"},
		{"not base64", "%%%not base64%%%", false, "base64"},
		{"deflate bomb", bomb, true, "exceeds"},
		{"not xml", samlB64("hello world"), false, "not XML"},
		{"not saml", samlB64(`<html><body>hi</body></html>`), false, "not a SAML message"},
		{"wrong namespace", samlB64(`<Response xmlns="urn:example:other"/>`), false, "not a SAML message"},
		{"too deep", samlB64("<Response>" + deep + "</Response>"), false, "deeper"},
		{"external entity", samlB64(xxe), false, "entity"},
		{"truncated", samlB64(samlResponseOK[:len(samlResponseOK)/2]), false, "xml"},
		{"two roots", samlB64(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/><x/>`), false, "more than one root"},
		{"utf-16 charset", samlB64(`<?xml version="1.0" encoding="utf-16"?><Response/>`), false, "charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *SAMLMessage
			var err error
			if tt.redirect {
				m, err = ParseSAMLRedirect(tt.in)
			} else {
				m, err = ParseSAMLPost(tt.in)
			}
			if err == nil || m != nil {
				t.Fatalf("Parse(%.60q): got (%+v, %v), want an error", tt.in, m, err)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Parse(%.60q): got error %q, want it to mention %q", tt.in, err, tt.errHas)
			}
		})
	}
}

func TestParseWSFed(t *testing.T) {
	got, err := ParseWSFed(url.Values{"wa": {"wsignin1.0"}, "wresult": {samlWSFedResult}, "wctx": {"rm=0&id=passive&ru=%2f"}})
	if err != nil {
		t.Fatalf("ParseWSFed: %v", err)
	}
	want := &WSFedMessage{
		Action: "wsignin1.0", Context: "rm=0&id=passive&ru=%2f", HasResult: true,
		TokenType: "urn:oasis:names:tc:SAML:1.0:assertion", AppliesTo: "https://app.contoso.test/wsfed",
		Created: samlTS("2024-03-19T08:10:00.123Z"), Expires: samlTS("2024-03-19T09:10:00.123Z"),
		Assertion: &SAMLAssertion{
			ID: "_a11-0000-4000-8000-000000000011", Version: "1.1", Issuer: "https://sts.windows.net/" + samlTenant + "/",
			IssueInstant: samlTS("2024-03-19T08:10:00.123Z"), NameID: "AbCdEf123", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
			NotBefore: samlTS("2024-03-19T08:05:00.123Z"), NotOnOrAfter: samlTS("2024-03-19T09:10:00.123Z"),
			Audiences:    []string{"https://app.contoso.test/wsfed"},
			AuthnInstant: samlTS("2024-03-19T08:09:58Z"), AuthnContext: "urn:oasis:names:tc:SAML:1.0:am:password",
			Attributes: map[string][]string{"http://schemas.microsoft.com/identity/claims/tenantid": {samlTenant}},
			Signed:     true,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseWSFed:\n got %+v\n     %+v\nwant %+v\n     %+v", got, got.Assertion, want, want.Assertion)
	}
	if got.Kind() != "SignInResponse" {
		t.Errorf("Kind: got %q, want SignInResponse", got.Kind())
	}

	req, err := ParseWSFed(url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"https://app.contoso.test/wsfed"}, "wctx": {"abc"}, "whr": {"contoso.com"}})
	if err != nil || req.Kind() != "SignInRequest" || req.Realm != "https://app.contoso.test/wsfed" || req.HomeRealm != "contoso.com" || req.HasResult {
		t.Errorf("ParseWSFed(request): got (%+v, %v), want a SignInRequest for the realm", req, err)
	}
	for _, bad := range []url.Values{{}, {"wa": {"other"}}, {"wa": {"wsignin1.0"}, "wresult": {"<html/>"}}, {"wa": {"wsignin1.0"}, "wresult": {"<t:RequestSecurityTokenResponse"}}} {
		if w, err := ParseWSFed(bad); err == nil {
			t.Errorf("ParseWSFed(%v): got %+v, want an error", bad, w)
		}
	}
}

func TestFlowSAML(t *testing.T) {
	formPost := `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.contoso.test/saml/acs"><input type="hidden" name="SAMLResponse" value="` + samlWrapped(samlResponseOK) + `" /><input type="hidden" name="RelayState" value="rs-42" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`
	wsfedPost := `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.contoso.test/wsfed"><input type="hidden" name="wa" value="wsignin1.0" /><input type="hidden" name="wresult" value="` + strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(samlWSFedResult) + `" /><input type="hidden" name="wctx" value="ctx-7" /></form></body></html>`
	redirectQ := url.Values{"SAMLRequest": {samlDeflate(samlAuthnRequest)}, "RelayState": {"rs-42"}, "SigAlg": {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"}, "Signature": {"AAAA"}}.Encode()
	tests := []struct {
		name string
		f    *flow.Flow
		want string
	}{
		{"redirect binding in the query", &flow.Flow{Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/" + samlTenant + "/saml2?" + redirectQ}},
			"request-query redirect SAMLRequest AuthnRequest id6c1c178c166d486687be4aaf5e482730 signed=true relay=rs-42;"},
		{"redirect binding in Location", &flow.Flow{Request: &flow.Request{Method: "GET", URL: "https://app.contoso.test/login"},
			Response: &flow.Response{Status: 302, Header: flow.Headers{{Name: "Location", Value: "https://login.microsoftonline.com/" + samlTenant + "/saml2?" + redirectQ}}}},
			"response-location redirect SAMLRequest AuthnRequest id6c1c178c166d486687be4aaf5e482730 signed=true relay=rs-42;"},
		{"form_post page and the POST to the ACS", &flow.Flow{
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/" + samlTenant + "/login", Header: flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}},
				Body: flow.Body{Raw: []byte(url.Values{"SAMLResponse": {samlB64(samlResponseError)}}.Encode())}},
			Response: &flow.Response{Status: 200, Header: flow.Headers{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}, Body: flow.Body{Raw: gz(formPost), Encoding: "gzip"}}},
			"request-form post SAMLResponse Response _9f8e7d6c-0000-4000-8000-000000000001 signed=false relay=;response-form-post post SAMLResponse Response _5e8d2f36-2a0b-4d3c-9d5c-1f2e3a4b5c6d signed=false relay=rs-42;"},
		{"ws-fed request and result", &flow.Flow{
			Request:  &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/" + samlTenant + "/wsfed?wa=wsignin1.0&wtrealm=https%3a%2f%2fapp.contoso.test%2fwsfed&wctx=ctx-7"},
			Response: &flow.Response{Status: 200, Header: flow.Headers{{Name: "Content-Type", Value: "text/html"}}, Body: flow.Body{Raw: []byte(wsfedPost)}}},
			"request-query ws-fed wa SignInRequest  signed=false relay=ctx-7;response-form-post ws-fed wresult SignInResponse _a11-0000-4000-8000-000000000011 signed=false relay=ctx-7;"},
		{"nothing", &flow.Flow{Request: &flow.Request{Method: "GET", URL: "https://app.contoso.test/?SAMLRequest=%%%"}}, ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			for _, m := range FlowSAML(tt.f) {
				b.WriteString(m.Source + " " + m.Binding + " " + m.Param + " " + m.Kind + " " + m.ID + " signed=" + map[bool]string{true: "true", false: "false"}[m.Signed] + " relay=" + m.RelayState + ";")
			}
			if b.String() != tt.want {
				t.Errorf("FlowSAML:\n got %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

func FuzzParseSAMLRedirect(f *testing.F) {
	for _, s := range []string{samlDeflate(samlAuthnRequest), samlDeflate(samlResponseOK), samlZlib(samlLogoutRequest), samlB64(samlResponseError), "", "AAAA", samlDeflate(`<Response><Assertion><Assertion/></Assertion></Response>`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSAMLRedirect(s)
		if (m == nil) == (err == nil) {
			t.Fatalf("ParseSAMLRedirect: got (%v, %v), want exactly one of them", m, err)
		}
		if m != nil {
			SAMLStatusError(m)
		}
	})
}

func FuzzParseSAMLXML(f *testing.F) {
	// The XML layer under the base64 one, so the fuzzer reaches the scanner
	// without having to invent valid base64 and DEFLATE.
	for _, s := range []string{samlAuthnRequest, samlResponseOK, samlResponseError, samlLogoutRequest, samlAssertion11, samlWSFedResult, `<Response><Status><StatusCode Value="x"><StatusCode/></StatusCode></Status></Response>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSAMLPost(samlB64(s))
		if (m == nil) == (err == nil) {
			t.Fatalf("ParseSAMLPost: got (%v, %v), want exactly one of them", m, err)
		}
		if m != nil {
			if e, err := SAMLStatusError(m); (e == nil) == (err == nil) {
				t.Fatalf("SAMLStatusError: got (%v, %v), want exactly one of them", e, err)
			}
		}
		w, err := ParseWSFed(url.Values{"wa": {"wsignin1.0"}, "wresult": {s}})
		if (w == nil) == (err == nil) {
			t.Fatalf("ParseWSFed: got (%v, %v), want exactly one of them", w, err)
		}
	})
}

func FuzzFlowSAML(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input, and three large
	// arguments make that slow.
	f.Add("/?SAMLRequest="+url.QueryEscape(samlDeflate(`<AuthnRequest ID="a1"><Issuer>x</Issuer></AuthnRequest>`))+"&Signature=x",
		[]byte("SAMLResponse="+url.QueryEscape(samlB64(`<Response InResponseTo="a1"><Status><StatusCode Value=":Success"/></Status><Assertion/></Response>`))),
		[]byte(`<form name="hiddenform"><input name="wa" value="wsignin1.0"><input name="wresult" value="&lt;RequestSecurityTokenResponse/&gt;"></form>`))
	f.Fuzz(func(t *testing.T, u string, reqBody, respBody []byte) {
		fl := &flow.Flow{
			Request:  &flow.Request{Method: "POST", URL: u, Header: flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}, Body: flow.Body{Raw: reqBody}},
			Response: &flow.Response{Status: 200, Header: flow.Headers{{Name: "Location", Value: u}}, Body: flow.Body{Raw: respBody}},
		}
		for _, m := range FlowSAML(fl) {
			if m.Source == "" || m.Binding == "" {
				t.Fatalf("FlowSAML: message without source or binding: %+v", m)
			}
		}
	})
}
