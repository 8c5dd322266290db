package rules

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestTokenExpiredFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", TokenExpired.ID), TokenExpired)
}

func TestTokenExpiredFields(t *testing.T) {
	checkFields(t, TokenExpired, []fieldCase{
		{"bearer_expired.txtar", "Expired bearer token sent", "Refresh the token before it expires", []string{
			"flow 0 (GET https://graph.microsoft.com/v1.0/me) sent a bearer token (Authorization in the request's Authorization header of flow 0) for https://graph.microsoft.com whose exp 2024-06-01T11:50:00Z is 10m0s before the response's Date (2024-06-01T12:00:00Z); the resource answered 401",
		}, nil},
		{"received_expired.txtar", "Token delivered already expired", "Check for a cache or replay", []string{
			"access_token in the response's JSON body of flow 0 has exp 2024-06-01T11:00:00Z, 1h0m0s before the response's Date 2024-06-01T12:00:00Z",
		}, nil},
	})
}

// TestTokenExpiredUsesStartTime checks that the request's own time, when
// known, decides over the response's Date.
func TestTokenExpiredUsesStartTime(t *testing.T) {
	fx := loadTimedFixture(t, filepath.Join("testdata", TokenExpired.ID, "bearer_expired.txtar"))
	got, err := inspecttest.RunRules(fx, TokenExpired)
	if err != nil || len(got) != 1 {
		t.Fatalf("RunRules(bearer_expired) by Date: got %v, %v, want one finding", got, err)
	}
	// Sent at 11:45 by the request's clock: not yet expired then.
	for _, f := range fx.Flows {
		f.Timings.Start = inspecttest.FixedNow.Add(-15 * time.Minute)
	}
	got, err = inspecttest.RunRules(fx, TokenExpired)
	if err != nil || len(got) != 0 {
		t.Errorf("RunRules(bearer_expired) at 11:45: got %v, %v, want no finding", got, err)
	}
}
