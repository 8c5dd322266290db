package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/trust"
	"github.com/aadproxy/aadproxy/proxy"
)

// constraintDomains returns the DNS domains a name-constrained CA permits:
// the identity hosts' domains, the --intercept patterns' domains, localhost,
// and keep (an earlier constrained CA's: regenerating widens, never
// narrows). A constraint covers a domain and its subdomains, so "*.x.com"
// and "api-*.x.com" both become "x.com", and a domain under another is
// dropped.
func constraintDomains(intercept, keep []string) ([]string, error) {
	if _, err := proxy.NewScope(intercept, false); err != nil {
		return nil, usageError{err}
	}
	var all []string
	for _, p := range slices.Concat(proxy.IdentityHosts, intercept) {
		d, err := patternDomain(p)
		if err != nil {
			return nil, err
		}
		all = append(all, d)
	}
	all = append(all, keep...)
	all = append(all, "localhost")
	var out []string
	for _, d := range all {
		covered := slices.ContainsFunc(all, func(o string) bool { return o != d && strings.HasSuffix(d, "."+o) })
		if !covered && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// patternDomain is the domain of an --intercept pattern: the labels right
// of the last one with a wildcard. A pattern whose domain would be a bare
// top-level domain is refused: the constraint would cover all of it.
func patternDomain(p string) (string, error) {
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), "."), ".")
	for i := len(labels) - 1; i >= 0; i-- {
		if strings.ContainsAny(labels[i], "*?[]") {
			labels = labels[i+1:]
			break
		}
	}
	if len(labels) < 2 && !(len(labels) == 1 && labels[0] == "localhost") {
		return "", usagef("--intercept %q: a CA constrained to it would cover a whole top-level domain; name a domain", p)
	}
	return strings.Join(labels, "."), nil
}

// regenerateCA is `aadproxy ca regenerate [--constrain [--intercept P]...]`.
// The certificate of the CA it replaces stays trusted wherever it was
// installed until the user removes it: a constraint cannot be added to an
// existing certificate, so a constrained CA is always a new one.
func regenerateCA(o caOptions, home string, stdout, stderr io.Writer) error {
	// The old CA is read as a certificate only: regenerate is also the way
	// out of a damaged or leaked key.
	var keep []string
	old, oldErr := trust.LoadCert(filepath.Join(home, certs.CertFile))
	if oldErr == nil {
		if x, err := x509.ParseCertificate(old.DER); err == nil {
			keep = x.PermittedDNSDomains
		}
	}
	if !o.constrain && len(o.intercept) > 0 {
		return usagef("--intercept widens a constrained CA: use it with --constrain")
	}
	var opts certs.Options
	if o.constrain {
		domains, err := constraintDomains(o.intercept, keep)
		if err != nil {
			return err
		}
		opts.PermittedDomains = domains
	}
	// Before the old certificate is replaced, note where it is trusted, so
	// uninstall can still find it.
	var stillTrusted []string
	if oldErr == nil {
		stillTrusted = rememberTrusted(home, old)
	}
	ca, err := certs.RegenerateWith(home, opts)
	if err != nil {
		return fmt.Errorf("regenerate CA in %s: %w", home, err)
	}
	kind := "new CA"
	if ca.Constrained() {
		kind = "new name-constrained CA"
	}
	fmt.Fprintf(stdout, "%s written to %s\nSHA-256 %s\n", kind, ca.CertPath(), ca.Fingerprint())
	if ca.Constrained() {
		fmt.Fprintf(stdout, "\n%s\n", constraintSummary(ca))
		if len(keep) > 0 {
			fmt.Fprintf(stdout, "(kept the previous CA's domains; to narrow them, run aadproxy ca regenerate, then --constrain with what you need)\n")
		}
	}
	fmt.Fprintln(stdout, "\nclients that trusted the old CA must trust the new file")
	if len(stillTrusted) > 0 {
		fmt.Fprintf(stdout, "the previous CA stays trusted until you remove it, in: %s\n"+
			"remove it with aadproxy ca uninstall, then trust the new one with aadproxy ca install\n", strings.Join(stillTrusted, "; "))
	} else {
		fmt.Fprintln(stdout, "to trust it in the OS store and your browsers: aadproxy ca install")
	}
	return nil
}

// constraintSummary says what a constrained CA may vouch for and what that
// means for the proxy.
func constraintSummary(ca *certs.CA) string {
	return "it can vouch only for these domains and their subdomains: " + strings.Join(ca.PermittedDomains(), ", ") +
		"; and 127.0.0.0/8, ::1\n" +
		"a leaf for any other host would fail validation, so aadproxy tunnels other hosts untouched, even with --intercept or --intercept-all,\n" +
		"and says so; to decrypt one, widen the constraints: aadproxy ca regenerate --constrain --intercept DOMAIN"
}

// rememberTrusted finds where c sits under aadproxy's name in this user's
// stores, adds those places to the install record (so uninstall finds c
// after its file is replaced) and returns them. It only reads the stores;
// one it cannot read is skipped.
func rememberTrusted(home string, c trust.Cert) []string {
	env, err := trustEnv()
	if err != nil {
		return nil
	}
	stores, _, err := trust.Stores(env, trust.Kinds)
	if err != nil {
		return nil
	}
	rec, err := trust.LoadRecord(home)
	if err != nil {
		return nil
	}
	stores = withRecordedNSS(stores, rec, env, caOptions{action: "status", stores: trust.Kinds})
	var where []string
	for _, s := range stores {
		if st, err := s.Status(c); err == nil && st.Ours != "" {
			rec.Add(s, c)
			where = append(where, st.Ours)
		}
	}
	if len(where) > 0 {
		if err := rec.Save(home); err != nil {
			return nil
		}
	}
	return where
}
