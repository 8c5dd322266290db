package txn

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

const (
	tidContoso = "5f3c1e2a-0000-4000-8000-00000000c0de"
	clientA    = "aaaaaaaa-0000-4000-8000-00000000000a"
	clientB    = "bbbbbbbb-0000-4000-8000-00000000000b"
	host       = "login.microsoftonline.com"
)

var t0 = time.Date(2024, 3, 19, 8, 0, 0, 0, time.UTC)

// ex is one synthetic exchange: raw request and response text, and its
// start offset from t0.
type ex struct {
	at        time.Duration
	req, resp string
}

func build(t *testing.T, exs []ex) []*flow.Flow {
	t.Helper()
	var out []*flow.Flow
	for i, e := range exs {
		f, err := inspecttest.ParseExchange(e.req, e.resp)
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		f.Index = i
		f.Timings.Start = t0.Add(e.at)
		f.Done = f.Timings.Start.Add(100 * time.Millisecond)
		out = append(out, f)
	}
	return out
}

func get(u string, headers ...string) string {
	pu, _ := url.Parse(u)
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\nHost: %s\n", pu.RequestURI(), pu.Host)
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	return b.String() + "\n"
}

func post(u string, form url.Values, headers ...string) string {
	pu, _ := url.Parse(u)
	body := form.Encode()
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\nHost: %s\nContent-Type: application/x-www-form-urlencoded\n", pu.RequestURI(), pu.Host)
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	return b.String() + "\n" + body + "\n"
}

func postJSON(u string, v any, headers ...string) string {
	pu, _ := url.Parse(u)
	body, _ := json.Marshal(v)
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\nHost: %s\nContent-Type: application/json; charset=utf-8\n", pu.RequestURI(), pu.Host)
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	return b.String() + "\n" + string(body) + "\n"
}

func redirectTo(loc string) string {
	return "HTTP/1.1 302 Found\nLocation: " + loc + "\nContent-Type: text/html; charset=utf-8\n\n<html><head><title>Object moved</title></head></html>\n"
}

func jsonResp(status int, v any) string {
	body, _ := json.Marshal(v)
	return fmt.Sprintf("HTTP/1.1 %d X\nContent-Type: application/json; charset=utf-8\n\n%s\n", status, body)
}

func htmlResp(body string) string {
	return "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\nContent-Encoding: gzip\n\n" + body + "\n"
}

// signInPage is an ESTS page with the $Config values the next post carries.
func signInPage(ctx, ft, pageID string, extra ...string) string {
	cfg := map[string]any{"pgid": "ConvergedSignIn", "sCtx": ctx, "sFT": ft, "sessionId": pageID, "correlationId": "cccccccc-0000-4000-8000-" + pageID[len(pageID)-12:], "urlPost": "/common/login"}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(cfg)
	return htmlResp(`<html><head><script type="text/javascript">//<![CDATA[
$Config=` + string(b) + `;
//]]></script></head><body></body></html>`)
}

func formPostPage(action string, fields url.Values) string {
	var b strings.Builder
	b.WriteString(`<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="` + action + `">`)
	for k, vs := range fields {
		for _, v := range vs {
			fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s" />`, k, v)
		}
	}
	b.WriteString(`</form></body></html>`)
	return "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n\n" + b.String() + "\n"
}

func tokenError(oauth string, code int) string {
	return jsonResp(400, map[string]any{
		"error":             oauth,
		"error_description": fmt.Sprintf("AADSTS%d: synthetic.\r\nTrace ID: 0c1d2e3f-0000-4000-8000-000000000000\r\nCorrelation ID: 7a6b5c4d-0000-4000-8000-000000000000\r\nTimestamp: 2024-03-19 08:09:00Z", code),
		"error_codes":       []int{code},
		"correlation_id":    "7a6b5c4d-0000-4000-8000-000000000000",
	})
}

func idToken(tid string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc([]byte(`{"tid":"`+tid+`","ver":"2.0"}`)) + ".c2ln"
}

