package rules

import (
	"path/filepath"
	"testing"

	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestSignInLoopFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", SignInLoop.ID), SignInLoop)
}

func TestSignInLoopFields(t *testing.T) {
	oauthCheckFields(t, SignInLoop, []oauthFieldCase{
		{fixture: "loop.txtar", title: "App repeats the same sign-in in a loop",
			evidence: []string{"flow 6 is the 4th authorize request", `redirect_uri "https://app.contoso.test/cb"`, `scope "openid profile"`, "within 12s",
				"flows 0, 2, 4 and 6", "threshold 4 in 1m0s", "every round with a code"},
			fix: "Find why the app does not keep the session", related: []int{0, 2, 4}},
	})
}

func TestOrdinalSuffix(t *testing.T) {
	for n, want := range map[int]string{1: "st", 2: "nd", 3: "rd", 4: "th", 11: "th", 12: "th", 13: "th", 21: "st", 102: "nd", 111: "th"} {
		if got := ordinalSuffix(n); got != want {
			t.Errorf("ordinalSuffix(%d): got %q, want %q", n, got, want)
		}
	}
}
