package rules

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/catalog"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

func TestAllValid(t *testing.T) {
	if err := inspect.Validate(All()); err != nil {
		t.Fatalf("Validate(All()): %v", err)
	}
	if len(All()) == 0 || All()[0] != AADSTSError {
		t.Errorf("All(): got %v, want aadsts-error first", All())
	}
}

// TestValidateCatchesBrokenRules makes broken copies of real rules, so the
// check that guards All() is shown to bite.
func TestValidateCatchesBrokenRules(t *testing.T) {
	badID := *AADSTSError
	badID.ID = "AADSTS_Error"
	emptyDoc := *AADSTSError
	emptyDoc.Doc = ""
	tests := []struct {
		name  string
		rules []*inspect.Rule
		want  string
	}{
		{"bad ID", []*inspect.Rule{&badID}, "not lower-kebab-case"},
		{"empty doc", []*inspect.Rule{&emptyDoc}, "empty doc"},
		{"duplicate", append(All(), AADSTSError), "duplicate ID"},
	}
	for _, tt := range tests {
		if err := inspect.Validate(tt.rules); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%s): got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestCodeSegment(t *testing.T) {
	const two = "AADSTS70002: Error validating credentials. AADSTS70008: The provided authorization code or refresh token is expired."
	tests := []struct {
		msg  string
		code int
		want string
	}{
		{two, 70002, "AADSTS70002: Error validating credentials."},
		{two, 70008, "AADSTS70008: The provided authorization code or refresh token is expired."},
		{two, 50058, two},
		{"AADSTS50011: see AADSTS50011 docs. AADSTS90002: tenant not found", 50011, "AADSTS50011: see AADSTS50011 docs."},
		{"", 70008, ""},
	}
	for _, tt := range tests {
		if got := codeSegment(tt.msg, tt.code); got != tt.want {
			t.Errorf("codeSegment(%q, %d): got %q, want %q", tt.msg, tt.code, got, tt.want)
		}
	}
}

func TestAADSTSErrorFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", AADSTSError.ID), AADSTSError)
}

// TestAADSTSErrorFields checks what the fixtures' want lines do not: title,
// evidence and fix.
func TestAADSTSErrorFields(t *testing.T) {
	hint := func(code int) string {
		e, _ := catalog.Lookup(code)
		return e.Hint
	}
	tests := []struct {
		fixture  string
		title    string
		fix      string
		evidence []string
	}{
		{"silent_50058.txtar", "AADSTS50058 UserInformationNotProvided", hint(50058), []string{
			"redirect's fragment", "HTTP 302 to GET https://login.microsoftonline.com/common/oauth2/v2.0/authorize (error=login_required)",
			"error=login_required", "trace ID 5e6f7a8b-0000-4000-8000-00000000a001", "correlation ID 9c8d7e6f-0000-4000-8000-00000000c001",
			"at 2024-01-05T09:30:00Z", "prompt=none", `message: "AADSTS50058: A silent sign-in request was sent but no user is signed in."`,
		}},
		{"silent_65001.txtar", "AADSTS65001 DelegationDoesNotExist", hint(65001), []string{"redirect's query", "severity lowered to warning"}},
		{"error_page_50011.txtar", "AADSTS50011 InvalidReplyTo", hint(50011), []string{"HTML error page's $Config", "HTTP 200", "correlation ID 9c8d7e6f"}},
		{"ropc_50076.txtar", "AADSTS50076 UserStrongAuthClientAuthNRequired", hint(50076), []string{"JSON error body", "suberror=basic_action", "at 2024-03-26T21:48:02Z"}},
		{"ca_block_53003.txtar", "AADSTS53003 BlockedByConditionalAccess", hint(53003), []string{"capolids", "suberror=message_only"}},
		{"multi_code_v1.txtar", "AADSTS70002 InvalidClient", hint(70002), []string{"also AADSTS70008 (each reported as its own finding)", "AADSTS70002: Error validating credentials. AADSTS70008"}},
		{"unknown_code.txtar", "AADSTS1234567 unknown", "Look the code up: https://login.microsoftonline.com/error?code=1234567", []string{"Something new"}},
	}
	for _, tt := range tests {
		got := fixtureFindings(t, AADSTSError, tt.fixture)
		if len(got) == 0 {
			t.Errorf("%s: no findings", tt.fixture)
			continue
		}
		f := got[0]
		if f.Title != tt.title || f.Fix != tt.fix || tt.fix == "" {
			t.Errorf("%s: got title %q fix %q, want %q and %q", tt.fixture, f.Title, f.Fix, tt.title, tt.fix)
		}
		for _, s := range tt.evidence {
			if !strings.Contains(f.Evidence, s) {
				t.Errorf("%s: evidence %q does not contain %q", tt.fixture, f.Evidence, s)
			}
		}
		if strings.ContainsAny(f.Evidence, "\r\n") {
			t.Errorf("%s: evidence %q spans lines", tt.fixture, f.Evidence)
		}
	}
	// Every code of a multi-code answer is named, the decisive one first.
	got := fixtureFindings(t, AADSTSError, "multi_code_v1.txtar")
	if len(got) != 2 || got[0].Code != 70002 || got[1].Code != 70008 {
		t.Fatalf("multi_code_v1: got %+v, want findings for 70002 then 70008", got)
	}
	second := got[1]
	if second.Title != "AADSTS70008 ExpiredOrRevokedGrant" || second.Fix != hint(70008) || second.Fix == got[0].Fix {
		t.Errorf("multi_code_v1: second finding has title %q fix %q, want 70008's own name and hint %q", second.Title, second.Fix, hint(70008))
	}
	for _, s := range []string{
		"code 2 of 2 in this answer, after AADSTS70002, the decisive one",
		`message: "AADSTS70008: The provided authorization code or refresh token is expired. Send a new interactive authorization request for this user and resource."`,
		"trace ID 3939d04c-0000-4000-8000-000000000001",
	} {
		if !strings.Contains(second.Evidence, s) {
			t.Errorf("multi_code_v1: second evidence %q does not contain %q", second.Evidence, s)
		}
	}
	if strings.Contains(second.Evidence, "Error validating credentials") {
		t.Errorf("multi_code_v1: second evidence %q quotes the first code's message", second.Evidence)
	}
	// Not lowered: the interactive twin does not claim it was.
	if got := fixtureFindings(t, AADSTSError, "interactive_65001.txtar"); len(got) != 1 || strings.Contains(got[0].Evidence, "prompt=none") {
		t.Errorf("interactive_65001: got %+v, want one finding without the silent note", got)
	}
}
