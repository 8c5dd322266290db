package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/trust"
)

func TestCATrustUsageErrorsExit2(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"ca", "install", "--store", "keychain"},
		{"ca", "install", "--store", "system", "--nssdb", home},
		{"ca", "status", "--yes"},
		{"ca", "status", "extra"},
		{"ca", "frobnicate"},
	} {
		var stderr bytes.Buffer
		if code := run(append(args, "--home", home), io.Discard, &stderr); code != exitBadInput {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitBadInput, stderr.String())
		}
	}
}

func certutilFor(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("certutil")
	if err != nil {
		requireInCI(t, "NSS certutil (libnss3-tools) is not installed")
	}
	return p
}

func newNSSDB(t *testing.T, certutil string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+dir, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v %s", err, out)
	}
	return dir
}

// nssListing is the database's certificate list, for before/after checks.
func nssListing(t *testing.T, certutil, dir string) string {
	t.Helper()
	out, err := exec.Command(certutil, "-L", "-d", "sql:"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v %s", err, out)
	}
	return string(out)
}

// caRun runs `aadproxy ca ARGS` in-process and returns exit code and stdout.
func caRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"ca"}, args...), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// notAtATerminal makes install see a non-interactive stdin holding answer.
func atTerminal(t *testing.T, terminal bool, answer string) {
	t.Helper()
	oldIn, oldTerm := caStdin, stdinIsTerminal
	caStdin = strings.NewReader(answer)
	stdinIsTerminal = func() bool { return terminal }
	t.Cleanup(func() { caStdin, stdinIsTerminal = oldIn, oldTerm })
}

