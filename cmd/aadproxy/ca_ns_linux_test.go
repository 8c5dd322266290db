package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/fakests"
	"github.com/aadproxy/aadproxy/internal/trust"
)

// inNamespaceEnv marks the test binary re-run inside a private mount
// namespace, where /etc/ssl/certs, /usr/local/share/ca-certificates and
// Debian's hook folder are private copies.
const inNamespaceEnv = "AADPROXY_TEST_IN_MOUNT_NS"

// Debian's OS store, as ca install finds it.
const (
	debCerts = "/etc/ssl/certs"
	debLocal = "/usr/local/share/ca-certificates"
	debHooks = "/etc/ca-certificates/update.d"
)

// TestCAInstallInAPrivateMountNamespace runs `ca install` and `ca
// uninstall` for real, as root, against Debian's OS store and the user's
// NSS database, inside a mount namespace of its own (unshare -m) whose
// trust store folders are bind-mounted copies: parallel tests never see a
// trusted aadproxy CA, and a crash cannot leave the machine trusting it.
// curl, with no CA option or variable, must reject the proxy before,
// accept it after install, and reject it again (exit 60) after uninstall,
// with the store byte for byte as before.
func TestCAInstallInAPrivateMountNamespace(t *testing.T) {
	if os.Getenv(inNamespaceEnv) == "1" {
		caInstallInsideNamespace(t)
		return
	}
	for _, tool := range []string{"unshare", "update-ca-certificates", "curl", "certutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			requireInCI(t, tool+" is not installed (Debian: util-linux, ca-certificates, curl, libnss3-tools)")
		}
	}
	if _, err := os.Stat(debLocal); err != nil {
		requireInCI(t, "no "+debLocal+": not a Debian-style OS store")
	}
	// As root, a mount namespace is enough; otherwise a user namespace
	// maps this user to root inside it (when the kernel allows that).
	args := []string{"-m", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"-r"}, args...)
	}
	if out, err := exec.Command("unshare", append(args, "true")...).CombinedOutput(); err != nil {
		requireInCI(t, fmt.Sprintf("cannot make a private mount namespace (unshare %s): %v %s", strings.Join(args, " "), err, out))
	}
	cmd := exec.Command("unshare", append(args, os.Args[0], "-test.run=^TestCAInstallInAPrivateMountNamespace$", "-test.v", "-test.count=1")...)
	cmd.Env = append(os.Environ(), inNamespaceEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCAInstallInAPrivateMountNamespace") {
		t.Fatalf("the test inside the namespace failed: %v", err)
	}
}

// bindCopy replaces dir, inside this namespace only, with a copy of itself.
func bindCopy(t *testing.T, dir, private string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", dir, private).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", dir, err, out)
	}
	bind(t, private, dir)
}

func bind(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", from, to).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind %s %s: %v %s", from, to, err, out)
	}
}

// snapshot is every entry under dirs: type, mode, link target and content hash.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Lstat(p)
			v := fi.Mode().String()
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				v += " -> " + target
			case fi.Mode().IsRegular():
				data, _ := os.ReadFile(p)
				sum := sha256.Sum256(data)
				v += " " + hex.EncodeToString(sum[:])
			}
			m[p] = v
			return nil
		})
	}
	return m
}

func diffSnapshots(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if after[k] != v {
			d = append(d, fmt.Sprintf("%s: %q, was %q", k, after[k], v))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			d = append(d, fmt.Sprintf("%s: new, %q", k, v))
		}
	}
	slices.Sort(d)
	return d
}

