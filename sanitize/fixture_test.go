package sanitize_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/trace"
)

// Canary secrets. Each is planted in several places of the fixture HAR; none
// may survive sanitizing, however it is encoded.
const (
	cPassword  = "Hunter2-CanaryPw-7Qz!x"
	cSecret    = "kQ8~CanarySecret.d83jf_Wq0Zx9vLp2Rt5Yb"
	cCode      = "0.AXYAcanaryCodeq8Hk3LmN0pQrStUvWxYz1234567890abcdefGHIJklmn"
	cRT        = "1.AXYAcanaryRefreshTok9x8y7w6v5u4t3s2r1q0pOnMlKjIhGfEdCbA-_abc.AgABAAEAAAD--DLA3VO7QrddgJg7WevrAgDs_wUA9P8"
	cPRT       = "0.AQcAcanaryPrimaryRefreshToken0123456789abcdefghijklmnopqrstu"
	cESTS      = "1.AW8AcanaryEstsAuthCookie0123456789abcdefghijABCDEFGHIJ.AgABxyz"
	cApp       = "CfDJ8CanaryAppSession4Kq9Lw2Mx7Ny1Oz3Pa5Qb8Rc0Sd6Te"
	cSFT       = "AQABAAEAAADcanaryFlowTokenSFT0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"
	cCanary    = "canaryApiCanaryValue0123456789abcdefXYZ"
	cCtx       = "rQQIARAAcanaryCtx0123456789abcdefghij"
	cVerifier  = "canaryVerifier0123456789abcdefghijklmnopqrstuvw"
	cAPIKey    = "canaryApiKey9f8e7d6c5b4a3210ZYXWVUTSRQ"
	cSAMLAttr  = "CanarySamlAttrValue42"
	cSAMLSig   = "CanarySamlSignatureValue0123456789+/abc=="
	cSAMLName  = "CanarySamlNameId-7781"
	cATSig     = "CanaryATsig0123456789abcdefghijklmnopqrstuv"
	cIDSig     = "CanaryIDsig0123456789abcdefghijklmnopqrstuv"
	cAssertSig = "CanaryAssertionSig0123456789abcdefghijklmno"
	cPRTSig    = "CanaryPRTsig0123456789abcdefghijklmnopqrstu"
	cFreeSig   = "CanaryFreeTextSig0123456789abcdefghijklmnop"
	cOid       = "c4a7e1f0-canary-oid-0042"
	cName      = "Canary Person"
	cDevCode   = "CanaryDeviceCode-GAQABAAEAAADnfolhJpSnRYB1SVj"
)

// cEmailLocal is the local part of the user's address, a canary only when
// Pseudonymize is on.
const cEmailLocal = "canary.person"

const (
	email    = cEmailLocal + "@contoso.com"
	appID    = "7c4a2d9e-1b3f-4e5a-9c8d-0f1e2d3c4b5a"
	tenantID = "5f3c1e2a-9b8d-4c7e-a6f5-0e1d2c3b4a59"
	state1   = "st-8f2a41c0"
	state2   = "st-93bb0e7d"
	nonce1   = "nonce-4d1e"
	reqID1   = "0b7c1e3a-5d2f-4a6b-8c9d-1e2f3a4b5c00"
	corrID1  = "d5f2a8e1-3c4b-4d6e-9f0a-1b2c3d4e5f60"
	traceID1 = "fa3d7e21-9c8b-4a5d-b6e7-f8091a2b3c00"
)

var allCanaries = []string{cPassword, cSecret, cCode, cRT, cPRT, cESTS, cApp, cSFT, cCanary, cCtx,
	cVerifier, cAPIKey, cSAMLAttr, cSAMLSig, cSAMLName, cATSig, cIDSig, cAssertSig, cPRTSig, cFreeSig,
	cOid, cName, cDevCode}

