package trust

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aadproxy/aadproxy/certs"
)

// testCert returns a fresh CA certificate written to a PEM file.
func testCert(t *testing.T) Cert {
	t.Helper()
	ca, err := certs.New(certs.Options{CommonName: "trust test CA"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertHashesNameTheDERBytes(t *testing.T) {
	c := testCert(t)
	s256 := sha256.Sum256(c.DER)
	s1 := sha1.Sum(c.DER)
	if got, want := c.SHA256(), hex.EncodeToString(s256[:]); got != want {
		t.Errorf("SHA256: got %s, want %s", got, want)
	}
	if got, want := c.SHA1(), strings.ToUpper(hex.EncodeToString(s1[:])); got != want {
		t.Errorf("SHA1: got %s, want %s", got, want)
	}
	if c.ID() != c.SHA256()[:16] {
		t.Errorf("ID %s is not the SHA-256's first 16 digits", c.ID())
	}
	if fp := c.Fingerprint(); len(fp) != 95 || strings.ReplaceAll(fp, ":", "") != strings.ToUpper(c.SHA256()) {
		t.Errorf("Fingerprint: got %s", fp)
	}
	if _, err := ParseCert([]byte("not pem"), "x"); err == nil {
		t.Error("ParseCert accepted a file without a certificate")
	}
}

func TestStepStringQuotesForAShell(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"certutil", "-A", "-n", "aadproxy CA 0123", "-t", "C,,"}, "certutil -A -n 'aadproxy CA 0123' -t C,,"},
		{[]string{"rm", "-f", "/a/it's.crt"}, `rm -f '/a/it'\''s.crt'`},
		{[]string{"x", ""}, "x ''"},
	} {
		if got := (Step{Args: tc.args}).String(); got != tc.want {
			t.Errorf("Step(%q).String(): got %s, want %s", tc.args, got, tc.want)
		}
	}
}

func argsOf(steps []Step) [][]string {
	var out [][]string
	for _, s := range steps {
		out = append(out, s.Args)
	}
	return out
}

func sameSteps(t *testing.T, what string, got []Step, want [][]string, admin bool) {
	t.Helper()
	if !slices.EqualFunc(argsOf(got), want, slices.Equal[[]string]) {
		t.Errorf("%s: got %q, want %q", what, argsOf(got), want)
	}
	for _, s := range got {
		if s.Admin != admin {
			t.Errorf("%s: %s has Admin=%v, want %v", what, s, s.Admin, admin)
		}
	}
}

// fakeRunner answers with out and err and records the command.
func fakeRunner(out string, err error, calls *[][]string) Runner {
	return func(args ...string) ([]byte, error) {
		*calls = append(*calls, args)
		return []byte(out), err
	}
}

func TestMacStoreCommands(t *testing.T) {
	c := testCert(t)
	kc := LoginKeychain("/Users/me")
	if kc != "/Users/me/Library/Keychains/login.keychain-db" {
		t.Errorf("LoginKeychain: %s", kc)
	}
	var calls [][]string
	listing := "keychain: \"" + kc + "\"\nSHA-256 hash: " + strings.ToUpper(c.SHA256()) + "\nSHA-1 hash: " + c.SHA1() + "\nclass: 0x80001000\n"
	s := MacStore{Keychain: kc, Run: fakeRunner(listing, nil, &calls)}
	sameSteps(t, "install", s.Install(c), [][]string{{"security", "add-trusted-cert", "-r", "trustRoot", "-k", kc, c.Path}}, false)
	sameSteps(t, "uninstall", s.Uninstall(c), [][]string{{"security", "delete-certificate", "-t", "-Z", c.SHA1(), kc}}, false)
	st, err := s.Status(c)
	if err != nil || st.Ours == "" || !st.Trusted() {
		t.Errorf("Status with the certificate listed: %+v, %v", st, err)
	}
	if want := [][]string{{"security", "find-certificate", "-a", "-Z", kc}}; !slices.EqualFunc(calls, want, slices.Equal[[]string]) {
		t.Errorf("Status ran %q, want %q", calls, want)
	}
	other := testCert(t)
	if st, _ := s.Status(other); st.Trusted() {
		t.Errorf("Status of a certificate not listed: %+v", st)
	}
	s.Run = fakeRunner("security: SecKeychainSearchCopyNext: The specified keychain could not be found.", errors.New("exit status 50"), &calls)
	if _, err := s.Status(c); err == nil {
		t.Error("Status hid a failing security command")
	}
}

