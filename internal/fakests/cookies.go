package fakests

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// Cookie names Entra uses for the SSO session and the PRT.
const (
	CookieESTSAUTH           = "ESTSAUTH"
	CookieESTSAUTHPERSISTENT = "ESTSAUTHPERSISTENT"
	CookieESTSAUTHLIGHT      = "ESTSAUTHLIGHT"
	CookiePRT                = "x-ms-RefreshTokenCredential"
)

// cookieDate is the Set-Cookie expiry format Entra uses (DD-Mon-YYYY).
const cookieDate = "Mon, 02-Jan-2006 15:04:05 GMT"

// session is an SSO session as carried in ESTSAUTH.
type session struct {
	UPN      string   `json:"u"`
	TenantID string   `json:"t"` // the user's home tenant
	SID      string   `json:"s"`
	AuthTime int64    `json:"at"`
	AMR      []string `json:"amr,omitempty"`
}

// sessionCookieValue encodes a session like ESTSAUTH: "1." plus a binary
// prefix holding the tenant and app GUIDs (as in real cookies, readable by
// anyone), then the sealed session that the server trusts.
func (s *Server) sessionCookieValue(sess session, clientID string) string {
	prefix := []byte{0x01, 0x6f, 0x00}
	prefix = append(prefix, guidLE(sess.TenantID)...)
	prefix = append(prefix, guidLE(clientID)...)
	prefix = append(prefix, 0x01, 0x00, 0x6f, 0x00)
	return "1." + b64.EncodeToString(prefix) + "." + s.seal("estsauth", sess)
}

// parseSessionCookie checks an ESTSAUTH or ESTSAUTHPERSISTENT value.
func (s *Server) parseSessionCookie(v string) (session, error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 || parts[0] != "1" {
		return session{}, errSealed
	}
	var sess session
	if err := s.unseal("estsauth", parts[2], &sess); err != nil {
		return session{}, err
	}
	return sess, nil
}

// guidLE is a GUID's bytes in Microsoft's mixed-endian order; a malformed
// GUID yields 16 zero bytes.
func guidLE(g string) []byte {
	raw, err := hex.DecodeString(strings.ReplaceAll(g, "-", ""))
	if err != nil || len(raw) != 16 {
		return make([]byte, 16)
	}
	out := make([]byte, 16)
	out[0], out[1], out[2], out[3] = raw[3], raw[2], raw[1], raw[0]
	out[4], out[5] = raw[5], raw[4]
	out[6], out[7] = raw[7], raw[6]
	copy(out[8:], raw[8:])
	return out
}

// cookieDomain is the Domain attribute for ESTS's shared cookies: the
// request's host with a leading dot, or none for an IP address.
func cookieDomain(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	return "; domain=." + strings.ToLower(host)
}

// setTrackingCookies adds the cookies ESTS sets on most responses.
func (s *Server) setTrackingCookies(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	h := w.Header()
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "fpc=") {
			return // already set for this response
		}
	}
	dom := cookieDomain(r)
	exp30 := rq.now.Add(30 * 24 * time.Hour).UTC().Format(cookieDate)
	h.Add("Set-Cookie", "fpc=A"+randB64(32)+"; expires="+exp30+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", "esctx=PAQABBwEAAAB"+randB64(96)+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; httponly")
	h.Add("Set-Cookie", "stsservicecookie=estsfd; path=/; secure; samesite=none; httponly")
}

// setSessionCookies adds the SSO cookies after a sign-in or an SSO
// authorize: ESTSAUTH (session), ESTSAUTHPERSISTENT (~90 days, as after
// "Stay signed in? Yes"), ESTSAUTHLIGHT (host-only, readable by JS) and buid.
func (s *Server) setSessionCookies(w http.ResponseWriter, r *http.Request, rq *reqInfo, sess session, clientID string) {
	dom := cookieDomain(r)
	v := s.sessionCookieValue(sess, clientID)
	exp90 := rq.now.Add(90 * 24 * time.Hour).UTC().Format(cookieDate)
	exp30 := rq.now.Add(30 * 24 * time.Hour).UTC().Format(cookieDate)
	h := w.Header()
	h.Add("Set-Cookie", CookieESTSAUTH+"="+v+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", CookieESTSAUTHPERSISTENT+"="+v+"; expires="+exp90+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", CookieESTSAUTHLIGHT+"=+"+sess.SID+"; path=/; secure; SameSite=None")
	h.Add("Set-Cookie", "buid=1."+b64.EncodeToString(guidLE(sess.TenantID))+"."+randB64(48)+"; expires="+exp30+"; path=/; secure; HttpOnly; SameSite=None")
}