// curlThrough fetches url through the proxy with curl's default trust (no
// CA option, no CA variable) and returns curl's exit code.
func curlThrough(t *testing.T, proxyAddr, url string) (int, string) {
	t.Helper()
	cmd := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", "http://"+proxyAddr, url)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func caInstallInsideNamespace(t *testing.T) {
	if !isAdmin() {
		t.Fatal("not root inside the namespace")
	}
	private := t.TempDir()
	bindCopy(t, debCerts, filepath.Join(private, "certs"))
	bindCopy(t, debLocal, filepath.Join(private, "local"))
	// Debian's hooks (ca-certificates-java) reach dpkg's state, outside
	// this namespace: in their place, one that writes down what it is told.
	if _, err := os.Stat(debHooks); err == nil {
		hooks := filepath.Join(private, "hooks")
		os.Mkdir(hooks, 0o755)
		os.WriteFile(filepath.Join(hooks, "record"), []byte("#!/bin/sh\ncat >> "+filepath.Join(private, "hook-input")+"\n"), 0o755)
		bind(t, hooks, debHooks)
	}
	// Bring the copy up to date first (a machine may have a local CA that
	// was never linked), so "as before" means the store's own state.
	if out, err := exec.Command("update-ca-certificates").CombinedOutput(); err != nil {
		t.Fatalf("update-ca-certificates: %v %s", err, out)
	}
	os.Remove(filepath.Join(private, "hook-input"))
	before := snapshot(t, debCerts, debLocal)

	// The user: a home with Chromium's NSS database.
	userHome := filepath.Join(private, "user")
	t.Setenv("HOME", userHome)
	nssdb := trust.ChromiumNSSDB(userHome)
	os.MkdirAll(nssdb, 0o700)
	if out, err := exec.Command("certutil", "-N", "-d", "sql:"+nssdb, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v %s", err, out)
	}
	nssBefore := nssListing(t, "certutil", nssdb)

	sts, stsCA := stsFixture(t)
	home := filepath.Join(private, "aadproxy")
	b := startBinary(t, "--home", home, "--map-remote", "login.microsoftonline.com="+sts.Addr(), "--upstream-ca", stsCA)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	c := trust.Cert{DER: ca.CertDER()}
	url := "https://login.microsoftonline.com/" + fakests.TenantContoso.ID + "/v2.0/.well-known/openid-configuration"

	if code, out := curlThrough(t, b.addr, url); code != 60 {
		t.Fatalf("curl before install: exit %d (%s), want 60 (the CA is not trusted)", code, out)
	}

	code, out := caRun(t, "install", "--yes", "--home", home)
	t.Logf("ca install:\n%s", out)
	link := filepath.Join(debCerts, "aadproxy-"+c.ID()+".pem")
	if code != exitOK || !strings.Contains(out, "$ install -m 0644 "+ca.CertPath()+" "+debLocal+"/aadproxy-"+c.ID()+".crt") ||
		!strings.Contains(out, "$ update-ca-certificates") || !strings.Contains(out, `"aadproxy CA `+c.ID()+`"`) {
		t.Fatalf("ca install: exit %d", code)
	}
	if code, out := curlThrough(t, b.addr, url); code != 0 || out != "200" {
		t.Fatalf("curl after install: exit %d, %s; want 0 and HTTP 200", code, out)
	}
	b.waitLines(t, 1, func(m map[string]any) bool { return m["type"] == "flow" && m["url"] == url && m["status"] == 200.0 })
	if !strings.Contains(nssListing(t, "certutil", nssdb), "aadproxy CA "+c.ID()) {
		t.Errorf("Chromium's NSS database lacks the CA after install")
	}
	code, out = caRun(t, "status", "--home", home)
	if code != exitOK || strings.Count(out, "trusted, added by aadproxy") != 2 {
		t.Errorf("ca status after install: exit %d\n%s", code, out)
	}

	code, out = caRun(t, "uninstall", "--yes", "--home", home)
	t.Logf("ca uninstall:\n%s", out)
	if code != exitOK || !strings.Contains(out, "$ update-ca-certificates --fresh") {
		t.Fatalf("ca uninstall: exit %d", code)
	}
	if code, out := curlThrough(t, b.addr, url); code != 60 {
		t.Fatalf("curl after uninstall: exit %d (%s), want 60", code, out)
	}
	if d := diffSnapshots(before, snapshot(t, debCerts, debLocal)); len(d) > 0 {
		t.Errorf("the OS store differs from before install:\n%s", strings.Join(d, "\n"))
	}
	if got := nssListing(t, "certutil", nssdb); got != nssBefore {
		t.Errorf("Chromium's NSS database differs from before install:\n%s", got)
	}
	// The hooks heard of the addition from update-ca-certificates and of
	// the removal from aadproxy.
	if _, err := os.Stat(debHooks); err == nil {
		heard, _ := os.ReadFile(filepath.Join(private, "hook-input"))
		if !strings.Contains(string(heard), "+"+link+"\n") || !strings.Contains(string(heard), "-"+link+"\n") {
			t.Errorf("the hooks were told %q, want +%s and then -%s", heard, link, link)
		}
	}
}