func TestWindowsStoreCommands(t *testing.T) {
	c := testCert(t)
	var calls [][]string
	var pairs []string
	for i := 0; i < 40; i += 2 {
		pairs = append(pairs, strings.ToLower(c.SHA1()[i:i+2]))
	}
	spaced := strings.Join(pairs, " ")
	for _, listing := range []string{
		"Root\r\n================ Certificate 0 ================\r\nSerial Number: 01\r\nCert Hash(sha1): " + spaced + "\r\nCertUtil: -store command completed successfully.\r\n",
		"Cert Hash(sha1): " + strings.ToLower(c.SHA1()) + "\r\n",
	} {
		calls = nil
		s := WindowsStore{Run: fakeRunner(listing, nil, &calls)}
		if st, _ := s.Status(c); st.Ours == "" {
			t.Errorf("Status of %q: not found", listing)
		}
		if want := [][]string{{"certutil", "-user", "-store", "Root", c.SHA1()}}; !slices.EqualFunc(calls, want, slices.Equal[[]string]) {
			t.Errorf("Status ran %q, want %q", calls, want)
		}
	}
	s := WindowsStore{Run: fakeRunner("CertUtil: -store command FAILED: 0x80092004 (-2146885628 CRYPT_E_NOT_FOUND)", errors.New("exit status 1"), &calls)}
	if st, _ := s.Status(c); st.Trusted() {
		t.Errorf("Status when certutil finds nothing: %+v", st)
	}
	// A listing of another certificate does not count, whatever the exit status.
	s = WindowsStore{Run: fakeRunner("Cert Hash(sha1): "+strings.Repeat("ab", 20), nil, &calls)}
	if st, _ := s.Status(c); st.Trusted() {
		t.Errorf("Status matched another certificate's hash: %+v", st)
	}
	sameSteps(t, "install", s.Install(c), [][]string{{"certutil", "-user", "-addstore", "Root", c.Path}}, false)
	sameSteps(t, "uninstall", s.Uninstall(c), [][]string{{"certutil", "-user", "-delstore", "Root", c.SHA1()}}, false)
}

// linuxFixture is a Linux store in temporary folders.
func linuxFixture(t *testing.T, base LinuxStore) LinuxStore {
	t.Helper()
	dir := t.TempDir()
	s := base
	s.AnchorDir = filepath.Join(dir, "anchors")
	s.Bundle = filepath.Join(dir, "bundle.crt")
	os.MkdirAll(s.AnchorDir, 0o755)
	if s.Hooks != "" {
		s.Hooks = filepath.Join(dir, "hooks")
		os.MkdirAll(s.Hooks, 0o755)
	}
	return s
}

func TestLinuxStoreCommands(t *testing.T) {
	c := testCert(t)
	byName := map[string]LinuxStore{}
	for _, s := range LinuxStores {
		byName[s.Distro] = s
	}
	deb := linuxFixture(t, byName["Debian/Ubuntu"])
	file := filepath.Join(deb.AnchorDir, "aadproxy-"+c.ID()+".crt")
	sameSteps(t, "debian install", deb.Install(c), [][]string{{"install", "-m", "0644", c.Path, file}, {"update-ca-certificates"}}, true)
	sameSteps(t, "debian uninstall without hooks", deb.Uninstall(c), [][]string{{"rm", "-f", file}, {"update-ca-certificates", "--fresh"}}, true)
	os.WriteFile(filepath.Join(deb.Hooks, "jks-keystore"), []byte("#!/bin/sh\n"), 0o755)
	got := deb.Uninstall(c)
	if len(got) != 3 || !strings.Contains(got[2].String(), "echo -/etc/ssl/certs/aadproxy-"+c.ID()+".pem | ") || !strings.Contains(got[2].String(), deb.Hooks+"/*") {
		t.Errorf("debian uninstall with a hook: got %q, want the hooks told of the removed link", argsOf(got))
	}

	fed := byName["Fedora/RHEL"]
	sameSteps(t, "fedora install", fed.Install(c), [][]string{
		{"install", "-m", "0644", c.Path, "/etc/pki/ca-trust/source/anchors/aadproxy-" + c.ID() + ".pem"}, {"update-ca-trust", "extract"}}, true)
	sameSteps(t, "fedora uninstall", fed.Uninstall(c), [][]string{
		{"rm", "-f", "/etc/pki/ca-trust/source/anchors/aadproxy-" + c.ID() + ".pem"}, {"update-ca-trust", "extract"}}, true)
	arch := byName["Arch"]
	sameSteps(t, "arch uninstall", arch.Uninstall(c), [][]string{
		{"rm", "-f", "/etc/ca-certificates/trust-source/anchors/aadproxy-" + c.ID() + ".crt"}, {"trust", "extract-compat"}}, true)
}

