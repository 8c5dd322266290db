package sanitize_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/flow"
	"github.com/aadproxy/aadproxy/inspect"
	"github.com/aadproxy/aadproxy/inspect/rules"
	"github.com/aadproxy/aadproxy/internal/hartest"
	"github.com/aadproxy/aadproxy/sanitize"
	"github.com/aadproxy/aadproxy/trace"
)

// plantedFindings are positions of the fixture where Check must report a
// secret: at least one per kind of position the fixture plants.
var plantedFindings = []sanitize.Finding{
	{Entry: -1, Location: "log.pages[0].title: query code", Kind: sanitize.KindCode},
	{Entry: 0, Location: "request.headers[Cookie]: ESTSAUTH", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "request.headers[Cookie]: x-ms-RefreshTokenCredential", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "request.headers[x-ms-RefreshTokenCredential]", Kind: sanitize.KindToken},
	{Entry: 0, Location: "request.cookies[ESTSAUTH]", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "response.headers[Set-Cookie]: ESTSAUTH", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "response.headers[Set-Cookie]: buid", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "response.cookies[ESTSAUTH]", Kind: sanitize.KindCookie},
	{Entry: 0, Location: "response.content: html $Config sFT", Kind: sanitize.KindFlowToken},
	{Entry: 0, Location: "response.content: html $Config sCtx", Kind: sanitize.KindFlowToken},
	{Entry: 0, Location: "response.content: html $Config canary", Kind: sanitize.KindCanary},
	{Entry: 0, Location: "response.content: html $Config apiCanary", Kind: sanitize.KindCanary},
	{Entry: 0, Location: "response.content: html $Config urlPost: query ctx", Kind: sanitize.KindFlowToken},
	{Entry: 0, Location: "response.content: html", Kind: sanitize.KindJWT},
	{Entry: 1, Location: "request.headers[canary]", Kind: sanitize.KindCanary},
	{Entry: 1, Location: "request.postData: json originalRequest", Kind: sanitize.KindFlowToken},
	{Entry: 1, Location: "request.postData: json flowToken", Kind: sanitize.KindFlowToken},
	{Entry: 1, Location: "response.content: json FlowToken", Kind: sanitize.KindFlowToken},
	{Entry: 1, Location: "response.content: json apiCanary", Kind: sanitize.KindCanary},
	{Entry: 2, Location: "request.headers[Cookie]: esctx", Kind: sanitize.KindCookie},
	{Entry: 2, Location: "request.postData.params[passwd]", Kind: sanitize.KindPassword},
	{Entry: 2, Location: "request.postData: form passwd", Kind: sanitize.KindPassword},
	{Entry: 2, Location: "request.postData: form ctx", Kind: sanitize.KindFlowToken},
	{Entry: 2, Location: "request.postData: form flowToken", Kind: sanitize.KindFlowToken},
	{Entry: 2, Location: "request.postData: form canary", Kind: sanitize.KindCanary},
	{Entry: 2, Location: "response.headers[Location]: query code", Kind: sanitize.KindCode},
	{Entry: 2, Location: "response.headers[Set-Cookie]: ESTSAUTHPERSISTENT", Kind: sanitize.KindCookie},
	{Entry: 2, Location: "response.redirectURL: query code", Kind: sanitize.KindCode},
	{Entry: 3, Location: "request.url: query ctx", Kind: sanitize.KindFlowToken},
	{Entry: 3, Location: "request.queryString[ctx]", Kind: sanitize.KindFlowToken},
	{Entry: 3, Location: "response.content: html input[code]", Kind: sanitize.KindCode},
	{Entry: 3, Location: "response.content: html input[id_token]", Kind: sanitize.KindIDToken},
	{Entry: 3, Location: "response.content: html", Kind: sanitize.KindJWT},
	{Entry: 4, Location: "request.headers[Authorization]", Kind: sanitize.KindAuthorization},
	{Entry: 4, Location: "request.postData: form code", Kind: sanitize.KindCode},
	{Entry: 4, Location: "request.postData: form code_verifier", Kind: sanitize.KindCodeVerifier},
	{Entry: 4, Location: "request.postData: form client_secret", Kind: sanitize.KindClientSecret},
	{Entry: 4, Location: "request.postData: form client_assertion", Kind: sanitize.KindAssertion},
	{Entry: 4, Location: "response.content: json access_token", Kind: sanitize.KindAccessToken},
	{Entry: 4, Location: "response.content: json refresh_token", Kind: sanitize.KindRefreshToken},
	{Entry: 4, Location: "response.content: json id_token", Kind: sanitize.KindIDToken},
	{Entry: 5, Location: "request.headers[Authorization]", Kind: sanitize.KindAuthorization},
	{Entry: 5, Location: "request.headers[X-Api-Key]", Kind: sanitize.KindSecret},
	{Entry: 5, Location: "request.headers[Cookie]: .AspNetCore.Cookies", Kind: sanitize.KindCookie},
	{Entry: 5, Location: "response.headers[Set-Cookie]: .AspNetCore.Cookies", Kind: sanitize.KindCookie},
	{Entry: 5, Location: "response.content: json refresh_token", Kind: sanitize.KindRefreshToken},
	{Entry: 5, Location: "response.content: json password", Kind: sanitize.KindPassword},
	{Entry: 6, Location: "request.postData: form password", Kind: sanitize.KindPassword},
	{Entry: 8, Location: "response.headers[Location]: fragment access_token", Kind: sanitize.KindAccessToken},
	{Entry: 8, Location: "response.headers[Location]: fragment id_token", Kind: sanitize.KindIDToken},
	{Entry: 8, Location: "response.headers[Location]: fragment code", Kind: sanitize.KindCode},
	{Entry: 8, Location: "response.redirectURL: fragment code", Kind: sanitize.KindCode},
	{Entry: 9, Location: "request.cookies[x-ms-RefreshTokenCredential]", Kind: sanitize.KindCookie},
	{Entry: 9, Location: "response.content: html $Config sFT", Kind: sanitize.KindFlowToken},
	{Entry: 10, Location: "request.postData: form SAMLResponse saml SignatureValue", Kind: sanitize.KindSAML},
	{Entry: 10, Location: "request.postData: form SAMLResponse saml NameID", Kind: sanitize.KindSAML},
	{Entry: 10, Location: "request.postData: form SAMLResponse saml AttributeValue", Kind: sanitize.KindSAML},
	{Entry: 10, Location: "request.postData.params[SAMLResponse] saml SignatureValue", Kind: sanitize.KindSAML},
	{Entry: 10, Location: "response.content: html input[SAMLResponse] saml SignatureValue", Kind: sanitize.KindSAML},
	{Entry: 10, Location: "response.content: html input[SAMLResponse] saml AttributeValue", Kind: sanitize.KindSAML},
	{Entry: 11, Location: "request.postData: form device_code", Kind: sanitize.KindCode},
	{Entry: 12, Location: "entry._initiator url: query code", Kind: sanitize.KindCode},
	{Entry: 12, Location: "request.url: query code", Kind: sanitize.KindCode},
	{Entry: 12, Location: "request.headers[:path]: query code", Kind: sanitize.KindCode},
	{Entry: 12, Location: "request.queryString[code]", Kind: sanitize.KindCode},
	{Entry: 12, Location: "request.cookies[ESTSAUTH]", Kind: sanitize.KindCookie},
	{Entry: 12, Location: "request.cookies[.AspNetCore.Cookies]", Kind: sanitize.KindCookie},
	{Entry: 12, Location: "request.postData.params[passwd]", Kind: sanitize.KindPassword},
	{Entry: 12, Location: "request.postData.params[refresh_token]", Kind: sanitize.KindRefreshToken},
	{Entry: 12, Location: "response.cookies[ESTSAUTH]", Kind: sanitize.KindCookie},
	{Entry: 12, Location: "response.content: json id_token", Kind: sanitize.KindIDToken},
	{Entry: 12, Location: "response.content: json password", Kind: sanitize.KindPassword},
	{Entry: 13, Location: "request.postData: form client_secret", Kind: sanitize.KindClientSecret},
	{Entry: 13, Location: "response.content: json refresh_token", Kind: sanitize.KindRefreshToken},
	{Entry: 14, Location: "response.redirectURL: fragment code", Kind: sanitize.KindCode},
	{Entry: 14, Location: "response.content: json refresh_token", Kind: sanitize.KindRefreshToken},
}