func clientInfo(uid, utid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"uid":"` + uid + `","utid":"` + utid + `"}`))
}

func tokenOK(tid, uid string) string {
	return jsonResp(200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0eXAi.e30.sig", "refresh_token": "1.AV8A-rt", "id_token": idToken(tid), "client_info": clientInfo(uid, tid)})
}

func authorizeURL(tenant, client, state string, extra ...string) string {
	q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {"http://localhost"}, "scope": {"openid profile offline_access"}, "state": {state}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "https://" + host + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

func tokenURL(tenant string) string { return "https://" + host + "/" + tenant + "/oauth2/v2.0/token" }

func redeem(client, code string, pkce bool) url.Values {
	v := url.Values{"client_id": {client}, "grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://localhost"}}
	if pkce {
		v.Set("code_verifier", "verifier-0123456789-0123456789-0123456789-abc")
	}
	return v
}

func samlB64(s string, deflate bool) string {
	if !deflate {
		return base64.StdEncoding.EncodeToString([]byte(s))
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

const samlReq = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="id6c1c178c166d486687be4aaf5e482730" Version="2.0" IssueInstant="2024-03-19T08:08:40Z" Destination="https://login.microsoftonline.com/` + tidContoso + `/saml2" AssertionConsumerServiceURL="https://app.contoso.test/saml/acs"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://app.contoso.test/saml</Issuer></samlp:AuthnRequest>`

func samlResp(status, msg string) string {
	s := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp-5e8d2f36-2a0b-4d3c" Version="2.0" IssueInstant="2024-03-19T08:08:52Z" Destination="https://app.contoso.test/saml/acs" InResponseTo="id6c1c178c166d486687be4aaf5e482730"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">https://sts.windows.net/` + tidContoso + `/</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:` + status + `"/>`
	if msg != "" {
		s += `<samlp:StatusMessage>` + msg + `</samlp:StatusMessage>`
	}
	s += `</samlp:Status>`
	if status == "Success" {
		s += `<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2024-03-19T08:08:52Z"><Issuer>https://sts.windows.net/` + tidContoso + `/</Issuer><Subject><NameID>alice@contoso.com</NameID></Subject><Conditions><AudienceRestriction><Audience>https://app.contoso.test/saml</Audience></AudienceRestriction></Conditions></Assertion>`
	}
	return s + `</samlp:Response>`
}

// summary renders transactions compactly for comparison.
func summary(txs []Transaction) []string {
	var out []string
	for _, t := range txs {
		s := fmt.Sprintf("%d %s %s", t.ID, t.Protocol, t.Outcome)
		if t.Code != 0 {
			s += fmt.Sprintf(" %d", t.Code)
		}
		s += fmt.Sprintf(" %v", t.Flows)
		out = append(out, s)
	}
	return out
}

