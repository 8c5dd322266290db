package rules

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/inspecttest"
)

// startRE reads the start-time lines fixtures for clock rules put in their
// comment ("start flow=0 2024-06-01T12:00:00Z"): txtar fixtures have no
// field for flow.Timings.Start, which live capture and HAR fill in.
var startRE = regexp.MustCompile(`(?m)^start flow=(\d+) (\S+)$`)

// cachedRE reads the lines that mark a flow as answered by the browser's
// cache ("cached flow=2 disk"), as a browser's HAR does.
var cachedRE = regexp.MustCompile(`(?m)^cached flow=(\d+) (\S+)$`)

// loadTimedFixture loads a fixture and applies its start-time lines.
func loadTimedFixture(t *testing.T, path string) *inspecttest.Fixture {
	t.Helper()
	fx, err := inspecttest.LoadFixture(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range startRE.FindAllStringSubmatch(fx.Comment, -1) {
		var idx int
		for _, c := range m[1] {
			idx = idx*10 + int(c-'0')
		}
		at, err := time.Parse(time.RFC3339Nano, m[2])
		if err != nil || idx >= len(fx.Flows) {
			t.Fatalf("%s: bad start line %q: %v", fx.Name, m[0], err)
		}
		fx.Flows[idx].Timings.Start = at
	}
	for _, m := range cachedRE.FindAllStringSubmatch(fx.Comment, -1) {
		idx, err := strconv.Atoi(m[1])
		if err != nil || idx >= len(fx.Flows) {
			t.Fatalf("%s: bad cached line %q", fx.Name, m[0])
		}
		fx.Flows[idx].Cached = m[2]
	}
	return fx
}

// runTimedFixtures is inspecttest.Run with start-time lines applied.
func runTimedFixtures(t *testing.T, dir string, rules ...*inspect.Rule) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if len(paths) == 0 {
		t.Fatalf("no *.txtar fixtures in %s", dir)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			fx := loadTimedFixture(t, path)
			got, err := inspecttest.RunRules(fx, rules...)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range inspecttest.Check(fx.Want, got) {
				t.Errorf("%s: %s", fx.Name, p)
			}
		})
	}
}

// fieldCase checks what want lines cannot: the first finding's title,
// evidence and fix.
type fieldCase struct {
	fixture  string
	title    string
	fix      string   // a prefix of the fix
	evidence []string // substrings of the evidence
	related  []int
}

func checkFields(t *testing.T, rule *inspect.Rule, cases []fieldCase) {
	t.Helper()
	for _, tt := range cases {
		fx := loadTimedFixture(t, filepath.Join("testdata", rule.ID, tt.fixture))
		got, err := inspecttest.RunRules(fx, rule)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Errorf("%s: no findings", tt.fixture)
			continue
		}
		f := got[0]
		if f.Title != tt.title || !strings.HasPrefix(f.Fix, tt.fix) || tt.fix == "" {
			t.Errorf("%s: got title %q fix %q, want %q and a fix starting %q", tt.fixture, f.Title, f.Fix, tt.title, tt.fix)
		}
		for _, s := range tt.evidence {
			if !strings.Contains(f.Evidence, s) {
				t.Errorf("%s: evidence %q does not contain %q", tt.fixture, f.Evidence, s)
			}
		}
		if strings.ContainsAny(f.Evidence, "\r\n") || strings.Contains(f.Evidence, "eyJ") {
			t.Errorf("%s: evidence %q spans lines or quotes a token", tt.fixture, f.Evidence)
		}
		if tt.related != nil && !equalInts(f.Related, tt.related) {
			t.Errorf("%s: related %v, want %v", tt.fixture, f.Related, tt.related)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const (
	testContoso  = "5f3c1e2a-8b4d-4c6e-9a1f-2d7b3e8c4a60"
	testFabrikam = "a3d9e7b1-4f2c-4e8a-b6d5-91c0f2e4a7b3"
)

func TestDomainHintMismatchFixtures(t *testing.T) {
	inspecttest.Run(t, filepath.Join("testdata", DomainHintMismatch.ID), DomainHintMismatch)
}

func TestDomainHintMismatchFields(t *testing.T) {
	checkFields(t, DomainHintMismatch, []fieldCase{
		{"session_50143.txtar", "Domain hint does not match the signed-in session's tenant (AADSTS50143)", "Send the domain_hint", []string{
			"flow 2 (GET https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize) got AADSTS50143",
			"session's user tenant is " + testContoso, `domain hint is "fabrikam.com"`,
			"domain_hint fabrikam.com names tenant " + testFabrikam + " (per the issuer of the OpenID discovery answer for fabrikam.com in flow 0), but the request carries",
			"session cookie (ESTSAUTH) of alice@contoso.com, whose home tenant is " + testContoso + " (per client_info utid in flow 1)",
		}, []int{0, 1}},
		{"consumers_hint.txtar", "Domain hint names another tenant than the path or the session", "Derive domain_hint", []string{
			"domain_hint consumers names personal accounts (consumers), but the request carries the session cookie (ESTSAUTH) of alice@contoso.com",
			"home tenant is " + testContoso,
		}, []int{0}},
		{"hint_vs_path.txtar", "Domain hint names another tenant than the path or the session", "Derive domain_hint", []string{
			"names tenant " + testFabrikam + " (per the issuer of the OpenID discovery answer for fabrikam.com in flow 0), but the path's tenant is /contoso.com/ (tenant " + testContoso + ", per the issuer of the OpenID discovery answer for contoso.com in flow 1)",
			"Entra ignores a domain hint",
		}, []int{0, 1}},
	})
}

func TestSessionMismatchMessage(t *testing.T) {
	for _, msg := range []string{
		"AADSTS50143: Session mismatch - Session is invalid because user tenant '" + testContoso + "' does not match the domain hint 'fabrikam.com' due to different resource.",
		"AADSTS50143: The signed-in user's tenant '" + testContoso + "' does not match the domain hint 'fabrikam.com', so the session cannot be used for this resource.",
	} {
		m := sessionMismatchRE.FindStringSubmatch(msg)
		if m == nil || m[1] != testContoso || m[2] != "fabrikam.com" {
			t.Errorf("sessionMismatchRE(%q): got %q, want the tenant and fabrikam.com", msg, m)
		}
	}
}