// setSessionOnlyCookies sets the SSO cookies of a user who chose not to
// stay signed in: no ESTSAUTHPERSISTENT, so the session ends with the
// browser.
func (s *Server) setSessionOnlyCookies(w http.ResponseWriter, r *http.Request, sess session, clientID string) {
	dom := cookieDomain(r)
	h := w.Header()
	h.Add("Set-Cookie", CookieESTSAUTH+"="+s.sessionCookieValue(sess, clientID)+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", CookieESTSAUTHLIGHT+"=+"+sess.SID+"; path=/; secure; SameSite=None")
}

// clearSessionCookies expires the SSO cookies, as sign-out does.
func (s *Server) clearSessionCookies(w http.ResponseWriter, r *http.Request) {
	dom := cookieDomain(r)
	const gone = "; expires=Thu, 01-Jan-1970 00:00:00 GMT"
	h := w.Header()
	h.Add("Set-Cookie", CookieESTSAUTH+"="+gone+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", CookieESTSAUTHPERSISTENT+"="+gone+dom+"; path=/; secure; HttpOnly; SameSite=None")
	h.Add("Set-Cookie", CookieESTSAUTHLIGHT+"="+gone+"; path=/; secure; SameSite=None")
}

// SessionCookieFor returns an ESTSAUTH cookie for upn signed in now, for
// tests that start "already signed in". It returns nil for an unknown user.
func (s *Server) SessionCookieFor(upn string) *http.Cookie {
	u := s.dir.user(upn)
	if u == nil {
		return nil
	}
	sess := session{UPN: u.UPN, TenantID: u.HomeTenantID, SID: newGUID(), AuthTime: s.now().Unix(), AMR: []string{"pwd"}}
	return &http.Cookie{
		Name:     CookieESTSAUTH,
		Value:    s.sessionCookieValue(sess, AppPublic.ClientID),
		Domain:   "." + Host,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteNoneMode,
	}
}

// RevokeUser sets the user's TokensValidFrom to now, as a password reset or
// an admin's revoke does: earlier sessions stop working and earlier refresh
// tokens fail with AADSTS50173.
func (s *Server) RevokeUser(upn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validFrom[strings.ToLower(upn)] = s.now()
}

func (s *Server) tokensValidFrom(upn string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validFrom[strings.ToLower(upn)]
}

// sessionFromCookies returns the session in ESTSAUTH or ESTSAUTHPERSISTENT,
// if one is valid and neither signed out nor revoked.
func (s *Server) sessionFromCookies(r *http.Request) (session, bool) {
	for _, name := range []string{CookieESTSAUTH, CookieESTSAUTHPERSISTENT} {
		c, err := r.Cookie(name)
		if err != nil {
			continue
		}
		sess, err := s.parseSessionCookie(c.Value)
		if err != nil || s.dir.user(sess.UPN) == nil {
			continue
		}
		s.mu.Lock()
		out := s.signedOut[sess.SID]
		s.mu.Unlock()
		if out || time.Unix(sess.AuthTime, 0).Before(s.tokensValidFrom(sess.UPN).Truncate(time.Second)) {
			continue
		}
		return sess, true
	}
	return session{}, false
}

// The PRT cookie.

// prtLabel is the SP 800-108 label for deriving the PRT cookie's signing key.
const prtLabel = "AzureAD-SecureConversation"

// prtClaims is the payload of an x-ms-RefreshTokenCredential JWT.
type prtClaims struct {
	RefreshToken string `json:"refresh_token"`
	IsPrimary    string `json:"is_primary,omitempty"`
	RequestNonce string `json:"request_nonce,omitempty"`
	IAT          int64  `json:"iat,omitempty"`
}

// prtHeader is the JOSE header of the PRT cookie.
type prtHeader struct {
	Alg    string `json:"alg"`
	Ctx    string `json:"ctx"`
	KdfVer int    `json:"kdf_ver,omitempty"`
}

// prt is what the server's opaque primary refresh token seals.
type prt struct {
	UPN      string `json:"u"`
	DeviceID string `json:"d"`
}

// sessionKey is the device's PRT session key for upn; a real device holds
// it in its TPM.
func (s *Server) sessionKey(upn string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("prt-session-key\x00" + strings.ToLower(upn)))
	return m.Sum(nil)
}

// kdf is SP 800-108 counter-mode HMAC-SHA256 producing a 256-bit key.
func kdf(key []byte, label string, context []byte) []byte {
	m := hmac.New(sha256.New, key)
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], 1)
	m.Write(buf[:])
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(context)
	binary.BigEndian.PutUint32(buf[:], 256)
	m.Write(buf[:])
	return m.Sum(nil)
}

