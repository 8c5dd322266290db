package fakests

import (
	"encoding/base64"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// cloudMetadata is instance discovery's metadata: every cloud's aliases, as
// Entra returns them whatever was asked.
var cloudMetadata = []instanceMetadata{
	{"login.microsoftonline.com", "login.windows.net", []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
	{"login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
	{"login.microsoftonline.de", "login.microsoftonline.de", []string{"login.microsoftonline.de"}},
	{"login.microsoftonline.us", "login.microsoftonline.us", []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
	{"login-us.microsoftonline.com", "login-us.microsoftonline.com", []string{"login-us.microsoftonline.com"}},
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// metadataHeaders marks discovery answers cacheable, as Entra does.
func metadataHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "max-age=86400, private")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
}

// instanceDiscovery serves /common/discovery/instance: it validates the
// authority's host and points at the tenant's OIDC metadata.
func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	ae := r.URL.Query().Get("authorization_endpoint")
	if ae == "" {
		s.writeJSONError(w, rq, newErr(900144, "invalid_request", "The request lacks the required parameter 'authorization_endpoint'."))
		return
	}
	u, err := url.Parse(ae)
	known := err == nil && u.Scheme == "https" && slices.ContainsFunc(cloudMetadata, func(m instanceMetadata) bool {
		return slices.Contains(m.Aliases, strings.ToLower(u.Hostname()))
	})
	if !known {
		s.writeJSONError(w, rq, newErr(50049, "invalid_instance", "The authorization_endpoint does not name a known cloud instance."))
		return
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	tenant := segs[0]
	if tenant == "" {
		tenant = tenantCommon
	}
	tde := "https://" + u.Host + "/" + tenant + "/v2.0/.well-known/openid-configuration"
	if !strings.Contains(u.Path, "/v2.0/") {
		tde = "https://" + u.Host + "/" + tenant + "/.well-known/openid-configuration"
	}
	metadataHeaders(w)
	writeJSON(w, http.StatusOK, struct {
		TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
		APIVersion              string             `json:"api-version"`
		Metadata                []instanceMetadata `json:"metadata"`
	}{tde, "1.1", cloudMetadata})
}

// publicHost is the host to put in endpoint URLs: the request's host name,
// or Host when the request named an IP (a test dialling the listener).
func publicHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || net.ParseIP(host) != nil {
		return Host
	}
	return strings.ToLower(host)
}

// msaTenantID is the tenant id of personal Microsoft accounts.
const msaTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// metadataTenant resolves the path's tenant for discovery documents: the
// tenant GUID, or a placeholder for the multi-tenant aliases.
func (s *Server) metadataTenant(w http.ResponseWriter, r *http.Request, rq *reqInfo) (pathID, issuerID string, t *Tenant, ok bool) {
	ref, ok := s.dir.resolveTenant(r.PathValue("tenant"))
	if !ok {
		s.writeJSONError(w, rq, errTenantNotFound(ref.segment))
		return "", "", nil, false
	}
	switch {
	case ref.specific():
		return ref.tenant.ID, ref.tenant.ID, ref.tenant, true
	case strings.EqualFold(ref.segment, tenantConsumers):
		return ref.segment, msaTenantID, nil, true
	default:
		return "{tenant}", "{tenantid}", nil, true
	}
}

func errTenantNotFound(segment string) *stsError {
	return newErr(90002, "invalid_tenant", "There is no tenant '%s'. Check the tenant id or domain and the cloud you sign in to; a tenant without an active subscription also answers this way.", segment)
}

// openIDConfigV2 serves the v2.0 OIDC metadata MSAL resolves endpoints from.
func (s *Server) openIDConfigV2(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.openIDConfig(w, r, rq, func(base, issID string, doc map[string]any) {
		doc["token_endpoint"] = base + "/oauth2/v2.0/token"
		doc["jwks_uri"] = base + "/discovery/v2.0/keys"
		doc["response_types_supported"] = []string{"code", "id_token", "code id_token", "id_token token"}
		doc["scopes_supported"] = []string{"openid", "profile", "email", "offline_access"}
		doc["issuer"] = "https://" + Host + "/" + issID + "/v2.0"
		doc["request_uri_parameter_supported"] = false
		doc["userinfo_endpoint"] = "https://graph.microsoft.com/oidc/userinfo"
		doc["authorization_endpoint"] = base + "/oauth2/v2.0/authorize"
		doc["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/v2.0/logout"
		doc["claims_supported"] = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}
	})
}

// openIDConfigV1 serves the v1 metadata; its issuer is sts.windows.net.
func (s *Server) openIDConfigV1(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	s.openIDConfig(w, r, rq, func(base, issID string, doc map[string]any) {
		doc["token_endpoint"] = base + "/oauth2/token"
		doc["jwks_uri"] = "https://" + publicHost(r) + "/common/discovery/keys"
		doc["response_types_supported"] = []string{"code", "id_token", "code id_token", "token id_token", "token"}
		doc["scopes_supported"] = []string{"openid"}
		doc["issuer"] = "https://sts.windows.net/" + issID + "/"
		doc["microsoft_multi_refresh_token"] = true
		doc["authorization_endpoint"] = base + "/oauth2/authorize"
		doc["device_authorization_endpoint"] = base + "/oauth2/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/logout"
		doc["claims_supported"] = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"}
		doc["check_session_iframe"] = base + "/oauth2/checksession"
		doc["userinfo_endpoint"] = base + "/openid/userinfo"
	})
}

// openIDConfig writes the metadata fields v1 and v2 share; version adds the
// endpoints, issuer and lists that differ.
func (s *Server) openIDConfig(w http.ResponseWriter, r *http.Request, rq *reqInfo, version func(base, issID string, doc map[string]any)) {
	id, issID, t, ok := s.metadataTenant(w, r, rq)
	if !ok {
		return
	}
	base := "https://" + publicHost(r) + "/" + id
	var region any
	if t != nil {
		region = t.RegionScope
	}
	doc := map[string]any{
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   region,
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	}
	version(base, issID, doc)
	metadataHeaders(w)
	writeJSON(w, http.StatusOK, doc)
}

// jwks serves the signing key; the v2 path adds the issuer template.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	_, issID, _, ok := s.metadataTenant(w, r, rq)
	if !ok {
		return
	}
	pub := s.signKey.PublicKey
	key := map[string]any{
		"kty":                 "RSA",
		"use":                 "sig",
		"kid":                 s.keyID,
		"x5t":                 s.keyID,
		"n":                   b64.EncodeToString(pub.N.Bytes()),
		"e":                   b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c":                 []string{base64.StdEncoding.EncodeToString(s.certDER)},
		"cloud_instance_name": "microsoftonline.com",
	}
	if strings.Contains(r.URL.Path, "/v2.0/") {
		key["issuer"] = "https://" + Host + "/" + issID + "/v2.0"
	}
	metadataHeaders(w)
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{key}})
}

// userRealm serves /common/UserRealm/{user}, which MSAL calls before a
// password grant to learn whether the domain is managed or federated.
func (s *Server) userRealm(w http.ResponseWriter, r *http.Request, rq *reqInfo) {
	upn := r.PathValue("user")
	_, domain, _ := strings.Cut(upn, "@")
	body := map[string]any{
		"ver":                 "1.0",
		"account_type":        "Unknown",
		"cloud_instance_name": "microsoftonline.com",
		"cloud_audience_urn":  "urn:federation:MicrosoftOnline",
	}
	if domain != "" && s.dir.tenantByDomain(domain) != nil {
		body["account_type"] = "Managed"
		body["domain_name"] = strings.ToLower(domain)
		body["federation_brand_name"] = s.dir.tenantByDomain(domain).DisplayName
	}
	metadataHeaders(w)
	writeJSON(w, http.StatusOK, body)
}
