package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/demo"
)

func TestParseStart(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(startOptions) bool
	}{
		{nil, "", func(o startOptions) bool { return o.listen == "127.0.0.1:8080" && o.maxBody == 10<<20 }},
		{[]string{"--max-body", "512KiB", "--intercept", "app.contoso.com", "--intercept", "*.graph.microsoft.com"}, "", func(o startOptions) bool {
			return o.maxBody == 512<<10 && len(o.intercept) == 2
		}},
		{[]string{"--map-remote", "login.microsoftonline.com"}, "HOST=ADDR", nil},
		{[]string{"--listen", "nonsense"}, "--listen", nil},
		{[]string{"--intercept", "*"}, "--intercept-all", nil},
		{[]string{"--upstream-proxy", "::"}, "--upstream-proxy", nil},
		{[]string{"--max-body", "lots"}, "size", nil},
		{[]string{"extra"}, "unexpected argument", nil},
		// No open proxy: beyond loopback needs credentials or a client list.
		{[]string{"--listen", "0.0.0.0:8080"}, "--auth USER:PASS", nil},
		{[]string{"--listen", "192.0.2.7:8080", "--auth", "nocolon"}, "USER:PASS", nil},
		{[]string{"--listen", "0.0.0.0:8080", "--auth", "alice:pw"}, "", func(o startOptions) bool { return o.auth == "alice:pw" }},
		{[]string{"--listen", "0.0.0.0:8080", "--allow-clients", "10.0.0.0/8"}, "", func(o startOptions) bool { return len(o.allowClients) == 1 }},
		{[]string{"--allow-clients", "ten"}, "--allow-clients", nil},
		{[]string{"--allow-upstream", "169.254.169.254"}, "", func(o startOptions) bool {
			p, _ := o.proxyOptions()
			return len(p.AllowUpstream) == 1 && p.AllowUpstream[0].Bits() == 32
		}},
		{[]string{"--listen", "localhost:9000"}, "", func(o startOptions) bool { return o.auth == "" }},
	}
	for _, tt := range tests {
		o, err := parseStart(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseStart(%q): got error %v, want one mentioning %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(o) {
			t.Errorf("parseStart(%q): got %+v, %v", tt.args, o, err)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"start", "--bogus"}, {"explain"}, {"explain", "AADSTSxyz"}, {"analyze"}, {"ca"}} {
		if code := run(args, io.Discard, io.Discard); code != exitBadInput {
			t.Errorf("run(%q): exit %d, want %d", args, code, exitBadInput)
		}
	}
}

func TestExplain(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"explain", "AADSTS50143"}, &out, io.Discard); code != exitOK || !strings.Contains(out.String(), "SessionMismatch") || !strings.Contains(out.String(), "## Fix") {
		t.Errorf("explain AADSTS50143: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"explain", "99999999"}, &out, io.Discard); code != exitFindings || !strings.Contains(out.String(), "login.microsoftonline.com/error?code=99999999") {
		t.Errorf("explain unknown: exit %d\n%s", code, out.String())
	}
}

func TestCACommands(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	var out bytes.Buffer
	if code := run([]string{"ca", "path", "--home", home}, &out, io.Discard); code != exitOK {
		t.Fatalf("ca path: exit %d", code)
	}
	path := strings.TrimSpace(out.String())
	if fi, err := os.Stat(home); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("home folder mode %v, %v; want 0700", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(home)
	for _, e := range entries {
		if strings.Contains(e.Name(), "key") {
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode())
			}
		}
	}
	pemData, err := os.ReadFile(path)
	if b, _ := pem.Decode(pemData); err != nil || b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("ca path %q does not hold a PEM certificate: %v", path, err)
	}
	out.Reset()
	run([]string{"ca", "export", "--der", "--home", home}, &out, io.Discard)
	if b, _ := pem.Decode(pemData); !bytes.Equal(out.Bytes(), b.Bytes) {
		t.Errorf("ca export --der differs from the PEM file's certificate")
	}
	out.Reset()
	run([]string{"ca", "show", "--home", home}, &out, io.Discard)
	for _, want := range []string{"aadproxy local CA", "SPKI", "NODE_EXTRA_CA_CERTS", "keytool"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ca show lacks %q", want)
		}
	}
	run([]string{"ca", "regenerate", "--home", home}, io.Discard, io.Discard)
	again, _ := os.ReadFile(path)
	if bytes.Equal(again, pemData) {
		t.Errorf("ca regenerate kept the old certificate")
	}
}

