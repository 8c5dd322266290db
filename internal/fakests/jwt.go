package fakests

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// newSigningKey makes the RS256 key published in JWKS, with a self-signed
// certificate for x5c as Entra publishes.
func (s *Server) newSigningKey() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("self-sign signing key: %w", err)
	}
	thumb := sha1.Sum(der)
	s.signKey = key
	s.certDER = der
	// Entra's kid and x5t are both the certificate's SHA-1 thumbprint.
	s.keyID = b64.EncodeToString(thumb[:])
	return nil
}

// PublicKey returns the key that verifies the server's RS256 tokens.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.signKey.PublicKey }

// signJWT signs claims with RS256 and the JWKS key.
func (s *Server) signJWT(claims any) string {
	header := map[string]string{"typ": "JWT", "alg": "RS256", "x5t": s.keyID, "kid": s.keyID}
	signingInput := jwtPart(header) + "." + jwtPart(claims)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.signKey, crypto.SHA256, sum[:])
	if err != nil {
		panic("fakests: sign jwt: " + err.Error()) // a valid RSA key cannot fail here
	}
	return signingInput + "." + b64.EncodeToString(sig)
}

// unsignedJWT builds an alg "none" token, as the v1 token endpoint returns
// its id_token.
func unsignedJWT(claims any) string {
	return jwtPart(map[string]string{"typ": "JWT", "alg": "none"}) + "." + jwtPart(claims) + "."
}

func jwtPart(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fakests: jwt part: " + err.Error())
	}
	return b64.EncodeToString(b)
}

// pairwiseSub derives the per-app subject, as Entra's sub is pairwise.
func pairwiseSub(clientID, oid string) string {
	sum := sha256.Sum256([]byte(clientID + "|" + oid))
	return b64.EncodeToString(sum[:])[:43]
}

// clientInfo is base64url({"uid":oid,"utid":home tenant}), unpadded.
func clientInfo(u *User) string {
	b, _ := json.Marshal(map[string]string{"uid": u.ObjectID, "utid": u.HomeTenantID})
	return b64.EncodeToString(b)
}
