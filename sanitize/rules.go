package sanitize

import "strings"

// class is what the policy does with a named field's value (a query or form
// parameter, a JSON member, a hidden input, a JWT claim).
type class int

const (
	clsUnknown     class = iota // redacted only when the value looks like a secret
	clsKeep                     // kept, after the free-text scrub
	clsSecret                   // always replaced
	clsToken                    // a JWT is opened and stripped, anything else replaced
	clsVerifier                 // replaced, keeping the S256
	clsSAML                     // base64 or plain SAML/WS-Fed XML, sanitized inside
	clsClientInfo               // base64url {"uid","utid"}: uid replaced, utid kept
	clsName                     // a display name: pseudonymized or kept
	clsErrorCode                // JSON "code": kept when it reads as an error code
	clsNumericOK                // "code" in a URL or form: kept only when numeric (error?code=50126)
	clsPublicKey                // a public JWK member (n, e, kid, x5t…): kept when base64-shaped
	clsCertificate              // a JWK's x5c entry: kept when it is an X.509 certificate
)

type rule struct {
	cls  class
	kind string
}

// fieldRules maps lower-cased field names to their rule. Names not listed
// are classified by fieldRule's substring checks, then as unknown.
var fieldRules = map[string]rule{
	// Credentials.
	"password":                    {clsSecret, KindPassword},
	"passwd":                      {clsSecret, KindPassword},
	"pwd":                         {clsSecret, KindPassword},
	"client_secret":               {clsSecret, KindClientSecret},
	"code":                        {clsNumericOK, KindCode},
	"device_code":                 {clsSecret, KindCode},
	"user_code":                   {clsSecret, KindCode},
	"otc":                         {clsSecret, KindCode},
	"spa_code":                    {clsSecret, KindCode},
	"refresh_token":               {clsToken, KindRefreshToken},
	"access_token":                {clsToken, KindAccessToken},
	"id_token":                    {clsToken, KindIDToken},
	"id_token_hint":               {clsToken, KindIDToken},
	"client_assertion":            {clsToken, KindAssertion},
	"assertion":                   {clsToken, KindAssertion},
	"request":                     {clsToken, KindToken},
	"subject_token":               {clsToken, KindToken},
	"actor_token":                 {clsToken, KindToken},
	"logout_token":                {clsToken, KindToken},
	"code_verifier":               {clsVerifier, KindCodeVerifier},
	"flowtoken":                   {clsSecret, KindFlowToken},
	"sft":                         {clsSecret, KindFlowToken},
	"sctx":                        {clsSecret, KindFlowToken},
	"ctx":                         {clsSecret, KindFlowToken},
	"originalrequest":             {clsSecret, KindFlowToken},
	"estswctxflowtoken":           {clsSecret, KindFlowToken},
	"canary":                      {clsSecret, KindCanary},
	"apicanary":                   {clsSecret, KindCanary},
	"samlresponse":                {clsSAML, KindSAML},
	"wresult":                     {clsSAML, KindSAML},
	"samlart":                     {clsSecret, KindSAML},
	"signature":                   {clsSecret, KindSAML},
	"t":                           {clsSecret, KindToken}, // login.live.com form_post
	"nap":                         {clsSecret, KindToken},
	"anon":                        {clsSecret, KindToken},
	"client_info":                 {clsClientInfo, KindPersonal},
	"displayname":                 {clsName, KindName},
	"givenname":                   {clsName, KindName},
	"surname":                     {clsName, KindName},
	"given_name":                  {clsName, KindName},
	"family_name":                 {clsName, KindName},
	"fullname":                    {clsName, KindName},
	"x-ms-refreshtokencredential": {clsSecret, KindToken},
	"x-ms-devicecredential":       {clsSecret, KindToken},

	// Not secrets: needed to follow a sign-in.
	"state": {cls: clsKeep}, "nonce": {cls: clsKeep}, "client_id": {cls: clsKeep},
	"redirect_uri": {cls: clsKeep}, "post_logout_redirect_uri": {cls: clsKeep},
	"scope": {cls: clsKeep}, "response_type": {cls: clsKeep}, "response_mode": {cls: clsKeep},
	"prompt": {cls: clsKeep}, "login_hint": {cls: clsKeep}, "domain_hint": {cls: clsKeep},
	"logout_hint": {cls: clsKeep}, "tenant": {cls: clsKeep}, "claims": {cls: clsKeep},
	"resource": {cls: clsKeep}, "grant_type": {cls: clsKeep}, "code_challenge": {cls: clsKeep},
	"code_challenge_method": {cls: clsKeep}, "error": {cls: clsKeep},
	"error_description": {cls: clsKeep}, "error_uri": {cls: clsKeep}, "error_codes": {cls: clsKeep},
	"error_subcode": {cls: clsKeep}, "suberror": {cls: clsKeep}, "timestamp": {cls: clsKeep},
	"trace_id": {cls: clsKeep}, "correlation_id": {cls: clsKeep}, "session_state": {cls: clsKeep},
	"sso_nonce": {cls: clsKeep}, "request_nonce": {cls: clsKeep}, "max_age": {cls: clsKeep},
	"ui_locales": {cls: clsKeep}, "mkt": {cls: clsKeep}, "lc": {cls: clsKeep},
	"client-request-id": {cls: clsKeep}, "client_request_id": {cls: clsKeep}, "sid": {cls: clsKeep},
	"whr": {cls: clsKeep}, "wa": {cls: clsKeep}, "wtrealm": {cls: clsKeep}, "wctx": {cls: clsKeep},
	"wreply": {cls: clsKeep}, "relaystate": {cls: clsKeep}, "samlrequest": {cls: clsKeep},
	"sigalg": {cls: clsKeep}, "admin_consent": {cls: clsKeep}, "token_type": {cls: clsKeep},
	"token_type_hint": {cls: clsKeep}, "expires_in": {cls: clsKeep}, "ext_expires_in": {cls: clsKeep},
	"expires_on": {cls: clsKeep}, "not_before": {cls: clsKeep}, "refresh_token_expires_in": {cls: clsKeep},
	"id_token_expires_in": {cls: clsKeep}, "client_assertion_type": {cls: clsKeep}, "foci": {cls: clsKeep},
	"correlationid": {cls: clsKeep}, "sessionid": {cls: clsKeep}, "requestid": {cls: clsKeep},
	"request_id": {cls: clsKeep}, "traceid": {cls: clsKeep}, "hpgrequestid": {cls: clsKeep},
	"ierrorcode": {cls: clsKeep}, "serrorcode": {cls: clsKeep}, "strserviceexceptionmessage": {cls: clsKeep},
	"username": {cls: clsKeep}, "loginfmt": {cls: clsKeep}, "login": {cls: clsKeep},
	"sftname": {cls: clsKeep}, "urlpost": {cls: clsKeep}, "pgid": {cls: clsKeep},
	"interval": {cls: clsKeep}, "verification_uri": {cls: clsKeep}, "message": {cls: clsKeep},
	"x-client-sku": {cls: clsKeep}, "x-client-ver": {cls: clsKeep}, "x-client-os": {cls: clsKeep},
	"x-client-cpu": {cls: clsKeep}, "x-client-current-telemetry": {cls: clsKeep},
	"x-client-last-telemetry": {cls: clsKeep},
}