// The demo is the README's first command: every scenario must run and be
// flagged with the code it provokes.
func TestDemoFlagsEveryScenario(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, errOut.String(), out.String())
	}
	codes := map[float64]bool{}
	expected := map[float64]bool{0: true}
	for _, sc := range demo.All() {
		expected[float64(sc.Expect)] = true
	}
	flows := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("demo --json printed a non-JSON line %q", line)
		}
		switch m["type"] {
		case "finding":
			c, _ := m["code"].(float64)
			codes[c] = true
			// Every finding must be about a scenario's own failure: the
			// healthy parts of the demo (the first scenario, cookies kept by
			// each browser, different sign-ins) must not be flagged.
			if !expected[c] || m["flow"] == 0.0 || m["rule"] == "signin-loop" || m["rule"] == "cookie-dropped" {
				t.Errorf("unexpected finding in the demo: %v", m)
			}
		case "flow":
			flows++
		}
	}
	for _, sc := range demo.All() {
		if sc.Expect != 0 && !codes[float64(sc.Expect)] {
			t.Errorf("scenario %q: no finding with code %d (have %v)", sc.Title, sc.Expect, codes)
		}
	}
	if flows < len(demo.All()) {
		t.Errorf("demo produced %d flows, want at least %d", flows, len(demo.All()))
	}
}

// The live run and analyze of its recording agree: same codes, and the
// sign-ins are grouped into transactions with their outcomes.
func TestAnalyzeOfADemoRecordingMatchesTheLiveRun(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "demo.har")
	var live bytes.Buffer
	if code := run([]string{"demo", "--json", "--record", rec}, &live, io.Discard); code != exitOK {
		t.Fatalf("demo: exit %d", code)
	}
	doc, code := analyzeJSON(t, rec)
	if code != exitFindings {
		t.Errorf("analyze of a trace with error findings: exit %d, want %d", code, exitFindings)
	}
	liveFindings := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(live.String()), "\n") {
		var m struct {
			Type, Rule string
			Code, Flow int
		}
		json.Unmarshal([]byte(line), &m)
		if m.Type == "finding" {
			liveFindings[fmt.Sprintf("%s/%d/flow%d", m.Rule, m.Code, m.Flow)] = true
		}
	}
	offline := findingSet(doc)
	for k := range liveFindings {
		if !offline[k] {
			t.Errorf("live finding %s missing from analyze of the recording", k)
		}
	}
	failed := map[int]bool{}
	for _, tr := range doc.Transactions {
		if tr.Outcome == "failed" {
			failed[tr.Code] = true
		}
	}
	for _, code := range []int{7000215, 50058, 50143, 140001, 50011, 54005} {
		if !failed[code] {
			t.Errorf("no failed transaction with AADSTS%d: %+v", code, doc.Transactions)
		}
	}
}

func TestAnalyzeFilterShowsOnlyMatchingFlowsButJudgesThemAll(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "demo.har")
	if code := run([]string{"demo", "--record", rec}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("demo: exit %d", code)
	}
	var out bytes.Buffer
	code := run([]string{"analyze", "--json", "--filter", "~rule code-reused", rec}, &out, io.Discard)
	var doc analysis
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("analyze --json --filter: %v\n%s", err, out.String())
	}
	// code-reused needs the first redemption to judge the second: both
	// were judged, only the second is shown.
	if doc.Matched != 1 || doc.Flows < 10 || code != exitFindings {
		t.Fatalf("matched %d of %d flows (exit %d), want 1 of the demo's flows", doc.Matched, doc.Flows, code)
	}
	for _, f := range doc.Findings {
		if f.Flow != doc.Findings[0].Flow {
			t.Errorf("a finding about an unmatched flow: %+v", f)
		}
	}
	if len(doc.Transactions) != 1 || doc.Transactions[0].Code != 54005 {
		t.Errorf("transactions: %+v, want the one failed with 54005", doc.Transactions)
	}
	var errOut bytes.Buffer
	if code := run([]string{"analyze", "--filter", "~c 4xx & (", rec}, io.Discard, &errOut); code != exitBadInput || !strings.Contains(errOut.String(), "at 9") {
		t.Errorf("a bad filter: exit %d, %q; want 2 and where it is wrong", code, errOut.String())
	}
}

