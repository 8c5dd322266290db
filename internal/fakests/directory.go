package fakests

import (
	"net/url"
	"slices"
	"strings"
)

// Tenant is a synthetic Entra tenant.
type Tenant struct {
	ID          string   // tenant GUID (tid)
	DisplayName string   // shown in error messages
	Domains     []string // verified domains; the first is the initial *.onmicrosoft.com one
	RegionScope string   // tenant_region_scope in OIDC metadata
}

// InitialDomain returns the tenant's *.onmicrosoft.com domain.
func (t Tenant) InitialDomain() string { return t.Domains[0] }

// App is a synthetic app registration.
type App struct {
	ClientID     string
	DisplayName  string
	HomeTenantID string
	// Public apps (SPA, native) hold no secret and must not send one.
	Public bool
	// Secret is the client secret value; SecretID is its ID, which people
	// paste by mistake (AADSTS7000215 either way).
	Secret   string
	SecretID string
	// RedirectURIs are the web and native reply URLs. A registered
	// http://localhost or http://127.0.0.1 URI matches any port, as in Entra.
	RedirectURIs []string
	// SPARedirectURIs may also redeem codes cross-origin (CORS).
	SPARedirectURIs []string
	// MultiTenant apps may sign in users of any tenant and use /common.
	MultiTenant bool
	// IdentifierURI is the app ID URI when the app exposes an API.
	IdentifierURI string
}

// User is a synthetic directory user.
type User struct {
	UPN          string
	Password     string
	ObjectID     string
	HomeTenantID string
	DisplayName  string
	GivenName    string
	Surname      string
	// MFARequired makes password grants fail with AADSTS50076.
	MFARequired bool
	// GuestIn lists tenants where the user also exists as a B2B guest.
	GuestIn []string
}

// Resource is an API a token can be issued for.
type Resource struct {
	AppID string // the resource's app id (GUID)
	URI   string // its app ID URI, e.g. https://graph.microsoft.com
	Name  string
}

// The synthetic directory. Values are copied into each Server at New, so
// changing them affects only servers created afterwards.
var (
	TenantContoso = Tenant{
		ID:          "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60",
		DisplayName: "Contoso",
		Domains:     []string{"contoso.onmicrosoft.com", "contoso.com"},
		RegionScope: "EU",
	}
	TenantFabrikam = Tenant{
		ID:          "a3d9e7b1-4f2c-4e8a-b6d5-91c0f2e4a7b3",
		DisplayName: "Fabrikam",
		Domains:     []string{"fabrikam.onmicrosoft.com", "fabrikam.com"},
		RegionScope: "NA",
	}

	// AppPublic is a multi-tenant public client (SPA and native).
	AppPublic = App{
		ClientID:     "4b0db8c2-9f26-4417-8bde-3f0e3656f8e0",
		DisplayName:  "Contoso Public Client",
		HomeTenantID: TenantContoso.ID,
		Public:       true,
		RedirectURIs: []string{
			"http://localhost",
			"https://login.microsoftonline.com/common/oauth2/nativeclient",
			"ms-appx-web://microsoft.aad.brokerplugin/4b0db8c2-9f26-4417-8bde-3f0e3656f8e0",
		},
		SPARedirectURIs: []string{"https://app.contoso.com/auth/callback", "http://localhost:3000"},
		MultiTenant:     true,
	}
	// AppConfidential is a multi-tenant web app with a client secret; it
	// also exposes an API at its IdentifierURI.
	AppConfidential = App{
		ClientID:      "c8f1e2d3-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
		DisplayName:   "Contoso Web App",
		HomeTenantID:  TenantContoso.ID,
		Secret:        "Zq8Q~fakests.SecretValue-0123456789abcdefXY",
		SecretID:      "0d9b8a7c-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
		RedirectURIs:  []string{"https://webapp.contoso.com/signin-oidc", "http://localhost/signin-oidc"},
		MultiTenant:   true,
		IdentifierURI: "api://c8f1e2d3-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
	}
	// AppSingleTenant is a confidential app usable only in Contoso.
	AppSingleTenant = App{
		ClientID:     "e1d2c3b4-a596-4877-8899-aabbccddeeff",
		DisplayName:  "Contoso Intranet",
		HomeTenantID: TenantContoso.ID,
		Secret:       "Xy7Q~fakests.IntranetSecret-9876543210zyxwvuAB",
		SecretID:     "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
		RedirectURIs: []string{"https://intranet.contoso.com/callback", "http://localhost/callback"},
	}

	UserAlice = User{
		UPN: "alice@contoso.com", Password: "Alice-Pa55w0rd!",
		ObjectID: "11111111-aaaa-4aaa-8aaa-111111111111", HomeTenantID: TenantContoso.ID,
		DisplayName: "Alice Smith", GivenName: "Alice", Surname: "Smith",
	}
	UserBob = User{
		UPN: "bob@fabrikam.com", Password: "Bob-Pa55w0rd!",
		ObjectID: "22222222-bbbb-4bbb-8bbb-222222222222", HomeTenantID: TenantFabrikam.ID,
		DisplayName: "Bob Jones", GivenName: "Bob", Surname: "Jones",
		GuestIn: []string{TenantContoso.ID},
	}
	// UserCarol needs MFA: password grants fail with AADSTS50076.
	UserCarol = User{
		UPN: "carol@contoso.com", Password: "Carol-Pa55w0rd!",
		ObjectID: "33333333-cccc-4ccc-8ccc-333333333333", HomeTenantID: TenantContoso.ID,
		DisplayName: "Carol White", GivenName: "Carol", Surname: "White",
		MFARequired: true,
	}

	// ResourceGraph is Microsoft Graph, the default resource of OIDC-only
	// requests.
	ResourceGraph = Resource{AppID: "00000003-0000-0000-c000-000000000000", URI: "https://graph.microsoft.com", Name: "Microsoft Graph"}
	// ResourceARM is Azure Resource Manager.
	ResourceARM = Resource{AppID: "797f4846-ba00-4fd7-ba43-dac1f8f63013", URI: "https://management.azure.com", Name: "Windows Azure Service Management API"}
)