func TestCAInstallIntoAnNSSDatabase(t *testing.T) {
	certutil := certutilFor(t)
	t.Setenv("HOME", t.TempDir()) // no browser databases of the user's
	home := filepath.Join(t.TempDir(), "home")
	db := newNSSDB(t, certutil)
	// Another CA the user trusts must survive install and uninstall.
	corp, _ := certs.New(certs.Options{CommonName: "corp root"})
	corpPEM := filepath.Join(t.TempDir(), "corp.pem")
	os.WriteFile(corpPEM, corp.CertPEM(), 0o600)
	if out, err := exec.Command(certutil, "-A", "-d", "sql:"+db, "-n", "corp root", "-t", "C,,", "-i", corpPEM).CombinedOutput(); err != nil {
		t.Fatalf("certutil -A: %v %s", err, out)
	}
	before := nssListing(t, certutil, db)
	flags := []string{"--home", home, "--store", "nss", "--nssdb", db}

	// A dry run says what it would run and changes nothing.
	code, out := caRun(t, append([]string{"install", "--dry-run"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "would run") || !strings.Contains(out, "certutil -A -d sql:"+db) || !strings.Contains(out, "nothing changed") {
		t.Fatalf("install --dry-run: exit %d\n%s", code, out)
	}
	if nssListing(t, certutil, db) != before {
		t.Fatalf("install --dry-run changed the database")
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	c := trust.Cert{DER: ca.CertDER()}
	nick := "aadproxy CA " + c.ID()

	// Not at a terminal and without --yes: a usage error, nothing changed.
	atTerminal(t, false, "")
	if code, out := caRun(t, append([]string{"install"}, flags...)...); code != exitBadInput || !strings.Contains(out, "--yes") {
		t.Fatalf("install without --yes off a terminal: exit %d, want %d\n%s", code, exitBadInput, out)
	}
	// At a terminal, "n" changes nothing; "y" goes ahead.
	atTerminal(t, true, "n\n")
	if code, out := caRun(t, append([]string{"install"}, flags...)...); code != exitOK || !strings.Contains(out, "Go ahead? [y/N]") {
		t.Fatalf("install answered n: exit %d\n%s", code, out)
	}
	if nssListing(t, certutil, db) != before {
		t.Fatalf("install answered n changed the database")
	}
	atTerminal(t, true, "y\n")
	code, out = caRun(t, append([]string{"install"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "$ "+certutil+" -A") || !strings.Contains(out, "trusted now") {
		t.Fatalf("install answered y: exit %d\n%s", code, out)
	}
	if l := nssListing(t, certutil, db); !strings.Contains(l, nick) || !strings.Contains(l, "corp root") {
		t.Fatalf("after install the database lists:\n%s", l)
	}
	code, out = caRun(t, append([]string{"status"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "trusted, added by aadproxy as "+db+` as "`+nick+`"`) {
		t.Fatalf("status after install: exit %d\n%s", code, out)
	}
	// Again: nothing to change.
	if code, out := caRun(t, append([]string{"install", "--yes"}, flags...)...); code != exitOK || !strings.Contains(out, "nothing to change") {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}

	// The record lets a plain uninstall (no --nssdb) find the database.
	code, out = caRun(t, "uninstall", "--yes", "--home", home, "--store", "nss")
	if code != exitOK || !strings.Contains(out, "$ "+certutil+" -D -d sql:"+db+" -n '"+nick+"'") || !strings.Contains(out, "removed "+c.ID()) {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if after := nssListing(t, certutil, db); after != before {
		t.Fatalf("uninstall left the database different:\nbefore\n%s\nafter\n%s", before, after)
	}
	if r, _ := trust.LoadRecord(home); len(r.Installed) != 0 {
		t.Errorf("record after uninstall: %+v", r)
	}
}

func TestCAUninstallLeavesAHandMadeImport(t *testing.T) {
	certutil := certutilFor(t)
	t.Setenv("HOME", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	db := newNSSDB(t, certutil)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(certutil, "-A", "-d", "sql:"+db, "-n", "my aadproxy", "-t", "C,,", "-i", ca.CertPath()).CombinedOutput(); err != nil {
		t.Fatalf("certutil -A: %v %s", err, out)
	}
	flags := []string{"--home", home, "--store", "nss", "--nssdb", db}
	code, out := caRun(t, append([]string{"install", "--yes"}, flags...)...)
	if code != exitOK || !strings.Contains(out, `trusted through `+db+` as "my aadproxy", which aadproxy did not add`) || !strings.Contains(out, "nothing to change") {
		t.Fatalf("install over a hand-made import: exit %d\n%s", code, out)
	}
	code, out = caRun(t, append([]string{"uninstall", "--yes"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "nothing to change") || !strings.Contains(nssListing(t, certutil, db), "my aadproxy") {
		t.Fatalf("uninstall removed a certificate aadproxy did not add: exit %d\n%s", code, out)
	}
}

func TestCAUninstallFindsARegeneratedCA(t *testing.T) {
	certutil := certutilFor(t)
	t.Setenv("HOME", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	db := newNSSDB(t, certutil)
	flags := []string{"--home", home, "--store", "nss", "--nssdb", db}
	if code, out := caRun(t, append([]string{"install", "--yes"}, flags...)...); code != exitOK {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	old, _ := trust.LoadCert(filepath.Join(home, certs.CertFile))
	code, out := caRun(t, "regenerate", "--home", home)
	if code != exitOK {
		t.Fatalf("regenerate: exit %d\n%s", code, out)
	}
	// Status shows the earlier CA still trusted; uninstall removes it
	// although its certificate is no longer in the home.
	code, out = caRun(t, append([]string{"status"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "earlier aadproxy CA") || !strings.Contains(out, `"aadproxy CA `+old.ID()+`"`) {
		t.Fatalf("status after regenerate: exit %d\n%s", code, out)
	}
	code, out = caRun(t, "uninstall", "--yes", "--home", home, "--store", "nss")
	if code != exitOK || !strings.Contains(out, "removed "+old.ID()) {
		t.Fatalf("uninstall after regenerate: exit %d\n%s", code, out)
	}
	if l := nssListing(t, certutil, db); strings.Contains(l, "aadproxy") {
		t.Fatalf("after uninstall the database lists:\n%s", l)
	}
}

func TestCAUninstallWithoutACANeverCreatesOne(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	code, out := caRun(t, "uninstall", "--yes", "--home", home)
	if code != exitOK || !strings.Contains(out, "nothing to uninstall") {
		t.Fatalf("uninstall without a CA: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, certs.KeyFile)); err == nil {
		t.Errorf("uninstall created a CA")
	}
}

// Without admin rights the OS store's commands are printed for the user to
// run with sudo; aadproxy never runs sudo itself. (A dry run only: this
// test must not touch the machine's own store even when run as root.)
func TestCAInstallPrintsSudoCommandsForANonAdmin(t *testing.T) {
	if _, ok := trust.FindLinuxStore(); !ok {
		t.Skip("no Linux OS store layout on this machine")
	}
	old := isAdmin
	isAdmin = func() bool { return false }
	t.Cleanup(func() { isAdmin = old })
	t.Setenv("HOME", t.TempDir())
	home := filepath.Join(t.TempDir(), "home")
	code, out := caRun(t, "install", "--dry-run", "--home", home)
	ca, _ := trust.LoadCert(filepath.Join(home, certs.CertFile))
	if code != exitOK || !strings.Contains(out, "never runs sudo") || !strings.Contains(out, "  sudo install -m 0644 "+ca.Path+" ") ||
		!strings.Contains(out, "aadproxy-"+ca.ID()) || !strings.Contains(out, "dry run: nothing changed") {
		t.Fatalf("install --dry-run as a non-admin: exit %d\n%s", code, out)
	}
}