func TestGrouper(t *testing.T) {
	codeA := "1.AV8A-codeA-0123456789abcdef"
	codeB := "1.AV8A-codeB-0123456789abcdef"
	tests := []struct {
		name  string
		flows []ex
		want  []string
		// check runs extra assertions on the final transactions.
		check func(t *testing.T, txs []Transaction)
	}{
		{
			name: "auth code with PKCE through the sign-in pages",
			flows: []ex{
				{0, get(authorizeURL("organizations", clientA, "stateA", "code_challenge", "abc123abc123abc123abc123abc123abc123abc123a", "code_challenge_method", "S256"), "client-request-id: 0f0f0f0f-0000-4000-8000-000000000001"),
					signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
				{time.Second, get("https://aadcdn.msftauth.net/shared/1.0/content/js/ConvergedLogin.js"), "HTTP/1.1 200 OK\nContent-Type: application/javascript\n\nvar x;\n"},
				{2 * time.Second, postJSON("https://"+host+"/common/GetCredentialType?mkt=en-US", map[string]any{"username": "alice@contoso.com", "originalRequest": "ctx-AAAA-1111", "flowToken": "ft-AAAA-1111"}, "hpgrequestid: page-000000000001"),
					jsonResp(200, map[string]any{"Username": "alice@contoso.com", "IfExistsResult": 0, "FlowToken": "ft-AAAA-2222"})},
				{5 * time.Second, post("https://"+host+"/organizations/login", url.Values{"login": {"alice@contoso.com"}, "passwd": {"pw"}, "ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-2222"}}),
					signInPage("ctx-AAAA-1111", "ft-AAAA-3333", "page-000000000002", "pgid", "KmsiInterrupt", "urlPost", "/kmsi")},
				{6 * time.Second, post("https://"+host+"/kmsi", url.Values{"LoginOptions": {"3"}, "type": {"28"}, "ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-3333"}}),
					redirectTo("http://localhost/?code=" + url.QueryEscape(codeA) + "&client_info=" + clientInfo("uid-1111", tidContoso) + "&state=stateA&session_state=s1")},
				{7 * time.Second, get("http://localhost/?code=" + url.QueryEscape(codeA) + "&client_info=" + clientInfo("uid-1111", tidContoso) + "&state=stateA&session_state=s1"), "HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html>app</html>\n"},
				{8 * time.Second, post(tokenURL("organizations"), redeem(clientA, codeA, true), "client-request-id: 0f0f0f0f-0000-4000-8000-000000000001"), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 auth-code-pkce succeeded [0 2 3 4 5 6]"},
			check: func(t *testing.T, txs []Transaction) {
				tr := txs[0]
				if tr.ClientID != clientA || tr.Tenant != tidContoso {
					t.Errorf("client/tenant: got %q/%q, want %q/%q (the id_token's tid replaces organizations)", tr.ClientID, tr.Tenant, clientA, tidContoso)
				}
				if !tr.Start.Equal(t0) || !tr.End.Equal(t0.Add(8*time.Second+100*time.Millisecond)) {
					t.Errorf("times: got %v..%v", tr.Start, tr.End)
				}
				if len(tr.CorrelationIDs) == 0 || tr.CorrelationIDs[0] != "0f0f0f0f-0000-4000-8000-000000000001" {
					t.Errorf("CorrelationIDs: got %v, want the client-request-id first", tr.CorrelationIDs)
				}
			},
		},
		{
			name: "abandoned authorize at the end of the trace",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
			},
			want: []string{"0 auth-code abandoned [0]"},
		},
		{
			name: "wrong password then success: the later code clears the failure",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
				{time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-1111"}, "passwd": {"bad"}}),
					signInPage("ctx-AAAA-1111", "ft-AAAA-2222", "page-000000000002", "sErrorCode", "50126", "sErrTxt", "Your account or password is incorrect.")},
				{2 * time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-2222"}, "passwd": {"good"}}),
					redirectTo("http://localhost/?code=" + url.QueryEscape(codeA) + "&state=stateA")},
				{3 * time.Second, post(tokenURL(tidContoso), redeem(clientA, codeA, false)), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 auth-code succeeded [0 1 2 3]"},
		},
		{
			name: "wrong password and the user gives up",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
				{time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-1111"}, "passwd": {"bad"}}),
					signInPage("ctx-AAAA-1111", "ft-AAAA-2222", "page-000000000002", "sErrorCode", "50126", "sErrTxt", "Your account or password is incorrect.")},
			},
			want: []string{"0 auth-code failed 50126 [0 1]"},
		},
		{
			name: "failed token redemption (54005 after a double submit)",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA", "code_challenge", "abc123abc123abc123abc123abc123abc123abc123a")), redirectTo("http://localhost/?code=" + url.QueryEscape(codeA) + "&state=stateA")},
				{time.Second, post(tokenURL(tidContoso), redeem(clientA, codeA, true)), tokenOK(tidContoso, "uid-1111")},
				{2 * time.Second, post(tokenURL(tidContoso), redeem(clientA, codeA, true)), tokenError("invalid_grant", 54005)},
			},
			want: []string{"0 auth-code-pkce failed 54005 [0 1 2]"},
		},
		{
			name: "code redemption without its authorize in the trace",
			flows: []ex{
				{0, post(tokenURL(tidContoso), redeem(clientA, codeA, false)), tokenError("invalid_grant", 54005)},
			},
			want: []string{"0 auth-code failed 54005 [0]"},
		},
		{
			name: "silent authorize fails with login_required",
			flows: []ex{
				{0, get(authorizeURL("organizations", clientA, "stateA", "prompt", "none")),
					redirectTo("http://localhost/#error=login_required&error_description=AADSTS50058%3a+A+silent+sign-in+request+was+sent+but+no+user+is+signed+in.&state=stateA")},
			},
			want: []string{"0 auth-code failed 50058 [0]"},
		},
		{
			name: "implicit sign-in delivers tokens in the fragment",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA", "response_type", "id_token", "nonce", "n1")),
					redirectTo("http://localhost/#id_token=" + idToken(tidContoso) + "&state=stateA")},
			},
			want: []string{"0 implicit succeeded [0]"},
		},
		{
			name: "device code polling is one transaction",
			flows: []ex{
				{0, post("https://"+host+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {clientA}, "scope": {"User.Read"}}),
					jsonResp(200, map[string]any{"device_code": "DAQABAAEAAAD--device-code-1", "user_code": "GHJK2345L", "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 5})},
				{5 * time.Second, post(tokenURL("organizations"), url.Values{"client_id": {clientA}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"DAQABAAEAAAD--device-code-1"}}), tokenError("authorization_pending", 70016)},
				{10 * time.Second, post(tokenURL("organizations"), url.Values{"client_id": {clientA}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"DAQABAAEAAAD--device-code-1"}}), tokenError("authorization_pending", 70016)},
				{12 * time.Second, post("https://"+host+"/common/oauth2/deviceauth", url.Values{"otc": {"GHJK2345L"}}), signInPage("ctx-DDDD-1111", "ft-DDDD-1111", "page-000000000009")},
				{14 * time.Second, post("https://"+host+"/common/login", url.Values{"ctx": {"ctx-DDDD-1111"}, "flowToken": {"ft-DDDD-1111"}}), htmlResp("<html>You have signed in</html>")},
				{15 * time.Second, post(tokenURL("organizations"), url.Values{"client_id": {clientA}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"DAQABAAEAAAD--device-code-1"}}), tokenError("authorization_pending", 70016)},
				{20 * time.Second, post(tokenURL("organizations"), url.Values{"client_id": {clientA}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"DAQABAAEAAAD--device-code-1"}}), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 device-code succeeded [0 1 2 3 4 5 6]"},
		},
		{
			name: "device code still polling is in progress until the trace ends",
			flows: []ex{
				{0, post("https://"+host+"/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {clientA}, "scope": {"User.Read"}}),
					jsonResp(200, map[string]any{"device_code": "DAQABAAEAAAD--device-code-1", "user_code": "GHJK2345L"})},
				{5 * time.Second, post(tokenURL("organizations"), url.Values{"client_id": {clientA}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"DAQABAAEAAAD--device-code-1"}}), tokenError("authorization_pending", 70016)},
			},
			want: []string{"0 device-code abandoned [0 1]"},
		},
		{
			name: "client credentials, ROPC and OBO stand alone",
			flows: []ex{
				{0, post(tokenURL(tidContoso), url.Values{"client_id": {clientB}, "client_secret": {"s"}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}, "client-request-id: 11111111-0000-4000-8000-000000000001"),
					jsonResp(200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0.e30.sig"})},
				{time.Second, post(tokenURL(tidContoso), url.Values{"client_id": {clientB}, "client_secret": {"id"}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}, "client-request-id: 11111111-0000-4000-8000-000000000001"),
					tokenError("invalid_client", 7000215)},
				{2 * time.Second, post(tokenURL(tidContoso), url.Values{"client_id": {clientA}, "grant_type": {"password"}, "username": {"alice@contoso.com"}, "password": {"pw"}, "scope": {"openid"}}), tokenError("invalid_grant", 50076)},
				{3 * time.Second, post(tokenURL(tidContoso), url.Values{"client_id": {clientB}, "client_secret": {"s"}, "grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "requested_token_use": {"on_behalf_of"}, "assertion": {"eyJ0.e30.sig"}}), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 client-credentials succeeded [0]", "1 client-credentials failed 7000215 [1]", "2 ropc failed 50076 [2]", "3 on-behalf-of succeeded [3]"},
		},
		{
			name: "SAML round trip through the sign-in page",
			flows: []ex{
				{0, get("https://app.contoso.test/login"), redirectTo("https://" + host + "/" + tidContoso + "/saml2?" + url.Values{"SAMLRequest": {samlB64(samlReq, true)}, "RelayState": {"rs-0001"}}.Encode())},
				{time.Second, get("https://" + host + "/" + tidContoso + "/saml2?" + url.Values{"SAMLRequest": {samlB64(samlReq, true)}, "RelayState": {"rs-0001"}}.Encode()), signInPage("ctx-SSSS-1111", "ft-SSSS-1111", "page-000000000005")},
				{3 * time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-SSSS-1111"}, "flowToken": {"ft-SSSS-1111"}}),
					formPostPage("https://app.contoso.test/saml/acs", url.Values{"SAMLResponse": {samlB64(samlResp("Success", ""), false)}, "RelayState": {"rs-0001"}})},
				{4 * time.Second, post("https://app.contoso.test/saml/acs", url.Values{"SAMLResponse": {samlB64(samlResp("Success", ""), false)}, "RelayState": {"rs-0001"}}), redirectTo("https://app.contoso.test/")},
			},
			want: []string{"0 saml succeeded [0 1 2 3]"},
			check: func(t *testing.T, txs []Transaction) {
				if txs[0].ClientID != "https://app.contoso.test/saml" || txs[0].Tenant != tidContoso {
					t.Errorf("client/tenant: got %q/%q, want the SP entity id and the tenant", txs[0].ClientID, txs[0].Tenant)
				}
			},
		},
		{
			name: "SAML error response",
			flows: []ex{
				{0, get("https://" + host + "/" + tidContoso + "/saml2?" + url.Values{"SAMLRequest": {samlB64(samlReq, true)}}.Encode()),
					formPostPage("https://app.contoso.test/saml/acs", url.Values{"SAMLResponse": {samlB64(samlResp("Requester", "AADSTS750054: SAMLRequest or SAMLResponse must be present."), false)}})},
			},
			want: []string{"0 saml failed 750054 [0]"},
		},
		{
			name: "interleaved sign-ins of two clients",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
				{time.Second, get(authorizeURL(tidContoso, clientB, "stateB")), signInPage("ctx-BBBB-1111", "ft-BBBB-1111", "page-000000000002")},
				{2 * time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-BBBB-1111"}, "flowToken": {"ft-BBBB-1111"}}), redirectTo("http://localhost/?code=" + url.QueryEscape(codeB) + "&state=stateB")},
				{3 * time.Second, post("https://"+host+"/"+tidContoso+"/login", url.Values{"ctx": {"ctx-AAAA-1111"}, "flowToken": {"ft-AAAA-1111"}}), redirectTo("http://localhost/?code=" + url.QueryEscape(codeA) + "&state=stateA")},
				{4 * time.Second, post(tokenURL(tidContoso), redeem(clientA, codeA, false)), tokenOK(tidContoso, "uid-1111")},
				{5 * time.Second, post(tokenURL(tidContoso), redeem(clientB, codeB, false)), tokenError("invalid_grant", 54005)},
			},
			want: []string{"0 auth-code succeeded [0 3 4]", "1 auth-code failed 54005 [1 2 5]"},
		},
		{
			name: "refresh grants join the sign-in of the same client and account",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), redirectTo("http://localhost/?code=" + url.QueryEscape(codeA) + "&state=stateA")},
				{time.Second, post(tokenURL(tidContoso), redeem(clientA, codeA, false)), tokenOK(tidContoso, "uid-1111")},
				{time.Hour, post(tokenURL(tidContoso), url.Values{"client_id": {clientA}, "grant_type": {"refresh_token"}, "refresh_token": {"[sanitized]"}, "client_info": {"1"}}), tokenOK(tidContoso, "uid-1111")},
				{time.Hour + time.Second, post(tokenURL(tidContoso), url.Values{"client_id": {clientB}, "grant_type": {"refresh_token"}, "refresh_token": {"[sanitized]"}}), tokenError("invalid_grant", 70008)},
				{time.Hour + 2*time.Second, post(tokenURL(tidContoso), url.Values{"client_id": {clientA}, "grant_type": {"refresh_token"}, "refresh_token": {"[sanitized]"}, "client_info": {"1"}}), tokenOK(tidContoso, "uid-2222")},
			},
			want: []string{"0 auth-code succeeded [0 1 2]", "1 refresh-token failed 70008 [3]", "2 refresh-token succeeded [4]"},
		},
		{
			name: "sanitized codes link by client",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), redirectTo("http://localhost/?code=REDACTED&state=stateA")},
				{time.Second, get(authorizeURL(tidContoso, clientB, "stateB")), redirectTo("http://localhost/?code=REDACTED&state=stateB")},
				{2 * time.Second, post(tokenURL(tidContoso), redeem(clientA, "REDACTED", false)), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 auth-code succeeded [0 2]", "1 auth-code abandoned [1]"},
		},
		{
			name: "sanitizer placeholders with a hash still link",
			flows: []ex{
				{0, get(authorizeURL(tidContoso, clientA, "stateA")), redirectTo("http://localhost/?code=REDACTED_len120_ha1b2c3&state=stateA")},
				{time.Second, get(authorizeURL(tidContoso, clientA, "stateB")), redirectTo("http://localhost/?code=REDACTED_len120_hd4e5f6&state=stateB")},
				{2 * time.Second, post(tokenURL(tidContoso), redeem(clientA, "REDACTED_len120_ha1b2c3", false)), tokenOK(tidContoso, "uid-1111")},
			},
			want: []string{"0 auth-code succeeded [0 2]", "1 auth-code abandoned [1]"},
		},
		{
			name: "PRT nonce request belongs to the authorize that uses it",
			flows: []ex{
				{0, post("https://"+host+"/common/oauth2/token", url.Values{"grant_type": {"srv_challenge"}}), jsonResp(200, map[string]any{"Nonce": "AwABEgEAAAACAOz_BAD0_nonce-1"})},
				{time.Second, get(authorizeURL(tidContoso, clientA, "stateA", "sso_nonce", "AwABEgEAAAACAOz_BAD0_nonce-1")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001", "sErrorCode", "140001")},
				{2 * time.Second, post("https://"+host+"/common/oauth2/token", url.Values{"grant_type": {"srv_challenge"}}), jsonResp(200, map[string]any{"Nonce": "AwABEgEAAAACAOz_BAD0_nonce-2"})},
			},
			want: []string{"0 auth-code failed 140001 [0 1]"},
		},
		{
			name: "ws-fed sign-in linked by wctx",
			flows: []ex{
				{0, get("https://" + host + "/" + tidContoso + "/wsfed?wa=wsignin1.0&wtrealm=https%3a%2f%2fapp.contoso.test%2fwsfed&wctx=rm%3d0%26id%3dpassive-1"), signInPage("ctx-WWWW-1111", "ft-WWWW-1111", "page-000000000007")},
				{time.Second, get("https://app.contoso.test/unrelated"), "HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html></html>\n"},
				{2 * time.Second, post("https://app.contoso.test/wsfed", url.Values{"wa": {"wsignin1.0"}, "wctx": {"rm=0&id=passive-1"}, "wresult": {`<t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><t:RequestedSecurityToken><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="_a11-0001" Issuer="https://sts.windows.net/` + tidContoso + `/"/></t:RequestedSecurityToken></t:RequestSecurityTokenResponse>`}}), redirectTo("https://app.contoso.test/")},
			},
			want: []string{"0 ws-fed succeeded [0 2]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGrouper()
			for _, f := range build(t, tt.flows) {
				g.Add(f)
			}
			txs := g.Finish()
			got := summary(txs)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Finish():\n got %q\nwant %q", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, txs)
			}
		})
	}
}

