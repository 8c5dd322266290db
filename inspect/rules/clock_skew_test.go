package rules

import (
	"path/filepath"
	"testing"
	"time"
)

func TestClockSkewFixtures(t *testing.T) {
	runTimedFixtures(t, filepath.Join("testdata", ClockSkew.ID), ClockSkew)
}

func TestClockSkewFields(t *testing.T) {
	checkFields(t, ClockSkew, []fieldCase{
		{"date_skew.txtar", "Server clock differs from the client clock", "Sync the client machine's clock", []string{
			"flow 0 (POST https://login.microsoftonline.com/organizations/oauth2/v2.0/token): the response's Date 2024-06-01T12:00:00Z is 10m0s behind the time the request was made (2024-06-01T12:10:00Z",
			"later flows to login.microsoftonline.com are not reported again",
		}, nil},
		{"assertion_700024.txtar", "AADSTS700024: client assertion outside its valid time range", "Build a fresh client assertion", []string{
			"current time 2024-06-01T12:00:00.5274809Z, valid from 2024-06-01T09:28:26Z, expiry 2024-06-01T10:28:26Z",
			"the assertion had expired 1h32m0s before Entra received it",
			"the client_assertion sent has iat 2024-06-01T09:28:26Z, nbf 2024-06-01T09:28:26Z, exp 2024-06-01T10:28:26Z",
			"(-1s from Entra's current time)",
		}, nil},
		{"token_future.txtar", "Token issued in the future by the server's clock", "Sync the clock of the machine that issued the token", []string{
			"Authorization in the request's Authorization header of flow 0 has iat 2024-06-01T12:10:00Z, 10m0s after the response's Date",
		}, nil},
	})
}

func TestAssertionTimes(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		msg            string
		cur, from, exp time.Time
	}{
		{"AADSTS700024: Client assertion is not within its valid time range. Current time: 2023-08-01T11:08:01.5274809Z, assertion valid from 2023-08-01T09:28:26.0000000Z, expiry time of assertion 2023-08-01T10:28:26.0000000Z.",
			ts("2023-08-01T11:08:01.5274809Z"), ts("2023-08-01T09:28:26Z"), ts("2023-08-01T10:28:26Z")},
		{"AADSTS500133: Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: 2024-02-01T10:00:00.0000000Z, expiry time of assertion 2024-02-01T09:00:00.0000000Z.",
			ts("2024-02-01T10:00:00Z"), time.Time{}, ts("2024-02-01T09:00:00Z")},
		{"Current time: 2/1/2024 10:00:00 AM, expiry time of assertion 2/1/2024 9:00:00 AM.", ts("2024-02-01T10:00:00Z"), time.Time{}, ts("2024-02-01T09:00:00Z")},
		{"AADSTS700024: no times here", time.Time{}, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		cur, from, exp := assertionTimes(tt.msg)
		if !cur.Equal(tt.cur) || !from.Equal(tt.from) || !exp.Equal(tt.exp) {
			t.Errorf("assertionTimes(%q): got %v, %v, %v, want %v, %v, %v", tt.msg, cur, from, exp, tt.cur, tt.from, tt.exp)
		}
	}
}
