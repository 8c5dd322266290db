package trust

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// RecordFile is the install record's name in aadproxy's home.
const RecordFile = "trust.json"

// Record remembers which certificate aadproxy put into which store, so
// uninstall still finds a CA that was since regenerated (its file in the
// home is gone) and databases named with --nssdb.
type Record struct {
	Installed []Entry `json:"installed"`
}

// Entry is one certificate in one store.
type Entry struct {
	Kind     string    `json:"kind"`     // Store.Kind
	Location string    `json:"location"` // Store.Location
	SHA256   string    `json:"sha256"`
	PEM      string    `json:"pem"` // the certificate (public), to find it again
	Time     time.Time `json:"time"`
}

// LoadRecord reads the record in dir; a missing file is an empty record.
func LoadRecord(dir string) (Record, error) {
	var r Record
	data, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("read %s: %w", filepath.Join(dir, RecordFile), err)
	}
	return r, nil
}

// Save writes the record into dir, replacing it whole.
func (r Record) Save(dir string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, RecordFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// Add notes c in s (once).
func (r *Record) Add(s Store, c Cert) {
	if r.index(s.Kind(), s.Location(), c) >= 0 {
		return
	}
	r.Installed = append(r.Installed, Entry{Kind: s.Kind(), Location: s.Location(), SHA256: c.SHA256(),
		PEM: string(c.PEM()), Time: time.Now().UTC().Truncate(time.Second)})
}

// Remove forgets c in s.
func (r *Record) Remove(s Store, c Cert) {
	if i := r.index(s.Kind(), s.Location(), c); i >= 0 {
		r.Installed = slices.Delete(r.Installed, i, i+1)
	}
}

func (r Record) index(kind, location string, c Cert) int {
	return slices.IndexFunc(r.Installed, func(e Entry) bool {
		return e.Kind == kind && e.Location == location && e.SHA256 == c.SHA256()
	})
}

// Certs returns the recorded certificates, each once, oldest first. An
// entry whose PEM does not hash to its SHA256 is skipped: the record is a
// file on disk, and uninstall must only ever act on the certificate it
// names.
func (r Record) Certs() []Cert {
	var out []Cert
	for _, e := range r.Installed {
		c, err := ParseCert([]byte(e.PEM), RecordFile)
		if err != nil || c.SHA256() != e.SHA256 {
			continue
		}
		c.Path = ""
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// Locations returns the recorded locations of kind.
func (r Record) Locations(kind string) []string {
	var out []string
	for _, e := range r.Installed {
		if e.Kind == kind && !slices.Contains(out, e.Location) {
			out = append(out, e.Location)
		}
	}
	return out
}
