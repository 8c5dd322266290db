package fakests

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

var b64 = base64.RawURLEncoding

// seal serializes v and appends a MAC bound to kind, so a refresh token
// cannot be replayed as a session cookie and no client can forge either.
// The payload is readable (base64url JSON), like many real artifacts'
// prefixes, but only the server can mint one.
func (s *Server) seal(kind string, v any) string {
	body, err := json.Marshal(v)
	if err != nil {
		panic("fakests: seal: " + err.Error()) // only our own structs reach here
	}
	p := b64.EncodeToString(body)
	return p + "." + b64.EncodeToString(s.mac(kind, p))
}

// errSealed is returned for anything that is not a valid sealed value.
var errSealed = errors.New("malformed or forged value")

// unseal verifies a sealed value of kind and decodes it into v.
func (s *Server) unseal(kind, sealed string, v any) error {
	p, sig, ok := strings.Cut(sealed, ".")
	if !ok {
		return errSealed
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(kind, p)) {
		return errSealed
	}
	body, err := b64.DecodeString(p)
	if err != nil {
		return errSealed
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errSealed
	}
	return nil
}

func (s *Server) mac(kind, payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// randB64 returns n random bytes in base64url.
func randB64(n int) string { return b64.EncodeToString(randBytes(n)) }

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
