package fakests

import (
	"slices"
	"strings"
)

// oidcScopes are the scopes that ask for sign-in rather than for an API.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// scopeSet is a request's scope (v2) or resource (v1) after resolution.
type scopeSet struct {
	oidc     []string  // lowercase OIDC scopes, request order
	resource *Resource // the one API the access token is for
	audience string    // the aud claim: the resource as the client named it
	perms    []string  // bare permission names (User.Read, .default)
}

func (sc scopeSet) has(oidc string) bool { return slices.Contains(sc.oidc, oidc) }

// granted returns the permissions the token carries: .default expands to
// the resource's default permission.
func (sc scopeSet) granted() []string {
	var out []string
	for _, p := range sc.perms {
		if p == ".default" {
			p = defaultPermission(sc.resource)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = []string{defaultPermission(sc.resource)}
	}
	return out
}

func defaultPermission(r *Resource) string {
	switch r.AppID {
	case ResourceGraph.AppID:
		return "User.Read"
	case ResourceARM.AppID:
		return "user_impersonation"
	}
	return "access_as_user"
}

// responseScope is the v2 response's scope: Graph permissions bare, other
// APIs' prefixed with their URI, then the OIDC scopes (offline_access is
// never echoed).
func (sc scopeSet) responseScope() string {
	var out []string
	for _, p := range sc.granted() {
		if sc.resource.AppID == ResourceGraph.AppID {
			out = append(out, p)
		} else {
			out = append(out, strings.TrimSuffix(sc.resource.URI, "/")+"/"+p)
		}
	}
	for _, s := range []string{"profile", "openid", "email"} {
		if sc.has(s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// parseScopes resolves a v2 scope parameter. tenantName is for messages.
func (d *directory) parseScopes(raw, tenantName string) (scopeSet, *stsError) {
	var sc scopeSet
	for _, f := range strings.Fields(raw) {
		if slices.Contains(oidcScopes, strings.ToLower(f)) {
			if !sc.has(strings.ToLower(f)) {
				sc.oidc = append(sc.oidc, strings.ToLower(f))
			}
			continue
		}
		resID, perm := ResourceGraph.AppID, f
		if i := strings.LastIndex(f, "/"); i >= 0 {
			resID, perm = f[:i], f[i+1:]
		}
		if perm == "" {
			return sc, newErr(70011, "invalid_scope", "The 'scope' parameter is not valid: %s names no permission.", f)
		}
		res := d.resource(resID)
		if res == nil {
			return sc, newErr(500011, "invalid_resource", "Resource %s is not known in the tenant named %s. Nobody there may have installed or consented to it yet, or the request went to the wrong tenant.", resID, tenantName)
		}
		if sc.resource != nil && sc.resource.AppID != res.AppID {
			return sc, newErr(28000, "invalid_scope", "The scope %s names more than one resource; one request can ask for one resource only.", raw)
		}
		if sc.resource == nil {
			sc.resource = res
			sc.audience = res.AppID
			if strings.Contains(f, "/") && !strings.EqualFold(resID, res.AppID) {
				sc.audience = resID
			}
		}
		sc.perms = append(sc.perms, perm)
	}
	if sc.resource == nil {
		if len(sc.oidc) == 0 {
			return sc, newErr(70011, "invalid_scope", "The 'scope' parameter is not valid: no scope '%s' exists.", raw)
		}
		// Sign-in only: the access token is for Graph, as with Entra.
		sc.resource = d.resource(ResourceGraph.AppID)
		sc.audience = ResourceGraph.AppID
	}
	return sc, nil
}

// parseResource resolves a v1 resource parameter.
func (d *directory) parseResource(raw, tenantName string) (scopeSet, *stsError) {
	res := d.resource(raw)
	if res == nil {
		return scopeSet{}, newErr(500011, "invalid_resource", "Resource %s is not known in the tenant named %s. Nobody there may have installed or consented to it yet, or the request went to the wrong tenant.", raw, tenantName)
	}
	return scopeSet{oidc: []string{"openid"}, resource: res, audience: raw}, nil
}
