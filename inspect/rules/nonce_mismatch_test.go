package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestNonceMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", NonceMismatch.ID), NonceMismatch)
}

func TestNonceMismatchFields(t *testing.T) {
	oauthCheckFields(t, NonceMismatch, []oauthFieldCase{
		{fixture: "code_flow.txtar", title: "id_token nonce differs from the nonce the authorize request sent",
			evidence: []string{`flow 0's authorize request sent nonce "n-tabA"`, `the id_token flow 3 got for code`, `has nonce "n-tabB"`, "nonce of flow 1's authorize request"},
			fix:      "Keep nonce (and state) per sign-in", related: []int{0, 1}},
		{fixture: "hybrid_form_post.txtar", evidence: []string{`sent nonce "638000000000000000.synthetic-nonce"`, "flow 0's form_post response", `"638000000000000000.other-nonce"`},
			fix: "Keep nonce", related: []int{0}},
	})
}
