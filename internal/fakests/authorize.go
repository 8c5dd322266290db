package fakests

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authzRequest is an /authorize request's parameters.
type authzRequest struct {
	v1           bool
	tenantSeg    string
	path         string
	form         url.Values // every parameter, to rebuild the request
	clientID     string
	redirectURI  string
	responseType string
	responseMode string
	scope        string
	resource     string
	state        string
	nonce        string
	prompt       string
	loginHint    string
	domainHint   string
	challenge    string
	method       string
	clientInfo   bool
}

func newAuthzRequest(path, tenantSeg string, form url.Values, v1 bool) *authzRequest {
	hint := form.Get("domain_hint")
	if hint == "" {
		hint = form.Get("whr")
	}
	return &authzRequest{
		v1:           v1,
		tenantSeg:    tenantSeg,
		path:         path,
		form:         form,
		clientID:     form.Get("client_id"),
		redirectURI:  form.Get("redirect_uri"),
		responseType: form.Get("response_type"),
		responseMode: strings.ToLower(form.Get("response_mode")),
		scope:        form.Get("scope"),
		resource:     form.Get("resource"),
		state:        form.Get("state"),
		nonce:        form.Get("nonce"),
		prompt:       strings.ToLower(form.Get("prompt")),
		loginHint:    form.Get("login_hint"),
		domainHint:   hint,
		challenge:    form.Get("code_challenge"),
		method:       form.Get("code_challenge_method"),
		clientInfo:   form.Get("client_info") == "1",
	}
}

// authCode is an issued authorization code; codes are one-time.
type authCode struct {
	clientID    string
	redirectURI string
	tenantID    string
	upn         string
	scope       string // v2 scope or v1 resource
	v1          bool
	nonce       string
	challenge   string
	method      string
	sid         string
	authTime    time.Time
	amr         []string
	issued      time.Time
	redeemed    bool
}

func (s *Server) authorizeV2(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.authorize(w, r, rq, false)
}

func (s *Server) authorizeV1(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.authorize(w, r, rq, true)
}

// authorize runs /authorize: checks that Entra shows as an HTML page (the
// client or reply URL cannot be trusted), then checks whose errors go back
// to the app, then SSO from a PRT or session cookie, else the sign-in page.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rq *reqInfo, v1 bool) {
	_ = r.ParseForm()
	req := newAuthzRequest(r.URL.Path, r.PathValue("tenant"), r.Form, v1)
	s.setTrackingCookies(w, r, rq)
	app, ref, e := s.checkClient(req)
	if e != nil {
		s.writeErrorPage(w, r, rq, e)
		return
	}
	if e := s.checkAuthzParams(req, ref); e != nil {
		s.redirectError(w, rq, req, e)
		return
	}

	var user *User
	var sess session
	u, err := s.prtFromRequest(r)
	var se *stsError
	switch {
	case err == nil:
		user = u
		sess = session{UPN: u.UPN, TenantID: u.HomeTenantID, SID: newGUID(), AuthTime: rq.now.Unix(), AMR: []string{"pwd", "rsa", "mfa"}}
	case errors.Is(err, errStaleNonce):
		// ESTS asks the browser for a PRT cookie over a fresh nonce.
		q := cloneValues(req.form)
		q.Set("sso_nonce", s.Nonce())
		redirect(w, req.path+"?"+q.Encode())
		return
	case errors.As(err, &se):
		s.failSSO(w, r, rq, req, se)
		return
	}
	if user == nil {
		if cs, ok := s.sessionFromCookies(r); ok {
			sess, user = cs, s.dir.user(cs.UPN)
		}
	}
	if req.prompt == "login" || req.prompt == "select_account" || req.prompt == "create" {
		user = nil
	}
	if user == nil {
		if req.prompt == "none" {
			s.redirectError(w, rq, req, newErr(50058, "login_required", "The silent sign-in request found no signed-in user, because no session cookie came with it. Browsers that block third-party cookies, or an app in another browser profile or context, commonly cause this."))
			return
		}
		ctx := s.seal("ctx", signInCtx{Path: req.path, Query: req.form.Encode()})
		s.showSignIn(w, r, rq, req.tenantSeg, ctx, req.loginHint, nil)
		return
	}
	if e := s.checkSessionFits(req, ref, user); e != nil {
		s.failSSO(w, r, rq, req, e)
		return
	}
	s.setSessionCookies(w, r, rq, sess, app.ClientID)
	s.issueCode(w, rq, req, ref, user, sess)
}

