package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testDomains = []string{"login.microsoftonline.com", "b2clogin.com", "contoso.test", "localhost"}

func TestConstrainedCA(t *testing.T) {
	ca := newTestCA(t, Options{PermittedDomains: testDomains})
	c := ca.Cert()
	if !c.PermittedDNSDomainsCritical || strings.Join(c.PermittedDNSDomains, ",") != strings.Join(testDomains, ",") {
		t.Errorf("name constraints: critical=%v domains=%q, want critical %q", c.PermittedDNSDomainsCritical, c.PermittedDNSDomains, testDomains)
	}
	if len(c.PermittedIPRanges) != 2 || c.PermittedIPRanges[0].String() != "127.0.0.0/8" || c.PermittedIPRanges[1].String() != "::1/128" {
		t.Errorf("IP constraints: got %v, want loopback only", c.PermittedIPRanges)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ExtKeyUsage: got %v, want serverAuth only", c.ExtKeyUsage)
	}
	if !ca.Constrained() || newTestCA(t, Options{}).Constrained() {
		t.Error("Constrained() does not tell a constrained CA from a plain one")
	}
	if _, err := New(Options{PermittedDomains: []string{"Bad..Name"}}); err == nil {
		t.Error("New accepted a malformed permitted domain")
	}
	// A saved constrained CA loads with its constraints.
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := RegenerateWith(dir, Options{PermittedDomains: testDomains}); err != nil {
		t.Fatal(err)
	}
	loaded, created, err := LoadOrCreate(dir)
	if err != nil || created || !loaded.Constrained() {
		t.Fatalf("LoadOrCreate of a constrained CA: created=%v constrained=%v %v", created, loaded.Constrained(), err)
	}
}

// constrainedHosts are asked of Go's verifier and of Permits; both must
// agree, so the proxy decrypts exactly the hosts a client will accept.
var constrainedHosts = []struct {
	host string
	ok   bool
}{
	{"login.microsoftonline.com", true},
	{"LOGIN.microsoftonline.com:443", true},
	{"device.login.microsoftonline.com", true}, // subdomains are covered
	{"contoso.b2clogin.com", true},
	{"b2clogin.com", true},
	{"app.contoso.test", true},
	{"localhost", true},
	{"127.0.0.1", true},
	{"[::1]:8443", true},
	{"microsoftonline.com", false}, // a parent is not
	{"evilmicrosoftonline.com", false},
	{"login.microsoftonline.com.evil.example", false},
	{"www.google.com", false},
	{"notcontoso.test", false},
	{"10.0.0.1", false},
	{"2001:db8::1", false},
}

func TestConstrainedCAPermitsWhatGoAccepts(t *testing.T) {
	ca := newTestCA(t, Options{PermittedDomains: testDomains})
	iss := NewIssuer(ca, IssuerOptions{})
	roots := ca.Pool()
	for _, tc := range constrainedHosts {
		if got := ca.Permits(tc.host); got != tc.ok {
			t.Errorf("Permits(%q): got %v, want %v", tc.host, got, tc.ok)
		}
		leaf, err := iss.Leaf(tc.host)
		if err != nil {
			t.Fatalf("Leaf(%q): %v", tc.host, err)
		}
		h, _ := normalizeHost(tc.host)
		_, err = leaf.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: h.name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		var inv x509.CertificateInvalidError
		switch {
		case tc.ok && err != nil:
			t.Errorf("Go rejected a leaf for %q: %v", tc.host, err)
		case !tc.ok && (!errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName):
			t.Errorf("Go on a leaf for %q: got %v, want CANotAuthorizedForThisName", tc.host, err)
		}
	}
	// A plain CA permits everything.
	plain := newTestCA(t, Options{})
	for _, h := range []string{"www.google.com", "10.0.0.1"} {
		if !plain.Permits(h) {
			t.Errorf("an unconstrained CA does not permit %q", h)
		}
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true: this test must run)", name)
		}
		t.Skipf("SKIPPING: %s is not installed (%s); run ./scripts/test to install it", name, pkg)
	}
	return p
}

// OpenSSL and NSS enforce the constraints on a trusted root as Go does.
func TestConstrainedCAInOpenSSLAndNSS(t *testing.T) {
	openssl := requireTool(t, "openssl", "openssl")
	certutil := requireTool(t, "certutil", "libnss3-tools")
	ca := newTestCA(t, Options{PermittedDomains: testDomains})
	iss := NewIssuer(ca, IssuerOptions{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, ca.Cert().Raw)
	db := filepath.Join(dir, "nssdb")
	os.Mkdir(db, 0o700)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "constrained", "-t", "C,,", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v %s", args[0], err, out)
		}
	}
	for _, tc := range []struct {
		host string
		ok   bool
	}{{"login.microsoftonline.com", true}, {"contoso.b2clogin.com", true}, {"www.google.com", false}, {"microsoftonline.com", false}} {
		leaf, err := iss.Leaf(tc.host)
		if err != nil {
			t.Fatal(err)
		}
		leafFile := filepath.Join(dir, tc.host+".pem")
		writePEM(t, leafFile, leaf.Leaf.Raw)

		out, err := exec.Command(openssl, "verify", "-CAfile", caFile, "-purpose", "sslserver", "-verify_hostname", tc.host, leafFile).CombinedOutput()
		if tc.ok && err != nil {
			t.Errorf("openssl verify rejected %s: %v %s", tc.host, err, out)
		}
		if !tc.ok && (err == nil || !strings.Contains(string(out), "permitted subtree violation")) {
			t.Errorf("openssl verify on %s: %v %s, want a permitted subtree violation", tc.host, err, out)
		}

		if out, err := exec.Command(certutil, "-A", "-d", "sql:"+db, "-n", tc.host, "-t", ",,", "-i", leafFile).CombinedOutput(); err != nil {
			t.Fatalf("certutil -A leaf: %v %s", err, out)
		}
		out, err = exec.Command(certutil, "-V", "-d", "sql:"+db, "-n", tc.host, "-u", "V", "-b", time.Now().UTC().Format("060102150405Z")).CombinedOutput()
		if tc.ok && err != nil {
			t.Errorf("NSS rejected %s: %v %s", tc.host, err, out)
		}
		if !tc.ok && (err == nil || !strings.Contains(string(out), "not permitted to issue a certificate with this name")) {
			t.Errorf("NSS on %s: %v %s, want the CA not permitted to issue for this name", tc.host, err, out)
		}
	}
}
