package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestStateMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", StateMismatch.ID), StateMismatch)
}

func TestStateMismatchFields(t *testing.T) {
	oauthCheckFields(t, StateMismatch, []oauthFieldCase{
		{fixture: "missing_state.txtar", title: "Authorize request sends no state", evidence: []string{"flow 0's authorize request", "no state parameter"}, fix: "Send an unguessable state"},
		{fixture: "overlapping.txtar", title: "Answer to an older sign-in arrives after a newer one started",
			evidence: []string{`flow 2's query answer to https://app.contoso.test/cb carries state "tabA"`, "flow 0's authorize request sent", `flow 1 started a newer sign-in`, `"tabB"`},
			fix:      "Keep state per sign-in", related: []int{0, 1}},
		{fixture: "altered.txtar", title: "State in Entra's answer differs from the state the app sent",
			evidence: []string{`carries state "tabX"`, `flow 1's authorize request sent "tabB"`}, fix: "Find what rewrites the redirect", related: []int{1}},
		{fixture: "callback_rejected.txtar", title: "App rejected a callback whose state Entra echoed correctly",
			evidence: []string{"HTTP 500", `"correlation failed"`, "no correlation or nonce cookie"}, fix: "Make the app's correlation cookie survive", related: []int{0}},
		{fixture: "callback_altered.txtar", title: "App's callback received another state than Entra sent",
			evidence: []string{`received state "CfDJ8syn…"`, "flow 0's answer from Entra"}, fix: "Pass state through unchanged", related: []int{0}},
	})
}
