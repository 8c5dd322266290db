package fakests

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
)

// ARMHost is Azure Resource Manager's name. The fake answers the two
// listings `az login` asks for after it has a token, so a test can map
// management.azure.com to the fake as it maps login.microsoftonline.com.
const ARMHost = "management.azure.com"

// armList answers GET /subscriptions and GET /tenants on ARM: no
// subscriptions (the service principals of the directory have none), and
// the tenant of the bearer token, whose audience must be ARM. A missing or
// foreign token gets ARM's 401 with its WWW-Authenticate challenge.
func (s *Server) armList(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("x-ms-request-id", rq.traceID)
	h.Set("x-ms-correlation-request-id", rq.correlationID)
	claims, ok := s.bearerClaims(r)
	aud, _ := claims["aud"].(string)
	tid, _ := claims["tid"].(string)
	tenant := s.dir.tenantByID(tid)
	if !ok || tenant == nil || !isARMAudience(s.dir.resource(aud)) {
		h.Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+TenantContoso.ID+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing or its token is not for Azure Resource Manager."}})
		return
	}
	var out any = map[string]any{"value": []any{}, "count": map[string]any{"type": "Total", "value": 0}}
	if strings.HasSuffix(r.URL.Path, "/tenants") {
		out = map[string]any{"value": []any{map[string]any{
			"id": "/tenants/" + tid, "tenantId": tid, "tenantCategory": "Home",
			"displayName": tenant.DisplayName, "defaultDomain": tenant.InitialDomain(),
		}}}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func isARMAudience(r *Resource) bool { return r != nil && r.AppID == ResourceARM.AppID }

// bearerClaims returns the claims of a bearer token this server signed.
func (s *Server) bearerClaims(r *http.Request) (map[string]any, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	return s.verifyJWT(strings.TrimSpace(tok))
}

// verifyJWT checks an RS256 token's signature against the server's key and
// returns its claims; expiry is not checked (ARM's answer is all the tests
// need, and they never present an expired token).
func (s *Server) verifyJWT(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.signKey.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, false
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(body, &claims) != nil {
		return nil, false
	}
	return claims, true
}