var start = time.Date(2025, 6, 7, 8, 9, 10, 123_000_000, time.UTC)

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jwt(header, payload, sig string) string {
	return b64url(header) + "." + b64url(payload) + "." + sig
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	accessToken = jwt(`{"typ":"JWT","alg":"RS256","x5t":"kid-1","kid":"kid-1"}`,
		`{"aud":"00000003-0000-0000-c000-000000000000","iss":"https://sts.windows.net/`+tenantID+`/","iat":1749283750,"nbf":1749283750,"exp":1749287650,"appid":"`+appID+`","oid":"`+cOid+`","upn":"`+email+`","name":"`+cName+`","scp":"User.Read","tid":"`+tenantID+`","ver":"1.0"}`,
		cATSig)
	idToken = jwt(`{"typ":"JWT","alg":"RS256","kid":"kid-1"}`,
		`{"aud":"`+appID+`","iss":"https://login.microsoftonline.com/`+tenantID+`/v2.0","iat":1749283750,"nbf":1749283750,"exp":1749287650,"name":"`+cName+`","nonce":"`+nonce1+`","oid":"`+cOid+`","preferred_username":"`+email+`","email":"`+email+`","sub":"sub-`+cOid+`","tid":"`+tenantID+`","ver":"2.0"}`,
		cIDSig)
	freeIDToken = jwt(`{"typ":"JWT","alg":"RS256"}`,
		`{"aud":"`+appID+`","oid":"`+cOid+`","tid":"`+tenantID+`"}`, cFreeSig)
	assertion = jwt(`{"alg":"RS256","typ":"JWT","x5t":"thumb"}`,
		`{"aud":"https://login.microsoftonline.com/`+tenantID+`/oauth2/v2.0/token","iss":"`+appID+`","sub":"`+appID+`","jti":"jti-1","nbf":1749283700,"exp":1749284300}`,
		cAssertSig)
	prtCookie = jwt(`{"alg":"HS256","kdf_ver":2,"ctx":"bm90IGEgc2VjcmV0IGJ1dCByZWRhY3RlZA"}`,
		`{"refresh_token":"`+cPRT+`","is_primary":"true","request_nonce":"AwABEgEAAAADAOz_BQD0_nonce"}`,
		cPRTSig)
	clientInfo = b64url(`{"uid":"` + cOid + `","utid":"` + tenantID + `"}`)
)

const samlXML = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" InResponseTo="_req1" Destination="https://app.example/saml/acs"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sts.windows.net/` + tenantID + `/</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"><Issuer>https://sts.windows.net/` + tenantID + `/</Issuer><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><Reference URI="#_a1"><DigestValue>Q2FuYXJ5RGlnZXN0</DigestValue></Reference></SignedInfo><SignatureValue>` + cSAMLSig + `</SignatureValue><KeyInfo><X509Data><X509Certificate>MIIC8DCCAdigAwIBAgIQ</X509Certificate></X509Data></KeyInfo></Signature><Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">` + cSAMLName + `</NameID></Subject><Conditions NotBefore="2025-06-07T08:04:10Z" NotOnOrAfter="2025-06-07T09:09:10Z"><AudienceRestriction><Audience>spn:` + appID + `</Audience></AudienceRestriction></Conditions><AttributeStatement><Attribute Name="http://schemas.microsoft.com/identity/claims/objectidentifier"><AttributeValue>` + cSAMLAttr + `</AttributeValue></Attribute><Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"><AttributeValue>` + email + `</AttributeValue></Attribute></AttributeStatement></Assertion></samlp:Response>`