// failSSO reports an SSO failure: as an error redirect to a silent request,
// as the HTML error page to an interactive one.
func (s *Server) failSSO(w http.ResponseWriter, r *http.Request, rq *reqInfo, req *authzRequest, e *stsError) {
	if req.prompt == "none" {
		s.redirectError(w, rq, req, e)
		return
	}
	s.writeErrorPage(w, r, rq, e)
}

// checkClient validates tenant, client and reply URL: failures here cannot
// be sent to the app and become the HTML error page.
func (s *Server) checkClient(req *authzRequest) (*App, tenantRef, *stsError) {
	ref, ok := s.dir.resolveTenant(req.tenantSeg)
	if !ok {
		return nil, ref, errTenantNotFound(req.tenantSeg)
	}
	if req.clientID == "" {
		return nil, ref, errMissingParam("client_id")
	}
	app, e := s.appFor(req.clientID, ref)
	if e != nil {
		return nil, ref, e
	}
	if req.redirectURI == "" {
		// Entra falls back to the app's first reply URL.
		if len(app.RedirectURIs) == 0 {
			return nil, ref, newErr(500113, "invalid_request", "The application has no redirect URI registered.")
		}
		req.redirectURI = app.RedirectURIs[0]
	}
	if !app.redirectAllowed(req.redirectURI) {
		return nil, ref, newErr(50011, "invalid_request", "The request's redirect URI '%s' is not one of those registered for the application '%s'. Register it on the app, or send a URI that is already registered.", req.redirectURI, app.ClientID)
	}
	return app, ref, nil
}

// appFor finds the client and checks it may be used in the path's tenant.
func (s *Server) appFor(clientID string, ref tenantRef) (*App, *stsError) {
	app := s.dir.app(clientID)
	if app != nil && !app.MultiTenant && ref.specific() && !strings.EqualFold(ref.tenant.ID, app.HomeTenantID) {
		app = nil
	}
	if app == nil {
		return nil, newErr(700016, "unauthorized_client", "No application with id '%s' is known in the directory '%s'. Nobody there may have installed or consented to it yet, or the request went to the wrong tenant.", clientID, tenantName(ref))
	}
	if !app.MultiTenant && !ref.specific() {
		return nil, newErr(50194, "invalid_request", "Application '%s'(%s) is single-tenant, and single-tenant apps registered after '10/15/2018' cannot use the /%s endpoint. Send the request to a tenant-specific endpoint, or make the app multi-tenant.", app.ClientID, app.DisplayName, ref.segment)
	}
	return app, nil
}

func tenantName(ref tenantRef) string {
	if ref.tenant != nil {
		return ref.tenant.DisplayName
	}
	return ref.segment
}

func errMissingParam(name string) *stsError {
	return newErr(900144, "invalid_request", "The request lacks the required parameter '%s'.", name)
}

// checkAuthzParams validates what is reported back to the (trusted) app.
func (s *Server) checkAuthzParams(req *authzRequest, ref tenantRef) *stsError {
	switch req.responseMode {
	case "", "query", "fragment", "form_post":
	default:
		return newErr(900143, "invalid_request", "This endpoint cannot answer with response_mode '%s'.", req.responseMode)
	}
	if req.responseType == "" {
		return errMissingParam("response_type")
	}
	if req.responseType != "code" {
		return newErr(700051, "unsupported_response_type", "The application is not allowed to use response_type '%s'.", req.responseType)
	}
	if req.v1 {
		if req.resource != "" {
			if _, e := s.dir.parseResource(req.resource, tenantName(ref)); e != nil {
				return e
			}
		}
	} else {
		if req.scope == "" {
			return errMissingParam("scope")
		}
		if _, e := s.dir.parseScopes(req.scope, tenantName(ref)); e != nil {
			return e
		}
	}
	if req.challenge != "" && req.method != "" && req.method != "S256" && req.method != "plain" {
		return newErr(501491, "invalid_request", "'%s' is not a code_challenge_method this endpoint accepts.", req.method)
	}
	return nil
}

