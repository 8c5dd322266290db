package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "ca")
	ca, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(%q) first call: got created=%v err=%v, want created=true err=nil", dir, created, err)
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("folder mode: got %04o, want 0700", got)
	}
	keyPath, certPath := filepath.Join(dir, KeyFile), filepath.Join(dir, CertFile)
	if got := mode(t, keyPath); got != 0o600 {
		t.Errorf("key mode: got %04o, want 0600", got)
	}
	if got := mode(t, certPath); got != 0o600 {
		t.Errorf("cert mode: got %04o, want 0600", got)
	}
	if got := ca.CertPath(); got != certPath {
		t.Errorf("CertPath: got %q, want %q", got, certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("key file: got %.40q..., want a PKCS#8 PRIVATE KEY block", keyPEM)
	}

	again, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("LoadOrCreate(%q) second call: got created=%v err=%v, want created=false err=nil", dir, created, err)
	}
	if again.SPKIHash() != ca.SPKIHash() || again.Fingerprint() != ca.Fingerprint() {
		t.Errorf("second LoadOrCreate: got CA %s, want the stored %s", again.Fingerprint(), ca.Fingerprint())
	}
	if got := again.CertPath(); got != certPath {
		t.Errorf("CertPath after load: got %q, want %q", got, certPath)
	}
	// The loaded key must really be the CA's key: sign a leaf with it.
	leaf, err := NewIssuer(again, IssuerOptions{}).Leaf("example.com")
	if err != nil {
		t.Fatalf("Leaf with loaded CA: %v", err)
	}
	if err := leaf.Leaf.CheckSignatureFrom(ca.Cert()); err != nil {
		t.Errorf("leaf signed by loaded CA does not check against the stored certificate: %v", err)
	}
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != CertFile && e.Name() != KeyFile {
			t.Errorf("stray file %s left in %s", e.Name(), dir)
		}
	}
}

func TestLoadOrCreateFolderModes(t *testing.T) {
	tests := []struct {
		mode    fs.FileMode
		want    fs.FileMode
		wantErr string
	}{
		{0o700, 0o700, ""},
		{0o755, 0o700, ""},
		{0o750, 0o700, ""},
		{0o775, 0o775, "writable by other users"},
		{0o777, 0o777, "writable by other users"},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "ca")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreate(dir)
		if tt.wantErr == "" && err != nil {
			t.Errorf("LoadOrCreate(folder %04o): got %v, want nil", tt.mode, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("LoadOrCreate(folder %04o): got %v, want error containing %q", tt.mode, err, tt.wantErr)
		}
		if got := mode(t, dir); got != tt.want {
			t.Errorf("LoadOrCreate(folder %04o): folder mode got %04o, want %04o", tt.mode, got, tt.want)
		}
	}
}

func TestLoadOrCreateInsecureKey(t *testing.T) {
	for _, m := range []fs.FileMode{0o640, 0o604, 0o644, 0o666} {
		dir := t.TempDir()
		if _, _, err := LoadOrCreate(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, KeyFile), m); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreate(dir)
		if !errors.Is(err, ErrInsecureKey) {
			t.Errorf("LoadOrCreate with key mode %04o: got %v, want ErrInsecureKey", m, err)
		}
	}
}

