package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/inspect/txn"
	"github.com/aadproxy/aadproxy/report"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

type bundleOptions struct {
	from string
	last bool
	out  string
	home string
	raw  bool
}

func parseBundle(args []string, stderr io.Writer) (bundleOptions, error) {
	var o bundleOptions
	fs := newFlagSet("bundle", stderr)
	fs.StringVar(&o.from, "from", "", "the trace to bundle (HAR or SAZ)")
	fs.BoolVar(&o.last, "last", false, "bundle the most recent `aadproxy start --record` file")
	fs.StringVar(&o.out, "o", "", "write the zip to `FILE` (default aadproxy-bundle-<time>.zip here)")
	fs.StringVar(&o.home, "home", "", "aadproxy's folder, for --last")
	fs.BoolVar(&o.raw, "raw", false, "include the trace UNSANITIZED (passwords, tokens, cookies): only for a channel you trust")
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	if (o.from == "") == !o.last {
		return o, usagef("want exactly one of --from FILE and --last")
	}
	return o, nil
}

// runBundle writes one zip for a support ticket: the sanitized trace, a
// report (Markdown and a self-contained HTML page) of every failed sign-in
// with the IDs support asks for, and what was redacted.
func runBundle(args []string, stdout, stderr io.Writer) error {
	o, err := parseBundle(args, stderr)
	if err != nil {
		return err
	}
	in := o.from
	if o.last {
		home, err := homeDir(o.home)
		if err != nil {
			return err
		}
		if in, err = lastRecording(home); err != nil {
			return err
		}
	}
	out := o.out
	if out == "" {
		out = "aadproxy-bundle-" + time.Now().Format("20060102-150405") + ".zip"
	}
	if same(in, out) {
		return fmt.Errorf("bundle: refusing to overwrite the input %s", in)
	}
	if o.raw {
		fmt.Fprintln(stderr, "! --raw: the bundle holds the UNSANITIZED trace; share it only over a channel you trust")
	}
	files, rep, err := bundleFiles(in, o.raw)
	if err != nil {
		return err
	}
	if err := writeZip(out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d flows, %d failed sign-ins, %d findings\n", out, rep.Flows, len(rep.Failures), len(rep.Findings))
	return nil
}

// bundleFiles builds the files of a support bundle for the trace at in:
// the trace (sanitized unless raw), the report in Markdown and HTML, and
// what was redacted.
func bundleFiles(in string, raw bool) ([]zipFile, *report.Report, error) {
	tmp, err := os.MkdirTemp("", "aadproxy-bundle-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)

	var shared, summary string
	if raw {
		harPath, cleanup, err := asHAR(in)
		if err != nil {
			return nil, nil, err
		}
		defer cleanup()
		shared = harPath
		summary = "The trace is NOT sanitized (--raw): it holds passwords, codes, tokens and session cookies.\n"
	} else {
		// Sanitized straight from the input: no unsanitized copy is made.
		shared = filepath.Join(tmp, "trace.har")
		rep, err := sanitizeTrace(in, shared, sanitize.Options{})
		if err != nil {
			return nil, nil, err
		}
		summary = rep.Summary()
		// Fail closed: a bundle is for sharing, so a value that still looks
		// secret stops it.
		if left, err := sanitize.Check(shared); err != nil || len(left) > 0 {
			return nil, nil, fmt.Errorf("bundle: the sanitized trace still holds %d secret-looking values (%v); nothing was written — report this as a bug", len(left), err)
		}
	}

	rep, err := analyzeForReport(filepath.Base(in), shared)
	if err != nil {
		return nil, nil, err
	}
	var md, page bytes.Buffer
	if err := rep.Markdown(&md); err != nil {
		return nil, nil, err
	}
	if err := rep.HTML(&page); err != nil {
		return nil, nil, err
	}
	harBytes, err := os.ReadFile(shared)
	if err != nil {
		return nil, nil, err
	}
	files := []zipFile{
		{"report.md", md.Bytes()},
		{"report.html", page.Bytes()},
		{"trace.har", harBytes},
		{"redactions.txt", []byte(summary)},
	}
	return files, rep, nil
}

// writeBundle writes a support bundle of the trace at in to w (the web
// inspector's download).
func writeBundle(w io.Writer, in string, raw bool) error {
	files, _, err := bundleFiles(in, raw)
	if err != nil {
		return err
	}
	return writeZipTo(w, files)
}

// analyzeForReport runs the rules and the transaction grouper over the
// shared (sanitized) trace, so the report holds only what is in it.
func analyzeForReport(source, path string) (*report.Report, error) {
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		return nil, err
	}
	g := txn.NewGrouper()
	var flows []*flow.Flow
	var findings []inspect.Finding
	if _, err := trace.ReadFile(path, func(i int, f *flow.Flow) error {
		f.Index = i
		flows = append(flows, f)
		g.Add(f)
		findings = append(findings, eng.Add(f)...)
		return nil
	}); err != nil {
		return nil, err
	}
	findings = append(findings, eng.Finish()...)
	return report.Build(source, flows, findings, g.Finish(), time.Now()), nil
}

type zipFile struct {
	name string
	data []byte
}

// writeZip writes files into a private zip at path, atomically.
func writeZip(path string, files []zipFile) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".aadproxy-bundle-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := writeZipTo(tmp, files); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeZipTo writes files as a zip to w.
func writeZipTo(w io.Writer, files []zipFile) error {
	zw := zip.NewWriter(w)
	now := time.Now()
	for _, f := range files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}
