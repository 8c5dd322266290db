package trust

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// NSSStore is an NSS certificate database (cert9.db), the trust store of
// Chromium on Linux (~/.pki/nssdb) and of each Firefox profile. It belongs
// to the user: no admin rights needed. aadproxy drives NSS's own certutil
// (Debian's libnss3-tools), never writing the database itself.
type NSSStore struct {
	Dir      string // the folder holding cert9.db
	For      string // who reads it: "Chromium", "Firefox profile default-esr"
	Certutil string // NSS certutil's path
	Run      Runner
}

func (s NSSStore) Kind() string     { return "nss" }
func (s NSSStore) Location() string { return s.Dir }
func (s NSSStore) Name() string {
	if s.For == "" {
		return "NSS database " + s.Dir
	}
	return "NSS database " + s.Dir + " (" + s.For + ")"
}

func (s NSSStore) db() string { return "sql:" + s.Dir }

// Nickname is the name aadproxy gives c in a database.
func (s NSSStore) Nickname(c Cert) string { return "aadproxy CA " + c.ID() }

// Status looks at every certificate in the database, not only at
// aadproxy's nickname: NSS keeps a certificate under the first nickname it
// was added with and silently ignores a second import under another.
func (s NSSStore) Status(c Cert) (Status, error) {
	var st Status
	out, err := s.Run(s.Certutil, "-L", "-d", s.db())
	if err != nil {
		return st, fmt.Errorf("%s: certutil -L: %v: %s", s.Name(), err, strings.TrimSpace(string(out)))
	}
	for _, nick := range nssNicknames(out) {
		pem, err := s.Run(s.Certutil, "-L", "-d", s.db(), "-n", nick, "-a")
		if err != nil || !holds(pem, c) {
			continue
		}
		if nick == s.Nickname(c) {
			st.Ours = s.Dir + ` as "` + nick + `"`
		} else {
			st.Others = append(st.Others, s.Dir+` as "`+nick+`"`)
		}
	}
	return st, nil
}

// Install trusts c to identify web sites (C,,: SSL only, not mail or code).
func (s NSSStore) Install(c Cert) []Step {
	return []Step{{Args: []string{s.Certutil, "-A", "-d", s.db(), "-n", s.Nickname(c), "-t", "C,,", "-i", c.Path}}}
}

func (s NSSStore) Uninstall(c Cert) []Step {
	return []Step{{Args: []string{s.Certutil, "-D", "-d", s.db(), "-n", s.Nickname(c)}}}
}

// trustAttrs matches certutil -L's last column ("C,,", "CT,C,C", "u,u,u").
var trustAttrs = regexp.MustCompile(`\s+[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*\s*$`)

// nssNicknames parses certutil -L's listing: a header, then one line per
// certificate, the nickname padded to a column and the trust attributes.
func nssNicknames(out []byte) []string {
	var names []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		loc := trustAttrs.FindStringIndex(line)
		if loc == nil {
			continue
		}
		name := strings.TrimSpace(line[:loc[0]])
		if name == "" || name == "SSL,S/MIME,JAR/XPI" || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// NSSDatabases lists the NSS databases of the user whose home is home, on
// Linux: Chromium's ~/.pki/nssdb and every Firefox profile (deb, snap and
// flatpak installs). Only databases that exist are listed: creating one is
// the browser's job, and one aadproxy made could not be told from the
// browser's afterwards.
func NSSDatabases(home string) []NSSDB {
	var out []NSSDB
	add := func(dir, who string) {
		if _, err := os.Stat(filepath.Join(dir, "cert9.db")); err == nil {
			out = append(out, NSSDB{Dir: dir, For: who})
		}
	}
	add(filepath.Join(home, ".pki", "nssdb"), "Chromium")
	add(filepath.Join(home, "snap", "chromium", "current", ".pki", "nssdb"), "Chromium (snap)")
	for _, pattern := range []string{
		filepath.Join(home, ".mozilla", "firefox", "*"),
		filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox", "*"),
		filepath.Join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox", "*"),
	} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			add(m, "Firefox profile "+filepath.Base(m))
		}
	}
	return out
}

// NSSDB is an NSS database found on disk.
type NSSDB struct{ Dir, For string }

// ChromiumNSSDB is where Chromium on Linux keeps the user's certificates.
func ChromiumNSSDB(home string) string { return filepath.Join(home, ".pki", "nssdb") }