// Well-known tenant path segments that name no single tenant.
const (
	tenantCommon        = "common"
	tenantOrganizations = "organizations"
	tenantConsumers     = "consumers"
)

// directory is a server's private copy of the synthetic directory.
type directory struct {
	tenants   []Tenant
	apps      []App
	users     []User
	resources []Resource
}

func newDirectory() *directory {
	d := &directory{
		tenants:   []Tenant{TenantContoso, TenantFabrikam},
		apps:      []App{AppPublic, AppConfidential, AppSingleTenant},
		users:     []User{UserAlice, UserBob, UserCarol},
		resources: []Resource{ResourceGraph, ResourceARM},
	}
	for _, a := range d.apps {
		if a.IdentifierURI != "" {
			d.resources = append(d.resources, Resource{AppID: a.ClientID, URI: a.IdentifierURI, Name: a.DisplayName})
		}
	}
	return d
}

// tenantRef is what a /{tenant}/ path segment resolved to.
type tenantRef struct {
	segment string  // as written in the path
	tenant  *Tenant // nil for common, organizations and consumers
}

// specific reports whether the path named one tenant.
func (r tenantRef) specific() bool { return r.tenant != nil }

// tenantByID finds a tenant by GUID.
func (d *directory) tenantByID(id string) *Tenant {
	for i := range d.tenants {
		if strings.EqualFold(d.tenants[i].ID, id) {
			return &d.tenants[i]
		}
	}
	return nil
}

// tenantByDomain finds the tenant that verified domain.
func (d *directory) tenantByDomain(domain string) *Tenant {
	for i := range d.tenants {
		for _, dom := range d.tenants[i].Domains {
			if strings.EqualFold(dom, domain) {
				return &d.tenants[i]
			}
		}
	}
	return nil
}

// resolveTenant maps a path segment to a tenant; ok is false for an unknown
// tenant (AADSTS90002).
func (d *directory) resolveTenant(segment string) (tenantRef, bool) {
	switch strings.ToLower(segment) {
	case tenantCommon, tenantOrganizations, tenantConsumers:
		return tenantRef{segment: segment}, true
	}
	if t := d.tenantByID(segment); t != nil {
		return tenantRef{segment: segment, tenant: t}, true
	}
	if t := d.tenantByDomain(segment); t != nil {
		return tenantRef{segment: segment, tenant: t}, true
	}
	return tenantRef{segment: segment}, false
}

// app finds an app by client id.
func (d *directory) app(clientID string) *App {
	for i := range d.apps {
		if strings.EqualFold(d.apps[i].ClientID, clientID) {
			return &d.apps[i]
		}
	}
	return nil
}

// user finds a user by UPN.
func (d *directory) user(upn string) *User {
	for i := range d.users {
		if strings.EqualFold(d.users[i].UPN, upn) {
			return &d.users[i]
		}
	}
	return nil
}

// memberOf reports whether u can sign in to tenant id, as member or guest.
func (u *User) memberOf(id string) bool {
	return strings.EqualFold(u.HomeTenantID, id) || slices.ContainsFunc(u.GuestIn, func(g string) bool { return strings.EqualFold(g, id) })
}

// resource finds an API by app ID URI or app id.
func (d *directory) resource(id string) *Resource {
	id = strings.TrimSuffix(id, "/")
	for i := range d.resources {
		if strings.EqualFold(d.resources[i].AppID, id) || strings.EqualFold(strings.TrimSuffix(d.resources[i].URI, "/"), id) {
			return &d.resources[i]
		}
	}
	// Entra also accepts the legacy ARM audience.
	if strings.EqualFold(id, "https://management.core.windows.net") {
		return &d.resources[1]
	}
	return nil
}

// redirectAllowed reports whether uri is one of the app's reply URLs. For
// loopback URIs the port is ignored, as Entra does for native apps.
func (a *App) redirectAllowed(uri string) bool {
	return slices.ContainsFunc(a.RedirectURIs, func(r string) bool { return redirectMatch(r, uri) }) || a.isSPARedirect(uri)
}

// isSPARedirect reports whether uri is registered as a single-page app reply URL.
func (a *App) isSPARedirect(uri string) bool {
	return slices.ContainsFunc(a.SPARedirectURIs, func(r string) bool { return redirectMatch(r, uri) })
}

func redirectMatch(registered, got string) bool {
	if registered == got {
		return true
	}
	ru, err1 := url.Parse(registered)
	gu, err2 := url.Parse(got)
	if err1 != nil || err2 != nil || ru.Scheme != "http" || gu.Scheme != "http" {
		return false
	}
	host := ru.Hostname()
	if host != "localhost" && host != "127.0.0.1" || gu.Hostname() != host || ru.Port() != "" && ru.Port() != gu.Port() {
		return false
	}
	return strings.TrimSuffix(ru.Path, "/") == strings.TrimSuffix(gu.Path, "/") && gu.RawQuery == ru.RawQuery
}
