package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/trace"
)

// healthyCorpus holds exports of ordinary, healthy traffic from several
// browsers and proxies (see its README.md): nothing in it is wrong, so
// nothing aadproxy finds there may be more than information.
var healthyCorpus = filepath.Join("..", "..", "testdata", "corpus", "healthy")

// knownFalseAlarms are findings the corpus still draws that a pending fix
// outside this test's reach will remove, keyed "file flow=N rule", with
// the reason. The test fails when one of them no longer appears, so the
// entry is deleted with the fix.
var knownFalseAlarms = map[string]string{}

// TestHealthyCorpusNoAlarms runs every file of the healthy corpus through
// aadproxy analyze, as a user would, and fails on any warning or error.
func TestHealthyCorpusNoAlarms(t *testing.T) {
	files, err := corpusFiles(healthyCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("healthy corpus: %d files in %s, want at least 8", len(files), healthyCorpus)
	}
	seenKnown := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			doc, code, stderr := corpusAnalyze(t, path)
			if code == exitBadInput || doc.Error != "" {
				t.Fatalf("aadproxy analyze %s: exit %d, error %q: %s", name, code, doc.Error, stderr)
			}
			if doc.Flows == 0 {
				t.Fatalf("aadproxy analyze %s: read no flows", name)
			}
			flows := corpusFlows(t, path)
			for _, f := range doc.Findings {
				if f.Severity < inspect.Warning {
					continue
				}
				key := fmt.Sprintf("%s flow=%d %s", name, f.Flow, f.Rule)
				if _, ok := knownFalseAlarms[key]; ok {
					seenKnown[key] = true
					continue
				}
				t.Errorf("%s %s on flow %d (%s): %s\n\tevidence: %s\n\tfix: %s",
					f.Severity, f.Rule, f.Flow, flows[f.Flow], f.Title, f.Evidence, f.Fix)
			}
			if code != exitOK {
				t.Errorf("aadproxy analyze %s: exit %d, want %d", name, code, exitOK)
			}
		})
	}
	for key, why := range knownFalseAlarms {
		if !seenKnown[key] {
			t.Errorf("known false alarm %q (%s) is gone: delete it from knownFalseAlarms", key, why)
		}
	}
}

// TestHealthyCorpusCanFail shows the corpus test is able to fail: the same
// analysis over a copy of a corpus file with one entry made wrong (a bearer
// token sent an hour after it expired and refused with 401) reports it.
func TestHealthyCorpusCanFail(t *testing.T) {
	src := filepath.Join(healthyCorpus, "chrome-shopping-news-github.har")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var har trace.HAR
	if err := json.Unmarshal(data, &har); err != nil {
		t.Fatal(err)
	}
	broken := -1
	for i := range har.Log.Entries {
		e := &har.Log.Entries[i]
		for j, h := range e.Request.Headers {
			if strings.EqualFold(h.Name, "authorization") && broken < 0 {
				e.Request.Headers[j].Value = "Bearer " + expiredJWT
				e.Response.Status = 401
				broken = i
			}
		}
	}
	if broken < 0 {
		t.Fatal("no entry with an Authorization header to break")
	}
	out, err := json.Marshal(&har)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "broken.har")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	doc, code, stderr := corpusAnalyze(t, path)
	if code != exitFindings {
		t.Errorf("analyze of the broken copy: exit %d, want %d (%s)", code, exitFindings, stderr)
	}
	found := false
	for _, f := range doc.Findings {
		if f.Rule == "token-expired" && f.Flow == broken && f.Severity == inspect.Error {
			found = true
		}
	}
	if !found {
		t.Errorf("analyze of the broken copy: no token-expired error on flow %d; findings %+v", broken, doc.Findings)
	}
}

// expiredJWT is a synthetic token that expired on 2025-05-14 at 07:00Z,
// ninety minutes before the corpus' traffic.
var expiredJWT = func() string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"RS256","typ":"JWT"}`) + "." + enc(`{"aud":"https://api.example.com","iat":1747202400,"exp":1747206000}`) + ".c2lnbmF0dXJl"
}()

func corpusAnalyze(t *testing.T, path string) (analysis, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runAnalyze([]string{"--json", path}, &stdout, &stderr)
	var doc analysis
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("aadproxy analyze --json %s: %v (stderr %s)", path, err, stderr.String())
	}
	return doc, code, stderr.String()
}

// corpusFlows names each flow of a file for failure messages.
func corpusFlows(t *testing.T, path string) map[int]string {
	t.Helper()
	out := map[int]string{}
	_, _, err := trace.Open(path, func(i int, f *flow.Flow) error {
		if f.Request != nil {
			out[i] = f.Request.Method + " " + f.Request.URL
		}
		return nil
	})
	if err != nil {
		t.Fatalf("trace.Open(%s): %v", path, err)
	}
	return out
}

func corpusFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext == ".har" || ext == ".saz" {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}