func TestCheckFindsPlantedSecretsAndNothingAfterSanitizing(t *testing.T) {
	for _, pseudo := range []bool{false, true} {
		in, out, _ := sanitizeFixture(t, sanitize.Options{Key: testKey, Pseudonymize: pseudo})
		found, err := sanitize.Check(in)
		if err != nil {
			t.Fatalf("Check(input): %v", err)
		}
		type key struct {
			entry     int
			loc, kind string
		}
		have := map[key]sanitize.Finding{}
		for _, f := range found {
			have[key{f.Entry, f.Location, f.Kind}] = f
			if !strings.HasSuffix(f.Sample, "…") || len([]rune(f.Sample)) > 7 {
				t.Errorf("Check(input): finding %v: sample %q is not at most six characters and …", f, f.Sample)
			}
		}
		for _, want := range plantedFindings {
			if _, ok := have[key{want.Entry, want.Location, want.Kind}]; !ok {
				t.Errorf("Check(input): no finding %d %q %s", want.Entry, want.Location, want.Kind)
			}
		}
		after, err := sanitize.Check(out)
		if err != nil {
			t.Fatalf("Check(output): %v", err)
		}
		for _, f := range after {
			t.Errorf("Pseudonymize=%v: Check(output) still finds %v", pseudo, f)
		}
	}
}

func TestCheckSampleHidesShortSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "short.har")
	e := trace.EntryFromFlow(&flow.Flow{Request: &flow.Request{Method: "POST", URL: "https://login.example/login",
		Header: hdrs("Content-Type", "application/x-www-form-urlencoded"), Body: textBody("passwd=abcdefgh")}})
	writeHAR(t, path, e)
	found, err := sanitize.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("Check: the password was not found")
	}
	for _, f := range found {
		if f.Sample != "ab…" {
			t.Errorf("Check: sample of an 8-character password is %q, want %q", f.Sample, "ab…")
		}
	}
}

func writeHAR(t *testing.T, path string, entries ...*trace.Entry) {
	t.Helper()
	h := trace.HAR{Log: trace.Log{Version: "1.2", Creator: trace.Creator{Name: "test", Version: "1"}}}
	for _, e := range entries {
		h.Log.Entries = append(h.Log.Entries, *e)
	}
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

type harDoc struct {
	Log struct {
		Creator json.RawMessage   `json:"creator"`
		Browser json.RawMessage   `json:"browser"`
		Pages   []json.RawMessage `json:"pages"`
		Entries []json.RawMessage `json:"entries"`
	} `json:"log"`
}

func readDoc(t *testing.T, path string) harDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d harDoc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

var aadstsRE = regexp.MustCompile(`AADSTS\d+`)

// TestDiagnosticValueKept checks that what support needs survives: every
// AADSTS code, correlation, trace and request ID, state, nonce, client_id,
// timestamps, statuses, header and cookie names, and the log's creator,
// browser and pages.
func TestDiagnosticValueKept(t *testing.T) {
	in, out, _ := sanitizeFixture(t, sanitize.Options{Key: testKey, Pseudonymize: true})
	a, b := readDoc(t, in), readDoc(t, out)
	if len(a.Log.Entries) != len(b.Log.Entries) {
		t.Fatalf("entries: got %d, want %d", len(b.Log.Entries), len(a.Log.Entries))
	}
	if !bytes.Equal(a.Log.Creator, b.Log.Creator) || !bytes.Equal(a.Log.Browser, b.Log.Browser) || len(b.Log.Pages) != 1 {
		t.Errorf("log: creator %s browser %s pages %d; want %s %s 1", b.Log.Creator, b.Log.Browser, len(b.Log.Pages), a.Log.Creator, a.Log.Browser)
	}
	kept := []string{corrID1, traceID1, reqID1, state1, state2, nonce1, appID, tenantID, "2025-06-07 08:09:10Z", "estsfd"}
	for i := range a.Log.Entries {
		ain, bout := string(a.Log.Entries[i]), string(b.Log.Entries[i])
		if got, want := aadstsRE.FindAllString(bout, -1), aadstsRE.FindAllString(ain, -1); !slices.Equal(got, want) {
			t.Errorf("entry %d: AADSTS codes %v, want %v", i, got, want)
		}
		for _, k := range kept {
			if got, want := strings.Count(bout, k), strings.Count(ain, k); got < want {
				t.Errorf("entry %d: %q appears %d times, want at least %d", i, k, got, want)
			}
		}
		var ea, eb trace.Entry
		if err := json.Unmarshal(a.Log.Entries[i], &ea); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b.Log.Entries[i], &eb); err != nil {
			t.Fatal(err)
		}
		if ea.StartedDateTime != eb.StartedDateTime || ea.Time != eb.Time || ea.Response.Status != eb.Response.Status {
			t.Errorf("entry %d: started %s time %v status %d; want %s %v %d", i, eb.StartedDateTime, eb.Time, eb.Response.Status, ea.StartedDateTime, ea.Time, ea.Response.Status)
		}
		if got, want := names(eb.Request.Headers), names(ea.Request.Headers); !slices.Equal(got, want) {
			t.Errorf("entry %d: request header names %v, want %v", i, got, want)
		}
		if got, want := names(eb.Response.Headers), names(ea.Response.Headers); !slices.Equal(got, want) {
			t.Errorf("entry %d: response header names %v, want %v", i, got, want)
		}
		if got, want := cookieNames(eb.Request.Cookies, eb.Response.Cookies), cookieNames(ea.Request.Cookies, ea.Response.Cookies); !slices.Equal(got, want) {
			t.Errorf("entry %d: cookie names %v, want %v", i, got, want)
		}
		for j, q := range ea.Request.QueryString {
			switch q.Name {
			case "state", "nonce", "client_id", "redirect_uri", "scope", "response_type", "code_challenge", "prompt", "mkt":
				if eb.Request.QueryString[j] != q {
					t.Errorf("entry %d: query %s = %q, want %q", i, q.Name, eb.Request.QueryString[j].Value, q.Value)
				}
			}
		}
	}
}

