package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aadproxy/aadproxy/console"
	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/trace"
)

type analyzeOptions struct {
	file  string
	json  bool
	quiet bool
}

func parseAnalyze(args []string, stderr io.Writer) (analyzeOptions, error) {
	var o analyzeOptions
	fs := newFlagSet("analyze", stderr)
	fs.BoolVar(&o.json, "json", false, `print one JSON document {"flows", "transactions", "findings"}`)
	fs.BoolVar(&o.quiet, "quiet", false, "print only flows with findings")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 1 {
		return o, usagef("want one trace file, e.g. aadproxy analyze signin.har")
	}
	o.file = fs.Arg(0)
	return o, nil
}

// analysis is analyze's JSON document.
type analysis struct {
	Flows        int               `json:"flows"`
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
		fmt.Fprintf(stderr, "aadproxy analyze: %v\n", err)
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
	n, _, readErr := trace.OpenWith(o.file, trace.OpenOptions{Progress: progressWriter(stderr)}, func(i int, f *flow.Flow) error {
		f.Index = i
		grouper.Add(f)
		fs := eng.Add(f)
		doc.Findings = append(doc.Findings, fs...)
		if printer != nil {
			printer.Flow(f, fs)
		}
		return nil
	})
	final := eng.Finish()
	doc.Findings = append(doc.Findings, final...)
	doc.Flows = n
	doc.Transactions = append(doc.Transactions, grouper.Finish()...)
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
		fmt.Fprintf(stdout, "\n%d flows, %d errors, %d warnings\n", n, errorsFound, warnings)
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
