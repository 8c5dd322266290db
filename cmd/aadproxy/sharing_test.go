package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/trace"
)

// demoRecording records the demo's flows to a HAR in a temp folder.
func demoRecording(t *testing.T) string {
	t.Helper()
	rec := filepath.Join(t.TempDir(), "demo.har")
	if code := run([]string{"demo", "--json", "--record", rec}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("demo: exit %d", code)
	}
	return rec
}

type analysisDoc struct {
	Flows        int
	Transactions []struct {
		Protocol, Outcome string
		Code              int
	}
	Findings []struct {
		Rule     string
		Code     int
		Flow     int
		Severity string
	}
}

func analyzeJSON(t *testing.T, path string) (analysisDoc, int) {
	t.Helper()
	var out bytes.Buffer
	code := run([]string{"analyze", "--json", path}, &out, io.Discard)
	var doc analysisDoc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("analyze --json %s: %v\n%s", path, err, out.String())
	}
	return doc, code
}

func findingSet(d analysisDoc) map[string]bool {
	m := map[string]bool{}
	for _, f := range d.Findings {
		m[fmt.Sprintf("%s/%d/flow%d", f.Rule, f.Code, f.Flow)] = true
	}
	return m
}

// Sanitizing keeps every finding and transaction outcome of the demo: the
// placeholders keep "same value or not" and a verifier's S256.
func TestSanitizeKeepsTheAnalysis(t *testing.T) {
	rec := demoRecording(t)
	clean := filepath.Join(t.TempDir(), "clean.har")
	var out bytes.Buffer
	if code := run([]string{"sanitize", rec, "-o", clean}, &out, io.Discard); code != exitOK {
		t.Fatalf("sanitize: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "redacted") {
		t.Errorf("sanitize printed no summary: %s", out.String())
	}
	raw, _ := analyzeJSON(t, rec)
	san, _ := analyzeJSON(t, clean)
	rs, ss := findingSet(raw), findingSet(san)
	for k := range rs {
		if !ss[k] {
			t.Errorf("finding %s lost by sanitizing", k)
		}
	}
	for k := range ss {
		if !rs[k] {
			t.Errorf("finding %s appeared only after sanitizing", k)
		}
	}
	if fmt.Sprint(raw.Transactions) != fmt.Sprint(san.Transactions) {
		t.Errorf("transactions changed by sanitizing:\n raw %v\n san %v", raw.Transactions, san.Transactions)
	}
	// --check: the raw recording holds secrets (exit 1), the output none.
	if code := run([]string{"sanitize", "--check", rec}, io.Discard, io.Discard); code != exitFindings {
		t.Errorf("sanitize --check on the raw recording: exit %d, want %d", code, exitFindings)
	}
	if code := run([]string{"sanitize", "--check", clean}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("sanitize --check on the sanitized trace: exit %d, want 0", code)
	}
	// The demo's client secret (sent by scenario 1) is nowhere in the output.
	data, _ := os.ReadFile(clean)
	if bytes.Contains(data, []byte("fakests.SecretValue")) {
		t.Errorf("the client secret survived sanitizing")
	}
	// It never overwrites its input.
	if code := run([]string{"sanitize", rec, "-o", rec}, io.Discard, io.Discard); code == exitOK {
		t.Errorf("sanitize IN -o IN succeeded")
	}
}

func TestConvertRoundTripKeepsTheAnalysis(t *testing.T) {
	rec := demoRecording(t)
	dir := t.TempDir()
	saz, har := filepath.Join(dir, "demo.saz"), filepath.Join(dir, "back.har")
	for _, args := range [][]string{{"convert", rec, saz}, {"convert", saz, har}} {
		if code := run(args, io.Discard, io.Discard); code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
	a, _ := analyzeJSON(t, rec)
	b, _ := analyzeJSON(t, saz)
	c, _ := analyzeJSON(t, har)
	if fmt.Sprint(findingSet(a)) != fmt.Sprint(findingSet(b)) || fmt.Sprint(findingSet(a)) != fmt.Sprint(findingSet(c)) {
		t.Errorf("findings differ across HAR → SAZ → HAR:\n%v\n%v\n%v", findingSet(a), findingSet(b), findingSet(c))
	}
	// A SAZ input is sanitized to a SAZ.
	cleanSAZ := filepath.Join(dir, "clean.saz")
	if code := run([]string{"sanitize", saz, "-o", cleanSAZ}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("sanitize a SAZ: exit %d", code)
	}
	if f, _ := trace.Format(cleanSAZ); f != "saz" {
		t.Errorf("sanitized SAZ came out as %q", f)
	}
	if code := run([]string{"sanitize", "--check", cleanSAZ}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("sanitize --check on a sanitized SAZ: exit %d", code)
	}
}

func TestDamagedInputs(t *testing.T) {
	rec := demoRecording(t)
	data, _ := os.ReadFile(rec)
	cut := filepath.Join(t.TempDir(), "cut.har")
	os.WriteFile(cut, data[:len(data)*2/3], 0o600)
	var stderr bytes.Buffer
	var stdout bytes.Buffer
	code := run([]string{"analyze", "--json", cut}, &stdout, &stderr)
	if code != exitBadInput || !strings.Contains(stderr.String(), "byte") {
		t.Errorf("analyze of a cut HAR: exit %d, stderr %q; want 2 naming the position", code, stderr.String())
	}
	var doc analysisDoc
	if json.Unmarshal(stdout.Bytes(), &doc); doc.Flows == 0 {
		t.Errorf("analyze of a cut HAR analysed no complete entry")
	}
	for _, args := range [][]string{
		{"sanitize", cut, "-o", cut + ".clean.har"},
		{"convert", cut, cut + ".saz"},
	} {
		if code := run(args, io.Discard, io.Discard); code == exitOK {
			t.Errorf("%v on a damaged input succeeded", args)
		}
		if _, err := os.Stat(args[len(args)-1]); !os.IsNotExist(err) {
			t.Errorf("%v left an output behind", args)
		}
	}
}

func TestBundle(t *testing.T) {
	rec := demoRecording(t)
	home := t.TempDir()
	if err := rememberRecording(home, rec); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bundle.zip")
	var stdout bytes.Buffer
	if code := run([]string{"bundle", "--last", "--home", home, "-o", out}, &stdout, io.Discard); code != exitOK {
		t.Fatalf("bundle --last: exit %d: %s", code, stdout.String())
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle file: %v %v, want 0600", fi, err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	for _, name := range []string{"report.md", "report.html", "trace.har", "redactions.txt"} {
		if len(files[name]) == 0 {
			t.Errorf("bundle lacks %s", name)
		}
	}
	for _, code := range []string{"AADSTS50143", "AADSTS140001", "AADSTS7000215", "Correlation ID", "x-ms-request-id"} {
		if !bytes.Contains(files["report.md"], []byte(code)) {
			t.Errorf("report.md lacks %q", code)
		}
	}
	if bytes.Contains(files["trace.har"], []byte("fakests.SecretValue")) || bytes.Contains(files["report.md"], []byte("fakests.SecretValue")) {
		t.Errorf("the bundle holds the client secret")
	}
	shared := filepath.Join(t.TempDir(), "shared.har")
	os.WriteFile(shared, files["trace.har"], 0o600)
	if code := run([]string{"sanitize", "--check", shared}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("the bundle's trace fails sanitize --check")
	}
}
