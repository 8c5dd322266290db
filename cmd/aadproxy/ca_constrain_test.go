package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/proxy"
)

func TestConstraintDomains(t *testing.T) {
	got, err := constraintDomains([]string{"*.contoso.com", "api-*.fabrikam.example", "app.contoso.com", "graph.microsoft.com"}, []string{"kept.test", "x.b2clogin.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"login.microsoftonline.com", "login.microsoft.com", "b2clogin.com", "ciamlogin.com", "contoso.com",
		"fabrikam.example", "graph.microsoft.com", "kept.test", "localhost"} {
		if !slices.Contains(got, want) {
			t.Errorf("constraintDomains lacks %s: %q", want, got)
		}
	}
	// Covered by a wider domain, or wildcard-only: left out.
	for _, not := range []string{"app.contoso.com", "x.b2clogin.com", "*.b2clogin.com", "microsoft.com", "com"} {
		if slices.Contains(got, not) {
			t.Errorf("constraintDomains has %s: %q", not, got)
		}
	}
	for _, bad := range []string{"login.*.com", "*.com", "*"} {
		if _, err := constraintDomains([]string{bad}, nil); err == nil {
			t.Errorf("constraintDomains(%q) accepted a pattern that would cover a whole top-level domain", bad)
		}
	}
}

// presentedCert CONNECTs to host through the proxy and returns the
// certificate the client is shown, without judging it.
func presentedCert(t *testing.T, proxyAddr, host string) *x509.Certificate {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", host, resp, err)
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS with %s through the proxy: %v", host, err)
	}
	return tc.ConnectionState().PeerCertificates[0]
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// With a name-constrained CA the proxy decrypts an identity host and
// tunnels, saying why, a host the user asked to intercept that the
// constraints leave out: a leaf for it would fail validation.
func TestConstrainedCAProxyTunnelsHostsOutsideIt(t *testing.T) {
	sts, stsCA := stsFixture(t)
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("HOME", t.TempDir())
	if code, out := caRun(t, "regenerate", "--constrain", "--intercept", "app.contoso.test", "--home", home); code != exitOK || !strings.Contains(out, "name-constrained") {
		t.Fatalf("ca regenerate --constrain: exit %d\n%s", code, out)
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil || !ca.Constrained() {
		t.Fatalf("the home's CA is not constrained: %v", err)
	}
	b := startBinary(t, "--home", home, "--intercept", "app.contoso.test", "--intercept", "outside.example",
		"--map-remote", "login.microsoftonline.com="+sts.Addr(), "--map-remote", "app.contoso.test="+sts.Addr(),
		"--map-remote", "outside.example="+sts.Addr(), "--upstream-ca", stsCA)

	for _, tc := range []struct {
		host      string
		decrypted bool
	}{{"login.microsoftonline.com", true}, {"app.contoso.test", true}, {"outside.example", false}} {
		cert := presentedCert(t, b.addr, tc.host)
		byCA := cert.CheckSignatureFrom(ca.Cert()) == nil
		if byCA != tc.decrypted {
			t.Errorf("%s: the client got a certificate from %q (signed by aadproxy's CA: %v), want decrypted=%v", tc.host, cert.Issuer, byCA, tc.decrypted)
		}
		if tc.decrypted {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: tc.host}); err != nil {
				t.Errorf("%s: the leaf fails validation under the constrained CA: %v", tc.host, err)
			}
		}
	}
	notice := b.waitLines(t, 1, func(m map[string]any) bool {
		return m["type"] == "notice" && strings.Contains(fmt.Sprint(m), "name constraints do not cover outside.example")
	})
	if !strings.Contains(fmt.Sprint(notice[0]), "ca regenerate --constrain --intercept outside.example") {
		t.Errorf("the notice does not say how to widen the constraints: %v", notice[0])
	}
}

