package main

import (
	"fmt"
	"io"

	"github.com/aadproxy/aadproxy/inspect/catalog"
)

type explainOptions struct{ code int }

func parseExplain(args []string, stderr io.Writer) (explainOptions, error) {
	var o explainOptions
	fs := newFlagSet("explain", stderr)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 1 {
		return o, usagef("want one code, e.g. aadproxy explain AADSTS50143")
	}
	code, err := catalog.ParseCode(fs.Arg(0))
	if err != nil {
		return o, usageError{err}
	}
	o.code = code
	return o, nil
}

func runExplain(args []string, stdout, stderr io.Writer) error {
	o, err := parseExplain(args, stderr)
	if err != nil {
		return err
	}
	known, err := catalog.Explain(stdout, o.code)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("AADSTS%d is not in aadproxy's catalog", o.code)
	}
	return nil
}