// checkSessionFits refuses a session that does not fit the request: a
// domain hint naming another tenant than the user's home (AADSTS50143), or
// a tenant path the user is not in (AADSTS50020).
func (s *Server) checkSessionFits(req *authzRequest, ref tenantRef, u *User) *stsError {
	if req.domainHint != "" {
		if t := s.dir.tenantByDomain(req.domainHint); t != nil && !strings.EqualFold(t.ID, u.HomeTenantID) {
			return newErr(50143, "interaction_required", "The signed-in user's tenant '%s' does not match the domain hint '%s', so the session cannot be used for this resource. Retry against the user's own tenant.", u.HomeTenantID, req.domainHint)
		}
	}
	if ref.specific() && !u.memberOf(ref.tenant.ID) {
		return errNotInTenant(u, ref.tenant, req.clientID)
	}
	return nil
}

func errUnknownUser(tenant string) *stsError {
	return newErr(50034, "invalid_grant", "There is no account {EmailHidden} in the '%s' directory. Add the account to that directory before it signs in to this application.", tenant)
}

func errBadPassword() *stsError {
	return newErr(50126, "invalid_grant", "The sign-in was refused: wrong username or password.")
}

func errNotInTenant(u *User, t *Tenant, clientID string) *stsError {
	return newErr(50020, "interaction_required", "User account '{EmailHidden}' from identity provider 'https://sts.windows.net/%s/' is not a member of tenant '%s', so it cannot use the application '%s' there. Invite it to that tenant as an external user, or sign in with an account that belongs there.", u.HomeTenantID, t.DisplayName, clientID)
}

// issueCode stores a one-time code and sends it to the app.
func (s *Server) issueCode(w http.ResponseWriter, rq *reqInfo, req *authzRequest, ref tenantRef, u *User, sess session) {
	tid := u.HomeTenantID
	if ref.specific() {
		tid = ref.tenant.ID
	}
	scope := req.scope
	if req.v1 {
		scope = req.resource
	}
	method := req.method
	if req.challenge != "" && method == "" {
		method = "plain"
	}
	code := "1.AV8A" + randB64(48) + "." + "AgABAAIAAAD--DLA3VO7QrddgJg7WevrAgDs_wUA9P8" + randB64(96)
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID: req.clientID, redirectURI: req.redirectURI, tenantID: tid, upn: u.UPN,
		scope: scope, v1: req.v1, nonce: req.nonce, challenge: req.challenge, method: method,
		sid: sess.SID, authTime: time.Unix(sess.AuthTime, 0), amr: sess.AMR, issued: rq.now,
	}
	s.mu.Unlock()
	ps := []param{{"code", code}}
	if req.clientInfo {
		ps = append(ps, param{"client_info", clientInfo(u)})
	}
	if req.state != "" {
		ps = append(ps, param{"state", req.state})
	}
	ps = append(ps, param{"session_state", sess.SID})
	s.respond(w, req, ps)
}

// redirectError sends an AADSTS error to the app through its response mode.
func (s *Server) redirectError(w http.ResponseWriter, rq *reqInfo, req *authzRequest, e *stsError) {
	rq.errorCode = e.Code
	setRaw(w.Header(), "x-ms-clitelem", clitelem(e.Code))
	s.respond(w, req, s.errorParams(e, rq, req.state))
}

// respond delivers parameters to the redirect URI by query, fragment or
// form_post.
func (s *Server) respond(w http.ResponseWriter, req *authzRequest, ps []param) {
	switch req.responseMode {
	case "form_post":
		writeFormPost(w, req.redirectURI, ps)
	case "fragment":
		redirect(w, req.redirectURI+"#"+encodeParams(ps))
	default:
		sep := "?"
		if strings.Contains(req.redirectURI, "?") {
			sep = "&"
		}
		redirect(w, req.redirectURI+sep+encodeParams(ps))
	}
}

// redirect answers 302 with IIS's "Object moved" body, as ESTS does.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusFound)
	fmt.Fprintf(w, `<html><head><title>Object moved</title></head><body><h2>Object moved to <a href="%s">here</a>.</h2></body></html>`, html.EscapeString(location))
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// The interactive sign-in page and its form post.

// signInCtx is sealed into the page's sCtx/ctx: the original request, so the
// password post can finish it without server-side state.
type signInCtx struct {
	Path     string `json:"p"`
	Query    string `json:"q"`
	UserCode string `json:"uc,omitempty"` // a device code being approved
}

// flowToken is sealed into sFT; it ages out (AADSTS50089).
type flowToken struct {
	IAT int64  `json:"iat"`
	Ctx string `json:"c"` // binds the token to one ctx
}

func (s *Server) canary(ft string) string { return b64.EncodeToString(s.mac("canary", ft)) }