func TestLinuxStoreStatus(t *testing.T) {
	c, other := testCert(t), testCert(t)
	s := linuxFixture(t, LinuxStores[1])
	check := func(what string, wantOurs bool, wantOthers int, wantPending bool) {
		t.Helper()
		st, err := s.Status(c)
		if err != nil {
			t.Fatal(err)
		}
		if (st.Ours != "") != wantOurs || len(st.Others) != wantOthers || (st.Pending != "") != wantPending {
			t.Errorf("%s: got %+v, want ours=%v, %d others, pending=%v", what, st, wantOurs, wantOthers, wantPending)
		}
	}
	check("empty store", false, 0, false)
	// Another CA in the bundle and the folder is not ours.
	os.WriteFile(s.Bundle, other.PEM(), 0o644)
	os.WriteFile(filepath.Join(s.AnchorDir, "corp.crt"), other.PEM(), 0o644)
	check("another CA", false, 0, false)
	// Our file in place, the bundle not rebuilt.
	os.WriteFile(s.File(c), c.PEM(), 0o644)
	check("file, bundle not rebuilt", true, 0, true)
	os.WriteFile(s.Bundle, append(other.PEM(), c.PEM()...), 0o644)
	check("file and bundle", true, 0, false)
	// Our name holding another certificate is not ours to remove.
	os.WriteFile(s.File(c), other.PEM(), 0o644)
	check("our name, another certificate", false, 1, false)
	os.Remove(s.File(c))
	// Copied in by hand under another name.
	os.WriteFile(filepath.Join(s.AnchorDir, "aadproxy-ca.crt"), c.PEM(), 0o644)
	check("a hand-made copy", false, 1, false)
}

func TestNSSNicknames(t *testing.T) {
	out := "\nCertificate Nickname                                         Trust Attributes\n" +
		"                                                             SSL,S/MIME,JAR/XPI\n\n" +
		"aadproxy CA 0123456789abcdef                                 C,,  \n" +
		"My Corp Root (2024), issued                                  CT,C,C\n" +
		"me@example.com                                               u,u,u\n"
	got := nssNicknames([]byte(out))
	want := []string{"aadproxy CA 0123456789abcdef", "My Corp Root (2024), issued", "me@example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("nssNicknames: got %q, want %q", got, want)
	}
}

func certutilPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("certutil")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("NSS certutil is not installed (CI=true: this test must run)")
		}
		t.Skip("SKIPPING: NSS certutil is not installed (libnss3-tools); run ./scripts/test to install it")
	}
	return p
}

// newNSSDB makes an empty NSS database, as a browser would.
func newNSSDB(t *testing.T, certutil string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+dir, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v %s", err, out)
	}
	return dir
}

func run(t *testing.T, steps []Step) {
	t.Helper()
	for _, s := range steps {
		if out, err := Exec(s.Args...); err != nil {
			t.Fatalf("%s: %v %s", s, err, out)
		}
	}
}

func TestNSSStoreInstallsAndRemovesOnlyItsOwnNickname(t *testing.T) {
	certutil := certutilPath(t)
	c := testCert(t)
	s := NSSStore{Dir: newNSSDB(t, certutil), Certutil: certutil, Run: Exec}
	if st, err := s.Status(c); err != nil || st.Trusted() {
		t.Fatalf("empty database: %+v %v", st, err)
	}
	sameSteps(t, "install", s.Install(c), [][]string{{certutil, "-A", "-d", "sql:" + s.Dir, "-n", "aadproxy CA " + c.ID(), "-t", "C,,", "-i", c.Path}}, false)
	run(t, s.Install(c))
	st, err := s.Status(c)
	if err != nil || st.Ours == "" || len(st.Others) != 0 {
		t.Fatalf("after install: %+v %v", st, err)
	}
	if out, _ := exec.Command(certutil, "-L", "-d", "sql:"+s.Dir, "-n", s.Nickname(c)).CombinedOutput(); !strings.Contains(string(out), "Valid CA") && !strings.Contains(string(out), "Trusted CA") {
		t.Errorf("certutil -L -n: not trusted as a CA:\n%s", out)
	}
	run(t, s.Uninstall(c))
	if st, _ := s.Status(c); st.Trusted() {
		t.Fatalf("after uninstall: %+v", st)
	}

	// The same certificate imported by hand under another nickname: found
	// by its hash, and left alone by uninstall.
	other := NSSStore{Dir: newNSSDB(t, certutil), Certutil: certutil, Run: Exec}
	run(t, []Step{{Args: []string{certutil, "-A", "-d", "sql:" + other.Dir, "-n", "my proxy", "-t", "C,,", "-i", c.Path}}})
	st, _ = other.Status(c)
	if st.Ours != "" || len(st.Others) != 1 || !strings.Contains(st.Others[0], `"my proxy"`) {
		t.Fatalf("hand-made import: %+v", st)
	}
	// A database with another CA under aadproxy's nickname for c does not
	// count as holding c.
	third := NSSStore{Dir: newNSSDB(t, certutil), Certutil: certutil, Run: Exec}
	d := testCert(t)
	run(t, []Step{{Args: []string{certutil, "-A", "-d", "sql:" + third.Dir, "-n", third.Nickname(c), "-t", "C,,", "-i", d.Path}}})
	if st, _ := third.Status(c); st.Trusted() {
		t.Errorf("another certificate under c's nickname counted as c: %+v", st)
	}
}