// TestUsageErrorsAreSaidOnceAndExit2 drives every subcommand's flag parsing
// through the CLI's entry point with a mistake: each must exit 2 and say
// the mistake once, without the flag list (that is for -h).
func TestUsageErrorsAreSaidOnceAndExit2(t *testing.T) {
	t.Setenv("AADPROXY_HOME", t.TempDir())
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	tests := []struct {
		args []string
		want string // said exactly once on stderr
	}{
		{[]string{"start", "--upstream-proxy", "socks5://127.0.0.1:1080"}, "only http:// and https:// proxies"},
		{[]string{"start", "--upstream-ca", missing}, "read --upstream-ca"},
		{[]string{"start", "--max-body", "10QB"}, `invalid value "10QB" for flag -max-body`},
		{[]string{"start", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"start", "--listen", "nonsense"}, "--listen"},
		{[]string{"start", "--upstream-timeout", "0s"}, "--upstream-timeout must be positive"},
		{[]string{"start", "--upstream-timeout", "soon"}, `invalid value "soon" for flag -upstream-timeout`},
		{[]string{"start", "--map-remote", "login.microsoftonline.com"}, "want HOST=ADDR"},
		{[]string{"start", "--listen", "0.0.0.0:8080"}, "reaches beyond this machine"},
		{[]string{"start", "--ui", "127.0.0.1:1", "--no-ui"}, "contradict"},
		{[]string{"start", "extra"}, `unexpected argument "extra"`},
		{[]string{"--max-body", "-1"}, `invalid value "-1" for flag -max-body`},
		{[]string{"start", "--record-max", "big"}, `invalid value "big" for flag -record-max`},
		{[]string{"run", "--max-body", "lots", "--", "true"}, `invalid value "lots" for flag -max-body`},
		{[]string{"run", "--upstream-proxy", "socks5://127.0.0.1:1080", "--", "true"}, "only http:// and https:// proxies"},
		{[]string{"run", "--upstream-ca", missing, "--", "true"}, "read --upstream-ca"},
		{[]string{"run"}, "want a command to run"},
		{[]string{"run", "--attach", "--offline", "--", "true"}, "--offline applies only"},
		{[]string{"run", "--pid", "7", "--", "true"}, "--pid picks the running proxy"},
		{[]string{"demo", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"demo", "--listen", "nonsense"}, "--listen"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"analyze"}, "want one trace file"},
		{[]string{"analyze", "--filter", "(", "x.har"}, "--filter"},
		{[]string{"analyze", "--bogus", "x.har"}, "flag provided but not defined: -bogus"},
		{[]string{"ui"}, "want one trace file"},
		{[]string{"ui", "--no-ui", "x.har"}, "--no-ui leaves nothing to do"},
		{[]string{"ui", "--ui", "nonsense", "x.har"}, "--ui"},
		{[]string{"browser", "--browser", "netscape"}, `--browser "netscape"`},
		{[]string{"browser", "a", "b"}, "want at most one URL"},
		{[]string{"browser", "--screenshot", "x.png"}, "--screenshot needs --headless"},
		{[]string{"browser", "--upstream-proxy", "socks5://127.0.0.1:1080"}, "only http:// and https:// proxies"},
		{[]string{"env", "--shell", "tcsh"}, `--shell "tcsh"`},
		{[]string{"env", "--pid", "many"}, `invalid value "many" for flag -pid`},
		{[]string{"env", "extra"}, `unexpected argument "extra"`},
		{[]string{"mcp", "extra"}, `unexpected argument "extra"`},
		{[]string{"mcp", "--from", "x.har", "--pid", "3"}, "--from reads a file"},
		{[]string{"explain"}, "want one code"},
		{[]string{"explain", "AADSTSxyz"}, "AADSTSxyz"},
		{[]string{"explain", "--bogus", "50143"}, "flag provided but not defined: -bogus"},
		{[]string{"sanitize"}, "want IN -o OUT"},
		{[]string{"sanitize", "--check", "a.har", "b.har"}, "--check takes only the file"},
		{[]string{"sanitize", "--keep-claims"}, "flag needs an argument: -keep-claims"},
		{[]string{"convert", "a.saz"}, "want IN OUT"},
		{[]string{"bundle"}, "want exactly one of --from FILE and --last"},
		{[]string{"bundle", "--from", "x.har", "--last"}, "want exactly one of --from FILE and --last"},
		{[]string{"ca"}, "want a subcommand"},
		{[]string{"ca", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"ca", "path", "extra"}, `unexpected argument "extra"`},
		{[]string{"ca", "show", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"ca", "install", "--store", "keychain", "--dry-run"}, `--store "keychain"`},
		{[]string{"ca", "install", "--store", "system", "--nssdb", "/x", "--dry-run"}, "--nssdb names an NSS database"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != exitBadInput {
			t.Errorf("run(%q): exit %d, want %d; stderr:\n%s", tt.args, code, exitBadInput, stderr.String())
			continue
		}
		if n := strings.Count(stderr.String(), tt.want); n != 1 {
			t.Errorf("run(%q): stderr says %q %d times, want once:\n%s", tt.args, tt.want, n, stderr.String())
		}
		if tt.args[0] != "frobnicate" && strings.Contains(stderr.String(), "\n  -") {
			t.Errorf("run(%q): stderr lists the flags after a mistake (that is for -h):\n%s", tt.args, stderr.String())
		}
		if stdout.Len() > 0 {
			t.Errorf("run(%q): stdout %q, want nothing", tt.args, stdout.String())
		}
	}
	// -h still lists the flags, and is no error.
	var stderr bytes.Buffer
	if code := run([]string{"start", "-h"}, io.Discard, &stderr); code != exitOK || !strings.Contains(stderr.String(), "-max-body") {
		t.Errorf("start -h: exit %d, stderr %q; want 0 and the flags", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"run", "-h"}, io.Discard, &stderr); code != exitOK || !strings.Contains(stderr.String(), "Usage: aadproxy run") || !strings.Contains(stderr.String(), "-attach") {
		t.Errorf("run -h: exit %d, stderr %q; want 0 and the flags", code, stderr.String())
	}
}

