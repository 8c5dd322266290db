package fakests

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grant type values.
const (
	grantAuthCode     = "authorization_code"
	grantRefresh      = "refresh_token"
	grantClientCreds  = "client_credentials"
	grantPassword     = "password"
	grantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	grantDeviceCodeV1 = "device_code"
	grantSrvChallenge = "srv_challenge"
)

// tokenReq is a token request after client authentication.
type tokenReq struct {
	r      *http.Request
	rq     *reqInfo
	v1     bool
	ref    tenantRef
	app    *App
	secret bool // the client authenticated with a secret
}

func (s *Server) tokenV2(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.token(w, r, rq, false)
}
func (s *Server) tokenV1(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.token(w, r, rq, true)
}

// token runs the token endpoint: method and CORS, tenant, client
// authentication, then the grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request, rq *reqInfo, v1 bool) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length,Content-Encoding,x-ms-request-id,x-ms-srs")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	s.setTrackingCookies(w, r, rq)
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost:
	default:
		s.writeJSONError(w, rq, newErr(900561, "invalid_request", "This endpoint answers POST and OPTIONS only; the request used %s.", r.Method))
		return
	}
	_ = r.ParseForm()
	f := r.PostForm
	ref, ok := s.dir.resolveTenant(r.PathValue("tenant"))
	if !ok {
		e := errTenantNotFound(ref.segment)
		e.OAuth = "invalid_request"
		s.writeJSONError(w, rq, e)
		return
	}
	grant := f.Get("grant_type")
	if grant == "" {
		s.writeJSONError(w, rq, errMissingParam("grant_type"))
		return
	}
	if grant == grantSrvChallenge {
		writeJSON(w, http.StatusOK, map[string]string{"Nonce": s.Nonce()})
		return
	}
	tr := &tokenReq{r: r, rq: rq, v1: v1, ref: ref}
	if e := s.authenticateClient(tr, grant); e != nil {
		s.writeJSONError(w, rq, e)
		return
	}
	var e *stsError
	switch grant {
	case grantAuthCode:
		e = s.grantAuthCode(w, tr)
	case grantRefresh:
		e = s.grantRefreshToken(w, tr)
	case grantClientCreds:
		e = s.grantClientCredentials(w, tr)
	case grantPassword:
		e = s.grantPassword(w, tr)
	case grantDeviceCode, grantDeviceCodeV1:
		e = s.grantDeviceCode(w, tr)
	default:
		e = newErr(70003, "unsupported_grant_type", "The grant type '%s' is not one this endpoint can issue tokens for.", grant)
	}
	if e != nil {
		s.writeJSONError(w, rq, e)
	}
}

// authenticateClient finds the app and checks its credentials: public
// clients must not send a secret, confidential ones must send the right one.
func (s *Server) authenticateClient(tr *tokenReq, grant string) *stsError {
	f := tr.r.PostForm
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	if id, sec, ok := tr.r.BasicAuth(); ok {
		clientID, secret = id, sec
	}
	if clientID == "" {
		return errMissingParam("client_id")
	}
	app, e := s.appFor(clientID, tr.ref)
	if e != nil {
		return e
	}
	tr.app = app
	assertion := f.Get("client_assertion")
	switch {
	case app.Public && (secret != "" || assertion != ""):
		return withStatus(newErr(700025, "invalid_client", "This app is a public client, so the request must carry neither 'client_assertion' nor 'client_secret'."), http.StatusUnauthorized)
	case app.Public && grant == grantClientCreds, !app.Public && secret == "" && assertion == "":
		return withStatus(newErr(7000218, "invalid_client", "A confidential client must authenticate, but the request has neither 'client_assertion' nor 'client_secret'."), http.StatusUnauthorized)
	case !app.Public && assertion != "":
		// The fake registers no certificates.
		return withStatus(newErr(700027, "invalid_client", "The signature on the client assertion did not verify."), http.StatusUnauthorized)
	case !app.Public && subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1:
		return withStatus(newErr(7000215, "invalid_client", "The client secret sent for app '%s' is wrong. Send the secret's value, not its secret ID.", app.ClientID), http.StatusUnauthorized)
	}
	tr.secret = !app.Public
	return nil
}

func withStatus(e *stsError, status int) *stsError {
	e.Status = status
	return e
}