func TestLoadOrCreateIncomplete(t *testing.T) {
	for _, remove := range []string{KeyFile, CertFile} {
		dir := t.TempDir()
		if _, _, err := LoadOrCreate(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, remove)); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreate(dir)
		if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), remove) {
			t.Errorf("LoadOrCreate without %s: got %v, want ErrIncomplete naming the file", remove, err)
		}
		if _, err := os.Stat(filepath.Join(dir, remove)); err == nil {
			t.Errorf("LoadOrCreate without %s recreated it", remove)
		}
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadOrCreateCorrupt(t *testing.T) {
	good := newTestCA(t, Options{})
	other := newTestCA(t, Options{})
	otherKey, err := x509.MarshalPKCS8PrivateKey(other.key)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		file    string
		data    []byte
		wantErr string
	}{
		{"garbage key", KeyFile, []byte("not a key\n"), "no PRIVATE KEY PEM block"},
		{"empty key", KeyFile, nil, "no PRIVATE KEY PEM block"},
		{"truncated key", KeyFile, pemBlock("PRIVATE KEY", otherKey[:len(otherKey)/2]), "parse ca key"},
		{"key of another CA", KeyFile, pemBlock("PRIVATE KEY", otherKey), "do not match"},
		{"RSA key", KeyFile, pemBlock("PRIVATE KEY", rsaDER), "want an ECDSA P-256 key"},
		{"P-384 key", KeyFile, pemBlock("PRIVATE KEY", p384DER), "want P-256"},
		{"garbage cert", CertFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "parse ca certificate"},
		{"key in cert file", CertFile, pemBlock("PRIVATE KEY", otherKey), "no CERTIFICATE PEM block"},
		{"other CA's cert", CertFile, other.CertPEM(), "do not match"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := good.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, tt.file), tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		ca, created, err := LoadOrCreate(dir)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("LoadOrCreate(%s): got %v, want error containing %q", tt.name, err, tt.wantErr)
		}
		if ca != nil || created {
			t.Errorf("LoadOrCreate(%s): got ca=%v created=%v, want nil and false", tt.name, ca, created)
		}
	}
}

func TestLoadOrCreateNotACA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "leaf"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CertFile), pemBlock("CERTIFICATE", der), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "not marked as a CA") {
		t.Errorf("LoadOrCreate(non-CA certificate): got %v, want error containing %q", err, "not marked as a CA")
	}
}

// expiredCA builds a CA whose NotAfter has passed; New refuses to make one.
func expiredCA(t *testing.T) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "expired"},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(-24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return newCA(cert, key)
}

func TestLoadOrCreateExpired(t *testing.T) {
	dir := t.TempDir()
	if err := expiredCA(t).Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(dir); !errors.Is(err, ErrCAExpired) {
		t.Errorf("LoadOrCreate(expired CA): got %v, want ErrCAExpired", err)
	}
}

func TestRegenerate(t *testing.T) {
	dir := t.TempDir()
	old, _, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Regenerate(dir)
	if err != nil {
		t.Fatalf("Regenerate(%q): %v", dir, err)
	}
	if fresh.SPKIHash() == old.SPKIHash() {
		t.Errorf("Regenerate kept key %s", old.SPKIHash())
	}
	loaded, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("LoadOrCreate after Regenerate: got created=%v err=%v, want false, nil", created, err)
	}
	if loaded.SPKIHash() != fresh.SPKIHash() {
		t.Errorf("LoadOrCreate after Regenerate: got key %s, want %s", loaded.SPKIHash(), fresh.SPKIHash())
	}
	if got := mode(t, filepath.Join(dir, KeyFile)); got != 0o600 {
		t.Errorf("key mode after Regenerate: got %04o, want 0600", got)
	}
	assertNoTempFiles(t, dir)

	// Regenerate also repairs a folder LoadOrCreate refuses.
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Regenerate(dir); err != nil {
		t.Errorf("Regenerate(half a pair): %v", err)
	}
	if _, _, err := LoadOrCreate(dir); err != nil {
		t.Errorf("LoadOrCreate after repairing Regenerate: %v", err)
	}
}

func TestSaveSetsPath(t *testing.T) {
	ca := newTestCA(t, Options{})
	dir := filepath.Join(t.TempDir(), "new")
	if err := ca.Save(dir); err != nil {
		t.Fatalf("Save(%q): %v", dir, err)
	}
	if got, want := ca.CertPath(), filepath.Join(dir, CertFile); got != want {
		t.Errorf("CertPath after Save: got %q, want %q", got, want)
	}
	if err := ca.Save(""); err == nil {
		t.Errorf("Save(\"\"): got nil, want error")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(file); err == nil {
		t.Errorf("Save(regular file): got nil, want error")
	}
}
