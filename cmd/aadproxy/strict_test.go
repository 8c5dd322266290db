package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// Strict verifiers (Python 3.13's default VERIFY_X509_STRICT, hence Azure
// CLI >= 2.77) reject a CA without critical Basic Constraints or a leaf
// without an Authority Key Identifier; aadproxy's pass.
func TestLeavesPassPythonsStrictVerification(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		requireInCI(t, "python3 is not installed")
	}
	if err := exec.Command(python, "-c", "import ssl; ssl.VERIFY_X509_STRICT").Run(); err != nil {
		t.Skip("this Python has no ssl.VERIFY_X509_STRICT")
	}
	sts, stsCA := stsFixture(t)
	home := t.TempDir()
	b := startBinary(t, "--home", home, "--no-ui", "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(b.addr)
	script, _ := filepath.Abs(filepath.Join("testdata", "clients", "strict_tls.py"))
	out, err := exec.Command(python, script, host, port, ca.CertPath(), "login.microsoftonline.com", "/common/discovery/instance?api-version=1.1").CombinedOutput()
	// Any HTTP status means the handshake, and so the strict checks, passed.
	if status := strings.TrimSpace(string(out)); err != nil || len(status) != 3 || status[0] < '1' || status[0] > '5' {
		t.Fatalf("Python with VERIFY_X509_STRICT through aadproxy: %v, output %q", err, out)
	}
}