func hdrs(kv ...string) flow.Headers {
	var h flow.Headers
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, flow.Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

func textBody(s string) flow.Body { return flow.Body{Raw: []byte(s), Size: int64(len(s))} }

func gz(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

var esHeaders = []string{"Cache-Control", "no-store, no-cache", "x-ms-request-id", reqID1, "x-ms-ests-server", "2.1.19005.9 - NEULR1 ProdSlices"}

func respHeaders(extra ...string) flow.Headers {
	return hdrs(append(append([]string{}, esHeaders...), extra...)...)
}

func configPage(cfg string) string {
	return `<!DOCTYPE html><html><head><title>Sign in to your account</title><script type="text/javascript">//<![CDATA[
$Config=` + cfg + `;
//]]></script></head><body><script>var keep = "` + freeIDToken + `";</script></body></html>`
}

// fixtureFlows are the synthetic flows of a sign-in with every secret in
// every position a flow can hold it, plus error answers whose AADSTS codes
// must survive.
func fixtureFlows() []*flow.Flow {
	authorize := "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=" + appID +
		"&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid+profile+offline_access&state=" + state1 +
		"&nonce=" + nonce1 + "&code_challenge=" + s256(cVerifier) + "&code_challenge_method=S256&login_hint=" + url.QueryEscape(email)
	cfg := `{"sFT":"` + cSFT + `","sFTName":"flowToken","sCtx":"` + cCtx + `","canary":"` + cCanary + `","apiCanary":"` + cCanary +
		`","urlPost":"/common/login?ctx=` + cCtx + `","correlationId":"` + corrID1 + `","sessionId":"` + traceID1 + `","sPOST_Username":"` + email + `"}`
	formPost := `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://app.example/cb"><input type="hidden" name="code" value="` + cCode +
		`" /><input type="hidden" name="id_token" value="` + idToken + `" /><input type="hidden" name="state" value="` + state1 +
		`" /><input type="hidden" name="client_info" value="` + clientInfo + `" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>`
	samlB64 := base64.StdEncoding.EncodeToString([]byte(samlXML))
	tokenResp := `{"token_type":"Bearer","scope":"User.Read profile openid email","expires_in":3599,"ext_expires_in":3599,"access_token":"` + accessToken +
		`","refresh_token":"` + cRT + `","id_token":"` + idToken + `","client_info":"` + clientInfo + `"}`
	flows := []*flow.Flow{
		{ // 0: interactive authorize with session cookies; the sign-in page.
			Request: &flow.Request{Method: "GET", URL: authorize, Proto: "HTTP/1.1",
				Header: hdrs("Host", "login.microsoftonline.com", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)",
					"Cookie", "ESTSAUTH="+cESTS+"; x-ms-gateway-slice=estsfd; x-ms-RefreshTokenCredential="+prtCookie,
					"x-ms-RefreshTokenCredential", prtCookie, "X-AnchorMailbox", "UPN:"+email)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "text/html; charset=utf-8", "Content-Encoding", "gzip",
					"Set-Cookie", "ESTSAUTH="+cESTS+"; domain=.login.microsoftonline.com; path=/; secure; HttpOnly; SameSite=None",
					"Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly",
					"Set-Cookie", "buid="+cESTS+"; expires=Wed, 09-Jul-2025 08:09:10 GMT; path=/; secure; HttpOnly; SameSite=None"),
				Body: flow.Body{Raw: gz(configPage(cfg)), Size: 2000, Encoding: "gzip"}},
		},
		{ // 1: GetCredentialType, JSON both ways.
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/common/GetCredentialType?mkt=en-US", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/json; charset=UTF-8", "canary", cCanary, "client-request-id", corrID1, "hpgrequestid", traceID1),
				Body:   textBody(`{"username":"` + email + `","isOtherIdpSupported":true,"originalRequest":"` + cCtx + `","flowToken":"` + cSFT + `"}`)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "application/json; charset=utf-8"),
				Body:   textBody(`{"Username":"` + email + `","Display":"` + email + `","IfExistsResult":0,"FlowToken":"` + cSFT + `","apiCanary":"` + cCanary + `"}`)},
		},
		{ // 2: password post; the redirect carries the code.
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/common/login", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/x-www-form-urlencoded", "Cookie", "ESTSAUTH="+cESTS+"; esctx="+cSFT),
				Body: textBody("i13=0&login=" + url.QueryEscape(email) + "&loginfmt=" + url.QueryEscape(email) + "&type=11&passwd=" + url.QueryEscape(cPassword) +
					"&ctx=" + cCtx + "&hpgrequestid=" + traceID1 + "&flowToken=" + cSFT + "&canary=" + url.QueryEscape(cCanary) + "&i19=2311")},
			Response: &flow.Response{Status: 302, Reason: "Found", Proto: "HTTP/1.1",
				Header: respHeaders("Location", "https://app.example/cb?code="+cCode+"&state="+state1+"&session_state="+corrID1,
					"Set-Cookie", "ESTSAUTHPERSISTENT="+cESTS+"; expires=Fri, 05-Sep-2025 08:09:10 GMT; path=/; secure; HttpOnly; SameSite=None")},
		},
		{ // 3: form_post answer with code, id_token and a free-text token in a script.
			Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/reprocess?ctx=" + cCtx, Proto: "HTTP/1.1"},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "text/html; charset=utf-8"),
				Body:   textBody(formPost + `<script>var t = "` + freeIDToken + `";</script>`)},
		},
		{ // 4: code redemption by a confidential client.
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/x-www-form-urlencoded",
					"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(appID+":"+cSecret)),
					"client-request-id", corrID1),
				Body: textBody("client_id=" + appID + "&grant_type=authorization_code&code=" + cCode + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=" + cVerifier +
					"&client_secret=" + url.QueryEscape(cSecret) + "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + assertion)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "application/json; charset=utf-8"),
				Body:   textBody(tokenResp)},
		},
		{ // 5: the app calls an API and sets its own session cookie.
			Request: &flow.Request{Method: "GET", URL: "https://api.example/v1/me?x=1", Proto: "HTTP/1.1",
				Header: hdrs("Authorization", "Bearer "+accessToken, "X-Api-Key", cAPIKey, "Cookie", ".AspNetCore.Cookies="+cApp+"; theme=dark")},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/json", "Set-Cookie", ".AspNetCore.Cookies="+cApp+"; path=/; secure; httponly"),
				Body:   textBody(`{"note":"echo","refresh_token":"` + cRT + `","password":"` + cPassword + `"}`)},
		},
		{ // 6: a failed password: AADSTS50126 in a JSON error body.
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/x-www-form-urlencoded"),
				Body:   textBody("client_id=" + appID + "&grant_type=password&username=" + url.QueryEscape(email) + "&password=" + url.QueryEscape(cPassword) + "&scope=openid")},
			Response: &flow.Response{Status: 400, Reason: "Bad Request", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "application/json; charset=utf-8", "x-ms-clitelem", "1,50126,0,,"),
				Body: textBody(`{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password. Trace ID: ` + traceID1 +
					` Correlation ID: ` + corrID1 + ` Timestamp: 2025-06-07 08:09:10Z","error_codes":[50126],"timestamp":"2025-06-07 08:09:10Z","trace_id":"` + traceID1 +
					`","correlation_id":"` + corrID1 + `","error_uri":"https://login.microsoftonline.com/error?code=50126"}`)},
		},
		{ // 7: silent authorize answered with 50058 in the redirect; the implicit fragment of an earlier app.
			Request: &flow.Request{Method: "GET", URL: authorize + "&prompt=none", Proto: "HTTP/1.1"},
			Response: &flow.Response{Status: 302, Reason: "Found", Proto: "HTTP/1.1",
				Header: respHeaders("Location", "https://app.example/cb?error=login_required&error_description=AADSTS50058%3a+A+silent+sign-in+request+was+sent+but+no+user+is+signed+in.%0d%0aTrace+ID%3a+"+traceID1+"%0d%0aCorrelation+ID%3a+"+corrID1+"%0d%0aTimestamp%3a+2025-06-07+08%3a09%3a10Z&state="+state2)},
		},
		{ // 8: implicit grant: tokens and a code in the fragment.
			Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=" + appID + "&response_type=id_token+token&state=" + state2, Proto: "HTTP/1.1"},
			Response: &flow.Response{Status: 302, Reason: "Found", Proto: "HTTP/1.1",
				Header: respHeaders("Location", "https://app.example/spa#access_token="+accessToken+"&token_type=Bearer&expires_in=3599&id_token="+idToken+"&code="+cCode+"&state="+state2+"&session_state="+corrID1)},
		},
		{ // 9: the HTML error page (50011) with the PRT cookie sent.
			Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=" + appID + "&redirect_uri=https%3A%2F%2Fevil.example%2F", Proto: "HTTP/1.1",
				Header: hdrs("Cookie", "x-ms-RefreshTokenCredential="+prtCookie)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "text/html; charset=utf-8", "x-ms-clitelem", "1,50011,0,,"),
				Body: textBody(configPage(`{"iErrorCode":"50011","strServiceExceptionMessage":"AADSTS50011: The redirect URI 'https://evil.example/' specified in the request does not match the redirect URIs configured for the application.","correlationId":"` + corrID1 +
					`","sessionId":"` + traceID1 + `","sFT":"` + cSFT + `","canary":"` + cCanary + `"}`))},
		},
		{ // 10: SAML: the ACS post, and the form that carried it.
			Request: &flow.Request{Method: "POST", URL: "https://app.example/saml/acs", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/x-www-form-urlencoded"),
				Body:   textBody("SAMLResponse=" + url.QueryEscape(samlB64) + "&RelayState=" + state1)},
			Response: &flow.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "text/html"),
				Body:   textBody(`<html><body><form method="POST" action="https://app.example/saml/acs"><input type="hidden" name="SAMLResponse" value="` + samlB64 + `"/><input type="hidden" name="RelayState" value="` + state1 + `"/></form></body></html>`)},
		},
		{ // 11: device code grant.
			Request: &flow.Request{Method: "POST", URL: "https://login.microsoftonline.com/organizations/oauth2/v2.0/token", Proto: "HTTP/1.1",
				Header: hdrs("Content-Type", "application/x-www-form-urlencoded"),
				Body:   textBody("grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=" + appID + "&device_code=" + cDevCode)},
			Response: &flow.Response{Status: 400, Reason: "Bad Request", Proto: "HTTP/1.1",
				Header: respHeaders("Content-Type", "application/json; charset=utf-8"),
				Body: textBody(`{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling. Trace ID: ` + traceID1 + ` Correlation ID: ` + corrID1 +
					` Timestamp: 2025-06-07 08:09:11Z","error_codes":[70016],"timestamp":"2025-06-07 08:09:11Z","trace_id":"` + traceID1 + `","correlation_id":"` + corrID1 + `"}`)},
		},
	}
	for i, f := range flows {
		f.Index = i
		f.Timings = flow.Timings{Start: start.Add(time.Duration(i) * time.Second), DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 20 * time.Millisecond, Receive: time.Millisecond}
		f.Done = f.Timings.Start.Add(22 * time.Millisecond)
		f.ServerAddr = "20.190.151.7:443"
	}
	return flows
}

