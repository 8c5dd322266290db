package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"

	"github.com/aadproxy/aadproxy/trace"
)

type convertOptions struct{ in, out string }

func parseConvert(args []string, stderr io.Writer) (convertOptions, error) {
	var o convertOptions
	fs := newFlagSet("convert", stderr)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() != 2 {
		return o, usagef("want IN OUT, e.g. aadproxy convert capture.saz capture.har (OUT's extension, .har or .saz, picks the format)")
	}
	o.in, o.out = fs.Arg(0), fs.Arg(1)
	return o, nil
}

// runConvert converts between SAZ and HAR. It never overwrites its input
// and leaves no output when it fails.
func runConvert(args []string, stdout, stderr io.Writer) error {
	o, err := parseConvert(args, stderr)
	if err != nil {
		return err
	}
	if err := trace.ConvertWith(o.in, o.out, trace.ConvertOptions{Progress: progressWriter(stderr), Version: version}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", o.out)
	return nil
}

// progressWriter returns stderr when it is a terminal, for progress on long
// reads; nil otherwise, so pipes and logs get no carriage returns.
func progressWriter(stderr io.Writer) io.Writer {
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return stderr
	}
	return nil
}
