package inspecttest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
)

// File is one section of a txtar archive.
type File struct {
	Name string
	Data string
}

// ParseTxtar reads the txtar format of golang.org/x/tools/txtar: a free
// comment, then sections that each start with a "-- name --" line. It is
// written out here so the module needs no x/tools dependency.
func ParseTxtar(data string) (comment string, files []File) {
	lines := strings.SplitAfter(data, "\n")
	var cur *File
	var b strings.Builder
	flush := func() {
		if cur == nil {
			comment = b.String()
		} else {
			cur.Data = b.String()
			files = append(files, *cur)
		}
		b.Reset()
	}
	for _, line := range lines {
		if name, ok := txtarMarker(line); ok {
			flush()
			cur = &File{Name: name}
			continue
		}
		b.WriteString(line)
	}
	flush()
	for i := range files {
		if files[i].Data != "" && !strings.HasSuffix(files[i].Data, "\n") {
			files[i].Data += "\n"
		}
	}
	return comment, files
}

func txtarMarker(line string) (string, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") || len(line) < len("-- x --") {
		return "", false
	}
	name := strings.TrimSpace(line[3 : len(line)-3])
	return name, name != ""
}

// Want is one finding a fixture expects.
type Want struct {
	Rule     string
	Severity inspect.Severity
	Code     int
	// Flow is the flow index the finding must be on, or -1 for any.
	Flow int
}

func (w Want) String() string {
	s := fmt.Sprintf("%s %s %d", w.Rule, w.Severity, w.Code)
	if w.Flow >= 0 {
		s += fmt.Sprintf(" flow=%d", w.Flow)
	}
	return s
}

func (w Want) matches(f inspect.Finding) bool {
	return w.Rule == f.Rule && w.Severity == f.Severity && w.Code == f.Code && (w.Flow < 0 || w.Flow == f.Flow)
}

// Fixture is a parsed txtar fixture: flows in order and the findings the
// rules under test must produce on them, no more and no fewer.
type Fixture struct {
	Name    string
	Comment string
	Flows   []*flow.Flow
	Want    []Want
}

// ParseFixture reads a fixture. Sections:
//
//	-- request --    raw request text; each one starts a new flow
//	-- response --   raw response text for the latest request (optional)
//	-- error --      transport error text for the latest request (optional)
//	-- want --       one expected finding per line: "rule severity code [flow=N]"
//
// Section names may carry a suffix after a space ("request 2") for
// readability. The code may be written "AADSTS50058", "50058" or "0". Lines
// starting with # and blank lines in the want section are ignored; an empty
// or missing want section means no findings at all.
func ParseFixture(name, data string) (*Fixture, error) {
	comment, files := ParseTxtar(data)
	fx := &Fixture{Name: name, Comment: comment}
	var cur *flow.Flow
	for _, f := range files {
		kind, _, _ := strings.Cut(f.Name, " ")
		switch kind {
		case "request":
			req, err := ParseRequest(f.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: section %q: %w", name, f.Name, err)
			}
			cur = &flow.Flow{Index: len(fx.Flows), Request: req}
			fx.Flows = append(fx.Flows, cur)
		case "response":
			if cur == nil {
				return nil, fmt.Errorf("%s: section %q comes before any request", name, f.Name)
			}
			if cur.Response != nil {
				return nil, fmt.Errorf("%s: section %q: flow %d already has a response", name, f.Name, cur.Index)
			}
			resp, err := ParseResponse(f.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: section %q: %w", name, f.Name, err)
			}
			cur.Response = resp
		case "error":
			if cur == nil {
				return nil, fmt.Errorf("%s: section %q comes before any request", name, f.Name)
			}
			cur.Error = strings.TrimSpace(f.Data)
		case "want":
			w, err := parseWant(f.Data)
			if err != nil {
				return nil, fmt.Errorf("%s: section %q: %w", name, f.Name, err)
			}
			fx.Want = append(fx.Want, w...)
		default:
			return nil, fmt.Errorf("%s: unknown section %q", name, f.Name)
		}
	}
	if len(fx.Flows) == 0 {
		return nil, fmt.Errorf("%s: no request section", name)
	}
	return fx, nil
}

func parseWant(text string) ([]Want, error) {
	var out []Want
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || len(fields) > 4 {
			return nil, fmt.Errorf("line %d: %q: want \"rule severity code [flow=N]\"", i+1, line)
		}
		sev, err := inspect.ParseSeverity(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		code, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(fields[2]), "AADSTS"))
		if err != nil || code < 0 {
			return nil, fmt.Errorf("line %d: bad code %q", i+1, fields[2])
		}
		w := Want{Rule: fields[0], Severity: sev, Code: code, Flow: -1}
		if len(fields) == 4 {
			n, ok := strings.CutPrefix(fields[3], "flow=")
			idx, err := strconv.Atoi(n)
			if !ok || err != nil || idx < 0 {
				return nil, fmt.Errorf("line %d: bad flow %q (want flow=N)", i+1, fields[3])
			}
			w.Flow = idx
		}
		out = append(out, w)
	}
	return out, nil
}

// LoadFixture reads and parses a fixture file.
func LoadFixture(path string) (*Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load fixture: %w", err)
	}
	return ParseFixture(filepath.Base(path), string(b))
}

// FixedNow is the clock fixtures run with, so rules that compare times in
// traffic with "now" give the same answer on every run.
var FixedNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// RunRules feeds a fixture's flows to an engine running rules, as the proxy
// would, then finishes the trace, and returns every finding.
func RunRules(fx *Fixture, rules ...*inspect.Rule) ([]inspect.Finding, error) {
	e, err := inspect.NewEngine(rules, inspect.Options{Now: func() time.Time { return FixedNow }})
	if err != nil {
		return nil, err
	}
	var out []inspect.Finding
	for _, f := range fx.Flows {
		out = append(out, e.Add(f)...)
	}
	return append(out, e.Finish()...), nil
}

// Check compares findings with what a fixture wants, both ways: every
// wanted finding must appear and every finding must be wanted. It returns
// one line per problem, none when they agree.
func Check(want []Want, got []inspect.Finding) []string {
	used := make([]bool, len(got))
	var problems []string
	for _, w := range want {
		found := false
		for i, f := range got {
			if !used[i] && w.matches(f) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			problems = append(problems, "missing finding: "+w.String())
		}
	}
	for i, f := range got {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("unexpected finding: %s %s %d flow=%d: %s (%s)", f.Rule, f.Severity, f.Code, f.Flow, f.Title, f.Evidence))
		}
	}
	sort.Strings(problems)
	return problems
}

// Run runs rules over every *.txtar fixture in dir, one subtest each, and
// fails on missing and unexpected findings. A dir without fixtures fails
// too, so a misplaced folder cannot make a test pass silently.
func Run(t *testing.T, dir string, rules ...*inspect.Rule) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatalf("list fixtures in %s: %v", dir, err)
	}
	if len(paths) == 0 {
		t.Fatalf("no *.txtar fixtures in %s", dir)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			fx, err := LoadFixture(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RunRules(fx, rules...)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range Check(fx.Want, got) {
				t.Errorf("%s: %s", fx.Name, p)
			}
		})
	}
}