// namesA reports whether a lower-cased field name names a thing of the
// given kind rather than something about one: its last word is the noun
// (access_token, accessToken, x-csrf-token, client_assertion), not a
// qualifier (token_endpoint, token_type, id_token_signing_alg_values_supported,
// refresh_token_expires_in, client_assertion_type). A value is secret by
// what it is; a name that merely contains "token" says nothing about it.
func namesA(n, noun string) bool {
	return strings.HasSuffix(n, noun) || strings.HasSuffix(n, noun+"s")
}

// fieldRule classifies a field name (case-insensitive).
func fieldRule(name string) rule {
	n := strings.ToLower(strings.TrimSpace(name))
	if r, ok := fieldRules[n]; ok {
		return r
	}
	switch {
	case strings.Contains(n, "password"), strings.Contains(n, "passwd"):
		return rule{clsSecret, KindPassword}
	case strings.Contains(n, "secret"), strings.Contains(n, "credential"), strings.Contains(n, "apikey"), strings.Contains(n, "api_key"), strings.Contains(n, "api-key"):
		return rule{clsSecret, KindSecret}
	case strings.Contains(n, "canary"):
		return rule{clsSecret, KindCanary}
	case namesA(n, "token"):
		return rule{clsToken, KindToken}
	case namesA(n, "assertion"):
		return rule{clsToken, KindAssertion}
	}
	return rule{cls: clsUnknown}
}

