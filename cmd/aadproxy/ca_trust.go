package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/trust"
)

// These are variables so tests can answer the question install asks.
var (
	caStdin         io.Reader = os.Stdin
	stdinIsTerminal           = func() bool {
		return isatty.IsTerminal(os.Stdin.Fd()) || isatty.IsCygwinTerminal(os.Stdin.Fd())
	}
	trustEnv = func() (trust.Env, error) { return trust.DefaultEnv(runtime.GOOS) }
	isAdmin  = func() bool { return runtime.GOOS != "windows" && os.Geteuid() == 0 }
)

// errNotDone is returned when some change could not be made, after the
// reason and the commands to make it by hand were printed.
var errNotDone = errors.New("not every trust store was changed (see above)")

// trustTask is what install or uninstall does to one store.
type trustTask struct {
	store trust.Store
	certs []trust.Cert // the certificates it adds or removes
	steps []trust.Step
}

func (t trustTask) admin() bool {
	return slices.ContainsFunc(t.steps, func(s trust.Step) bool { return s.Admin })
}

// runCATrust is aadproxy ca install, uninstall and status.
func runCATrust(o caOptions, home string, stdout, stderr io.Writer) error {
	env, err := trustEnv()
	if err != nil {
		return err
	}
	env.NSSDBs = o.nssdbs
	rec, err := trust.LoadRecord(home)
	if err != nil {
		return err
	}
	var current *trust.Cert
	if o.action == "install" {
		ca, created, err := certs.LoadOrCreate(home)
		if err != nil {
			return fmt.Errorf("load CA from %s: %w", home, err)
		}
		if created {
			fmt.Fprintf(stderr, "created a new CA in %s\n", home)
		}
		c := trust.Cert{DER: ca.CertDER(), Path: ca.CertPath(), Subject: ca.Cert().Subject.String()}
		current = &c
	} else {
		// Uninstall and status never create a CA; they read only the
		// certificate, never the key.
		c, err := trust.LoadCert(filepath.Join(home, certs.CertFile))
		switch {
		case err == nil:
			current = &c
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("read CA certificate: %w", err)
		}
	}
	stores, notes, err := trust.Stores(env, o.stores)
	if err != nil {
		return usageError{err}
	}
	stores = withRecordedNSS(stores, rec, env, o)

	// The certificates this run is about: install adds the current CA;
	// uninstall and status also look for the CAs install added before a
	// regenerate.
	var all []trust.Cert
	if current != nil {
		all = append(all, *current)
	}
	if o.action != "install" {
		for _, c := range rec.Certs() {
			if !slices.ContainsFunc(all, c.Equal) {
				all = append(all, c)
			}
		}
	}
	if len(all) == 0 {
		fmt.Fprintf(stdout, "no aadproxy CA in %s and none recorded as installed: nothing to %s\n", home, o.action)
		return nil
	}
	for _, c := range all {
		label := "aadproxy CA"
		if current == nil || !c.Equal(*current) {
			label = "earlier aadproxy CA (replaced by ca regenerate)"
		}
		fmt.Fprintf(stdout, "%s  SHA-256 %s\n", label, c.Fingerprint())
	}
	if current != nil {
		fmt.Fprintf(stdout, "  file %s\n", current.Path)
	}
	fmt.Fprintln(stdout)

	var tasks []trustTask
	for _, s := range stores {
		t, err := planStore(o.action, s, all, current, &rec, stdout)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", s.Name(), err)
			notes = append(notes, "could not read "+s.Name())
			continue
		}
		if len(t.steps) > 0 {
			tasks = append(tasks, t)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if o.action == "status" {
		return nil
	}
	// What the proxy may run, and what needs an admin.
	admin := isAdmin()
	var runnable, manual []trustTask
	for _, t := range tasks {
		if t.admin() && !admin {
			manual = append(manual, t)
		} else {
			runnable = append(runnable, t)
		}
	}
	if len(tasks) == 0 {
		fmt.Fprintln(stdout, "\nnothing to change")
		return saveRecord(rec, home, o)
	}
	verb := "will run"
	if o.dryRun {
		verb = "would run"
	}
	for _, t := range runnable {
		fmt.Fprintf(stdout, "\n%s: %s\n", t.store.Name(), verb)
		for _, s := range t.steps {
			fmt.Fprintf(stdout, "  %s\n", s)
		}
	}
	if len(manual) > 0 {
		fmt.Fprintln(stdout, "\nneeds admin rights, which aadproxy does not take on its own (it never runs sudo): run these yourself")
		for _, t := range manual {
			fmt.Fprintf(stdout, "%s:\n", t.store.Name())
			for _, s := range t.steps {
				fmt.Fprintf(stdout, "  sudo %s\n", s)
			}
		}
		if slices.Contains(o.stores, "nss") {
			fmt.Fprintln(stdout, "or leave the OS store out: --store nss")
		}
	}
	if o.dryRun {
		fmt.Fprintln(stdout, "\ndry run: nothing changed")
		return nil
	}
	if len(runnable) > 0 && !o.yes {
		if !stdinIsTerminal() {
			return usagef("%s changes trust stores: pass --yes to confirm when not at a terminal, or --dry-run to see what would change", o.action)
		}
		fmt.Fprint(stdout, "\nGo ahead? [y/N] ")
		line, _ := bufio.NewReader(caStdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "nothing changed")
			return nil
		}
	}
	failed := len(manual) > 0
	for _, t := range runnable {
		if err := runTask(o.action, t, &rec, stdout); err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", t.store.Name(), err)
			failed = true
		}
		if err := saveRecord(rec, home, o); err != nil {
			return err
		}
	}
	if failed {
		return errNotDone
	}
	return nil
}

