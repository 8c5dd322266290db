package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/internal/launch"
)

// shellAssignments reads the NAME=VALUE words of `export` lines, undoing
// single quotes; a "  # comment" ends a line.
func shellAssignments(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if !strings.HasPrefix(ln, "export ") {
			continue
		}
		ln = strings.TrimPrefix(ln, "export ")
		var word strings.Builder
		quoted := false
		flush := func() {
			if k, v, ok := strings.Cut(word.String(), "="); ok {
				if _, dup := out[k]; dup {
					t.Errorf("%s set twice", k)
				}
				out[k] = v
			}
			word.Reset()
		}
		for i := 0; i < len(ln); i++ {
			c := ln[i]
			switch {
			case c == '\'':
				quoted = !quoted
			case c == '\\' && !quoted && i+1 < len(ln):
				i++
				word.WriteByte(ln[i])
			case c == ' ' && !quoted:
				flush()
				if strings.HasPrefix(strings.TrimSpace(ln[i:]), "#") {
					i = len(ln)
				}
			default:
				word.WriteByte(c)
			}
		}
		flush()
	}
	return out
}

// TestBannerAndEnvSayTheSame: the lines `aadproxy start` prints for a shell
// and what `aadproxy env` prints for the same running proxy come from one
// table (launch.Settings): every variable the banner sets, env sets to the
// same value; each runtime's variable is in the banner, curl's included
// (Debian's curl ignores SSL_CERT_FILE); and curl with nothing but the
// banner's lines for it reaches the fake Entra through the proxy.
func TestBannerAndEnvSayTheSame(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireInCI(t, "curl is not installed")
	}
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	b := startBinary(t, "--home", home, "--no-ui", "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	waitRunFile(t, home, b.cmd.Process.Pid)
	b.mu.Lock()
	banner := b.stderr.String()
	b.mu.Unlock()
	var envOut, envErr bytes.Buffer
	if code := run([]string{"env", "--home", home, "--shell", "bash"}, &envOut, &envErr); code != exitOK {
		t.Fatalf("aadproxy env: exit %d: %s", code, envErr.String())
	}
	fromBanner, fromEnv := shellAssignments(t, banner), shellAssignments(t, envOut.String())
	if len(fromBanner) == 0 {
		t.Fatalf("the banner sets no variable:\n%s", banner)
	}
	for k, v := range fromBanner {
		if fromEnv[k] != v {
			t.Errorf("banner sets %s=%q, aadproxy env %q", k, v, fromEnv[k])
		}
	}
	for _, r := range launch.Runtimes {
		if _, ok := fromBanner[r.Var]; !ok {
			t.Errorf("the banner does not give %s (%s)", r.Var, r.Name)
		}
	}
	for _, want := range []string{"CURL_CA_BUNDLE=", "curl --cacert", "--user-data-dir=", "--ignore-certificate-errors-spki-list=", "aadproxy run -- java"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner does not say %q:\n%s", want, banner)
		}
	}
	for _, ln := range strings.Split(banner, "\n") {
		if strings.Contains(ln, "SSL_CERT_FILE=") && strings.Contains(ln, "curl") {
			t.Errorf("the banner says SSL_CERT_FILE covers curl: %s", ln)
		}
	}
	// curl with only what the banner gives it.
	cmd := exec.Command(curl, "-sS", tokenURL(), "-d",
		"grant_type=client_credentials&client_id="+fakests.AppConfidential.ClientID+"&client_secret=nope&scope=x")
	cmd.Env = clientEnvWithoutTrust("https_proxy="+fromBanner["https_proxy"], "CURL_CA_BUNDLE="+fromBanner["CURL_CA_BUNDLE"])
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "AADSTS7000215") {
		t.Errorf("curl with the banner's CURL_CA_BUNDLE: %v\n%s", err, out)
	}
}
