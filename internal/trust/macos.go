package trust

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// MacStore is the user's login keychain with the user's own trust
// settings. Neither needs admin rights: macOS asks for the user's password
// in a dialog when the trust settings change, which is why it cannot run
// unattended (an SSH session without a GUI gets an error, not a prompt).
// The System keychain (-d, admin) is not used: aadproxy's CA is one
// user's.
type MacStore struct {
	Keychain string // ~/Library/Keychains/login.keychain-db
	Run      Runner
}

// LoginKeychain is the login keychain of the user whose home is home.
func LoginKeychain(home string) string {
	return filepath.Join(home, "Library", "Keychains", "login.keychain-db")
}

func (s MacStore) Kind() string     { return "system" }
func (s MacStore) Location() string { return s.Keychain }
func (s MacStore) Name() string     { return "OS store (macOS login keychain " + s.Keychain + ")" }

// Status lists the keychain's certificates with their hashes. macOS's
// security tool selects a certificate by its SHA-1, so that is what is
// compared; it is computed from the same bytes as the SHA-256.
func (s MacStore) Status(c Cert) (Status, error) {
	out, err := s.Run("security", "find-certificate", "-a", "-Z", s.Keychain)
	if err != nil {
		return Status{}, fmt.Errorf("%s: security find-certificate: %v: %s", s.Name(), err, strings.TrimSpace(string(out)))
	}
	if macHasHash(out, c.SHA1()) {
		return Status{Ours: s.Keychain + " (SHA-1 " + c.SHA1() + ")"}, nil
	}
	return Status{}, nil
}

var macSHA1 = regexp.MustCompile(`(?m)^SHA-1 hash:\s*([0-9A-Fa-f]{40})\s*$`)

func macHasHash(out []byte, sha1 string) bool {
	for _, m := range macSHA1.FindAllSubmatch(out, -1) {
		if strings.EqualFold(string(m[1]), sha1) {
			return true
		}
	}
	return false
}

// Install adds c to the login keychain and trusts it as a root for this
// user (-r trustRoot without -d: the user's trust domain, not the admin's).
func (s MacStore) Install(c Cert) []Step {
	return []Step{{Args: []string{"security", "add-trusted-cert", "-r", "trustRoot", "-k", s.Keychain, c.Path}}}
}

// Uninstall deletes exactly this certificate (-Z, its hash) and, with -t,
// the user trust settings install made for it.
func (s MacStore) Uninstall(c Cert) []Step {
	return []Step{{Args: []string{"security", "delete-certificate", "-t", "-Z", c.SHA1(), s.Keychain}}}
}