// handEntries are HAR entries written the way other tools write them: a
// cookies array without a Cookie header, params without text, base64
// bodies, raw gzip content, chunked framing, Chrome's _initiator.
func handEntries(t *testing.T) []json.RawMessage {
	t.Helper()
	rtJSON := `{"token_type":"Bearer","access_token":"` + accessToken + `","refresh_token":"` + cRT + `","client_info":"` + clientInfo + `"}`
	// Chunked so that the refresh token is split across two chunks.
	cut := strings.Index(rtJSON, cRT) + 20
	chunked := fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", cut, rtJSON[:cut], len(rtJSON)-cut, rtJSON[cut:])
	b64Body := base64.StdEncoding.EncodeToString([]byte(`{"id_token":"` + idToken + `","password":"` + cPassword + `"}`))
	rawGzip := base64.StdEncoding.EncodeToString(gz(rtJSON))
	formB64 := base64.StdEncoding.EncodeToString([]byte("grant_type=client_credentials&client_id=" + appID + "&client_secret=" + url.QueryEscape(cSecret)))
	entries := []string{
		`{"startedDateTime":"2025-06-07T08:10:00.000Z","time":12.5,"_initiator":{"type":"script","url":"https://app.example/cb?code=` + cCode + `&state=` + state1 + `"},"_resourceType":"xhr",
		 "request":{"method":"POST","url":"https://login.microsoftonline.com/common/oauth2/v2.0/token?code=` + cCode + `","httpVersion":"h2",
		  "cookies":[{"name":"ESTSAUTH","value":"` + cESTS + `"},{"name":"x-ms-gateway-slice","value":"estsfd"},{"name":".AspNetCore.Cookies","value":"` + cApp + `"}],
		  "headers":[{"name":":path","value":"/common/oauth2/v2.0/token?code=` + cCode + `"},{"name":"content-type","value":"application/x-www-form-urlencoded"}],
		  "queryString":[{"name":"code","value":"` + cCode + `"}],
		  "postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"passwd","value":"` + cPassword + `"},{"name":"refresh_token","value":"` + cRT + `"},{"name":"client_id","value":"` + appID + `"}]},
		  "headersSize":-1,"bodySize":120},
		 "response":{"status":200,"statusText":"OK","httpVersion":"h2","cookies":[{"name":"ESTSAUTH","value":"` + cESTS + `","path":"/","domain":".login.microsoftonline.com","httpOnly":true,"secure":true}],
		  "headers":[{"name":"content-type","value":"application/json"},{"name":"x-ms-request-id","value":"` + reqID1 + `"}],
		  "content":{"size":200,"mimeType":"application/json","text":"` + b64Body + `","encoding":"base64"},"redirectURL":"","headersSize":-1,"bodySize":200},
		 "cache":{},"timings":{"send":1,"wait":10,"receive":1.5}}`,
		`{"startedDateTime":"2025-06-07T08:10:01.000Z","time":3,
		 "request":{"method":"POST","url":"https://login.microsoftonline.com/common/oauth2/v2.0/token","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Content-Type","value":"application/x-www-form-urlencoded"}],"queryString":[],
		  "postData":{"mimeType":"application/x-www-form-urlencoded","text":"` + formB64 + `","encoding":"base64"},"headersSize":-1,"bodySize":90},
		 "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Content-Type","value":"application/json"},{"name":"Content-Encoding","value":"gzip"}],
		  "content":{"size":300,"mimeType":"application/json","text":"` + rawGzip + `","encoding":"base64","_aadproxyRawContent":true},"redirectURL":"","headersSize":-1,"bodySize":300},
		 "cache":{},"timings":{"send":1,"wait":1,"receive":1}}`,
		`{"startedDateTime":"2025-06-07T08:10:02.000Z","time":3,
		 "request":{"method":"POST","url":"https://login.microsoftonline.com/common/oauth2/v2.0/token","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":0},
		 "response":{"status":302,"statusText":"Found","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Transfer-Encoding","value":"chunked"},{"name":"Location","value":"https://app.example/cb#code=` + cCode + `&state=` + state2 + `"}],
		  "content":{"size":300,"mimeType":"application/json","text":` + jsonString(chunked) + `},"redirectURL":"https://app.example/cb#code=` + cCode + `&state=` + state2 + `","headersSize":-1,"bodySize":300},
		 "cache":{},"timings":{"send":1,"wait":1,"receive":1}}`,
	}
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		if !json.Valid([]byte(e)) {
			t.Fatalf("test setup: hand entry %d is not valid JSON", i)
		}
		out[i] = json.RawMessage(e)
	}
	return out
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// writeFixture writes the fixture HAR: the flows converted by
// trace.EntryFromFlow, then the hand-written entries, with a page whose
// title holds a code.
func writeFixture(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"browser":{"name":"Chrome","version":"137"},` +
		`"pages":[{"startedDateTime":"2025-06-07T08:09:10.000Z","id":"page_1","title":"https://app.example/cb?code=` + cCode + `&state=` + state1 + `","pageTimings":{"onContentLoad":120,"onLoad":300}}],"entries":[`)
	n := 0
	for _, f := range fixtureFlows() {
		data, err := json.Marshal(trace.EntryFromFlow(f))
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			b.WriteString(",\n")
		}
		b.Write(data)
		n++
	}
	for _, e := range handEntries(t) {
		b.WriteString(",\n")
		b.Write(e)
	}
	b.WriteString("]}}\n")
	path := filepath.Join(dir, "in.har")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
