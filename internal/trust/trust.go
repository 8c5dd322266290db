// Package trust puts aadproxy's CA certificate into the trust stores of the
// machine and the user, finds it there, and takes it out again: the OS
// store (Debian/Ubuntu update-ca-certificates, Fedora/RHEL update-ca-trust,
// Arch trust; the macOS login keychain; the Windows CurrentUser Root store)
// and NSS databases (~/.pki/nssdb for Chromium, Firefox profiles).
//
// Every change is a Step, a command line that is printed before it runs, so
// a dry run shows exactly what would happen and a user without admin rights
// can run the same lines with sudo. The package never raises its own
// privileges, and it identifies the CA by the SHA-256 of its DER bytes,
// never by name alone. It must not read or create the CA's private key
// (certs/ owns the CA) nor decide what to do: cmd/aadproxy plans, asks and
// reports.
package trust

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Cert is a CA certificate as the trust stores see it.
type Cert struct {
	DER []byte
	// Path is a PEM file holding the certificate, for the commands that
	// read one (install -m, certutil -A -i, security add-trusted-cert).
	Path string
	// Subject is the certificate's subject, for messages.
	Subject string
}

// ParseCert returns the first certificate of PEM data read from path.
func ParseCert(data []byte, path string) (Cert, error) {
	for len(bytes.TrimSpace(data)) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return Cert{}, fmt.Errorf("parse certificate in %s: %w", path, err)
		}
		return Cert{DER: b.Bytes, Path: path, Subject: c.Subject.String()}, nil
	}
	return Cert{}, fmt.Errorf("no PEM certificate in %s", path)
}

// LoadCert reads a PEM certificate file.
func LoadCert(path string) (Cert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Cert{}, err
	}
	return ParseCert(data, path)
}

// SHA256 is the hex SHA-256 of the DER bytes, lower case: what identifies
// the certificate everywhere in this package.
func (c Cert) SHA256() string {
	sum := sha256.Sum256(c.DER)
	return hex.EncodeToString(sum[:])
}

// SHA1 is the hex SHA-1 of the DER bytes, upper case: the thumbprint that
// Windows certutil and macOS security select a certificate by. It is
// computed from the same bytes as SHA256, so it names the same certificate.
func (c Cert) SHA1() string {
	sum := sha1.Sum(c.DER)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Fingerprint is SHA256 in the colon-separated upper-case form trust store
// UIs show.
func (c Cert) Fingerprint() string {
	h := strings.ToUpper(c.SHA256())
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// ID is the first 16 hex digits of SHA256. It goes into the file name and
// the NSS nickname aadproxy gives the certificate, so two CAs (two users, or
// a regenerated CA) never share a name.
func (c Cert) ID() string { return c.SHA256()[:16] }

// PEM returns the certificate PEM-encoded.
func (c Cert) PEM() []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}) }

// Equal reports whether c and o are the same certificate, byte for byte.
func (c Cert) Equal(o Cert) bool { return bytes.Equal(c.DER, o.DER) }

// Step is one command that changes a trust store.
type Step struct {
	Args []string
	// Admin says the command needs root (Linux's OS store); aadproxy then
	// prints it for the user to run instead of running it.
	Admin bool
}

// String is the command line, quoted for a POSIX shell (or, for Windows
// commands, for cmd.exe and PowerShell, which need no quotes for the
// arguments aadproxy passes unless a path has a space).
func (s Step) String() string {
	q := make([]string, len(s.Args))
	for i, a := range s.Args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@%+", r))
	}) < 0 {
		return s
	}
	return `'` + strings.ReplaceAll(s, `'`, `'\''`) + `'`
}

// Runner runs a command and returns its combined output. Tests replace it;
// Exec is the real one.
type Runner func(args ...string) ([]byte, error)

// Exec runs args[0] with the rest as arguments.
func Exec(args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("no command")
	}
	return exec.Command(args[0], args[1:]...).CombinedOutput()
}

// Status is where one store holds a certificate.
type Status struct {
	// Ours names where the certificate sits under the name aadproxy gives
	// it ("" when it does not): uninstall removes exactly this.
	Ours string
	// Others lists places that hold the same certificate under another
	// name (a file or nickname the user made by hand); aadproxy leaves them.
	Others []string
	// Pending is set when Ours is in place but not yet in effect, and says
	// what would make it so (Linux: the bundle has not been rebuilt).
	Pending string
}

// Trusted reports whether the store trusts the certificate at all.
func (s Status) Trusted() bool { return (s.Ours != "" && s.Pending == "") || len(s.Others) > 0 }

// Store is one trust store.
type Store interface {
	// Kind is "system" for the OS store or "nss" for an NSS database.
	Kind() string
	// Name says which store, for people: "OS store (Debian/Ubuntu:
	// /usr/local/share/ca-certificates)", "NSS database ~/.pki/nssdb".
	Name() string
	// Location is what the install record keeps to find the store again:
	// the anchor folder, the database folder, the keychain.
	Location() string
	// Status finds c in the store.
	Status(c Cert) (Status, error)
	// Install returns the steps that add c under aadproxy's name.
	Install(c Cert) []Step
	// Uninstall returns the steps that remove what Install added.
	Uninstall(c Cert) []Step
}

// pemCerts returns the DER of every certificate in PEM data.
func pemCerts(data []byte) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
}

// holds reports whether PEM data contains c.
func holds(data []byte, c Cert) bool {
	for _, der := range pemCerts(data) {
		if bytes.Equal(der, c.DER) {
			return true
		}
	}
	return false
}
