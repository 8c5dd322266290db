package sanitize

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// MinKeyLen is the shortest Options.Key accepted.
const MinKeyLen = 16

// DefaultKeepClaims are the JWT claims kept when Options.KeepClaims is nil:
// audience, issuer, tenant, times, scopes, roles, the calling app and the
// authentication methods. They say what the token is for and when, not who
// it belongs to. nonce and request_nonce are kept like state: rules compare
// them and they are not credentials.
var DefaultKeepClaims = []string{
	"aud", "iss", "tid", "iat", "nbf", "exp", "scp", "roles", "appid", "azp",
	"ver", "typ", "amr", "acr", "idtyp", "appidacr", "azpacr", "auth_time",
	"idp", "nonce", "request_nonce", "xms_cc",
}

// keptHeaderFields are the JWT header fields always kept: how the token is
// signed or encrypted, and with which key. Anything else in a header (a PRT
// cookie's ctx, a device certificate chain in x5c) is replaced.
var keptHeaderFields = map[string]bool{
	"alg": true, "typ": true, "kid": true, "x5t": true, "x5t#s256": true,
	"cty": true, "kdf_ver": true, "enc": true, "zip": true, "crit": true,
	"jku": true, "x5u": true,
}

// Options controls what Flow, HARFile and Check redact. The zero value is
// not usable: call Default, which fills in a random key and the default
// claims, and Validate.
type Options struct {
	// KeepClaims lists the JWT payload claims whose values are kept. nil
	// means DefaultKeepClaims; a non-nil list replaces it. Names match
	// case-sensitively, as JWT claim names do.
	KeepClaims []string
	// Pseudonymize replaces e-mail addresses and UPNs with
	// user-XXXXXX@domain (domain kept) and display names with
	// Person-XXXXXX, consistently for a given Key. Without it, login_hint
	// and other addresses outside tokens are kept as they are.
	Pseudonymize bool
	// Key keys the hash in placeholders and pseudonyms. The same key gives
	// byte-identical output for the same input; Default makes a random one,
	// so placeholders cannot be compared across runs. KeyFromFile derives
	// a deterministic key from the input file.
	Key []byte
}

// Default returns a copy of o with the defaults filled in: DefaultKeepClaims
// when KeepClaims is nil and a random 32-byte key when Key is empty. o is not
// changed.
func (o Options) Default() Options {
	if o.KeepClaims == nil {
		o.KeepClaims = slices.Clone(DefaultKeepClaims)
	} else {
		o.KeepClaims = slices.Clone(o.KeepClaims)
	}
	if len(o.Key) == 0 {
		o.Key = make([]byte, 32)
		if _, err := rand.Read(o.Key); err != nil {
			// crypto/rand does not fail on supported platforms.
			panic(fmt.Sprintf("sanitize: read random key: %v", err))
		}
	} else {
		o.Key = slices.Clone(o.Key)
	}
	return o
}

// Validate reports options that cannot be used: a key shorter than
// MinKeyLen bytes, or an empty claim name.
func (o Options) Validate() error {
	var errs []error
	if len(o.Key) < MinKeyLen {
		errs = append(errs, fmt.Errorf("key is %d bytes; it must be at least %d (Default makes a random one)", len(o.Key), MinKeyLen))
	}
	for i, c := range o.KeepClaims {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, fmt.Errorf("kept claim %d is empty", i))
		}
	}
	return errors.Join(errs...)
}

// keyLabel separates keys derived here from any other use of a file's hash.
const keyLabel = "aadproxy sanitize key v1\n"

// KeyFromFile derives a key from the content of the file at path:
// SHA-256 over a fixed label and the content. Sanitizing the same input
// twice then gives byte-identical output, and someone holding only the
// output cannot compute the key, so placeholders stay unguessable.
func KeyFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("derive key from %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	io.WriteString(h, keyLabel)
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("derive key from %s: %w", path, err)
	}
	return h.Sum(nil), nil
}
