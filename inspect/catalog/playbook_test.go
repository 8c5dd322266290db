package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// wantPlaybooks are the codes the explain command promises a playbook for.
var wantPlaybooks = []int{
	140001, 50143, 50058, 50133, 50089, 50173, 700082, 50076, 50079, 53003,
	50011, 50020, 90002, 700016, 7000215, 7000222, 65001, 70008, 54005, 50126,
	50053, 50055, 50057, 50105, 90072, 500011, 50194, 50196, 9002313, 900144,
	70011, 50146, 500113, 650057, 50000, 50012, 75011, 50072, 90014, 50034,
}

// playbookSections are the second-level headings every playbook has, in order.
var playbookSections = []string{
	"## What it means",
	"## Common causes",
	"## Confirm it in the trace",
	"## Fix",
	"## For support",
}

// knownRuleIDs are the aadproxy rules a playbook may point to. A playbook
// naming any other rule would send the reader looking for something that does
// not exist.
var knownRuleIDs = []string{
	"aadsts-error", "domain-hint-mismatch", "session-key-invalid", "clock-skew",
	"token-expired", "redirect-uri-mismatch", "state-mismatch", "nonce-mismatch",
	"pkce-mismatch", "code-reused", "endpoint-version-mix", "tenant-mismatch",
	"cookie-dropped", "cookie-oversize", "signin-loop", "interaction-required",
}

var ruleRef = regexp.MustCompile("[Rr]ules? `([^`]+)`")

func TestEveryWantedCodeHasPlaybook(t *testing.T) {
	for _, code := range wantPlaybooks {
		if _, ok := Playbook(code); !ok {
			t.Errorf("Playbook(%d): got none, want one", code)
		}
	}
	got := PlaybookCodes()
	if !slices.IsSorted(got) {
		t.Errorf("PlaybookCodes(): got %v, want ascending", got)
	}
	want := slices.Sorted(slices.Values(wantPlaybooks))
	if !slices.Equal(got, want) {
		t.Errorf("PlaybookCodes(): got %v, want %v", got, want)
	}
}

func TestPlaybookMissing(t *testing.T) {
	for _, code := range []int{0, -1, 16000, 123456789} {
		if pb, ok := Playbook(code); ok || pb != "" {
			t.Errorf("Playbook(%d): got (%d bytes, %v), want (\"\", false)", code, len(pb), ok)
		}
	}
}

func TestPlaybookStructure(t *testing.T) {
	for _, code := range PlaybookCodes() {
		pb, _ := Playbook(code)
		lines := strings.Split(strings.TrimRight(pb, "\n"), "\n")

		entry, ok := Lookup(code)
		if !ok {
			t.Errorf("playbook %d: code not in catalog", code)
			continue
		}
		wantTitle := fmt.Sprintf("# AADSTS%d %s", code, entry.Name)
		if lines[0] != wantTitle {
			t.Errorf("playbook %d title: got %q, want %q", code, lines[0], wantTitle)
		}

		var headings []string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "#") {
				headings = append(headings, l)
			}
		}
		if !slices.Equal(headings, playbookSections) {
			t.Errorf("playbook %d headings: got %q, want %q", code, headings, playbookSections)
		}
		for i, sec := range sectionBodies(lines) {
			if strings.TrimSpace(sec) == "" {
				t.Errorf("playbook %d: section %q is empty", code, playbookSections[i])
			}
		}
		if n := len(lines); n < 20 || n > 70 {
			t.Errorf("playbook %d: got %d lines, want 20 to 70", code, n)
		}
		refs := ruleRef.FindAllStringSubmatch(pb, -1)
		if len(refs) == 0 {
			t.Errorf("playbook %d: names no aadproxy rule", code)
		}
		for _, m := range refs {
			if !slices.Contains(knownRuleIDs, m[1]) {
				t.Errorf("playbook %d: names rule %q, want one of %v", code, m[1], knownRuleIDs)
			}
		}
		if strings.Contains(pb, "\r") {
			t.Errorf("playbook %d: contains a carriage return", code)
		}
	}
}

// sectionBodies returns the text under each second-level heading, in order.
func sectionBodies(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			out = append(out, "")
			continue
		}
		if len(out) > 0 {
			out[len(out)-1] += l + "\n"
		}
	}
	return out
}

// maxSharedLines is how many substantial lines two playbooks may have in
// common. A few short shared lines are natural; more means one was pasted
// from the other and edited instead of written for its code.
const maxSharedLines = 2

