package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestCodeReusedFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", CodeReused.ID), CodeReused)
}

func TestCodeReusedFields(t *testing.T) {
	oauthCheckFields(t, CodeReused, []oauthFieldCase{
		{fixture: "double_redeem.txtar", title: "Authorization code redeemed more than once",
			evidence: []string{"flow 1 redeems code", "which flow 0 already redeemed", "1s earlier", "refused the repeat with AADSTS54005"},
			fix:      "Make the callback idempotent", related: []int{0}},
		{fixture: "outside_trace.txtar", evidence: []string{"no earlier redemption"}, fix: "Leave code redemption to exactly one component"},
	})
}
