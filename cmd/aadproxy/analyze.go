package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aadproxy/aadproxy/console"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/filter"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/trace"
)

type analyzeOptions struct {
	file   string
	json   bool
	quiet  bool
	filter *filter.Expr
}

func parseAnalyze(args []string, stderr io.Writer) (analyzeOptions, error) {
	var o analyzeOptions
	fs := newFlagSet("analyze", stderr)
	fs.BoolVar(&o.json, "json", false, `print one JSON document {"flows", "transactions", "findings"}`)
	fs.BoolVar(&o.quiet, "quiet", false, "print only flows with findings")
	expr := fs.String("filter", "", "show only flows matching `EXPR` (the inspector's filter language, e.g. '~aadsts 50143 | ~c 5xx'); every flow is still judged")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	var err error
	if o.filter, err = filter.Parse(*expr); err != nil {
		return o, usagef("--filter: %v", err)
	}
	if fs.NArg() != 1 {
		return o, usagef("want one trace file, e.g. aadproxy analyze signin.har")
	}
	o.file = fs.Arg(0)
	return o, nil
}

// analysis is analyze's JSON document.
type analysis struct {
	Flows int `json:"flows"`
	// Matched is how many flows --filter selected (all without one).
	Matched      int               `json:"matched"`
	Transactions []txn.Transaction `json:"transactions"`
	Findings     []inspect.Finding `json:"findings"`
	Error        string            `json:"error,omitempty"`
}

// runAnalyze returns the documented exit code: 0 no error-level finding,
// 1 at least one, 2 unreadable or damaged input (the complete entries before
// the damage are still analysed and printed).
func runAnalyze(args []string, stdout, stderr io.Writer) int {
	o, err := parseAnalyze(args, stderr)
	if err != nil {
		if errors.Is(err, errHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "aadproxy analyze: %v\n%s", err, usageHint("analyze"))
		return exitBadInput
	}
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "aadproxy analyze: rules: %v\n", err)
		return exitFindings
	}
	var printer *console.Printer
	if !o.json {
		printer = console.New(stdout, console.Options{Quiet: o.quiet})
	}
	doc := analysis{Transactions: []txn.Transaction{}, Findings: []inspect.Finding{}}
	grouper := txn.NewGrouper()
	matched := map[int]bool{}
	n, _, readErr := trace.OpenWith(o.file, trace.OpenOptions{Progress: progressWriter(stderr)}, func(i int, f *flow.Flow) error {
		f.Index = i
		grouper.Add(f)
		fs := eng.Add(f)
		// Every flow is judged (rules compare flows); only the matching
		// ones are shown, with the findings about them.
		if !o.filter.Match(filter.Subject{Flow: f, Findings: fs}) {
			return nil
		}
		matched[i] = true
		doc.Findings = append(doc.Findings, fs...)
		if printer != nil {
			printer.Flow(f, fs)
		}
		return nil
	})
	final := keepFindings(eng.Finish(), matched, o.filter)
	doc.Findings = append(doc.Findings, final...)
	doc.Flows, doc.Matched = n, len(matched)
	doc.Transactions = append(doc.Transactions, keepTransactions(grouper.Finish(), matched, o.filter)...)
	if printer != nil {
		printer.Final(final)
		printTransactions(stdout, doc.Transactions)
	}
	if readErr != nil {
		doc.Error = readErr.Error()
	}
	errorsFound, warnings := 0, 0
	for _, f := range doc.Findings {
		switch f.Severity {
		case inspect.Error:
			errorsFound++
		case inspect.Warning:
			warnings++
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	} else {
		if o.filter != nil && o.filter.String() != "" {
			fmt.Fprintf(stdout, "\n%d of %d flows match %s: %d errors, %d warnings\n", len(matched), n, o.filter, errorsFound, warnings)
		} else {
			fmt.Fprintf(stdout, "\n%d flows, %d errors, %d warnings\n", n, errorsFound, warnings)
		}
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "aadproxy analyze: %s: %v\n", o.file, readErr)
		return exitBadInput
	}
	if errorsFound > 0 {
		return exitFindings
	}
	return exitOK
}

// printTransactions lists the sign-ins found, one line each.
func printTransactions(w io.Writer, ts []txn.Transaction) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsign-in transactions:\n")
	for _, t := range ts {
		outcome := t.Outcome
		if t.Code != 0 {
			outcome += fmt.Sprintf(" (AADSTS%d)", t.Code)
		}
		fmt.Fprintf(w, "  #%-3d %-18s %-28s client %s flows %v\n", t.ID, t.Protocol, outcome, orNone(t.ClientID), t.Flows)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// keepFindings keeps the findings about a matched flow (all without a
// filter).
func keepFindings(fs []inspect.Finding, matched map[int]bool, expr *filter.Expr) []inspect.Finding {
	if expr == nil || expr.String() == "" {
		return fs
	}
	var out []inspect.Finding
	for _, f := range fs {
		if matched[f.Flow] {
			out = append(out, f)
		}
	}
	return out
}

// keepTransactions keeps the transactions with a matched flow.
func keepTransactions(ts []txn.Transaction, matched map[int]bool, expr *filter.Expr) []txn.Transaction {
	if expr == nil || expr.String() == "" {
		return ts
	}
	var out []txn.Transaction
	for _, t := range ts {
		for _, i := range t.Flows {
			if matched[i] {
				out = append(out, t)
				break
			}
		}
	}
	return out
}