// checkSPA enforces Entra's rule for single-page apps: codes and refresh
// tokens of SPA reply URLs are redeemed cross-origin (with Origin), and
// other ones are not.
func checkSPA(tr *tokenReq, redirectURI string) *stsError {
	origin := tr.r.Header.Get("Origin")
	spa := tr.app.isSPARedirect(redirectURI)
	switch {
	case origin != "" && !spa:
		return newErr(9002326, "invalid_request", "Only redirect URIs registered as 'Single-Page Application' may redeem tokens from a browser; this request came from origin '%s'.", origin)
	case origin == "" && spa:
		return newErr(9002327, "invalid_request", "This grant was issued to a 'Single-Page Application' redirect URI, so it must be redeemed from a browser with an Origin header.")
	}
	return nil
}

// scopesFor resolves the token request's scope (v2) or resource (v1),
// falling back to what the grant recorded.
func (s *Server) scopesFor(tr *tokenReq, recorded string, tenant *Tenant) (scopeSet, *stsError) {
	f := tr.r.PostForm
	name := tenant.DisplayName
	if tr.v1 {
		res := f.Get("resource")
		if res == "" {
			res = recorded
		}
		if res == "" {
			return scopeSet{}, errMissingParam("resource")
		}
		return s.dir.parseResource(res, name)
	}
	scope := f.Get("scope")
	if scope == "" {
		scope = recorded
	}
	if scope == "" {
		return scopeSet{}, errMissingParam("scope")
	}
	return s.dir.parseScopes(scope, name)
}

// grantAuthCode redeems a one-time authorization code.
func (s *Server) grantAuthCode(w http.ResponseWriter, tr *tokenReq) *stsError {
	f := tr.r.PostForm
	code := f.Get("code")
	if code == "" {
		return errMissingParam("code")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[code]
	switch {
	case c == nil:
		return newErr(9002313, "invalid_grant", "The request is malformed or incomplete.")
	case c.redeemed:
		return newErr(54005, "invalid_grant", "This authorization code has been used once already. Get a new code, or use the refresh token from the first redemption.")
	case tr.rq.now.Sub(c.issued) > s.opts.CodeLifetime:
		return newErr(70008, "invalid_grant", "The authorization code or refresh token is too old to use. Have the user sign in interactively again for this resource.")
	case !strings.EqualFold(c.clientID, tr.app.ClientID):
		return newErr(70000, "invalid_grant", "The grant in this request is not valid.")
	case tr.ref.specific() && !strings.EqualFold(tr.ref.tenant.ID, c.tenantID):
		return newErr(700005, "invalid_grant", "The authorization code was issued by another tenant than the one this request is addressed to.")
	}
	redirectURI := f.Get("redirect_uri")
	if redirectURI == "" && !c.v1 {
		return errMissingParam("redirect_uri")
	}
	if redirectURI != "" && redirectURI != c.redirectURI {
		return newErr(500112, "invalid_grant", "The redirect URI '%s' differs from '%s', the one sent when the authorization code was requested.", redirectURI, c.redirectURI)
	}
	if c.challenge != "" && !pkceMatches(c.challenge, c.method, f.Get("code_verifier")) {
		return newErr(501481, "invalid_grant", "The code_verifier does not hash to the code_challenge sent with the authorization request.")
	}
	if e := checkSPA(tr, c.redirectURI); e != nil {
		return e
	}
	t := s.dir.tenantByID(c.tenantID)
	sc, e := s.scopesFor(tr, c.scope, t)
	if e != nil {
		return e
	}
	// Failed attempts leave the code usable; only success consumes it.
	c.redeemed = true
	s.writeTokens(w, tr, issue{
		user: s.dir.user(c.upn), tenant: t, scopes: sc, nonce: c.nonce, sid: c.sid, authTime: c.authTime, amr: c.amr,
		spa: tr.app.isSPARedirect(c.redirectURI),
	})
	return nil
}

// pkceMatches checks a code_verifier against the stored challenge.
func pkceMatches(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		return subtle.ConstantTimeCompare([]byte(b64.EncodeToString(sum[:])), []byte(challenge)) == 1
	}
	return subtle.ConstantTimeCompare([]byte(verifier), []byte(challenge)) == 1
}

// rtPrefix starts refresh tokens, like real v2 ones ("1.A…").
const rtPrefix = "1.AV8A"

// refreshToken is what a refresh token seals.
type refreshToken struct {
	UPN      string   `json:"u"`
	ClientID string   `json:"c"`
	TenantID string   `json:"t"`
	SID      string   `json:"s"`
	AuthTime int64    `json:"at"`
	AMR      []string `json:"amr,omitempty"`
	IAT      int64    `json:"iat"`
	EXP      int64    `json:"exp"`
	SPA      bool     `json:"spa,omitempty"`
}

