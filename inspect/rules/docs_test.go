package rules

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/inspect"
)

// rulesDocPath is docs/rules.md, relative to this package's folder.
var rulesDocPath = filepath.Join("..", "..", "docs", "rules.md")

// The -update flag is shared with other tests of this package that keep
// golden files: it is defined here only when nobody defined it first
// (package-level flag variables are initialised before init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated files (docs/rules.md) instead of comparing")
	}
}

func updateRequested() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// renderRulesDoc renders the rules' own ID, Title, Severity and Doc as
// Markdown, in All() order.
func renderRulesDoc(rules []*inspect.Rule) string {
	var b strings.Builder
	b.WriteString("# aadproxy rules\n\n")
	b.WriteString("<!-- Generated from each rule's ID, Title, Severity and Doc in inspect/rules by\n")
	b.WriteString("     `go test ./inspect/rules -update`. Do not edit by hand: the test fails when this file is stale. -->\n\n")
	b.WriteString("Each rule reads the recorded flows and reports findings with evidence (the flows, the field, the values\n")
	b.WriteString("compared) and a fix. The severity below is the rule's default; a finding may set its own. A rule runs on\n")
	b.WriteString("the flows that carry identity material (decided once per flow from its content), or on every flow.\n\n")
	b.WriteString("| Rule | Default severity | Runs on | What it reports |\n|---|---|---|---|\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, r.ID, r.Severity, runsOn(r), mdEscape(strings.ReplaceAll(r.Title, "|", `\|`)))
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		fmt.Fprintf(&b, "**%s** (default severity: %s)\n\n", mdEscape(r.Title), r.Severity)
		b.WriteString(mdEscape(strings.TrimSpace(r.Doc)))
		b.WriteString("\n")
	}
	return b.String()
}

func runsOn(r *inspect.Rule) string {
	if r.AnyFlow {
		return "every flow"
	}
	return "identity flows"
}

// mdEscape keeps doc text literal in Markdown: "*" would start emphasis
// (OpenIdConnect.nonce.* … esctx-*) and "<" a raw HTML tag.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "<", "&lt;").Replace(s)
}

func TestRulesDocUpToDate(t *testing.T) {
	want := renderRulesDoc(All())
	if updateRequested() {
		if err := os.MkdirAll(filepath.Dir(rulesDocPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rulesDocPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(rulesDocPath)
	if err != nil {
		t.Fatalf("read %s: %v (generate it with: go test ./inspect/rules -update)", rulesDocPath, err)
	}
	if d := firstDiff(string(got), want); d != "" {
		t.Errorf("%s is stale (%s); regenerate it with: go test ./inspect/rules -update", rulesDocPath, d)
	}
}

// firstDiff describes the first line where got and want differ, or "".
func firstDiff(got, want string) string {
	if got == want {
		return ""
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, gl, wl)
		}
	}
	return "they differ in line endings"
}

func TestRenderRulesDoc(t *testing.T) {
	rules := []*inspect.Rule{AADSTSError, CookieOversize, SignInLoop}
	doc := renderRulesDoc(rules)
	for _, r := range rules {
		for _, s := range []string{"\n## " + r.ID + "\n", "[`" + r.ID + "`](#" + r.ID + ")", "default severity: " + r.Severity.String()} {
			if !strings.Contains(doc, s) {
				t.Errorf("renderRulesDoc: output lacks %q", s)
			}
		}
	}
	// The loop thresholds are documented from the constants.
	if !strings.Contains(doc, fmt.Sprintf("SignInLoopCount (%d)", SignInLoopCount)) {
		t.Errorf("renderRulesDoc: signin-loop doc does not name SignInLoopCount")
	}
	if strings.Contains(doc, "nonce.* ") || strings.Contains(doc, "<another") {
		t.Errorf("renderRulesDoc: Markdown specials left unescaped")
	}
	if firstDiff(doc, doc) != "" || !strings.Contains(firstDiff(doc, strings.Replace(doc, "## signin-loop", "## signin-loops", 1)), "line ") {
		t.Errorf("firstDiff: does not tell equal and stale documents apart")
	}
}
