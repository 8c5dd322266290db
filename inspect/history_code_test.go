package inspect

import (
	"testing"

	"github.com/aadproxy/aadproxy/flow"
)

// TestHistoryWithCode checks the code index: a code is found on the flow
// that delivered it (redirect or form_post) and on the token requests that
// redeemed it, oldest first, and leaves the index with its flows.
func TestHistoryWithCode(t *testing.T) {
	form := flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	issue := identityFlow("GET", "https://login.example/common/oauth2/v2.0/authorize?client_id=c", nil, "",
		flow.Headers{{Name: "Location", Value: "https://app.example/cb?code=C1&state=s"}}, "")
	formPost := identityFlow("POST", "https://login.example/common/login", nil, "",
		flow.Headers{{Name: "Content-Type", Value: "text/html"}},
		`<html><body><form method="POST" action="https://app.example/cb"><input type="hidden" name="code" value="C2"/></form></body></html>`)
	redeem := identityFlow("POST", "https://login.example/common/oauth2/v2.0/token", form, "grant_type=authorization_code&code=C1", nil, "")
	again := identityFlow("POST", "https://login.example/common/oauth2/v2.0/token", form, "grant_type=authorization_code&code=C1", nil, "")
	other := identityFlow("GET", "https://cdn.example/app.js?code=C1", nil, "", nil, "") // a query key named code is identity too

	h := newHistory(4, 1<<20)
	for i, f := range []*flow.Flow{issue, formPost, redeem, again} {
		f.Index = i
		h.add(NewView(f))
	}
	ids := func(vs []*View) []int {
		var out []int
		for _, v := range vs {
			out = append(out, v.Flow.Index)
		}
		return out
	}
	if got := ids(h.WithCode("C1")); len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Errorf("WithCode(C1) = %v, want [0 2 3]: the redirect that delivered it, then both redemptions", got)
	}
	if got := ids(h.WithCode("C2")); len(got) != 1 || got[0] != 1 {
		t.Errorf("WithCode(C2) = %v, want [1]: the form_post page", got)
	}
	// A fifth flow evicts the oldest: its code entry goes with it.
	other.Index = 4
	h.add(NewView(other))
	if got := ids(h.WithCode("C1")); len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Errorf("after eviction WithCode(C1) = %v, want [2 3 4]", got)
	}
	if got := h.WithCode("nope"); got != nil {
		t.Errorf("WithCode(unknown) = %v", got)
	}
	if (*History)(nil).WithCode("C1") != nil {
		t.Errorf("a nil history has codes")
	}
}