// planStore reports where store holds each certificate and returns what
// the action would do there. It keeps the record true to what it finds:
// a recorded certificate that is gone is forgotten.
func planStore(action string, s trust.Store, all []trust.Cert, current *trust.Cert, rec *trust.Record, stdout io.Writer) (trustTask, error) {
	t := trustTask{store: s}
	var lines []string
	for _, c := range all {
		st, err := s.Status(c)
		if err != nil {
			return t, err
		}
		isCurrent := current != nil && c.Equal(*current)
		who := ""
		if len(all) > 1 {
			who = " [" + c.ID() + "]"
		}
		if st.Ours == "" {
			rec.Remove(s, c)
		}
		switch {
		case st.Ours != "" && st.Pending != "":
			lines = append(lines, "added by aadproxy as "+st.Ours+", not yet in effect: "+st.Pending+who)
		case st.Ours != "":
			lines = append(lines, "trusted, added by aadproxy as "+st.Ours+who)
		case len(st.Others) == 0 && isCurrent:
			lines = append(lines, "not trusted"+who)
		}
		for _, o := range st.Others {
			lines = append(lines, "trusted through "+o+", which aadproxy did not add and leaves alone"+who)
		}
		switch action {
		case "install":
			if st.Ours != "" && st.Pending == "" || len(st.Others) > 0 && st.Ours == "" {
				continue
			}
			t.certs = append(t.certs, c)
			t.steps = append(t.steps, s.Install(c)...)
		case "uninstall":
			if st.Ours == "" {
				continue
			}
			t.certs = append(t.certs, c)
			t.steps = append(t.steps, s.Uninstall(c)...)
		}
	}
	if len(lines) == 0 {
		lines = []string{"not trusted"}
	}
	fmt.Fprintf(stdout, "%s: %s\n", s.Name(), lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(stdout, "  %s\n", l)
	}
	t.steps = trust.Merge(t.steps)
	return t, nil
}

// runTask runs a store's steps, printing each with its output, then checks
// the store again: a command that exits 0 is not proof.
func runTask(action string, t trustTask, rec *trust.Record, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\n%s:\n", t.store.Name())
	for _, s := range t.steps {
		fmt.Fprintf(stdout, "$ %s\n", s)
		out, err := trust.Exec(s.Args...)
		if o := strings.TrimSpace(string(out)); o != "" {
			fmt.Fprintf(stdout, "  %s\n", strings.ReplaceAll(o, "\n", "\n  "))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Args[0], err)
		}
	}
	var wrong []string
	for _, c := range t.certs {
		st, err := t.store.Status(c)
		if err != nil {
			return err
		}
		switch {
		case action == "install" && st.Ours != "" && st.Pending == "":
			rec.Add(t.store, c)
			fmt.Fprintf(stdout, "trusted now: added %s\n", st.Ours)
		case action == "install":
			wrong = append(wrong, "the commands ran, but the store does not hold "+c.ID()+" under aadproxy's name")
		case st.Ours == "":
			rec.Remove(t.store, c)
			fmt.Fprintf(stdout, "removed %s\n", c.ID())
			if len(st.Others) > 0 {
				fmt.Fprintf(stdout, "still trusted through %s, which aadproxy did not add: remove it yourself if you want it gone\n", strings.Join(st.Others, ", "))
			}
		default:
			wrong = append(wrong, "the commands ran, but "+st.Ours+" is still there")
		}
	}
	if len(wrong) > 0 {
		return errors.New(strings.Join(wrong, "; "))
	}
	return nil
}

// withRecordedNSS adds the NSS databases install used that were not found
// this time (named with --nssdb then), so uninstall and status still look
// there; a database that no longer exists is skipped.
func withRecordedNSS(stores []trust.Store, rec trust.Record, env trust.Env, o caOptions) []trust.Store {
	if o.action == "install" || len(o.nssdbs) > 0 || !slices.Contains(o.stores, "nss") || env.Certutil == "" {
		return stores
	}
	for _, dir := range rec.Locations("nss") {
		if slices.ContainsFunc(stores, func(s trust.Store) bool { return s.Kind() == "nss" && s.Location() == dir }) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "cert9.db")); err != nil {
			continue
		}
		stores = append(stores, trust.NSSStore{Dir: dir, For: "recorded by an earlier install", Certutil: env.Certutil, Run: env.Run})
	}
	return stores
}

// saveRecord writes the install record, unless it would be a new empty
// file.
func saveRecord(rec trust.Record, home string, o caOptions) error {
	if o.dryRun {
		return nil
	}
	if len(rec.Installed) == 0 {
		if _, err := os.Stat(filepath.Join(home, trust.RecordFile)); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return rec.Save(home)
}
