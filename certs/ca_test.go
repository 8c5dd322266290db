package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newTestCA(t testing.TB, opts Options) *CA {
	t.Helper()
	ca, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return ca
}

func TestNewDefaults(t *testing.T) {
	before := time.Now()
	ca := newTestCA(t, Options{})
	c := ca.Cert()

	if got, want := c.Subject.CommonName, DefaultCommonName; got != want {
		t.Errorf("CommonName: got %q, want %q", got, want)
	}
	if got := c.Subject.Organization; len(got) != 1 || got[0] != "aadproxy" {
		t.Errorf("Organization: got %q, want [aadproxy]", got)
	}
	if got := c.Subject.OrganizationalUnit; len(got) != 1 || !strings.Contains(got[0], "@") {
		t.Errorf("OrganizationalUnit: got %q, want one user@host entry", got)
	}
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("basic constraints: got IsCA=%v valid=%v MaxPathLen=%d zero=%v, want a CA with path length 0",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	wantKU := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	if c.KeyUsage != wantKU {
		t.Errorf("KeyUsage: got %b, want %b", c.KeyUsage, wantKU)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("SerialNumber: got %v, want a positive number of at most 128 bits", c.SerialNumber)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId: got %x, want 20 bytes", c.SubjectKeyId)
	}
	if got, want := c.NotAfter.Sub(c.NotBefore), MaxCAValidity; got != want {
		t.Errorf("validity: got %v, want %v", got, want)
	}
	if !c.NotBefore.Before(before.Add(-CABackdate + time.Second)) {
		t.Errorf("NotBefore: got %v, want backdated by %v from %v", c.NotBefore, CABackdate, before)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key: got %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CheckSignatureFrom(self): %v", err)
	}
	if got := ca.CertPath(); got != "" {
		t.Errorf("CertPath of an in-memory CA: got %q, want empty", got)
	}
}

func TestNewUnique(t *testing.T) {
	a, b := newTestCA(t, Options{}), newTestCA(t, Options{})
	if a.Cert().SerialNumber.Cmp(b.Cert().SerialNumber) == 0 {
		t.Errorf("two CAs share serial %v", a.Cert().SerialNumber)
	}
	if a.SPKIHash() == b.SPKIHash() {
		t.Errorf("two CAs share key %s", a.SPKIHash())
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		opts    Options
		wantErr string
	}{
		{Options{}, ""},
		{Options{CommonName: "custom", Validity: 3 * 24 * time.Hour}, ""},
		{Options{Validity: MaxCAValidity}, ""},
		{Options{Validity: MaxCAValidity + time.Second}, "exceeds the maximum"},
		{Options{Validity: CABackdate}, "must be longer"},
		{Options{Validity: -time.Hour}, "must be longer"},
		{Options{CommonName: strings.Repeat("x", 65)}, "more than 64"},
	}
	for _, tt := range tests {
		orig := tt.opts
		ca, err := New(tt.opts)
		if !reflect.DeepEqual(tt.opts, orig) {
			t.Errorf("New(%+v) changed its options to %+v", orig, tt.opts)
		}
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("New(%+v): got error %v, want nil", tt.opts, err)
				continue
			}
			want := tt.opts.Default()
			if got := ca.Cert().Subject.CommonName; got != want.CommonName {
				t.Errorf("New(%+v).CommonName: got %q, want %q", tt.opts, got, want.CommonName)
			}
			if got := ca.Cert().NotAfter.Sub(ca.Cert().NotBefore); got != want.Validity {
				t.Errorf("New(%+v) validity: got %v, want %v", tt.opts, got, want.Validity)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%+v): got error %v, want one containing %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	ca := newTestCA(t, Options{})

	spki, err := x509.MarshalPKIXPublicKey(ca.Cert().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	if got, want := ca.SPKIHash(), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("SPKIHash: got %q, want %q", got, want)
	}

	fp := ca.Fingerprint()
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Errorf("Fingerprint: got %q, want 32 upper-case hex pairs joined by colons", fp)
	}
	der := sha256.Sum256(ca.CertDER())
	if got, want := strings.ReplaceAll(fp, ":", ""), strings.ToUpper(hex.EncodeToString(der[:])); got != want {
		t.Errorf("Fingerprint: got %s, want %s", got, want)
	}

	block, rest := pem.Decode(ca.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("CertPEM: got %q, want one CERTIFICATE block", ca.CertPEM())
	}
	if !bytes.Equal(block.Bytes, ca.CertDER()) {
		t.Errorf("CertPEM does not hold CertDER")
	}

	// Callers get copies: scribbling on them must not change the CA.
	ca.CertDER()[0] ^= 0xff
	ca.CertPEM()[0] ^= 0xff
	if !bytes.Equal(ca.CertDER(), ca.Cert().Raw) || !bytes.Equal(block.Bytes, ca.Cert().Raw) {
		t.Errorf("CertDER/CertPEM return the CA's own buffers")
	}

	if _, err := ca.Cert().Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Errorf("CA does not verify against its own Pool: %v", err)
	}
}