// jwkKeyTypes are the kty values of RFC 7518; an object with one of them is
// a JSON Web Key.
var jwkKeyTypes = map[string]bool{"RSA": true, "EC": true, "OKP": true, "oct": true}

// isJWK reports whether a JSON object is a JSON Web Key: it has a kty
// member naming a key type. Its members are judged by position then
// (jwkMemberRule), not by what they look like.
func isJWK(n *jnode) bool {
	for i, k := range n.keys {
		if k == "kty" && n.vals[i].kind == jString && jwkKeyTypes[n.vals[i].s] {
			return true
		}
	}
	return false
}

// jwkMemberRule classifies a member of a JSON Web Key (RFC 7517, 7518):
// the public parameters (modulus and exponent, curve points, key ID and
// certificate thumbprints, the certificate chain) are what a JWKS publishes
// for anyone to verify signatures with, so they are kept; the private
// parameters (d, p, q, dp, dq, qi, oth, and a symmetric key's k) are
// secrets wherever they appear. Other members follow the field policy.
func jwkMemberRule(name string) rule {
	switch name {
	case "n", "e", "x", "y", "kid", "x5t", "x5t#S256":
		return rule{clsPublicKey, KindSecret}
	case "x5c":
		return rule{clsCertificate, KindSecret}
	case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
		return rule{clsSecret, KindSecret}
	}
	return jsonFieldRule(name)
}

// jsonFieldRule is fieldRule for JSON members, where "code" is usually an
// error code ({"error":{"code":"InvalidAuthenticationToken"}}).
func jsonFieldRule(name string) rule {
	if strings.EqualFold(name, "code") {
		return rule{clsErrorCode, KindCode}
	}
	return fieldRule(name)
}

// secretFieldNames are the names the free-text scrub looks for in
// key=value and "key":"value" shapes.
var secretFieldNames = []string{
	"password", "passwd", "pwd", "client_secret", "code", "device_code", "otc",
	"refresh_token", "access_token", "id_token", "id_token_hint",
	"client_assertion", "assertion", "code_verifier", "flowToken", "sFT",
	"sCtx", "ctx", "originalRequest", "canary", "apiCanary", "SAMLResponse",
	"wresult", "SAMLart", "spa_code", "x-ms-RefreshTokenCredential",
}

// keptCookies are cookies known to carry no secret: routing, feature and
// test flags. Everything else is replaced.
var keptCookies = map[string]bool{
	"x-ms-gateway-slice": true, "stsservicecookie": true, "brcap": true,
	"clrc": true, "cktst": true, "wlidperf": true, "aadsso": true,
	"ssocookiepulled": true, "estsssotiles": true, "aadssotiles": true,
	"mscc": true, "cltm": true, "threxp": true, "usgovtraffic": true,
	"estsnclogin": true,
}

// keepCookieValue reports whether a cookie's value is kept.
func keepCookieValue(name, value string) bool {
	return value == "" || len(value) <= 4 || keptCookies[strings.ToLower(strings.TrimSpace(name))]
}