// TestAnalyzeOfADamagedSAZCountsAsItShows: a SAZ whose first session has
// lost its response still gives every other session; the flows analyze
// prints and the sessions its error counts are the same number (it said
// "after 0 complete sessions" next to the flows it had read).
func TestAnalyzeOfADamagedSAZCountsAsItShows(t *testing.T) {
	src, err := zip.OpenReader(filepath.Join("..", "..", "trace", "testdata", "sample.saz"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "damaged.saz")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	sessions := map[string]bool{}
	for _, f := range src.File {
		if f.Name == "raw/01_s.txt" {
			continue
		}
		if strings.HasSuffix(f.Name, "_c.txt") {
			sessions[f.Name] = true
		}
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	complete := len(sessions) - 1
	var stdout, stderr bytes.Buffer
	if code := run([]string{"analyze", path}, &stdout, &stderr); code != exitBadInput {
		t.Fatalf("analyze of a damaged SAZ: exit %d, want %d\n%s", code, exitBadInput, stderr.String())
	}
	if want := fmt.Sprintf("\n%d flows,", complete); !strings.Contains(stdout.String(), want) {
		t.Errorf("analyze's summary does not say %q:\n%s", want, stdout.String())
	}
	if !strings.Contains(stderr.String(), "damaged SAZ at session 01") ||
		!strings.Contains(stderr.String(), fmt.Sprintf("read %d complete sessions, 1 damaged session", complete)) ||
		strings.Contains(stderr.String(), "after 0") {
		t.Errorf("analyze's error does not count the %d sessions it read:\n%s", complete, stderr.String())
	}
}