func TestNSSDatabasesFindsChromiumAndFirefox(t *testing.T) {
	home := t.TempDir()
	for _, d := range []string{".pki/nssdb", ".mozilla/firefox/abcd.default-esr", ".mozilla/firefox/Crash Reports", "snap/firefox/common/.mozilla/firefox/x.default"} {
		os.MkdirAll(filepath.Join(home, d), 0o700)
	}
	for _, d := range []string{".pki/nssdb", ".mozilla/firefox/abcd.default-esr", "snap/firefox/common/.mozilla/firefox/x.default"} {
		os.WriteFile(filepath.Join(home, d, "cert9.db"), nil, 0o600)
	}
	var got []string
	for _, db := range NSSDatabases(home) {
		got = append(got, strings.TrimPrefix(db.Dir, home+"/")+" = "+db.For)
	}
	want := []string{".pki/nssdb = Chromium", ".mozilla/firefox/abcd.default-esr = Firefox profile abcd.default-esr",
		"snap/firefox/common/.mozilla/firefox/x.default = Firefox profile x.default"}
	if !slices.Equal(got, want) {
		t.Errorf("NSSDatabases: got %q, want %q", got, want)
	}
}

func TestStoresPerOS(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		goos  string
		kinds []string
		want  []string
	}{
		{"darwin", []string{"system", "nss"}, []string{"OS store (macOS login keychain " + LoginKeychain(home) + ")"}},
		{"windows", []string{"system"}, []string{`OS store (Windows CurrentUser\Root)`}},
		{"windows", []string{"nss"}, nil},
	} {
		stores, notes, err := Stores(Env{GOOS: tc.goos, Home: home, Certutil: "/usr/bin/certutil"}, tc.kinds)
		var got []string
		for _, s := range stores {
			got = append(got, s.Name())
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Stores(%s, %v): got %q %v, want %q", tc.goos, tc.kinds, got, err, tc.want)
		}
		if slices.Contains(tc.kinds, "nss") && len(notes) == 0 {
			t.Errorf("Stores(%s, %v): no note on skipping NSS", tc.goos, tc.kinds)
		}
	}
	if _, _, err := Stores(Env{GOOS: "linux", Home: home, NSSDBs: []string{t.TempDir()}, Certutil: "certutil"}, []string{"nss"}); err == nil {
		t.Error("an --nssdb without a database was accepted")
	}
}

func TestMergeRebuildsOnceAtTheEnd(t *testing.T) {
	steps := []Step{{Args: []string{"rm", "a"}}, {Args: []string{"update"}}, {Args: []string{"rm", "b"}}, {Args: []string{"update"}}}
	want := [][]string{{"rm", "a"}, {"rm", "b"}, {"update"}}
	if got := argsOf(Merge(steps)); !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("Merge: got %q, want %q", got, want)
	}
}

func TestRecordRoundTripAndTamper(t *testing.T) {
	dir := t.TempDir()
	c, d := testCert(t), testCert(t)
	r, err := LoadRecord(dir)
	if err != nil || len(r.Installed) != 0 {
		t.Fatalf("missing record: %+v %v", r, err)
	}
	sys := LinuxStores[1]
	nss := NSSStore{Dir: "/home/me/.pki/nssdb"}
	r.Add(sys, c)
	r.Add(sys, c)
	r.Add(nss, c)
	r.Add(nss, d)
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, RecordFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode())
	}
	r, _ = LoadRecord(dir)
	if len(r.Installed) != 3 || len(r.Certs()) != 2 || !slices.Equal(r.Locations("nss"), []string{nss.Dir}) {
		t.Fatalf("reloaded record: %+v", r)
	}
	r.Remove(nss, c)
	if len(r.Installed) != 2 {
		t.Errorf("Remove left %d entries, want 2", len(r.Installed))
	}
	// An entry whose certificate does not hash to its SHA-256 is ignored.
	r.Installed[0].PEM = string(d.PEM())
	if got := r.Certs(); len(got) != 1 || !got[0].Equal(d) {
		t.Errorf("tampered record: Certs gave %d certificates", len(got))
	}
}