// showSignIn renders the ConvergedSignIn page; e re-renders it after a
// failed attempt, as ESTS does for a wrong password.
func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request, rq *reqInfo, tenantSeg, ctx, loginHint string, e *stsError) {
	ft := s.seal("flowtoken", flowToken{IAT: rq.now.Unix(), Ctx: ctx})
	urlPost := "/" + tenantSeg + "/login"
	cfg := s.baseConfig(rq, "ConvergedSignIn")
	cfg["sFT"] = ft
	cfg["sFTName"] = "flowToken"
	cfg["sCtx"] = ctx
	cfg["canary"] = s.canary(ft)
	cfg["apiCanary"] = randB64(64)
	cfg["urlPost"] = urlPost
	cfg["urlGetCredentialType"] = "https://" + publicHost(r) + "/common/GetCredentialType?mkt=en-US"
	cfg["sPOST_Username"] = loginHint
	cfg["hpgid"] = 1104
	cfg["hpgact"] = 1800
	cfg["bsso"] = map[string]any{"enabled": true, "type": "windows", "nonce": s.Nonce(), "reason": "Not a Windows device"}
	errText := ""
	if e != nil {
		rq.errorCode = e.Code
		setRaw(w.Header(), "x-ms-clitelem", clitelem(e.Code))
		cfg["sErrorCode"] = fmt.Sprint(e.Code)
		errText = signInErrorText(e.Code)
		cfg["sErrTxt"] = errText
	}
	s.writePage(w, r, rq, cfg, signInForm(urlPost, loginHint, ctx, ft, s.canary(ft), rq.traceID, errText))
}

// signInErrorText is the inline text ESTS shows under the form.
func signInErrorText(code int) string {
	switch code {
	case 50126:
		return "That username and password did not work. Try again, or reset the password."
	case 50034:
		return "No account with that username was found. Check the spelling, or ask your administrator."
	}
	return fmt.Sprintf("AADSTS%d", code)
}

// login handles the sign-in form's POST to /{tenant}/login.
func (s *Server) login(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	_ = r.ParseForm()
	ctxRaw, ftRaw := r.PostForm.Get("ctx"), r.PostForm.Get("flowToken")
	var ctx signInCtx
	if s.unseal("ctx", ctxRaw, &ctx) != nil {
		s.writeErrorPage(w, r, rq, newErr(90100, "invalid_request", "The sign-in request's ctx value is missing or damaged."))
		return
	}
	var ft flowToken
	if s.unseal("flowtoken", ftRaw, &ft) != nil || ft.Ctx != ctxRaw || !hmac.Equal([]byte(r.PostForm.Get("canary")), []byte(s.canary(ftRaw))) {
		s.writeErrorPage(w, r, rq, newErr(90100, "invalid_request", "The sign-in form's flowToken or canary is missing or damaged."))
		return
	}
	if rq.now.Sub(time.Unix(ft.IAT, 0)) > DefaultFlowTokenLifetime {
		s.writeErrorPage(w, r, rq, newErr(50089, "invalid_request", "The sign-in page's flow token has expired. Start the sign-in again from the beginning."))
		return
	}
	tenantSeg := r.PathValue("tenant")
	ref, ok := s.dir.resolveTenant(tenantSeg)
	if !ok {
		s.writeErrorPage(w, r, rq, errTenantNotFound(tenantSeg))
		return
	}
	name := r.PostForm.Get("loginfmt")
	if name == "" {
		name = r.PostForm.Get("login")
	}
	u := s.dir.user(name)
	if u == nil {
		s.showSignIn(w, r, rq, tenantSeg, ctxRaw, name, errUnknownUser(tenantName(ref)))
		return
	}
	if r.PostForm.Get("passwd") != u.Password {
		s.showSignIn(w, r, rq, tenantSeg, ctxRaw, name, errBadPassword())
		return
	}
	if ref.specific() && !u.memberOf(ref.tenant.ID) {
		s.writeErrorPage(w, r, rq, errNotInTenant(u, ref.tenant, ""))
		return
	}
	sess := session{UPN: u.UPN, TenantID: u.HomeTenantID, SID: newGUID(), AuthTime: rq.now.Unix(), AMR: []string{"pwd"}}
	if u.MFARequired {
		// The fake has no second-factor page; an interactive sign-in
		// counts as having done MFA.
		sess.AMR = []string{"pwd", "mfa"}
	}
	if ctx.UserCode != "" {
		s.setSessionCookies(w, r, rq, sess, "")
		s.finishDeviceAuth(w, r, rq, ctx.UserCode, u)
		return
	}
	if s.opts.StaySignedIn {
		s.showKMSI(w, r, rq, kmsiState{Ctx: ctxRaw, Tenant: tenantSeg, Session: sess})
		return
	}
	s.finishSignIn(w, r, rq, ctx, tenantSeg, u, sess, false)
}

