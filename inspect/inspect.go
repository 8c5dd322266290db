// Package inspect is aadproxy's rule engine. It owns the types rules are
// written against (Rule, Pass, Finding, Severity), the Engine that runs every
// rule over each completed flow with fault isolation, and the bounded History
// that cross-flow rules read. The model is golang.org/x/tools/go/analysis: a
// rule is data plus a run function, and it reports findings as values.
//
// The engine consumes flow.Flow only. It must not import goproxy, net/http
// server code or any sink, so that live capture and offline traces (HAR,
// SAZ) share it; decoders live in inspect/decode, code knowledge in
// inspect/catalog and the rules themselves in inspect/rules.
package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Severity ranks a finding. The zero value means "not set": Pass.Report
// replaces it with the rule's default.
type Severity int

// Severities, from least to most serious.
const (
	Info Severity = iota + 1
	Warning
	Error
)

var severityNames = map[Severity]string{Info: "info", Warning: "warning", Error: "error"}

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Valid reports whether s is one of Info, Warning and Error.
func (s Severity) Valid() bool {
	_, ok := severityNames[s]
	return ok
}

// ParseSeverity reads "info", "warning" or "error" (any case).
func ParseSeverity(s string) (Severity, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for sev, name := range severityNames {
		if name == t {
			return sev, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning or error)", s)
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("marshal severity: invalid value %d", int(s))
	}
	return json.Marshal(s.String())
}

// UnmarshalJSON reads a severity name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("unmarshal severity: %w", err)
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one thing a rule noticed.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Code is the AADSTS number the finding is about, or 0.
	Code int `json:"code"`
	// Flow is the 0-based index of the flow the finding is about.
	Flow  int    `json:"flow"`
	Title string `json:"title"`
	// Evidence names where the problem shows (flow, field, values compared).
	Evidence string `json:"evidence"`
	// Fix says what to do, verb first.
	Fix string `json:"fix"`
	// Related lists other flows involved.
	Related []int `json:"related,omitempty"`
}

// InternalRule is the rule ID of findings the engine makes when a rule
// panics or fails; no real rule may use it.
const InternalRule = "internal"

// Rule is one check. Rules are values listed explicitly (see inspect/rules),
// never registered from init.
type Rule struct {
	// ID is stable and lower-kebab-case, e.g. "domain-hint-mismatch".
	ID string
	// Title is one line.
	Title string
	// Doc explains the rule, with a bad-trace example.
	Doc string
	// Severity is the default for findings that do not set their own.
	Severity Severity
	// Run inspects Pass.Flow; it runs once per completed flow. It reports
	// findings through Pass.Report and returns an error only when the rule
	// itself is broken.
	Run func(*Pass) error
	// Finish, if set, runs once at the end of a trace with Pass.Flow nil, for
	// rules that need the whole trace (a sign-in that never completed).
	Finish func(*Pass) error
	// AnyFlow makes Run see every flow. By default a rule runs only on
	// flows that carry identity material (View.Identity), which keeps
	// inspection of the rest of a browser's traffic near free.
	AnyFlow bool
}

var ruleIDRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Validate checks a rule list: every rule non-nil with a lower-kebab-case
// ID, a title, a doc, a valid severity and a Run function, and no ID used
// twice or reserved. It reports every problem, not just the first.
func Validate(rules []*Rule) error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		if r == nil {
			errs = append(errs, fmt.Errorf("rule %d is nil", i))
			continue
		}
		name := r.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		switch {
		case !ruleIDRE.MatchString(r.ID):
			errs = append(errs, fmt.Errorf("rule %s: ID %q is not lower-kebab-case", name, r.ID))
		case r.ID == InternalRule:
			errs = append(errs, fmt.Errorf("rule %s: ID is reserved for the engine", name))
		case seen[r.ID]:
			errs = append(errs, fmt.Errorf("rule %s: duplicate ID", name))
		}
		seen[r.ID] = true
		if strings.TrimSpace(r.Title) == "" {
			errs = append(errs, fmt.Errorf("rule %s: empty title", name))
		} else if strings.ContainsAny(r.Title, "\r\n") {
			errs = append(errs, fmt.Errorf("rule %s: title is more than one line", name))
		}
		if strings.TrimSpace(r.Doc) == "" {
			errs = append(errs, fmt.Errorf("rule %s: empty doc", name))
		}
		if !r.Severity.Valid() {
			errs = append(errs, fmt.Errorf("rule %s: invalid severity %d", name, int(r.Severity)))
		}
		if r.Run == nil {
			errs = append(errs, fmt.Errorf("rule %s: nil Run", name))
		}
	}
	return errors.Join(errs...)
}
