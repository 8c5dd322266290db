package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// File names inside a CA folder.
const (
	CertFile = "aadproxy-ca.pem"     // CA certificate, PEM; safe to share and install
	KeyFile  = "aadproxy-ca-key.pem" // CA private key, PKCS#8 PEM; 0600, never share
)

// ErrInsecureKey is returned (wrapped) when the CA key file can be read or
// written by other users. The key may have leaked, so aadproxy refuses it
// rather than quietly tightening the mode.
var ErrInsecureKey = errors.New("ca key file is accessible to other users")

// ErrIncomplete is returned (wrapped) when a folder holds only one of the
// CA certificate and key. Creating a new pair would silently replace a CA
// the user may already trust, so that takes an explicit Regenerate.
var ErrIncomplete = errors.New("ca folder holds only half of a certificate and key pair")

// LoadOrCreate loads the CA stored in dir, or creates and saves a new one if
// dir holds neither file. created reports whether a new CA was made.
//
// dir is aadproxy's own folder: it is created 0700, and an existing folder
// with looser read or search permissions is tightened to 0700. A folder that
// others can write to is refused, since they could swap the CA.
func LoadOrCreate(dir string) (ca *CA, created bool, err error) {
	if err := prepareDir(dir); err != nil {
		return nil, false, err
	}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certOK, err := exists(certPath)
	if err != nil {
		return nil, false, err
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certOK && keyOK:
		ca, err := load(certPath, keyPath)
		if err != nil {
			return nil, false, err
		}
		if err := ca.checkUsable(time.Now()); err != nil {
			return nil, false, fmt.Errorf("load ca from %s: %w", dir, err)
		}
		return ca, false, nil
	case certOK || keyOK:
		missing := keyPath
		if keyOK {
			missing = certPath
		}
		return nil, false, fmt.Errorf("load ca from %s: %w: %s is missing; regenerate the CA", dir, ErrIncomplete, missing)
	}
	ca, err = New(Options{})
	if err != nil {
		return nil, false, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// Regenerate creates a new CA with default options and saves it in dir,
// replacing any CA stored there. Clients that trusted the old CA must be
// given the new certificate.
func Regenerate(dir string) (*CA, error) { return RegenerateWith(dir, Options{}) }

// RegenerateWith is Regenerate with options, such as a name-constrained CA.
func RegenerateWith(dir string, opts Options) (*CA, error) {
	ca, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, err
	}
	return ca, nil
}

// Save writes the CA certificate and key into dir (created 0700), replacing
// files already there. Each file is written to a temporary file, synced and
// renamed into place, so a crash never leaves a half-written key. The key is
// renamed first: a crash between the two renames leaves a mismatched pair,
// which loading reports instead of using.
func (ca *CA) Save(dir string) error {
	if err := prepareDir(dir); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("save ca: encode key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	clear(keyDER)

	keyTmp, err := writeTemp(dir, KeyFile, keyPEM)
	clear(keyPEM)
	if err != nil {
		return err
	}
	certTmp, err := writeTemp(dir, CertFile, ca.certPEM)
	if err != nil {
		os.Remove(keyTmp)
		return err
	}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	if err := os.Rename(keyTmp, keyPath); err != nil {
		os.Remove(keyTmp)
		os.Remove(certTmp)
		return fmt.Errorf("save ca key to %s: %w", keyPath, err)
	}
	if err := os.Rename(certTmp, certPath); err != nil {
		os.Remove(certTmp)
		return fmt.Errorf("save ca certificate to %s: %w", certPath, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	ca.setPath(certPath)
	return nil
}

// writeTemp writes data to a new 0600 file next to name and returns its path.
func writeTemp(dir, name string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("save %s in %s: %w", name, dir, err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("save %s in %s: %w", name, dir, err)
	}
	// CreateTemp already uses 0600; Chmod guards against an unusual umask
	// or platform default.
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("save %s in %s: %w", name, dir, err)
	}
	return tmp, nil
}

// syncDir makes the renames durable. Some platforms cannot sync a folder;
// that only weakens durability, so it is not an error there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync ca folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync ca folder %s: %w", dir, err)
	}
	return nil
}

func prepareDir(dir string) error {
	if dir == "" {
		return errors.New("ca folder: empty path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create ca folder %s: %w", dir, err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("ca folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("ca folder %s: not a directory", dir)
	}
	perm := fi.Mode().Perm()
	if perm&0o022 != 0 {
		return fmt.Errorf("ca folder %s is writable by other users (mode %04o); use a private folder", dir, perm)
	}
	if perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("tighten ca folder %s to 0700: %w", dir, err)
		}
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("ca file %s: %w", path, err)
}

// load reads and checks a stored CA pair.
func load(certPath, keyPath string) (*CA, error) {
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(keyPath)
		if err != nil {
			return nil, fmt.Errorf("load ca key %s: %w", keyPath, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("load ca key %s: %w (mode %04o, want 0600); regenerate the CA, or chmod 600 it if it never left this machine",
				keyPath, ErrInsecureKey, perm)
		}
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load ca certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load ca key: %w", err)
	}
	defer clear(keyPEM)
	ca, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load ca from %s: %w", filepath.Dir(certPath), err)
	}
	ca.setPath(certPath)
	return ca, nil
}

// parsePair decodes a PEM certificate and PEM private key and checks that
// they form a CA aadproxy can sign with. The input is whatever is on disk,
// so it must reject anything malformed with an error, never a panic.
func parsePair(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("ca certificate and key do not match; regenerate the CA")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, errors.New("ca certificate is not marked as a CA")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca certificate may not sign certificates (no certSign key usage)")
	}
	return newCA(cert, key), nil
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block := firstBlock(data, "CERTIFICATE")
	if block == nil {
		return nil, errors.New("parse ca certificate: no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate: %w", err)
	}
	return cert, nil
}

func parseKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	block := firstBlock(data, "PRIVATE KEY", "EC PRIVATE KEY")
	if block == nil {
		return nil, errors.New("parse ca key: no PRIVATE KEY PEM block (file corrupted?)")
	}
	var (
		parsed any
		err    error
	)
	if block.Type == "EC PRIVATE KEY" {
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse ca key (file corrupted?): %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse ca key: got %T, want an ECDSA P-256 key", parsed)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parse ca key: curve %s, want P-256", key.Curve.Params().Name)
	}
	return key, nil
}

// firstBlock returns the first PEM block of one of the given types, skipping
// others (some tools put parameters or comments before the key).
func firstBlock(data []byte, types ...string) *pem.Block {
	for len(bytes.TrimSpace(data)) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		for _, t := range types {
			if block.Type == t {
				return block
			}
		}
	}
	return nil
}