func TestPlaybooksAreNotNearCopies(t *testing.T) {
	codes := PlaybookCodes()
	body := make(map[int]map[string]bool, len(codes))
	for _, code := range codes {
		pb, _ := Playbook(code)
		set := make(map[string]bool)
		for _, l := range strings.Split(pb, "\n") {
			l = strings.TrimSpace(l)
			if len(l) < 30 || strings.HasPrefix(l, "#") {
				continue
			}
			set[l] = true
		}
		body[code] = set
	}
	for i, a := range codes {
		for _, b := range codes[i+1:] {
			var shared []string
			for l := range body[a] {
				if body[b][l] {
					shared = append(shared, l)
				}
			}
			if len(shared) > maxSharedLines {
				slices.Sort(shared)
				t.Errorf("playbooks %d and %d share %d lines, want at most %d: %q", a, b, len(shared), maxSharedLines, shared)
			}
		}
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"AADSTS50143", 50143, false},
		{"aadsts50143", 50143, false},
		{"AadStS50143", 50143, false},
		{"50143", 50143, false},
		{"  AADSTS50143\t", 50143, false},
		{"\n50058 ", 50058, false},
		{"9002313", 9002313, false},
		{"AADSTS", 0, true},
		{"", 0, true},
		{"   ", 0, true},
		{"AADSTS 50143", 0, true},
		{"AADSTS50143:", 0, true},
		{"AADSTS-50143", 0, true},
		{"+50143", 0, true},
		{"-1", 0, true},
		{"0", 0, true},
		{"50,143", 0, true},
		{"5O143", 0, true},
		{"AADSTSAADSTS50143", 0, true},
		{"AADSTS５０１４３", 0, true},
		{"1234567890", 0, true},
		{"99999999999999999999999", 0, true},
		{"AADST50143", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCode(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCode(%q): got (%d, %v), want (%d, error=%v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"AADSTS50143", "aadsts1", " 50058 ", "", "AADSTS", "-1", "٣", "AADSTS\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ParseCode(s)
		if err != nil {
			if code != 0 {
				t.Errorf("ParseCode(%q): got %d with error %v, want 0", s, code, err)
			}
			return
		}
		if code <= 0 {
			t.Errorf("ParseCode(%q): got %d, want a positive code", s, code)
		}
		// Whatever was accepted must read back to the same code in the
		// canonical spelling, so explain and the rules agree on it.
		back, err := ParseCode(fmt.Sprintf("AADSTS%d", code))
		if err != nil || back != code {
			t.Errorf("ParseCode(AADSTS%d): got (%d, %v), want (%d, nil)", code, back, err, code)
		}
	})
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		wantKnown bool
		want      []string // substrings that must appear
		notWant   []string // substrings that must not appear
	}{
		{
			name:      "known with playbook",
			code:      50143,
			wantKnown: true,
			want:      []string{"AADSTS50143 SessionMismatch (category: session)", "# AADSTS50143 SessionMismatch", "## For support"},
			notWant:   []string{"unknown to aadproxy", "no playbook"},
		},
		{
			name:      "our own name with playbook",
			code:      54005,
			wantKnown: true,
			want:      []string{"AADSTS54005 AuthCodeAlreadyRedeemed (category: token)", "aadproxy's own", "## Fix"},
			notWant:   []string{"~"},
		},
		{
			name:      "known without playbook",
			code:      16000,
			wantKnown: true,
			want:      []string{"AADSTS16000 InteractionRequired (category: tenant)", "no playbook", "https://login.microsoftonline.com/error?code=16000"},
			notWant:   []string{"## ", "unknown to aadproxy"},
		},
		{
			name:      "unknown",
			code:      4242424,
			wantKnown: false,
			want:      []string{"AADSTS4242424 is unknown to aadproxy", "https://login.microsoftonline.com/error?code=4242424"},
			notWant:   []string{"## ", "category:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			known, err := Explain(&buf, tt.code)
			if err != nil {
				t.Fatalf("Explain(%d): got error %v, want nil", tt.code, err)
			}
			if known != tt.wantKnown {
				t.Errorf("Explain(%d): got known=%v, want %v", tt.code, known, tt.wantKnown)
			}
			out := buf.String()
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("Explain(%d): output lacks %q:\n%s", tt.code, s, out)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(out, s) {
					t.Errorf("Explain(%d): output has %q, want it absent:\n%s", tt.code, s, out)
				}
			}
		})
	}
}

func TestExplainEveryPlaybookCodeIsKnown(t *testing.T) {
	for _, code := range PlaybookCodes() {
		known, err := Explain(&bytes.Buffer{}, code)
		if err != nil || !known {
			t.Errorf("Explain(%d): got (%v, %v), want (true, nil)", code, known, err)
		}
	}
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestExplainWriteError(t *testing.T) {
	known, err := Explain(failingWriter{}, 50058)
	if !errors.Is(err, errWrite) {
		t.Errorf("Explain(failing writer): got error %v, want %v", err, errWrite)
	}
	if !known {
		t.Errorf("Explain(failing writer, 50058): got known=false, want true")
	}
}
