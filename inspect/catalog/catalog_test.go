package catalog

import (
	"os"
	"strings"
	"testing"
)

func TestTableSize(t *testing.T) {
	if got, want := len(All()), 355; got != want {
		t.Fatalf("len(All()): got %d, want %d", got, want)
	}
}

// TestEmbeddedCopyMatchesShared guards against the embedded copy drifting from
// the shared table it was copied from (the shared file lives outside the
// module, where go:embed cannot reach).
func TestEmbeddedCopyMatchesShared(t *testing.T) {
	b, err := os.ReadFile("../../../shared/aadsts_codes.tsv")
	if err != nil {
		t.Skipf("shared table not beside the checkout: %v", err)
	}
	if string(b) != codesTSV {
		t.Errorf("inspect/catalog/aadsts_codes.tsv differs from shared/aadsts_codes.tsv: copy it again")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		code     int
		name     string
		category string
		ours     bool
		severity string
	}{
		{50143, "SessionMismatch", "session", false, SeverityError},
		{50058, "UserInformationNotProvided", "session", false, SeverityWarning},
		{70016, "AuthorizationPending", "token", false, SeverityInfo},
		{65001, "DelegationDoesNotExist", "consent", false, SeverityError},
		{50089, "FlowTokenExpired", "session", true, SeverityError},
		{9002341, "UserMustPermitSso", "consent", true, SeverityError},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.code)
		if !ok {
			t.Errorf("Lookup(%d): not found", tt.code)
			continue
		}
		if e.Code != tt.code || e.Name != tt.name || e.Category != tt.category || e.Ours != tt.ours || e.Severity != tt.severity {
			t.Errorf("Lookup(%d): got %+v, want name %q category %q ours %v severity %q", tt.code, e, tt.name, tt.category, tt.ours, tt.severity)
		}
	}
	if e, ok := Lookup(12345678); ok {
		t.Errorf("Lookup(12345678): got %+v, want not found", e)
	}
}

// TestCodesMissingFromMicrosoft checks the codes ENTRA.md names as absent from
// Microsoft's table but seen in real traffic.
func TestCodesMissingFromMicrosoft(t *testing.T) {
	for _, code := range []int{500113, 700024, 700051, 700081, 900051, 1002014, 7000016, 5000611} {
		e, ok := Lookup(code)
		if !ok {
			t.Errorf("Lookup(%d): not found, want present", code)
			continue
		}
		if !e.Ours {
			t.Errorf("Lookup(%d).Ours: got false, want true (the name is ours)", code)
		}
	}
}

func TestHints(t *testing.T) {
	required := []int{140001, 140000, 50143, 50058, 50133, 50132, 50089, 50173, 700082, 70008, 50076, 50079,
		53003, 50011, 50020, 90002, 700016, 7000215, 7000222, 65001, 54005, 50126, 50053, 50055, 50057, 50105,
		90072, 500011, 50194, 50196, 9002313, 900144, 70011, 50146, 500113, 650057, 50000, 50012, 75011, 50072,
		90014, 50034, 700024, 501481, 70016, 50148, 70002, 50192}
	for _, code := range required {
		e, ok := Lookup(code)
		if !ok {
			t.Errorf("Lookup(%d): not found", code)
			continue
		}
		if e.Hint == "" {
			t.Errorf("Lookup(%d).Hint: empty, want a hint", code)
		}
	}
	for code, h := range hints {
		if _, ok := Lookup(code); !ok {
			t.Errorf("hint for %d: code not in the catalog", code)
		}
		if h == "" || strings.ContainsAny(h, "\r\n") || strings.HasSuffix(h, ".") {
			t.Errorf("hint for %d: %q is not one line without a trailing period", code, h)
		}
		if first := h[:1]; strings.ToUpper(first) != first {
			t.Errorf("hint for %d: %q does not start with a capitalised verb", code, h)
		}
	}
}

func TestAllIsSortedCopy(t *testing.T) {
	all := All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Code >= all[i].Code {
			t.Fatalf("All(): %d before %d, want ascending unique codes", all[i-1].Code, all[i].Code)
		}
	}
	all[0].Name = "changed"
	if All()[0].Name == "changed" {
		t.Errorf("All(): mutating the result changed the catalog")
	}
}

func TestSeverityValues(t *testing.T) {
	for _, e := range All() {
		switch e.Severity {
		case SeverityInfo, SeverityWarning, SeverityError:
		default:
			t.Errorf("Lookup(%d).Severity: got %q, want info, warning or error", e.Code, e.Severity)
		}
	}
}
