package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clientEnvWithoutTrust is this process's environment without the proxy
// and CA variables, so a real client neither trusts aadproxy's CA by
// accident nor goes around the proxy.
func clientEnvWithoutTrust(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
			"REQUESTS_CA_BUNDLE", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// TestClientsThatRejectTheCAGetTheTrustHint points real clients that do not
// trust aadproxy's CA at the real binary: curl and Python (OpenSSL, whose
// alert Go reads as "bad record MAC") and Java (certificate_unknown, or a
// hang-up once it has read the certificate). Each gets a console line that
// says the client rejected the certificate and names `aadproxy ca`, with
// the setting its runtime needs. Each client uses its own identity host:
// the proxy says a notice once per host and message.
func TestClientsThatRejectTheCAGetTheTrustHint(t *testing.T) {
	b := startBinary(t, "--home", t.TempDir(), "--no-ui")
	proxyURL := "http://" + b.addr
	clients := []struct {
		name, host string
		cmd        func(url string) (*exec.Cmd, string) // "" or why it cannot run
		hint       []string
	}{
		{"curl", "login.microsoftonline.com", func(u string) (*exec.Cmd, string) {
			curl, err := exec.LookPath("curl")
			if err != nil {
				return nil, "curl is not installed"
			}
			return exec.Command(curl, "-sS", "--proxy", proxyURL, u), ""
		}, []string{"aadproxy ca install", "--cacert", "CURL_CA_BUNDLE"}},
		{"python3", "login.microsoft.com", func(u string) (*exec.Cmd, string) {
			py, err := exec.LookPath("python3")
			if err != nil {
				return nil, "python3 is not installed"
			}
			c := exec.Command(py, "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20)", u)
			c.Env = clientEnvWithoutTrust("HTTPS_PROXY=" + proxyURL)
			return c, ""
		}, []string{"aadproxy ca install", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}},
		{"java", "login.windows.net", func(u string) (*exec.Cmd, string) {
			java, err := exec.LookPath("java")
			if err != nil {
				return nil, "no JDK (java) installed"
			}
			src, _ := filepath.Abs(filepath.Join("testdata", "clients", "Fetch.java"))
			host, port, _ := strings.Cut(b.addr, ":")
			return exec.Command(java, "-Dhttps.proxyHost="+host, "-Dhttps.proxyPort="+port, src, u, "x=1"), ""
		}, []string{"aadproxy ca install", "aadproxy run -- java"}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			cmd, missing := c.cmd("https://" + c.host + "/common/discovery/instance")
			if missing != "" {
				requireInCI(t, missing)
			}
			if cmd.Env == nil {
				cmd.Env = clientEnvWithoutTrust()
			}
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("%s trusted a CA it was never given:\n%s", c.name, out)
			}
			n := b.waitLines(t, 1, func(m map[string]any) bool { return m["type"] == "notice" && m["host"] == c.host })[0]
			msg, _ := n["message"].(string)
			hint, _ := n["hint"].(string)
			t.Logf("%s\nhint: %s", msg, hint)
			if n["level"] != "warning" || !strings.Contains(msg, "aadproxy's certificate") {
				t.Errorf("%s: notice %v: want a warning that the client rejected aadproxy's certificate", c.name, n)
			}
			for _, want := range c.hint {
				if !strings.Contains(hint, want) {
					t.Errorf("%s: hint %q does not name %q", c.name, hint, want)
				}
			}
		})
	}
}