// keptHeaders are headers whose values carry no credential; they are only
// scrubbed for tokens embedded in free text.
var keptHeaders = map[string]bool{
	"host": true, ":authority": true, ":method": true, ":scheme": true, ":status": true,
	"user-agent": true, "accept": true, "accept-encoding": true, "accept-language": true,
	"content-type": true, "content-length": true, "content-encoding": true,
	"transfer-encoding": true, "connection": true, "keep-alive": true, "date": true,
	"server": true, "cache-control": true, "pragma": true, "expires": true, "vary": true,
	"etag": true, "last-modified": true, "if-none-match": true, "if-modified-since": true,
	"strict-transport-security": true, "x-content-type-options": true, "p3p": true,
	"x-xss-protection": true, "referrer-policy": true, "x-frame-options": true,
	"content-security-policy": true, "content-security-policy-report-only": true,
	"cross-origin-opener-policy": true, "cross-origin-opener-policy-report-only": true,
	"cross-origin-embedder-policy": true, "cross-origin-resource-policy": true,
	"permissions-policy": true, "reporting-endpoints": true, "report-to": true, "nel": true,
	"x-dns-prefetch-control": true, "link": true, "alt-svc": true, "server-timing": true,
	"x-cache": true, "age": true, "x-ms-request-id": true, "x-ms-ests-server": true,
	"x-ms-clitelem": true, "x-ms-srs": true, "client-request-id": true,
	"return-client-request-id": true, "x-ms-httpver": true, "x-ms-lib-capability": true,
	"x-client-sku": true, "x-client-ver": true, "x-client-os": true, "x-client-cpu": true,
	"x-client-current-telemetry": true, "x-client-last-telemetry": true,
	"x-app-name": true, "x-app-ver": true, "x-anchormailbox": true,
	"www-authenticate": true, "traceparent": true, "tracestate": true, "request-id": true,
	"x-ms-correlation-id": true, "x-correlation-id": true, "x-request-id": true,
	"upgrade-insecure-requests": true, "dnt": true, "priority": true, "te": true,
	"upgrade": true, "range": true, "content-range": true, "accept-ranges": true,
	"content-disposition": true, "content-language": true, "hpgact": true, "hpgid": true,
	"hpgrequestid": true, "x-ms-ssoflags": true,
}

// secretHeaderWords mark a header whose value is a credential whatever it
// looks like. "token" and "key" are not among them: headerRule asks that
// they end the name.
var secretHeaderWords = []string{"secret", "password", "passwd", "auth", "session", "credential", "signature", "cookie", "canary", "assertion", "jwt", "bearer"}

// headerRule classifies a header name (lower-cased).
func headerRule(lname string) rule {
	switch {
	case keptHeaders[lname], strings.HasPrefix(lname, "sec-"), strings.HasPrefix(lname, "access-control-"), strings.HasPrefix(lname, "x-client-"):
		return rule{cls: clsKeep}
	case lname == "x-ms-refreshtokencredential", lname == "x-ms-devicecredential":
		return rule{clsSecret, KindToken}
	case lname == "canary" || strings.Contains(lname, "canary"):
		return rule{clsSecret, KindCanary}
	}
	for _, w := range secretHeaderWords {
		if strings.Contains(lname, w) {
			return rule{clsToken, KindSecret}
		}
	}
	// A header that names a token or a key (X-CSRF-Token, X-Api-Key,
	// Ocp-Apim-Subscription-Key) carries one; one that only mentions the
	// word (X-MS-TOKEN-AAD-EXPIRES-ON, Public-Key-Pins) is judged by its
	// value.
	if namesA(lname, "token") || namesA(lname, "key") {
		return rule{clsToken, KindSecret}
	}
	return rule{cls: clsUnknown}
}

// claimRule classifies a JWT payload claim that is not kept.
type claimKind int

const (
	claimOther claimKind = iota
	claimEmail
	claimName
)

var claimKinds = map[string]claimKind{
	"upn": claimEmail, "preferred_username": claimEmail, "unique_name": claimEmail,
	"email": claimEmail, "verified_primary_email": claimEmail,
	"verified_secondary_email": claimEmail,
	"name":                     claimName, "given_name": claimName, "family_name": claimName,
}

// binaryKept are media types whose binary bodies are kept: they cannot hide
// a credential a sign-in would use, and dropping them makes a trace harder
// to read in a HAR viewer.
func binaryKept(mimeType string) bool {
	mt := strings.ToLower(mimeType)
	for _, p := range []string{"image/", "font/", "audio/", "video/", "application/font", "application/x-font", "application/vnd.ms-fontobject", "application/wasm"} {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	return false
}
