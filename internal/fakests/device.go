package fakests

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// deviceGrant is a pending device code flow.
type deviceGrant struct {
	clientID string
	tenant   tenantRef
	scope    string // v2 scope or v1 resource
	v1       bool
	userCode string
	issued   time.Time
	user     *User // set once the user approved
	redeemed bool
}

// verificationURI is where users enter device codes.
const verificationURI = "https://microsoft.com/devicelogin"

func (s *Server) deviceCodeV2(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.deviceCode(w, r, rq, false)
}

func (s *Server) deviceCodeV1(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.deviceCode(w, r, rq, true)
}

// deviceCode starts a device code flow for a public client.
func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request, rq *reqInfo, v1 bool) {
	_ = r.ParseForm()
	f := r.PostForm
	ref, ok := s.dir.resolveTenant(r.PathValue("tenant"))
	if !ok {
		s.writeJSONError(w, rq, errTenantNotFound(ref.segment))
		return
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		s.writeJSONError(w, rq, errMissingParam("client_id"))
		return
	}
	app, e := s.appFor(clientID, ref)
	if e != nil {
		s.writeJSONError(w, rq, e)
		return
	}
	if !app.Public {
		s.writeJSONError(w, rq, withStatus(newErr(7000218, "invalid_client", "A confidential client must authenticate, but the request has neither 'client_assertion' nor 'client_secret'."), http.StatusUnauthorized))
		return
	}
	scope := f.Get("scope")
	param := "scope"
	if v1 {
		scope, param = f.Get("resource"), "resource"
	}
	if scope == "" {
		s.writeJSONError(w, rq, errMissingParam(param))
		return
	}
	var err *stsError
	if v1 {
		_, err = s.dir.parseResource(scope, tenantName(ref))
	} else {
		_, err = s.dir.parseScopes(scope, tenantName(ref))
	}
	if err != nil {
		s.writeJSONError(w, rq, err)
		return
	}
	userCode := newUserCode()
	deviceCode := "DAQABIQEAAAD--DLA3VO7QrddgJg7WevrAgDs_wUA9P8" + randB64(96)
	s.mu.Lock()
	s.devices[deviceCode] = &deviceGrant{clientID: app.ClientID, tenant: ref, scope: scope, v1: v1, userCode: userCode, issued: rq.now}
	s.userCodes[userCode] = deviceCode
	s.mu.Unlock()

	secs := int(DeviceCodeLifetime / time.Second)
	msg := fmt.Sprintf("Open %s in a browser and enter the code %s to sign in.", verificationURI, userCode)
	if v1 {
		writeJSON(w, http.StatusOK, map[string]string{
			"user_code": userCode, "device_code": deviceCode, "verification_url": verificationURI,
			"expires_in": strconv.Itoa(secs), "interval": strconv.Itoa(s.opts.DeviceCodeInterval), "message": msg,
		})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		UserCode        string `json:"user_code"`
		DeviceCode      string `json:"device_code"`
		VerificationURI string `json:"verification_uri"`
		ExpiresIn       int    `json:"expires_in"`
		Interval        int    `json:"interval"`
		Message         string `json:"message"`
	}{userCode, deviceCode, verificationURI, secs, s.opts.DeviceCodeInterval, msg})
}

// newUserCode makes a nine-character code without look-alike characters.
func newUserCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ApproveDeviceCode signs upn in on the device code flow holding userCode,
// as the user would at microsoft.com/devicelogin.
func (s *Server) ApproveDeviceCode(userCode, upn string) error {
	u := s.dir.user(upn)
	if u == nil {
		return fmt.Errorf("approve device code: unknown user %q", upn)
	}
	return s.approve(userCode, u)
}

var errBadUserCode = errors.New("unknown or expired user code")

func (s *Server) approve(userCode string, u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.devices[s.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]]
	if g == nil || s.now().Sub(g.issued) > DeviceCodeLifetime {
		return fmt.Errorf("approve device code %q: %w", userCode, errBadUserCode)
	}
	if g.tenant.specific() && !u.memberOf(g.tenant.tenant.ID) {
		return fmt.Errorf("approve device code: %s is not in tenant %s", u.UPN, g.tenant.tenant.DisplayName)
	}
	g.user = u
	return nil
}

// grantDeviceCode is the client's polling: authorization_pending until the
// user approves, then tokens once.
func (s *Server) grantDeviceCode(w http.ResponseWriter, tr *tokenReq) *stsError {
	code := tr.r.PostForm.Get("device_code")
	if code == "" {
		code = tr.r.PostForm.Get("code") // the v1 endpoint's name
	}
	if code == "" {
		return errMissingParam("device_code")
	}
	s.mu.Lock()
	g := s.devices[code]
	var pending, expired, bad bool
	switch {
	case g == nil || g.redeemed || !strings.EqualFold(g.clientID, tr.app.ClientID):
		bad = true
	case tr.rq.now.Sub(g.issued) > DeviceCodeLifetime:
		expired = true
	case g.user == nil:
		pending = true
	default:
		g.redeemed = true
	}
	s.mu.Unlock()
	switch {
	case bad:
		return newErr(70000, "invalid_grant", "The grant in this request is not valid.")
	case expired:
		return newErr(70019, "expired_token", "The device code has expired.")
	case pending:
		return newErr(70016, "authorization_pending", "The user has not finished signing in for this device code yet; keep polling.")
	}
	t := g.tenant.tenant
	if t == nil {
		t = s.dir.tenantByID(g.user.HomeTenantID)
	}
	sc, e := s.scopesFor(tr, g.scope, t)
	if e != nil {
		return e
	}
	now := tr.rq.now
	s.writeTokens(w, tr, issue{user: g.user, tenant: t, scopes: sc, sid: newGUID(), authTime: now, amr: []string{"pwd"}})
	return nil
}

// deviceAuth is the code entry page behind microsoft.com/devicelogin: GET
// shows a form for the code, POST approves it for the signed-in user or
// shows the sign-in page first.
func (s *Server) deviceAuth(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	_ = r.ParseForm()
	otc := r.Form.Get("otc")
	if r.Method != http.MethodPost || otc == "" {
		cfg := s.baseConfig(rq, "ConvergedRemoteConnect")
		s.writePage(w, r, rq, cfg, `<form method="post" action="/common/oauth2/deviceauth"><h1>Enter code</h1><input type="text" name="otc" id="otc" maxlength="9"><input type="submit" id="idSIButton9" value="Next"></form>`)
		return
	}
	if sess, ok := s.sessionFromCookies(r); ok {
		s.finishDeviceAuth(w, r, rq, otc, s.dir.user(sess.UPN))
		return
	}
	ctx := s.seal("ctx", signInCtx{Path: r.URL.Path, UserCode: otc})
	s.showSignIn(w, r, rq, tenantCommon, ctx, "", nil)
}

// finishDeviceAuth approves the code and shows the closing page.
func (s *Server) finishDeviceAuth(w http.ResponseWriter, r *http.Request, rq *reqInfo, userCode string, u *User) {
	if err := s.approve(userCode, u); err != nil {
		cfg := s.baseConfig(rq, "ConvergedRemoteConnect")
		cfg["sErrorCode"] = "70000"
		s.writePage(w, r, rq, cfg, `<div id="error">The code was not accepted. Check it and enter it again.</div>`)
		return
	}
	cfg := s.baseConfig(rq, "ConvergedRemoteConnectSuccess")
	s.writePage(w, r, rq, cfg, `<div id="done"><h1>Sign-in for your device is complete.</h1><p>This window can be closed.</p></div>`)
}
