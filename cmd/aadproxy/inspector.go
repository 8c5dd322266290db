package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/ui"
)

// uiFlags adds the inspector's flags to a command that serves it.
func uiFlags(fs *flag.FlagSet, o *startOptions) {
	fs.StringVar(&o.ui, "ui", "", "serve the web inspector on `ADDR` (default "+ui.DefaultAddr+", or a free port when that one is busy)")
	fs.BoolVar(&o.noUI, "no-ui", false, "do not serve the web inspector")
	fs.BoolVar(&o.open, "open", false, "open the web inspector in the default browser")
}

func (o startOptions) validateUI() error {
	if o.ui == "" {
		return nil
	}
	if o.noUI {
		return usagef("--ui and --no-ui contradict each other")
	}
	if _, _, err := net.SplitHostPort(o.ui); err != nil {
		return usagef("--ui %q: %v (want an address like 127.0.0.1:8081)", o.ui, err)
	}
	return nil
}

// inspector is a running web inspector.
type inspector struct {
	srv      *ui.Server
	store    *ui.Store
	listener net.Listener
	url      string // with the token
	served   chan error
}

// openInspector listens where o says and serves store. The default port
// falling back to a free one is said, never fatal; a named address that
// cannot be bound is an error.
func openInspector(o startOptions, store *ui.Store, uo ui.Options, stderr io.Writer) (*inspector, error) {
	explicit := o.ui != ""
	l, err := ui.Listen(o.ui, explicit)
	if err != nil {
		return nil, fmt.Errorf("web inspector: listen on %s: %w (choose another with --ui ADDR, or --no-ui)", orDefault(o.ui, ui.DefaultAddr), err)
	}
	srv, err := ui.NewServer(store, uo)
	if err != nil {
		l.Close()
		return nil, err
	}
	addr := l.Addr().String()
	if !explicit && addr != ui.DefaultAddr {
		fmt.Fprintf(stderr, "web inspector: %s is busy, using %s instead\n", ui.DefaultAddr, addr)
	}
	if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(stderr, "! the web inspector listens beyond loopback on %s: it shows passwords and tokens to anyone who has its link\n", addr)
	}
	in := &inspector{srv: srv, store: store, listener: l, url: ui.URL(addr, srv.Token()), served: make(chan error, 1)}
	go func() { in.served <- srv.Serve(l) }()
	return in, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// announce prints the inspector's link and opens it when asked.
func (in *inspector) announce(w io.Writer, open bool) {
	fmt.Fprintf(w, "web inspector: %s\n", in.url)
	if open {
		if err := openBrowser(in.url); err != nil {
			fmt.Fprintf(w, "! could not open a browser (%v): open the link above yourself\n", err)
		}
	}
}

func (in *inspector) close() {
	in.listener.Close()
	in.store.Close()
}

// openBrowser opens url in the default browser without waiting for it.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// writeRunFile tells other aadproxy commands where this proxy and its
// inspector are (internal/runfile).
func (s *session) writeRunFile(home string, o startOptions) error {
	info := runfile.Info{
		PID: os.Getpid(), Proxy: s.listener.Addr().String(), Started: time.Now().UTC(), Home: home,
		ProxyAuth: o.auth != "",
	}
	if o.record != "" {
		info.Recording, _ = filepath.Abs(o.record)
	}
	if s.ui != nil {
		info.UI = "http://" + s.ui.listener.Addr().String() + "/"
		info.Token = s.ui.srv.Token()
	}
	_, err := runfile.Write(home, info)
	return err
}

// uiOptions are the flags of `aadproxy ui FILE`.
type uiOptions struct {
	file string
	startOptions
}

func parseUI(args []string, stderr io.Writer) (uiOptions, error) {
	var o uiOptions
	fs := newFlagSet("ui", stderr)
	uiFlags(fs, &o.startOptions)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if o.noUI {
		return o, usagef("--no-ui leaves nothing to do: use `aadproxy analyze FILE`")
	}
	if fs.NArg() != 1 {
		return o, usagef("want one trace file, e.g. aadproxy ui signin.har")
	}
	o.file = fs.Arg(0)
	return o, o.validateUI()
}

// runUI serves the inspector over a HAR or SAZ file, offline, until
// Ctrl-C.
func runUI(args []string, stdout, stderr io.Writer) error {
	o, err := parseUI(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.file); err != nil {
		return err
	}
	store := ui.NewStore(ui.StoreOptions{})
	name := filepath.Base(o.file)
	n, readErr := store.ImportFile(o.file, name)
	if readErr != nil && n == 0 {
		store.Close()
		return fmt.Errorf("%s: %w", o.file, readErr)
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "! %s: %v; showing the %d flows before the damage\n", o.file, readErr, n)
	}
	in, err := openInspector(o.startOptions, store, ui.Options{Mode: "file", Source: name, Version: version, Bundle: writeBundle}, stderr)
	if err != nil {
		store.Close()
		return err
	}
	defer in.close()
	fmt.Fprintf(stderr, "aadproxy %s: %d flows from %s\n", version, n, o.file)
	in.announce(stderr, o.open)
	fmt.Fprintln(stderr, "Ctrl-C stops.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case err := <-in.served:
		return err
	}
	return nil
}
