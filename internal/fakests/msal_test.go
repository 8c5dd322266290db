package fakests

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// TestMSALConfidentialClient drives the real MSAL Go library against the
// fake: OIDC discovery, client credentials, and a wrong secret.
func TestMSALConfidentialClient(t *testing.T) {
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authority := "https://login.microsoftonline.com/" + TenantContoso.ID

	cred, err := confidential.NewCredFromSecret(AppConfidential.Secret)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New(authority, AppConfidential.ClientID, cred, confidential.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	res, err := app.AcquireTokenByCredential(ctx, []string{"https://graph.microsoft.com/.default"})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	_, claims := jwtClaims(t, res.AccessToken)
	if claims["appid"] != AppConfidential.ClientID || claims["tid"] != TenantContoso.ID || claims["aud"] != "https://graph.microsoft.com" {
		t.Errorf("MSAL token claims: %v", claims)
	}
	if !res.ExpiresOn.After(time.Now().Add(50 * time.Minute)) {
		t.Errorf("MSAL ExpiresOn %v: want about an hour out", res.ExpiresOn)
	}
	if !loggedPath(s, "/"+TenantContoso.ID+"/v2.0/.well-known/openid-configuration") || !loggedPath(s, "/"+TenantContoso.ID+"/oauth2/v2.0/token") {
		t.Errorf("MSAL traffic did not reach the fake: %+v", s.Log())
	}

	bad, err := confidential.NewCredFromSecret("not-the-secret")
	if err != nil {
		t.Fatal(err)
	}
	app, err = confidential.New(authority, AppConfidential.ClientID, bad, confidential.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	_, err = app.AcquireTokenByCredential(ctx, []string{"https://graph.microsoft.com/.default"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: got %v, want an error with AADSTS7000215", err)
	}
}

// TestMSALAuthCode redeems a code from an SSO authorize through MSAL's
// confidential client, then refreshes silently for another resource. (MSAL's
// public package needs a module this checkout does not carry.)
func TestMSALAuthCode(t *testing.T) {
	s := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const redirectURI = "https://webapp.contoso.com/signin-oidc"
	r := get(t, s.HTTPClient(), base+"/organizations/oauth2/v2.0/authorize?"+url.Values{
		"client_id": {AppConfidential.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"scope": {"openid profile offline_access User.Read"}, "prompt": {"none"},
	}.Encode(), s.SessionCookieFor(UserBob.UPN))
	code := redirectParams(t, r).Get("code")

	cred, err := confidential.NewCredFromSecret(AppConfidential.Secret)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New("https://login.microsoftonline.com/organizations", AppConfidential.ClientID, cred, confidential.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	res, err := app.AcquireTokenByAuthCode(ctx, code, redirectURI, []string{"User.Read"})
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	if res.Account.PreferredUsername != UserBob.UPN || res.Account.HomeAccountID != UserBob.ObjectID+"."+TenantFabrikam.ID {
		t.Errorf("MSAL account: %+v", res.Account)
	}
	res2, err := app.AcquireTokenSilent(ctx, []string{"https://management.azure.com/user_impersonation"}, confidential.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("AcquireTokenSilent: %v", err)
	}
	if _, at := jwtClaims(t, res2.AccessToken); at["aud"] != "https://management.azure.com" || at["upn"] != UserBob.UPN {
		t.Errorf("silent token: aud %v upn %v", at["aud"], at["upn"])
	}
	// The code was consumed by MSAL: replaying it fails like Entra.
	_, err = app.AcquireTokenByAuthCode(ctx, code, redirectURI, []string{"User.Read"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("replayed code: got %v, want AADSTS54005", err)
	}
}

func loggedPath(s *Server, path string) bool {
	for _, ex := range s.Log() {
		if ex.Path == path {
			return true
		}
	}
	return false
}