// grantRefreshToken redeems a refresh token and rotates it.
func (s *Server) grantRefreshToken(w http.ResponseWriter, tr *tokenReq) *stsError {
	raw := tr.r.PostForm.Get("refresh_token")
	if raw == "" {
		return errMissingParam("refresh_token")
	}
	var rt refreshToken
	rest, ok := strings.CutPrefix(raw, rtPrefix)
	if !ok || s.unseal("rt", rest, &rt) != nil {
		return newErr(9002313, "invalid_grant", "The request is malformed or incomplete.")
	}
	now := tr.rq.now
	issued := time.Unix(rt.IAT, 0).UTC()
	u := s.dir.user(rt.UPN)
	switch {
	case u == nil || !strings.EqualFold(rt.ClientID, tr.app.ClientID):
		return newErr(70000, "invalid_grant", "The grant in this request is not valid.")
	case now.Unix() > rt.EXP:
		return newErr(700082, "invalid_grant", "The refresh token went unused for too long and has expired. It was issued on %s and the inactivity limit is %s.", issued.Format("2006-01-02T15:04:05.0000000Z"), s.opts.RefreshTokenLifetime.Truncate(time.Hour))
	}
	if vf := s.tokensValidFrom(u.UPN); !vf.IsZero() && time.Unix(rt.IAT, 0).Before(vf.Truncate(time.Second)) {
		return newErr(50173, "invalid_grant", "The grant was revoked, often by a password change or reset, so the user has to sign in again. Grant issued on '%s'; the user's TokensValidFrom is '%s'.", issued.Format("2006-01-02T15:04:05.0000000Z"), vf.UTC().Format("2006-01-02T15:04:05.0000000Z"))
	}
	if tr.r.Header.Get("Origin") != "" && !rt.SPA {
		return newErr(9002326, "invalid_request", "Only redirect URIs registered as 'Single-Page Application' may redeem tokens from a browser; this request came from origin '%s'.", tr.r.Header.Get("Origin"))
	}
	t := s.dir.tenantByID(rt.TenantID)
	if tr.ref.specific() {
		if !u.memberOf(tr.ref.tenant.ID) {
			return errNotInTenant(u, tr.ref.tenant, tr.app.ClientID)
		}
		t = tr.ref.tenant
	}
	sc, e := s.scopesFor(tr, "", t)
	if e != nil {
		return e
	}
	if !tr.v1 {
		// A refresh grant always returns a refresh token.
		sc.oidc = appendMissing(sc.oidc, "offline_access")
	}
	s.writeTokens(w, tr, issue{
		user: u, tenant: t, scopes: sc, sid: rt.SID, authTime: time.Unix(rt.AuthTime, 0), amr: rt.AMR, spa: rt.SPA,
	})
	return nil
}

