package trust

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// Env says where a user's trust stores are.
type Env struct {
	GOOS string // runtime.GOOS, or another for a plan
	Home string // the user's home folder (not aadproxy's)
	// NSSDBs names NSS databases to use instead of the ones found under
	// Home (aadproxy ca --nssdb).
	NSSDBs []string
	// Certutil is NSS's certutil; "" when it is not installed.
	Certutil string
	Run      Runner
}

// DefaultEnv describes this machine and user.
func DefaultEnv(goos string) (Env, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Env{}, fmt.Errorf("find your home folder: %w", err)
	}
	env := Env{GOOS: goos, Home: home, Run: Exec}
	if goos != "windows" { // Windows' certutil is another program
		env.Certutil, _ = exec.LookPath("certutil")
	}
	return env, nil
}

// Kinds are the store kinds aadproxy ca --store takes.
var Kinds = []string{"system", "nss"}

// Stores returns the stores of the kinds asked for, and notes on those it
// cannot use (said to the user, not errors: the other stores still work).
// An NSS database named in env.NSSDBs that does not exist is an error.
func Stores(env Env, kinds []string) (stores []Store, notes []string, err error) {
	if slices.Contains(kinds, "system") {
		switch env.GOOS {
		case "linux":
			if s, ok := FindLinuxStore(); ok {
				stores = append(stores, s)
			} else {
				notes = append(notes, "OS store: none found (looked for update-ca-trust with /etc/pki/ca-trust/source/anchors, "+
					"update-ca-certificates with /usr/local/share/ca-certificates, trust with /etc/ca-certificates/trust-source/anchors)")
			}
		case "darwin":
			stores = append(stores, MacStore{Keychain: LoginKeychain(env.Home), Run: env.Run})
		case "windows":
			stores = append(stores, WindowsStore{Run: env.Run})
		default:
			notes = append(notes, "OS store: aadproxy does not know "+env.GOOS+"'s")
		}
	}
	if slices.Contains(kinds, "nss") {
		nss, nssNotes, err := nssStores(env)
		if err != nil {
			return nil, nil, err
		}
		stores = append(stores, nss...)
		notes = append(notes, nssNotes...)
	}
	return stores, notes, nil
}

func nssStores(env Env) ([]Store, []string, error) {
	var dbs []NSSDB
	if len(env.NSSDBs) > 0 {
		for _, d := range env.NSSDBs {
			abs, err := filepath.Abs(d)
			if err != nil {
				return nil, nil, err
			}
			if _, err := os.Stat(filepath.Join(abs, "cert9.db")); err != nil {
				return nil, nil, fmt.Errorf("--nssdb %s: no NSS database there (cert9.db); make one with: certutil -N -d sql:%s --empty-password", d, abs)
			}
			dbs = append(dbs, NSSDB{Dir: abs})
		}
	} else if env.GOOS != "linux" {
		// Firefox on Windows and macOS also trusts the OS store's roots
		// (security.enterprise_roots.enabled, on by default there).
		return nil, []string{"NSS databases: skipped on " + env.GOOS + ", where Firefox reads the OS store; name one with --nssdb DIR"}, nil
	} else {
		dbs = NSSDatabases(env.Home)
	}
	if env.Certutil == "" {
		if len(dbs) == 0 {
			return nil, nil, nil
		}
		return nil, []string{"NSS databases: certutil is not installed, so " + dbs[0].Dir + " and the like are left alone; " +
			"install libnss3-tools (Debian, Ubuntu) or nss-tools (Fedora)"}, nil
	}
	if len(dbs) == 0 {
		return nil, []string{"NSS databases: none under " + env.Home + " (Chromium makes " + ChromiumNSSDB(env.Home) +
			" on its first start, Firefox one per profile): start the browser once, then run this again"}, nil
	}
	stores := make([]Store, len(dbs))
	for i, db := range dbs {
		stores[i] = NSSStore{Dir: db.Dir, For: db.For, Certutil: env.Certutil, Run: env.Run}
	}
	return stores, nil, nil
}

// Merge drops a step that a later one repeats, so several certificates in
// one store rebuild its bundle once, at the end.
func Merge(steps []Step) []Step {
	var out []Step
	for i, s := range steps {
		if !slices.ContainsFunc(steps[i+1:], func(t Step) bool { return slices.Equal(s.Args, t.Args) }) {
			out = append(out, s)
		}
	}
	return out
}