// The constrained CA's leaves pass Python's VERIFY_X509_STRICT too (the
// CA's extended key usage and name constraints are extensions strict mode
// looks at).
func TestConstrainedLeavesPassPythonsStrictVerification(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		requireInCI(t, "python3 is not installed")
	}
	if err := exec.Command(python, "-c", "import ssl; ssl.VERIFY_X509_STRICT").Run(); err != nil {
		t.Skip("this Python has no ssl.VERIFY_X509_STRICT")
	}
	sts, stsCA := stsFixture(t)
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("HOME", t.TempDir())
	if code, out := caRun(t, "regenerate", "--constrain", "--home", home); code != exitOK {
		t.Fatalf("ca regenerate --constrain: exit %d\n%s", code, out)
	}
	b := startBinary(t, "--home", home, "--no-ui", "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	host, port, _ := net.SplitHostPort(b.addr)
	script, _ := filepath.Abs(filepath.Join("testdata", "clients", "strict_tls.py"))
	out, err := exec.Command(python, script, host, port, filepath.Join(home, certs.CertFile), "login.microsoftonline.com", "/common/discovery/instance?api-version=1.1").CombinedOutput()
	if status := strings.TrimSpace(string(out)); err != nil || len(status) != 3 || status[0] < '1' || status[0] > '5' {
		t.Fatalf("Python with VERIFY_X509_STRICT through aadproxy with a constrained CA: %v, output %q", err, out)
	}
}

// Every identity host is inside the constraints, so no default
// interception is lost by constraining.
func TestConstraintsCoverEveryIdentityHost(t *testing.T) {
	domains, err := constraintDomains(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certs.New(certs.Options{PermittedDomains: domains})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range proxy.IdentityHosts {
		h = strings.Replace(h, "*", "westus2", 1)
		if !ca.Permits(h) {
			t.Errorf("the constrained CA does not permit identity host %s", h)
		}
	}
}

// Chromium enforces the constraints on a root it trusts through its NSS
// database (not through --ignore-certificate-errors-spki-list, which
// skips them): it loads an identity host through the proxy, and refuses
// a leaf for a host outside the constraints signed by the same CA.
func TestChromiumEnforcesTheConstraintsFromItsNSSDatabase(t *testing.T) {
	browser := chromiumPath(t)
	certutil := certutilFor(t)
	sts, stsCA := stsFixture(t)
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("HOME", t.TempDir())
	if code, out := caRun(t, "regenerate", "--constrain", "--home", home); code != exitOK {
		t.Fatalf("ca regenerate --constrain: exit %d\n%s", code, out)
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	// The browser's HOME, with the CA in its NSS database.
	browserHome := t.TempDir()
	db := filepath.Join(browserHome, ".pki", "nssdb")
	os.MkdirAll(db, 0o700)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "aadproxy constrained", "-t", "C,,", "-i", ca.CertPath()},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v %s", args[0], err, out)
		}
	}
	dumpDOM := func(url string, flags ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := slices.Concat(chromiumFlags, []string{"--user-data-dir=" + filepath.Join(t.TempDir(), "profile")}, flags, []string{"--dump-dom", url})
		cmd := exec.CommandContext(ctx, browser, args...)
		cmd.Env = append(os.Environ(), "HOME="+browserHome)
		out, _ := cmd.Output() // the page, not the exit status, is the test
		return string(out)
	}

	// Inside: the sign-in page through the proxy.
	b := startBinary(t, "--home", home, "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	authorize := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID + "/oauth2/v2.0/authorize?client_id=" +
		fakests.AppPublic.ClientID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost&scope=openid&state=constrained-chromium"
	if dom := dumpDOM(authorize, "--proxy-server=http://"+b.addr); !strings.Contains(dom, "Sign in") {
		t.Errorf("Chromium did not render the sign-in page through the proxy under the constrained CA:\n%s", truncateForLog([]byte(dom)))
	}
	b.waitLines(t, 1, func(m map[string]any) bool {
		u, _ := m["url"].(string)
		return m["type"] == "flow" && strings.Contains(u, "state=constrained-chromium") && m["status"] == 200.0
	})

	// Outside: a loopback server with a leaf the same CA signed for a
	// host the constraints leave out, and then one for an identity host.
	for _, tc := range []struct {
		host string
		ok   bool
	}{{"outside.example", false}, {"login.microsoftonline.com", true}} {
		leaf, err := certs.NewIssuer(ca, certs.IssuerOptions{}).Leaf(tc.host)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html><body>served-over-tls-"+r.Host+"</body></html>")
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // Chromium's refusal is expected
		srv.StartTLS()
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		dom := dumpDOM("https://"+tc.host+"/", "--host-resolver-rules=MAP "+tc.host+" 127.0.0.1:"+port)
		srv.Close()
		if got := strings.Contains(dom, "served-over-tls-"+tc.host); got != tc.ok {
			t.Errorf("Chromium with a leaf for %s: page shown %v, want %v\n%s", tc.host, got, tc.ok, truncateForLog([]byte(dom)))
		}
	}
}
