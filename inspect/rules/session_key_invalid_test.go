package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestSessionKeyInvalidFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", SessionKeyInvalid.ID), SessionKeyInvalid)
}

func TestSessionKeyInvalidFields(t *testing.T) {
	checkFields(t, SessionKeyInvalid, []fieldCase{
		{"missing_nonce_140000.txtar", "AADSTS140000: Entra refused the PRT-signed request", "Get a nonce first", []string{
			"flow 1 (GET https://login.microsoftonline.com/common/oauth2/v2.0/authorize) got AADSTS140000",
			"x-ms-RefreshTokenCredential in the Cookie header has alg HS256, kdf_ver 2, a 24-byte ctx and a 79-character refresh_token starting \"0.A\"",
			"it has no request_nonce, though Entra issued one in flow 0 (the srv_challenge answer)",
		}, []int{0}},
		{"stale_nonce_140001.txtar", "AADSTS140001: Entra refused the PRT-signed request", "Sign the PRT cookie over the nonce Entra issued most recently (flow 1)", []string{
			"in a request header", "its request_nonce is the older one issued in flow 0 (the srv_challenge answer), not the latest from flow 1",
			"its iat 2024-06-01T11:40:00Z is 20m0s before the server's Date 2024-06-01T12:00:00Z (threshold 5m0s)",
		}, []int{0, 1}},
		{"kdf_5000611.txtar", "AADSTS5000611: Entra refused the PRT-signed request", "Derive the signing key with KDFv2", []string{
			"session-key-signed request JWT (alg HS256, kdf_ver none (KDFv1))", "derived with KDFv1",
		}, nil},
	})
}