func TestStaleAndInProgress(t *testing.T) {
	flows := build(t, []ex{
		{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")},
		{9 * time.Minute, get(authorizeURL(tidContoso, clientB, "stateB")), signInPage("ctx-BBBB-1111", "ft-BBBB-1111", "page-000000000002")},
		{11 * time.Minute, post(tokenURL(tidContoso), url.Values{"client_id": {clientB}, "grant_type": {"client_credentials"}}), tokenError("invalid_client", 7000215)},
	})
	g := NewGrouper()
	steps := []struct {
		after int
		want  []string
	}{
		{0, []string{"0 auth-code in-progress [0]"}},
		{1, []string{"0 auth-code in-progress [0]", "1 auth-code in-progress [1]"}},
		// 11 minutes after flow 0 (which ended 100ms in), it is abandoned.
		{2, []string{"0 auth-code abandoned [0]", "1 auth-code in-progress [1]", "2 client-credentials failed 7000215 [2]"}},
	}
	for _, s := range steps {
		g.Add(flows[s.after])
		if got := summary(g.Transactions()); strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("Transactions() after flow %d:\n got %q\nwant %q", s.after, got, s.want)
		}
	}
	if got, want := summary(g.Finish()), []string{"0 auth-code abandoned [0]", "1 auth-code abandoned [1]", "2 client-credentials failed 7000215 [2]"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Finish():\n got %q\nwant %q", got, want)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	g := NewGrouper()
	for _, f := range build(t, []ex{{0, get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001")}}) {
		g.Add(f)
	}
	snap := g.Transactions()
	snap[0].Flows[0] = 99
	if got := g.Transactions()[0].Flows[0]; got != 0 {
		t.Errorf("Transactions()[0].Flows[0] after editing a snapshot: got %d, want 0", got)
	}
	g.Add(nil)
	g.Add(&flow.Flow{})
	if n := len(g.Transactions()); n != 1 {
		t.Errorf("after nil flows: got %d transactions, want 1", n)
	}
}

func FuzzGrouper(f *testing.F) {
	f.Add("GET", "https://login.microsoftonline.com/common/login?ctx=ctx-AAAA-1111", "", 302, "http://localhost/?code=1.AV8A-codeA-0123456789abcdef&state=stateA", []byte(""))
	f.Add("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token", "grant_type=authorization_code&code=1.AV8A-codeA-0123456789abcdef&client_id="+clientA, 400, "", []byte(`{"error":"invalid_grant","error_codes":[54005]}`))
	f.Add("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token", "grant_type=refresh_token&client_id="+clientA, 200, "", []byte(`{"access_token":"x","client_info":"e30","id_token":"a.b.c"}`))
	f.Add("GET", "https://login.microsoftonline.com/t/saml2?SAMLRequest="+url.QueryEscape(samlB64(samlReq, true)), "", 200, "", []byte(`<form name="hiddenform"><input name="SAMLResponse" value="`+samlB64(samlResp("Success", ""), false)+`"></form>`))
	// add only reads flows, so the first one is built once and shared.
	first, err := inspecttest.ParseExchange(get(authorizeURL(tidContoso, clientA, "stateA")), signInPage("ctx-AAAA-1111", "ft-AAAA-1111", "page-000000000001"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, u, reqBody string, status int, location string, respBody []byte) {
		g := NewGrouper()
		g.add(first)
		for i := 1; i <= 2; i++ {
			fl := &flow.Flow{
				Index:    i,
				Request:  &flow.Request{Method: method, URL: u, Header: flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}, Body: flow.Body{Raw: []byte(reqBody)}},
				Response: &flow.Response{Status: status, Header: flow.Headers{{Name: "Location", Value: location}, {Name: "Content-Type", Value: "text/html"}}, Body: flow.Body{Raw: respBody}},
			}
			g.add(fl)
		}
		txs := g.Finish()
		seen := map[int]bool{}
		for i, tr := range txs {
			if tr.ID != i || len(tr.Flows) == 0 || tr.Outcome == "" || tr.Protocol == "" {
				t.Fatalf("transaction %d: %+v", i, tr)
			}
			for _, fi := range tr.Flows {
				if seen[fi] {
					t.Fatalf("flow %d in two transactions: %v", fi, summary(txs))
				}
				seen[fi] = true
			}
		}
	})
}
