package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/trust"
)

type caOptions struct {
	home   string
	action string // path, show, export, regenerate, install, uninstall, status
	der    bool
	out    string

	// regenerate
	constrain bool
	intercept []string

	// install, uninstall and status
	dryRun bool
	yes    bool
	stores []string // trust.Kinds
	nssdbs []string
}

const caSubcommands = "path, show, export [--der] [-o FILE], regenerate, install, uninstall or status"

func parseCA(args []string, stderr io.Writer) (caOptions, error) {
	var o caOptions
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return o, usagef("want a subcommand: %s", caSubcommands)
	}
	o.action, args = args[0], args[1:]
	fs := newFlagSet("ca "+o.action, stderr)
	fs.StringVar(&o.home, "home", "", "aadproxy's folder (default $AADPROXY_HOME or the user config dir)")
	storeList := strings.Join(trust.Kinds, ",")
	switch o.action {
	case "export":
		fs.BoolVar(&o.der, "der", false, "write DER instead of PEM")
		fs.StringVar(&o.out, "o", "", "write to FILE instead of standard output")
	case "regenerate":
		fs.BoolVar(&o.constrain, "constrain", false, "make a name-constrained CA: it can vouch only for the identity hosts, the --intercept domains and localhost")
		fs.Var((*stringList)(&o.intercept), "intercept", "with --constrain, also permit this `PATTERN`'s domain (repeatable; *.contoso.com permits contoso.com)")
	case "install", "uninstall", "status":
		if o.action != "status" {
			fs.BoolVar(&o.dryRun, "dry-run", false, "print what would change, change nothing")
			fs.BoolVar(&o.yes, "yes", false, "change the trust stores without asking (needed when not run from a terminal)")
		}
		fs.StringVar(&storeList, "store", storeList, "`LIST` of trust stores: system (the OS store), nss (NSS databases: Chromium and Firefox on Linux)")
		fs.Var((*stringList)(&o.nssdbs), "nssdb", "use the NSS database in `DIR` instead of the ones found in your home (repeatable)")
	}
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	switch o.action {
	case "path", "show", "export", "regenerate", "install", "uninstall", "status":
	default:
		return o, usagef("unknown subcommand %q: want %s", o.action, caSubcommands)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(storeList, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(trust.Kinds, s) {
			return o, usagef("--store %q: want %s", s, strings.Join(trust.Kinds, ", "))
		}
		o.stores = append(o.stores, s)
	}
	if len(o.nssdbs) > 0 && !slices.Contains(o.stores, "nss") {
		return o, usagef("--nssdb names an NSS database, but --store leaves out nss")
	}
	return o, nil
}

func runCA(args []string, stdout, stderr io.Writer) error {
	o, err := parseCA(args, stderr)
	if err != nil {
		return err
	}
	home, err := homeDir(o.home)
	if err != nil {
		return err
	}
	switch o.action {
	case "install", "uninstall", "status":
		return runCATrust(o, home, stdout, stderr)
	}
	if o.action == "regenerate" {
		return regenerateCA(o, home, stdout, stderr)
	}
	ca, created, err := certs.LoadOrCreate(home)
	if err != nil {
		return fmt.Errorf("load CA from %s: %w", home, err)
	}
	if created {
		fmt.Fprintf(stderr, "created a new CA in %s\n", home)
	}
	switch o.action {
	case "path":
		fmt.Fprintln(stdout, ca.CertPath())
	case "show":
		c := ca.Cert()
		fmt.Fprintf(stdout, "file:        %s\nsubject:     %s\nvalid:       %s to %s\nSHA-256:     %s\nSPKI hash:   %s (for Chromium --ignore-certificate-errors-spki-list)\n\n%s",
			ca.CertPath(), c.Subject, c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly),
			ca.Fingerprint(), ca.SPKIHash(), trustHelp(ca.CertPath()))
		if ca.Constrained() {
			fmt.Fprintf(stdout, "\nName-constrained: %s\n", constraintSummary(ca))
		}
	case "export":
		data := ca.CertPEM()
		if o.der {
			data = ca.CertDER()
		}
		if o.out == "" {
			_, err = stdout.Write(data)
			return err
		}
		return writeFileAtomic(o.out, data, 0o644)
	}
	return nil
}

// trustHelp tells how to trust the CA, per OS and per runtime.
func trustHelp(path string) string {
	return fmt.Sprintf(`Trust it in the OS store and your browsers' NSS databases:
  aadproxy ca install            (prints each command; --dry-run only prints them)
  aadproxy ca status             (where it is trusted)
  aadproxy ca uninstall          (removes exactly what install added)
Or by hand:
  Debian/Ubuntu: sudo install -m 0644 %[1]s /usr/local/share/ca-certificates/aadproxy-ca.crt && sudo update-ca-certificates
  Fedora/RHEL:   sudo install -m 0644 %[1]s /etc/pki/ca-trust/source/anchors/aadproxy-ca.pem && sudo update-ca-trust extract
  macOS:         security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db %[1]s
  Windows:       certutil -user -addstore Root %[1]s
Or per runtime (no admin rights needed):
  curl:          curl --cacert %[1]s ...  (or CURL_CA_BUNDLE)
  Go, OpenSSL:   SSL_CERT_FILE=<bundle with this CA added>  (aadproxy start prints one)
  Node.js:       NODE_EXTRA_CA_CERTS=%[1]s
  Python:        REQUESTS_CA_BUNDLE=<bundle> (requests), SSL_CERT_FILE=<bundle> (ssl, httpx)
  Java:          keytool -importcert -alias aadproxy -file %[1]s -cacerts -storepass changeit
  .NET:          on Linux, the system store above; on Windows, certutil above
  Chromium:      --proxy-server=http://127.0.0.1:8080 --ignore-certificate-errors-spki-list=<SPKI hash above>
Remove it when you are done: it can sign for any host, unless it is name-constrained
(aadproxy ca regenerate --constrain makes one that can sign only for the hosts aadproxy decrypts).
`, path)
}

// writeFileAtomic writes data to path via a temporary file and rename, so a
// crash never leaves half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".aadproxy-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// caBundle writes home/ca-bundle.pem: the system's roots plus our CA, for
// runtimes whose variable replaces the system bundle (SSL_CERT_FILE,
// REQUESTS_CA_BUNDLE), so tunnelled hosts keep verifying.
func caBundle(home string, ca *certs.CA) (string, error) {
	var data []byte
	for _, p := range []string{
		"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem", "/usr/local/etc/openssl/cert.pem",
	} {
		if b, err := os.ReadFile(p); err == nil {
			data = append(b, '\n')
			break
		}
	}
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.CertDER()})...)
	path := filepath.Join(home, "ca-bundle.pem")
	return path, writeFileAtomic(path, data, 0o644)
}