func names(h []trace.NameValue) []string {
	var out []string
	for _, kv := range h {
		out = append(out, kv.Name)
	}
	return out
}

func cookieNames(lists ...[]trace.Cookie) []string {
	var out []string
	for _, l := range lists {
		for _, c := range l {
			out = append(out, c.Name+"|"+c.Path+"|"+c.Domain+"|"+c.Expires)
		}
	}
	return out
}

// TestInspectFindingsSurvive runs the rule engine over the input and the
// sanitized output: every aadsts-error finding must still be there, with the
// same evidence (trace and correlation IDs, timestamps, messages).
func TestInspectFindingsSurvive(t *testing.T) {
	for _, pseudo := range []bool{false, true} {
		in, out, _ := sanitizeFixture(t, sanitize.Options{Key: testKey, Pseudonymize: pseudo})
		before, after := aadstsFindings(t, in), aadstsFindings(t, out)
		if len(before) < 4 {
			t.Fatalf("test setup: only %d aadsts-error findings in the input: %v", len(before), before)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("Pseudonymize=%v: aadsts-error findings changed:\nbefore %v\nafter  %v", pseudo, before, after)
		}
	}
}

func aadstsFindings(t *testing.T, path string) []inspect.Finding {
	t.Helper()
	eng, err := inspect.NewEngine(rules.All(), inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []inspect.Finding
	keep := func(fs []inspect.Finding) {
		for _, f := range fs {
			if f.Rule == "aadsts-error" {
				f.Related = nil
				out = append(out, f)
			}
		}
	}
	if _, err := trace.ReadFile(path, func(_ int, f *flow.Flow) error {
		keep(eng.Add(f))
		return nil
	}); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	keep(eng.Finish())
	return out
}

func TestDeterministicForAKey(t *testing.T) {
	dir := t.TempDir()
	in := writeFixture(t, dir)
	run := func(name string, key []byte) []byte {
		out := filepath.Join(dir, name)
		if _, err := sanitize.HARFile(in, out, sanitize.Options{Key: key, Pseudonymize: true}); err != nil {
			t.Fatalf("HARFile: %v", err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a, b := run("a.har", testKey), run("b.har", testKey)
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same key differ")
	}
	if c := run("c.har", []byte("another-key-0123456789")); bytes.Equal(a, c) {
		t.Error("runs with different keys are identical: the key is not used")
	}
	key, err := sanitize.KeyFromFile(in)
	if err != nil {
		t.Fatal(err)
	}
	key2, err := sanitize.KeyFromFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, key2) || len(key) < sanitize.MinKeyLen {
		t.Errorf("KeyFromFile: %x then %x", key, key2)
	}
}

func TestOutputIsPrivateAndValidHAR(t *testing.T) {
	_, out, _ := sanitizeFixture(t, sanitize.Options{Key: testKey})
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v, want 0600", st.Mode().Perm())
	}
	// The output reads back through the trace reader, entry for entry.
	n, err := trace.ReadFile(out, func(int, *flow.Flow) error { return nil })
	if err != nil || n != len(fixtureFlows())+3 {
		t.Errorf("trace.ReadFile(output): %d entries, %v", n, err)
	}
	if err := hartest.NewValidator(t).Validate(out); err != nil {
		t.Errorf("har-validator rejected the sanitized HAR: %v", err)
	}
}

func TestRefusesToOverwriteInput(t *testing.T) {
	dir := t.TempDir()
	in := writeFixture(t, dir)
	orig, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range hartest.InputAliases(t, in) {
		if _, err := sanitize.HARFile(in, out, sanitize.Options{Key: testKey}); err == nil {
			t.Errorf("HARFile(%s, %s): no error", in, out)
		}
	}
	now, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orig, now) {
		t.Error("the input was changed")
	}
	assertNoTemp(t, dir)
}

func TestDamagedInputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	in := writeFixture(t, dir)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"truncated":   data[:len(data)*2/3],
		"cut in head": data[:20],
		"not a HAR":   []byte(`[1,2,3]`),
		"empty":       nil,
	}
	for name, content := range cases {
		bad := filepath.Join(dir, "bad.har")
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.har")
		if _, err := sanitize.HARFile(bad, out, sanitize.Options{Key: testKey}); err == nil {
			t.Errorf("%s: HARFile: no error", name)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: output exists after a failed run (stat: %v)", name, err)
		}
		// An existing output is left as it was.
		if err := os.WriteFile(out, []byte("previous"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sanitize.HARFile(bad, out, sanitize.Options{Key: testKey}); err == nil {
			t.Errorf("%s: HARFile over an existing output: no error", name)
		}
		if got, _ := os.ReadFile(out); string(got) != "previous" {
			t.Errorf("%s: existing output changed to %q", name, got)
		}
		os.Remove(out)
		assertNoTemp(t, dir)
	}
}

// assertNoTemp fails when a temporary output file was left behind.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestCheckDamagedReportsError(t *testing.T) {
	dir := t.TempDir()
	in := writeFixture(t, dir)
	data, _ := os.ReadFile(in)
	bad := filepath.Join(dir, "bad.har")
	if err := os.WriteFile(bad, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	found, err := sanitize.Check(bad)
	var d *trace.DamageError
	if !errors.As(err, &d) {
		t.Fatalf("Check(damaged): error %v, want a *trace.DamageError", err)
	}
	if len(found) == 0 {
		t.Error("Check(damaged): no findings from the entries before the damage")
	}
}

// TestChromeHAR sanitizes the Chrome recording trace/ keeps as a fixture: the
// output passes the schema although the input does not (Chrome writes
// bracketed IPv6 addresses and omits cache), and Check finds nothing left.
func TestChromeHAR(t *testing.T) {
	out := filepath.Join(t.TempDir(), "chrome.har")
	rep, err := sanitize.HARFile(filepath.Join("..", "trace", "testdata", "chrome.har"), out, sanitize.Options{Key: testKey})
	if err != nil {
		t.Fatalf("HARFile(chrome.har): %v", err)
	}
	if len(rep.Items) == 0 {
		t.Error("HARFile(chrome.har): nothing redacted; the fixture sends a buid cookie")
	}
	if found, err := sanitize.Check(out); err != nil || len(found) > 0 {
		t.Errorf("Check(sanitized chrome.har): %v, %v", found, err)
	}
	if err := hartest.NewValidator(t).Validate(out); err != nil {
		t.Errorf("har-validator rejected the sanitized Chrome HAR: %v", err)
	}
}
