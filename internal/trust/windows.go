package trust

import (
	"strings"
)

// WindowsStore is the current user's Trusted Root Certification
// Authorities store (CurrentUser\Root), driven by Windows' own certutil
// (not NSS's, which has the same name). No admin rights needed: Windows
// shows its own confirmation dialog when a root is added, so this cannot
// run unattended either. Firefox on Windows reads this store too (its
// security.enterprise_roots.enabled default).
type WindowsStore struct {
	Run Runner
}

func (s WindowsStore) Kind() string     { return "system" }
func (s WindowsStore) Location() string { return `CurrentUser\Root` }
func (s WindowsStore) Name() string     { return `OS store (Windows CurrentUser\Root)` }

// Status asks certutil for the certificate by its thumbprint (SHA-1,
// which is how Windows names a certificate; computed from the same bytes
// as the SHA-256) and checks the answer names it: certutil's exit status
// alone has varied between Windows versions.
func (s WindowsStore) Status(c Cert) (Status, error) {
	out, err := s.Run("certutil", "-user", "-store", "Root", c.SHA1())
	if err == nil && winHasHash(out, c.SHA1()) {
		return Status{Ours: `CurrentUser\Root (thumbprint ` + c.SHA1() + ")"}, nil
	}
	return Status{}, nil
}

// winHasHash finds "Cert Hash(sha1): 01 23 …" or "…: 0123…" in certutil's
// listing.
func winHasHash(out []byte, sha1 string) bool {
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.Contains(strings.ToLower(k), "hash(sha1)") {
			continue
		}
		if strings.EqualFold(strings.Join(strings.Fields(v), ""), sha1) {
			return true
		}
	}
	return false
}

func (s WindowsStore) Install(c Cert) []Step {
	return []Step{{Args: []string{"certutil", "-user", "-addstore", "Root", c.Path}}}
}

// Uninstall deletes the one certificate with this thumbprint.
func (s WindowsStore) Uninstall(c Cert) []Step {
	return []Step{{Args: []string{"certutil", "-user", "-delstore", "Root", c.SHA1()}}}
}
