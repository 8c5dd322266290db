package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

type sanitizeOptions struct {
	in, out      string
	check        string
	pseudonymize bool
	keepClaims   string
}

func parseSanitize(args []string, stderr io.Writer) (sanitizeOptions, error) {
	var o sanitizeOptions
	fs := newFlagSet("sanitize", stderr)
	fs.StringVar(&o.out, "o", "", "write the sanitized trace to `OUT` (same format as the input)")
	fs.StringVar(&o.check, "check", "", "only list secret-looking values left in `FILE`; exit 1 if there are any")
	fs.BoolVar(&o.pseudonymize, "pseudonymize", false, "also replace e-mail addresses, UPNs and names, consistently")
	fs.StringVar(&o.keepClaims, "keep-claims", "", "comma-separated JWT claims whose values are kept (default: aud, iss, tid, iat, nbf, exp, scp, roles, appid, azp, ver, …)")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if o.check != "" {
		if fs.NArg() > 0 || o.out != "" {
			return o, usagef("--check takes only the file to check")
		}
		return o, nil
	}
	if fs.NArg() != 1 || o.out == "" {
		return o, usagef("want IN -o OUT, e.g. aadproxy sanitize signin.har -o signin-shareable.har")
	}
	o.in = fs.Arg(0)
	return o, nil
}

func runSanitize(args []string, stdout, stderr io.Writer) error {
	o, err := parseSanitize(args, stderr)
	if err != nil {
		return err
	}
	if o.check != "" {
		return runCheck(o.check, stdout)
	}
	so := sanitize.Options{Pseudonymize: o.pseudonymize}
	if o.keepClaims != "" {
		so.KeepClaims = strings.Split(o.keepClaims, ",")
	}
	rep, err := sanitizeTrace(o.in, o.out, so)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n%s", o.out, rep.Summary())
	return nil
}

// sanitizeTrace sanitizes in (HAR or SAZ) into out. The key comes from the
// input's content, so the same input always gives the same output. A HAR
// stays a HAR; a SAZ is sanitized flow by flow into the format out's
// extension names (.saz, or .har for a bundle), with no unsanitized copy
// written anywhere.
func sanitizeTrace(in, out string, so sanitize.Options) (sanitize.Report, error) {
	key, err := sanitize.KeyFromFile(in)
	if err != nil {
		return sanitize.Report{}, err
	}
	so.Key = key
	format, err := trace.Format(in)
	if err != nil {
		return sanitize.Report{}, err
	}
	if format == trace.FormatHAR {
		return sanitize.HARFile(in, out, so)
	}
	if same(in, out) {
		return sanitize.Report{}, fmt.Errorf("sanitize %s: refusing to overwrite the input with the output %s", in, out)
	}
	return sanitize.FlowsFile(in, out, so, trace.ConvertOptions{Version: version})
}

// runCheck lists secret-looking values left in a trace; an error (exit 1)
// when there are any.
func runCheck(path string, stdout io.Writer) error {
	found, err := sanitize.Check(path)
	for _, f := range found {
		fmt.Fprintln(stdout, f.String())
	}
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("%s still holds %d secret-looking values: run aadproxy sanitize on it before sharing", path, len(found))
	}
	fmt.Fprintf(stdout, "%s: no secret-looking values found\n", path)
	return nil
}

// asHAR returns a HAR path for a trace: the file itself, or a private
// temporary conversion of a SAZ (cleanup removes it).
func asHAR(path string) (string, func(), error) {
	format, err := trace.Format(path)
	if err != nil {
		return "", func() {}, err
	}
	if format == trace.FormatHAR {
		return path, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "aadproxy-*")
	if err != nil {
		return "", func() {}, err
	}
	har := filepath.Join(tmp, "trace.har")
	if err := trace.ConvertWith(path, har, trace.ConvertOptions{Version: version}); err != nil {
		os.RemoveAll(tmp)
		return "", func() {}, err
	}
	return har, func() { os.RemoveAll(tmp) }, nil
}

// same reports whether two paths name one existing file.
func same(a, b string) bool {
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}
