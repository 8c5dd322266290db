package trust

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LinuxStore is a Linux distribution's OS store: a folder of local anchors
// and the command that rebuilds the bundle every OpenSSL, GnuTLS, Go and
// curl client reads. Writing there needs root.
type LinuxStore struct {
	Distro    string   // "Debian/Ubuntu"
	AnchorDir string   // where local CA files go
	Ext       string   // the extension the rebuild command wants
	Update    []string // rebuilds the bundle
	Bundle    string   // the rebuilt bundle, to tell whether the CA is in effect
	// Refresh rebuilds after a removal when Update alone would not undo
	// everything: Debian's update-ca-certificates rebuilds the bundle
	// without a deleted local file but leaves its links in /etc/ssl/certs
	// (dangling) unless --fresh.
	Refresh []string
	// Hooks is Debian's folder of programs that copy the store elsewhere
	// (ca-certificates-java's Java cacerts). update-ca-certificates tells
	// them of an addition but never of a deleted local file, so aadproxy
	// tells them, in their own protocol: "-/etc/ssl/certs/NAME.pem" on stdin.
	Hooks string
	// Links is where Debian links each anchor as NAME.pem.
	Links string
}

// LinuxStores are the layouts aadproxy knows, in the order it looks for
// them (Fedora's first: a Debian machine has no /etc/pki/ca-trust, while
// some Fedora images carry a /usr/local/share/ca-certificates).
var LinuxStores = []LinuxStore{
	{Distro: "Fedora/RHEL", AnchorDir: "/etc/pki/ca-trust/source/anchors", Ext: ".pem", Update: []string{"update-ca-trust", "extract"},
		Bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"},
	{Distro: "Debian/Ubuntu", AnchorDir: "/usr/local/share/ca-certificates", Ext: ".crt", Update: []string{"update-ca-certificates"},
		Bundle: "/etc/ssl/certs/ca-certificates.crt", Refresh: []string{"update-ca-certificates", "--fresh"},
		Hooks: "/etc/ca-certificates/update.d", Links: "/etc/ssl/certs"},
	{Distro: "Arch", AnchorDir: "/etc/ca-certificates/trust-source/anchors", Ext: ".crt", Update: []string{"trust", "extract-compat"},
		Bundle: "/etc/ssl/certs/ca-certificates.crt"},
}

// FindLinuxStore returns the first of LinuxStores whose folder exists and
// whose rebuild command is installed.
func FindLinuxStore() (LinuxStore, bool) {
	for _, s := range LinuxStores {
		if fi, err := os.Stat(s.AnchorDir); err != nil || !fi.IsDir() {
			continue
		}
		if _, err := exec.LookPath(s.Update[0]); err != nil {
			continue
		}
		return s, true
	}
	return LinuxStore{}, false
}

func (s LinuxStore) Kind() string     { return "system" }
func (s LinuxStore) Location() string { return s.AnchorDir }
func (s LinuxStore) Name() string {
	return "OS store (" + s.Distro + ": " + s.AnchorDir + ")"
}

// File is where aadproxy puts c: its own name, unique to the certificate.
func (s LinuxStore) File(c Cert) string {
	return filepath.Join(s.AnchorDir, "aadproxy-"+c.ID()+s.Ext)
}

func (s LinuxStore) Status(c Cert) (Status, error) {
	var st Status
	ours := s.File(c)
	if data, err := os.ReadFile(ours); err == nil && holds(data, c) {
		st.Ours = ours
	}
	// The same certificate copied in by hand, under another name.
	filepath.WalkDir(s.AnchorDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == ours {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && holds(data, c) {
			st.Others = append(st.Others, p)
		}
		return nil
	})
	data, err := os.ReadFile(s.Bundle)
	inBundle := err == nil && holds(data, c)
	switch {
	case st.Ours != "" && !inBundle:
		st.Pending = "the bundle " + s.Bundle + " lacks it until `" + strings.Join(s.Update, " ") + "` runs"
	case st.Ours == "" && len(st.Others) == 0 && inBundle:
		st.Others = append(st.Others, s.Bundle+" (no file in "+s.AnchorDir+" holds it: it comes from elsewhere, or the bundle was not rebuilt)")
	}
	return st, nil
}

// Install copies the CA in world-readable (the CA file in aadproxy's home is
// 0600, and the bundle's readers are every user) and rebuilds the bundle.
func (s LinuxStore) Install(c Cert) []Step {
	return []Step{
		{Args: []string{"install", "-m", "0644", c.Path, s.File(c)}, Admin: true},
		{Args: s.Update, Admin: true},
	}
}

func (s LinuxStore) Uninstall(c Cert) []Step {
	steps := []Step{{Args: []string{"rm", "-f", s.File(c)}, Admin: true}}
	if s.Refresh != nil {
		steps = append(steps, Step{Args: s.Refresh, Admin: true})
	} else {
		steps = append(steps, Step{Args: s.Update, Admin: true})
	}
	if s.Hooks != "" && hasExecutable(s.Hooks) {
		link := filepath.Join(s.Links, strings.TrimSuffix(filepath.Base(s.File(c)), s.Ext)+".pem")
		steps = append(steps, Step{Admin: true, Args: []string{"sh", "-c",
			`for h in ` + s.Hooks + `/*; do if [ -x "$h" ]; then echo -` + link + ` | "$h" || echo "E: $h exited with code $?" >&2; fi; done`}})
	}
	return steps
}

func hasExecutable(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}
