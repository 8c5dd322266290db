package inspect

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// rule makes a test rule that sees every flow, so engine tests need not
// build identity traffic.
func rule(id string, run func(*Pass) error) *Rule {
	return &Rule{ID: id, Title: "t " + id, Doc: "doc of " + id, Severity: Warning, Run: run, AnyFlow: true}
}

func nop(*Pass) error { return nil }

func newFlow(i int, url string, body string) *flow.Flow {
	return &flow.Flow{
		Index:    i,
		Request:  &flow.Request{Method: "GET", URL: url},
		Response: &flow.Response{Status: 200, Body: flow.Body{Raw: []byte(body), Size: int64(len(body))}},
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []Severity{Info, Warning, Error} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal(%v): %v", s, err)
		}
		if string(b) != `"`+s.String()+`"` {
			t.Errorf("json.Marshal(%v): got %s, want the quoted name", s, b)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("json.Unmarshal(%s): got (%v, %v), want %v", b, back, err, s)
		}
		if p, err := ParseSeverity(strings.ToUpper(s.String())); err != nil || p != s {
			t.Errorf("ParseSeverity(%q): got (%v, %v), want %v", strings.ToUpper(s.String()), p, err, s)
		}
	}
	if !(Info < Warning && Warning < Error) {
		t.Errorf("severities are not ordered: info %d, warning %d, error %d", Info, Warning, Error)
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Errorf("ParseSeverity(%q): got nil error, want one", "fatal")
	}
	if _, err := json.Marshal(Severity(0)); err == nil {
		t.Errorf("json.Marshal(Severity(0)): got nil error, want one")
	}
	b, err := json.Marshal(Finding{Rule: "r", Severity: Error, Code: 50058, Flow: 2})
	if err != nil || !strings.Contains(string(b), `"severity":"error"`) || strings.Contains(string(b), "related") {
		t.Errorf("json.Marshal(Finding): got (%s, %v), want severity by name and no empty related", b, err)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate([]*Rule{rule("aadsts-error", nop), rule("x2-y", nop)}); err != nil {
		t.Errorf("Validate(good rules): got %v, want nil", err)
	}
	tests := []struct {
		name  string
		rules []*Rule
		want  string
	}{
		{"upper case ID", []*Rule{rule("Bad-ID", nop)}, "not lower-kebab-case"},
		{"underscore ID", []*Rule{rule("bad_id", nop)}, "not lower-kebab-case"},
		{"trailing dash", []*Rule{rule("bad-", nop)}, "not lower-kebab-case"},
		{"empty ID", []*Rule{rule("", nop)}, "not lower-kebab-case"},
		{"reserved ID", []*Rule{rule("internal", nop)}, "reserved"},
		{"duplicate", []*Rule{rule("a", nop), rule("a", nop)}, "duplicate ID"},
		{"empty doc", []*Rule{{ID: "a", Title: "t", Doc: " ", Severity: Info, Run: nop}}, "empty doc"},
		{"empty title", []*Rule{{ID: "a", Doc: "d", Severity: Info, Run: nop}}, "empty title"},
		{"two-line title", []*Rule{{ID: "a", Title: "t\nu", Doc: "d", Severity: Info, Run: nop}}, "more than one line"},
		{"bad severity", []*Rule{{ID: "a", Title: "t", Doc: "d", Run: nop}}, "invalid severity"},
		{"nil Run", []*Rule{{ID: "a", Title: "t", Doc: "d", Severity: Info}}, "nil Run"},
		{"nil rule", []*Rule{nil}, "is nil"},
	}
	for _, tt := range tests {
		err := Validate(tt.rules)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%s): got %v, want an error containing %q", tt.name, err, tt.want)
		}
		if _, err := NewEngine(tt.rules, Options{}); err == nil {
			t.Errorf("NewEngine(%s): got nil error, want one", tt.name)
		}
	}
}

func TestOptions(t *testing.T) {
	o := Options{MaxHistory: 3}
	d := o.Default()
	if o.ClockSkewThreshold != 0 || o.Now != nil {
		t.Errorf("Options.Default changed its receiver: %+v", o)
	}
	if d.ClockSkewThreshold != 5*time.Minute || d.Now == nil || d.MaxHistory != 3 || d.HistoryBodyBudget != DefaultHistoryBodyBudget {
		t.Errorf("Options{MaxHistory: 3}.Default(): got %+v, want defaults with MaxHistory 3", d)
	}
	for _, bad := range []Options{{ClockSkewThreshold: -1}, {MaxHistory: -1}, {HistoryBodyBudget: -1}} {
		if bad.Validate() == nil {
			t.Errorf("Options(%+v).Validate(): got nil, want an error", bad)
		}
		if _, err := NewEngine(nil, bad); err == nil {
			t.Errorf("NewEngine(nil, %+v): got nil error, want one", bad)
		}
	}
	e, err := NewEngine(nil, o)
	if err != nil || e.Options().MaxHistory != 3 || e.Options().Now == nil {
		t.Errorf("NewEngine(nil, %+v): got (%+v, %v), want defaults filled", o, e.Options(), err)
	}
	if o.Now != nil {
		t.Errorf("NewEngine changed the caller's options: %+v", o)
	}
}