func appendMissing(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// grantClientCredentials issues an app-only token; it needs a tenant and a
// "/.default" scope.
func (s *Server) grantClientCredentials(w http.ResponseWriter, tr *tokenReq) *stsError {
	if !tr.ref.specific() {
		return newErr(50059, "invalid_request", "Neither the request nor its credentials say which tenant it is for.")
	}
	var sc scopeSet
	var e *stsError
	if tr.v1 {
		sc, e = s.scopesFor(tr, "", tr.ref.tenant)
	} else {
		scope := tr.r.PostForm.Get("scope")
		if scope == "" {
			return errMissingParam("scope")
		}
		// MSAL adds openid, profile and offline_access to every request;
		// Entra ignores them here and checks the rest.
		var api []string
		for _, f := range strings.Fields(scope) {
			if !slices.Contains(oidcScopes, strings.ToLower(f)) {
				api = append(api, f)
			}
		}
		for _, f := range api {
			if !strings.HasSuffix(f, "/.default") {
				return newErr(1002012, "invalid_scope", "Scope %s cannot be used with the client credentials grant, which takes a single scope of the form <resource>/.default (for example the application ID URI plus /.default).", f)
			}
		}
		if len(api) == 0 {
			return newErr(1002012, "invalid_scope", "Scope %s cannot be used with the client credentials grant, which takes a single scope of the form <resource>/.default (for example the application ID URI plus /.default).", scope)
		}
		sc, e = s.dir.parseScopes(strings.Join(api, " "), tr.ref.tenant.DisplayName)
	}
	if e != nil {
		return e
	}
	s.writeTokens(w, tr, issue{tenant: tr.ref.tenant, scopes: sc})
	return nil
}

// grantPassword is ROPC. A user who needs MFA fails with AADSTS50076 and
// suberror basic_action; ROPC captures show error invalid_grant.
func (s *Server) grantPassword(w http.ResponseWriter, tr *tokenReq) *stsError {
	f := tr.r.PostForm
	name, pw := f.Get("username"), f.Get("password")
	if name == "" {
		return errMissingParam("username")
	}
	if pw == "" {
		return errMissingParam("password")
	}
	u := s.dir.user(name)
	t := tr.ref.tenant
	if u != nil && t == nil {
		t = s.dir.tenantByID(u.HomeTenantID)
	}
	if u == nil || !u.memberOf(t.ID) {
		return errUnknownUser(tenantName(tr.ref))
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
		return errBadPassword()
	}
	sc, e := s.scopesFor(tr, "", t)
	if e != nil {
		return e
	}
	if u.MFARequired {
		e := newErr(50076, "invalid_grant", "Access to '%s' now requires multi-factor authentication, because of an administrator's policy or a change in where the user signs in from.", sc.resource.AppID)
		e.SubError = "basic_action"
		return e
	}
	now := tr.rq.now
	s.writeTokens(w, tr, issue{user: u, tenant: t, scopes: sc, sid: newGUID(), authTime: now, amr: []string{"pwd"}})
	return nil
}

// issue is what a successful grant hands to writeTokens.
type issue struct {
	user     *User // nil for app-only tokens
	tenant   *Tenant
	scopes   scopeSet
	nonce    string
	sid      string
	authTime time.Time
	amr      []string
	spa      bool
}

// tokenResponseV2 is the v2 success body; field order follows Entra's.
type tokenResponseV2 struct {
	TokenType             string `json:"token_type"`
	Scope                 string `json:"scope,omitempty"`
	ExpiresIn             int    `json:"expires_in"`
	ExtExpiresIn          int    `json:"ext_expires_in"`
	AccessToken           string `json:"access_token"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int    `json:"refresh_token_expires_in,omitempty"`
	IDToken               string `json:"id_token,omitempty"`
	ClientInfo            string `json:"client_info,omitempty"`
}

// tokenResponseV1 is the v1 success body: times are strings.
type tokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// writeTokens signs and sends the tokens for a successful grant.
func (s *Server) writeTokens(w http.ResponseWriter, tr *tokenReq, is issue) {
	now := tr.rq.now
	lifetime := DefaultAccessTokenLifetime
	exp := now.Add(lifetime)
	// Entra backdates iat and nbf by five minutes to absorb clock skew.
	iat := now.Add(-5 * time.Minute)
	at := s.signJWT(s.accessTokenClaims(tr, is, iat, exp))
	var rt, idt, ci string
	if is.user != nil {
		if tr.v1 || is.scopes.has("offline_access") {
			rtLife := s.opts.RefreshTokenLifetime
			if is.spa {
				rtLife = 24 * time.Hour
			}
			rt = rtPrefix + s.seal("rt", refreshToken{
				UPN: is.user.UPN, ClientID: tr.app.ClientID, TenantID: is.tenant.ID, SID: is.sid,
				AuthTime: is.authTime.Unix(), AMR: is.amr, IAT: now.Unix(), EXP: now.Add(rtLife).Unix(), SPA: is.spa,
			})
		}
		if tr.v1 {
			idt = unsignedJWT(s.idTokenClaimsV1(tr, is, iat, now.Add(time.Hour)))
		} else if is.scopes.has("openid") {
			idt = s.signJWT(s.idTokenClaimsV2(tr, is, iat, now.Add(time.Hour)))
		}
		if tr.r.PostForm.Get("client_info") == "1" {
			ci = clientInfo(is.user)
		}
	}
	secs := int(lifetime / time.Second)
	if tr.v1 {
		body := tokenResponseV1{
			TokenType: "Bearer", ExpiresIn: strconv.Itoa(secs), ExtExpiresIn: strconv.Itoa(secs),
			ExpiresOn: strconv.FormatInt(exp.Unix(), 10), NotBefore: strconv.FormatInt(iat.Unix(), 10),
			Resource: is.scopes.audience, AccessToken: at, RefreshToken: rt, IDToken: idt, ClientInfo: ci,
		}
		if is.user != nil {
			body.Scope = strings.Join(is.scopes.granted(), " ")
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	body := tokenResponseV2{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: at, RefreshToken: rt, IDToken: idt, ClientInfo: ci}
	if is.user != nil {
		body.Scope = is.scopes.responseScope()
		if is.spa && rt != "" {
			body.RefreshTokenExpiresIn = int((24 * time.Hour) / time.Second)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// accessTokenClaims builds a v1-format access token, the format Graph and
// ARM accept.
func (s *Server) accessTokenClaims(tr *tokenReq, is issue, iat, exp time.Time) map[string]any {
	tid := is.tenant.ID
	appidacr := "0"
	if tr.secret {
		appidacr = "1"
	}
	c := map[string]any{
		"aud":                 is.scopes.audience,
		"iss":                 "https://sts.windows.net/" + tid + "/",
		"iat":                 iat.Unix(),
		"nbf":                 iat.Unix(),
		"exp":                 exp.Unix(),
		"aio":                 randB64(40),
		"app_displayname":     tr.app.DisplayName,
		"appid":               tr.app.ClientID,
		"appidacr":            appidacr,
		"rh":                  "1.AV8A" + randB64(30) + ".",
		"tid":                 tid,
		"uti":                 randB64(16),
		"ver":                 "1.0",
		"xms_tcdt":            1600000000,
		"xms_ftd":             randB64(24),
		"idtyp":               "app",
		"tenant_region_scope": is.tenant.RegionScope,
	}
	if is.user == nil {
		spOID := pairwiseSub("sp", tr.app.ClientID+tid)
		c["oid"], c["sub"] = spOID, spOID
		c["idp"] = "https://sts.windows.net/" + tid + "/"
		return c
	}
	u := is.user
	c["idtyp"] = "user"
	c["acr"] = "1"
	c["amr"] = is.amr
	c["family_name"] = u.Surname
	c["given_name"] = u.GivenName
	c["name"] = u.DisplayName
	c["oid"] = u.ObjectID
	c["scp"] = strings.Join(is.scopes.granted(), " ")
	c["sid"] = is.sid
	c["sub"] = pairwiseSub(is.scopes.resource.AppID, u.ObjectID)
	c["unique_name"] = u.UPN
	c["upn"] = u.UPN
	c["ipaddr"] = "127.0.0.1"
	c["platf"] = "14"
	if !strings.EqualFold(u.HomeTenantID, tid) {
		c["idp"] = "https://sts.windows.net/" + u.HomeTenantID + "/"
		c["acct"] = 1
	}
	return c
}

// idTokenClaimsV2 builds a v2 id_token.
func (s *Server) idTokenClaimsV2(tr *tokenReq, is issue, iat, exp time.Time) map[string]any {
	u := is.user
	c := map[string]any{
		"aud":                tr.app.ClientID,
		"iss":                "https://" + Host + "/" + is.tenant.ID + "/v2.0",
		"iat":                iat.Unix(),
		"nbf":                iat.Unix(),
		"exp":                exp.Unix(),
		"aio":                randB64(40),
		"name":               u.DisplayName,
		"oid":                u.ObjectID,
		"preferred_username": u.UPN,
		"rh":                 "1.AV8A" + randB64(30) + ".",
		"sid":                is.sid,
		"sub":                pairwiseSub(tr.app.ClientID, u.ObjectID),
		"tid":                is.tenant.ID,
		"uti":                randB64(16),
		"ver":                "2.0",
	}
	if is.nonce != "" {
		c["nonce"] = is.nonce
	}
	if !strings.EqualFold(u.HomeTenantID, is.tenant.ID) {
		c["idp"] = "https://sts.windows.net/" + u.HomeTenantID + "/"
	}
	return c
}

// idTokenClaimsV1 builds the v1 endpoint's unsigned id_token.
func (s *Server) idTokenClaimsV1(tr *tokenReq, is issue, iat, exp time.Time) map[string]any {
	u := is.user
	c := map[string]any{
		"aud":         tr.app.ClientID,
		"iss":         "https://sts.windows.net/" + is.tenant.ID + "/",
		"iat":         iat.Unix(),
		"nbf":         iat.Unix(),
		"exp":         exp.Unix(),
		"amr":         is.amr,
		"family_name": u.Surname,
		"given_name":  u.GivenName,
		"ipaddr":      "127.0.0.1",
		"name":        u.DisplayName,
		"oid":         u.ObjectID,
		"rh":          "1.AV8A" + randB64(30) + ".",
		"sub":         pairwiseSub(tr.app.ClientID, u.ObjectID),
		"tid":         is.tenant.ID,
		"unique_name": u.UPN,
		"upn":         u.UPN,
		"ver":         "1.0",
	}
	if is.nonce != "" {
		c["nonce"] = is.nonce
	}
	return c
}