// derivedKey applies KDFv1 (context = ctx) or KDFv2 (context =
// SHA256(ctx ‖ payload)).
func derivedKey(sessionKey, ctx, payload []byte, kdfVer int) []byte {
	if kdfVer == 2 {
		sum := sha256.Sum256(append(append([]byte{}, ctx...), payload...))
		return kdf(sessionKey, prtLabel, sum[:])
	}
	return kdf(sessionKey, prtLabel, ctx)
}

// PRTCookie returns an x-ms-RefreshTokenCredential JWT for upn, as a
// Windows device's browser SSO would send. With validKey false it is signed
// with a key Entra does not know (AADSTS140001); an empty nonce leaves
// request_nonce out (AADSTS140000). Fresh nonces come from Nonce. It
// returns "" for an unknown user.
func (s *Server) PRTCookie(upn string, validKey bool, nonce string) string {
	u := s.dir.user(upn)
	if u == nil {
		return ""
	}
	ctx := randBytes(24)
	hdr := prtHeader{Alg: "HS256", Ctx: base64.StdEncoding.EncodeToString(ctx)}
	claims := prtClaims{
		RefreshToken: "0.AV8A" + s.seal("prt", prt{UPN: u.UPN, DeviceID: deviceID(u)}),
		IsPrimary:    "true",
		RequestNonce: nonce,
		IAT:          s.now().Unix(),
	}
	input := jwtPart(hdr) + "." + jwtPart(claims)
	key := randBytes(32)
	if validKey {
		key = derivedKey(s.sessionKey(u.UPN), ctx, nil, 0)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// deviceID is the synthetic Entra device id of the user's joined device.
func deviceID(u *User) string {
	sum := sha256.Sum256([]byte("device|" + u.ObjectID))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// noncePrefix makes nonces look like Entra's ("AwABEgEAAAAD...").
const noncePrefix = "AwABEgEAAAADAOz_BQD0_"

type nonceClaims struct {
	IAT int64 `json:"iat"`
}

// Nonce returns a fresh PRT request nonce, as POST /common/oauth2/token
// with grant_type=srv_challenge would.
func (s *Server) Nonce() string {
	return noncePrefix + s.seal("nonce", nonceClaims{IAT: s.now().Unix()})
}

// nonceFresh reports whether n is a nonce this server issued within
// NonceLifetime.
func (s *Server) nonceFresh(n string) bool {
	rest, ok := strings.CutPrefix(n, noncePrefix)
	var c nonceClaims
	if !ok || s.unseal("nonce", rest, &c) != nil {
		return false
	}
	age := s.now().Sub(time.Unix(c.IAT, 0))
	return age >= -time.Minute && age <= NonceLifetime
}

// Errors from checking a PRT cookie.
var (
	errNoPRT      = errors.New("no prt cookie")
	errStaleNonce = errors.New("prt cookie nonce is stale")
)

// prtFromRequest finds and checks the PRT cookie (or header). A cookie that
// does not parse, or carries a PRT this server never issued, is ignored
// like ESTS ignores a bad artifact, giving errNoPRT.
func (s *Server) prtFromRequest(r *http.Request) (*User, error) {
	raw := r.Header.Get(CookiePRT)
	for _, c := range r.Cookies() {
		if strings.EqualFold(c.Name, CookiePRT) {
			raw = c.Value
		}
	}
	if raw == "" {
		return nil, errNoPRT
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errNoPRT
	}
	var hdr prtHeader
	var claims prtClaims
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &claims) != nil {
		return nil, errNoPRT
	}
	var p prt
	rest, ok := strings.CutPrefix(claims.RefreshToken, "0.AV8A")
	if !ok || s.unseal("prt", rest, &p) != nil {
		return nil, errNoPRT
	}
	u := s.dir.user(p.UPN)
	if u == nil {
		return nil, errNoPRT
	}
	if claims.RequestNonce == "" {
		return nil, newErr(140000, "invalid_request", "The PRT-signed request has no nonce. Fetch a nonce from the server first and sign it into the request.")
	}
	ctx, err := base64.StdEncoding.DecodeString(hdr.Ctx)
	sig, err2 := b64.DecodeString(parts[2])
	if err != nil || err2 != nil || hdr.Alg != "HS256" {
		return nil, newErr(140001, "interaction_required", "The request is signed with a session key the server does not recognize.")
	}
	m := hmac.New(sha256.New, derivedKey(s.sessionKey(u.UPN), ctx, pb, hdr.KdfVer))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, newErr(140001, "interaction_required", "The request is signed with a session key the server does not recognize.")
	}
	if !s.nonceFresh(claims.RequestNonce) {
		return u, errStaleNonce
	}
	return u, nil
}