func TestAddFillsDefaultsAndRecovers(t *testing.T) {
	var sawHistory []int
	rules := []*Rule{
		rule("reporter", func(p *Pass) error {
			p.Report(Finding{Title: "seen", Code: 50058})
			p.Report(Finding{Title: "explicit", Severity: Error, Rule: "other", Related: []int{0}})
			sawHistory = append(sawHistory, p.History.Len())
			return nil
		}),
		rule("panicker", func(p *Pass) error {
			p.Report(Finding{Title: "before panic"})
			var m map[string]int
			m["boom"] = 1
			return nil
		}),
		rule("failer", func(p *Pass) error { return errors.New("cannot decide") }),
		rule("after", func(p *Pass) error { p.Report(Finding{Title: "still ran"}); return nil }),
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	e.Add(newFlow(0, "https://login.microsoftonline.com/x", ""))
	got := e.Add(newFlow(1, "https://login.microsoftonline.com/y", ""))
	want := []Finding{
		{Rule: "reporter", Severity: Warning, Code: 50058, Flow: 1, Title: "seen"},
		{Rule: "other", Severity: Error, Flow: 1, Title: "explicit", Related: []int{0}},
		{Rule: "panicker", Severity: Warning, Flow: 1, Title: "before panic"},
		{Rule: "internal", Severity: Warning, Flow: 1, Title: "rule panicker failed"},
		{Rule: "internal", Severity: Warning, Flow: 1, Title: "rule failer failed"},
		{Rule: "after", Severity: Warning, Flow: 1, Title: "still ran"},
	}
	if len(got) != len(want) {
		t.Fatalf("Add: got %d findings %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g := got[i]
		if g.Rule != want[i].Rule || g.Severity != want[i].Severity || g.Flow != want[i].Flow || g.Title != want[i].Title || g.Code != want[i].Code || len(g.Related) != len(want[i].Related) {
			t.Errorf("Add finding %d: got %+v, want %+v", i, g, want[i])
		}
	}
	if ev := got[3].Evidence; !strings.Contains(ev, "panicker") || !strings.Contains(ev, "nil map") || !strings.Contains(ev, "flow 1") {
		t.Errorf("panic evidence: got %q, want the rule, the panic and the flow", ev)
	}
	if ev := got[4].Evidence; !strings.Contains(ev, "cannot decide") {
		t.Errorf("error evidence: got %q, want the rule's error", ev)
	}
	if len(sawHistory) != 2 || sawHistory[0] != 0 || sawHistory[1] != 1 {
		t.Errorf("History.Len seen by rules: got %v, want [0 1] (earlier flows only)", sawHistory)
	}
	if e.Add(nil) != nil {
		t.Errorf("Add(nil): want nil")
	}
}

func TestReportAtFlowZero(t *testing.T) {
	e, _ := NewEngine([]*Rule{rule("back", func(p *Pass) error {
		if p.Flow.Index == 2 {
			p.ReportAt(0, Finding{Title: "about the first flow"})
		}
		return nil
	})}, Options{})
	var got []Finding
	for i := range 3 {
		got = append(got, e.Add(newFlow(i, "https://x/", ""))...)
	}
	if len(got) != 1 || got[0].Flow != 0 || got[0].Rule != "back" {
		t.Errorf("ReportAt(0): got %+v, want one finding on flow 0", got)
	}
}

func TestFinish(t *testing.T) {
	var flows []int
	r := rule("whole-trace", nop)
	r.Finish = func(p *Pass) error {
		if p.Flow != nil || p.View() != nil || p.Errors() != nil {
			t.Errorf("Finish pass: got flow %v, want nil", p.Flow)
		}
		for v := range p.History.Backward() {
			flows = append(flows, v.Flow.Index)
		}
		p.ReportAt(1, Finding{Title: "abandoned", Related: []int{0}})
		panic("late")
	}
	e, _ := NewEngine([]*Rule{r, rule("plain", nop)}, Options{})
	e.Add(newFlow(0, "https://x/", ""))
	e.Add(newFlow(1, "https://x/", ""))
	got := e.Finish()
	if len(got) != 2 || got[0].Title != "abandoned" || got[0].Flow != 1 || got[1].Rule != "internal" || !strings.Contains(got[1].Evidence, "end of the trace") {
		t.Errorf("Finish: got %+v, want the finding and an internal one for the panic", got)
	}
	if len(flows) != 2 || flows[0] != 1 || flows[1] != 0 {
		t.Errorf("History.Backward in Finish: got %v, want [1 0]", flows)
	}
}

func TestHistoryBounds(t *testing.T) {
	const errBody = `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired."}`
	e, err := NewEngine([]*Rule{rule("r", nop)}, Options{MaxHistory: 3, HistoryBodyBudget: int64(2 * len(errBody))})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	var flows []*flow.Flow
	for i := range 5 {
		f := newFlow(i, "https://x/", errBody)
		flows = append(flows, f)
		e.Add(f)
	}
	h := e.History()
	if h.Len() != 3 || h.At(0).Flow.Index != 2 || h.At(2).Flow.Index != 4 {
		t.Fatalf("History: got len %d, want the 3 newest flows (2..4)", h.Len())
	}
	if h.Flow(1) != nil || h.Flow(3) == nil || h.Flow(3).Flow.Index != 3 || h.Flow(99) != nil {
		t.Errorf("History.Flow: lookup by index wrong")
	}
	// Budget is two bodies: the oldest kept flow has lost its body, the two
	// newest keep theirs.
	if got := len(h.At(0).Flow.Response.Body.Raw); got != 0 || !h.At(0).Flow.Response.Body.Truncated {
		t.Errorf("oldest kept flow: body %d bytes, want stripped and marked truncated", got)
	}
	if got := len(h.At(2).Flow.Response.Body.Raw); got != len(errBody) {
		t.Errorf("newest flow: body %d bytes, want %d", got, len(errBody))
	}
	if errs := h.At(0).Errors(); len(errs) != 1 || errs[0].Code() != 50173 {
		t.Errorf("stripped flow's errors: got %+v, want the decoded 50173", errs)
	}
	if len(flows[2].Response.Body.Raw) != len(errBody) {
		t.Errorf("stripping changed the caller's flow")
	}
	if h.bodyBytes != int64(2*len(errBody)) {
		t.Errorf("history body bytes: got %d, want %d", h.bodyBytes, 2*len(errBody))
	}
}

func TestView(t *testing.T) {
	f := newFlow(0, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=c&prompt=none&bad=%zz", "")
	v := NewView(f)
	if !v.IsAuthorize() || !v.IsSilentAuthorize() || v.Params().Get("client_id") != "c" {
		t.Errorf("View(%s): authorize %v silent %v params %v, want silent authorize", f.Request.URL, v.IsAuthorize(), v.IsSilentAuthorize(), v.Params())
	}
	post := newFlow(1, "https://login.microsoftonline.com/contoso.test/oauth2/authorize/?x=1", "")
	post.Request.Method = "POST"
	post.Request.Header = flow.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	post.Request.Body = flow.Body{Raw: []byte("prompt=NONE&client_id=d")}
	v = NewView(post)
	if !v.IsSilentAuthorize() || v.Params().Get("x") != "1" || v.Params().Get("client_id") != "d" {
		t.Errorf("View(form_post authorize): silent %v params %v, want silent with query and form params", v.IsSilentAuthorize(), v.Params())
	}
	for _, u := range []string{
		"https://login.microsoftonline.com/common/oauth2/v2.0/token?prompt=none",
		"https://login.microsoftonline.com/common/oauth2/v2.0/authorize?prompt=login",
		"https://app.contoso.test/authorize?prompt=none",
		"::not a url",
	} {
		if NewView(newFlow(0, u, "")).IsSilentAuthorize() {
			t.Errorf("View(%s).IsSilentAuthorize: got true, want false", u)
		}
	}
	if v := NewView(&flow.Flow{}); v.Path() != "" || len(v.Params()) != 0 || v.Errors() != nil {
		t.Errorf("View(empty flow): want empty views")
	}
}

func TestResetForgetsTheHistory(t *testing.T) {
	e, err := NewEngine(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e.Add(&flow.Flow{Index: i, Request: &flow.Request{Method: "GET", URL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"}})
	}
	if e.History().Len() != 3 {
		t.Fatalf("history holds %d, want 3", e.History().Len())
	}
	e.Reset()
	if e.History().Len() != 0 {
		t.Errorf("after Reset the history holds %d", e.History().Len())
	}
}
