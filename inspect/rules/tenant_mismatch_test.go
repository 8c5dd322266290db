package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestTenantMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", TenantMismatch.ID), TenantMismatch)
}

func TestTenantMismatchFields(t *testing.T) {
	checkFields(t, TenantMismatch, []fieldCase{
		{"arm_wrong_tenant.txtar", "Bearer token from another tenant than the resource expects", "Get the token from https://login.microsoftonline.com/" + testContoso, []string{
			"flow 0 (GET https://management.azure.com/subscriptions/00000000-0000-4000-8000-00000000a2b1/resourcegroups) answered 401",
			"authorization_uri names tenant " + testContoso, "has tid " + testFabrikam, "Authorization in the request's Authorization header of flow 0",
		}, nil},
		{"guest.txtar", "Signed in as a guest of another tenant", "Expect tokens from the resource tenant", []string{
			"home tenant (utid) " + testFabrikam + " for bob@fabrikam.com", "id_token's tid is " + testContoso,
		}, nil},
		{"common_50194.txtar", "Single-tenant app used on a multi-tenant path", "Use the authority https://login.microsoftonline.com/" + testContoso + " instead of /common/", []string{
			"tenant path /common/ with client_id e1d2c3b4-a596-4877-8899-aabbccddeeff", "AADSTS50194",
			"the traffic shows the app's tenant as " + testContoso + " (the tid of the id_token issued to e1d2c3b4-a596-4877-8899-aabbccddeeff in flow 0)",
		}, nil},
		{"obo_assertion.txtar", "Token tenant differs from the tenant in the path", "Request the on-behalf-of token", []string{
			"names tenant fabrikam.com (" + testFabrikam + ", per the issuer of the OpenID discovery answer for fabrikam.com in flow 0)",
			"assertion in the request's parameters of flow 1 has tid " + testContoso,
		}, nil},
	})
}