// finishSignIn answers the app once the user is known: the session cookies
// (the persistent one only when the user chose to stay signed in, or when
// the tenant never asks) and the code.
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, rq *reqInfo, ctx signInCtx, tenantSeg string, u *User, sess session, sessionOnly bool) {
	form, err := url.ParseQuery(ctx.Query)
	if err != nil {
		s.writeErrorPage(w, r, rq, newErr(90100, "invalid_request", "The sign-in request's ctx value is missing or damaged."))
		return
	}
	req := newAuthzRequest(ctx.Path, tenantSeg, form, strings.HasSuffix(ctx.Path, "/oauth2/authorize"))
	app, ref, e := s.checkClient(req)
	if e != nil {
		s.writeErrorPage(w, r, rq, e)
		return
	}
	s.setTrackingCookies(w, r, rq)
	if sessionOnly {
		s.setSessionOnlyCookies(w, r, sess, app.ClientID)
	} else {
		s.setSessionCookies(w, r, rq, sess, app.ClientID)
	}
	s.issueCode(w, rq, req, ref, u, sess)
}

// kmsiState is sealed into the "Stay signed in?" page: the sign-in it
// finishes and the session the password proved.
type kmsiState struct {
	Ctx     string  `json:"c"` // the sealed signInCtx
	Tenant  string  `json:"t"`
	Session session `json:"s"`
	IAT     int64   `json:"iat"`
}

// showKMSI renders the "Stay signed in?" interrupt (pgid KmsiInterrupt)
// whose form posts to /kmsi.
func (s *Server) showKMSI(w http.ResponseWriter, r *http.Request, rq *reqInfo, st kmsiState) {
	st.IAT = rq.now.Unix()
	ft := s.seal("kmsi", st)
	cfg := s.baseConfig(rq, "KmsiInterrupt")
	cfg["sFT"] = ft
	cfg["sFTName"] = "flowToken"
	cfg["sCtx"] = st.Ctx
	cfg["canary"] = s.canary(ft)
	cfg["urlPost"] = "/kmsi"
	cfg["sPOST_Username"] = st.Session.UPN
	s.writePage(w, r, rq, cfg, kmsiForm(st.Ctx, ft, s.canary(ft), rq.traceID))
}

// kmsi handles the "Stay signed in?" answer: LoginOptions=1 is yes (the
// persistent cookie too), 3 is no (the session cookie only).
func (s *Server) kmsi(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	_ = r.ParseForm()
	ftRaw := r.PostForm.Get("flowToken")
	var st kmsiState
	if s.unseal("kmsi", ftRaw, &st) != nil || st.Ctx != r.PostForm.Get("ctx") || !hmac.Equal([]byte(r.PostForm.Get("canary")), []byte(s.canary(ftRaw))) {
		s.writeErrorPage(w, r, rq, newErr(90100, "invalid_request", "The form's flowToken, ctx or canary is missing or damaged."))
		return
	}
	if rq.now.Sub(time.Unix(st.IAT, 0)) > DefaultFlowTokenLifetime {
		s.writeErrorPage(w, r, rq, newErr(50089, "invalid_request", "The sign-in page's flow token has expired. Start the sign-in again from the beginning."))
		return
	}
	var ctx signInCtx
	u := s.dir.user(st.Session.UPN)
	if s.unseal("ctx", st.Ctx, &ctx) != nil || u == nil {
		s.writeErrorPage(w, r, rq, newErr(90100, "invalid_request", "The sign-in request's ctx value is missing or damaged."))
		return
	}
	s.finishSignIn(w, r, rq, ctx, st.Tenant, u, st.Session, r.PostForm.Get("LoginOptions") != "1")
}

// logout ends the session in the cookies and clears them.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	if sess, ok := s.sessionFromCookies(r); ok {
		s.mu.Lock()
		s.signedOut[sess.SID] = true
		s.mu.Unlock()
	}
	s.clearSessionCookies(w, r)
	if target := r.URL.Query().Get("post_logout_redirect_uri"); target != "" {
		redirect(w, target)
		return
	}
	cfg := s.baseConfig(rq, "SignOut")
	s.writePage(w, r, rq, cfg, signedOutPage)
}
