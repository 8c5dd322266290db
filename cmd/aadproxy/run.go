package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/launch"
	"github.com/aadproxy/aadproxy/internal/runfile"
	"github.com/aadproxy/aadproxy/mcpserver"
	"github.com/aadproxy/aadproxy/proxy"
)

// runOptions are `aadproxy run [start flags] -- CMD ARGS…`.
type runOptions struct {
	startOptions
	command []string
	attach  bool
	pid     int
}

func parseRun(args []string, stderr io.Writer) (runOptions, error) {
	o := runOptions{startOptions: defaultStartOptions()}
	fs := startFlags("run", &o.startOptions, stderr)
	fs.BoolVar(&o.attach, "attach", false, "use the running proxy (its run file) instead of one of its own; start flags do not apply")
	fs.IntVar(&o.pid, "pid", 0, "with --attach: the proxy with this `PID` (default: the newest running one)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: aadproxy run [start flags] -- COMMAND [ARGS…]\n\nRuns COMMAND with its environment wired to a proxy of its own, for its lifetime.\n\n")
		fs.PrintDefaults()
	}
	// Flags end at the command: everything after it is the command's own.
	if err := parseOnce(fs.FlagSet, args); err != nil {
		return o, err
	}
	o.command = fs.Args()
	if len(o.command) == 0 {
		return o, usagef("want a command to run, e.g. aadproxy run -- az login")
	}
	listenSet, startSet := false, ""
	fs.Visit(func(f *flag.Flag) {
		listenSet = listenSet || f.Name == "listen"
		switch f.Name {
		case "attach", "pid", "home":
		default:
			startSet = f.Name
		}
	})
	if o.attach && startSet != "" {
		// A silent attach would lose the flag (a --map-remote, --offline…).
		return o, usagef("--attach uses the running proxy as it was started; --%s applies only to a proxy of run's own", startSet)
	}
	if o.pid != 0 && !o.attach {
		return o, usagef("--pid picks the running proxy for --attach")
	}
	if !listenSet {
		o.listen = "127.0.0.1:0" // a free port: several runs side by side
	}
	return o, o.validate()
}

// runRun starts a proxy, runs the command wired to it, and returns the
// command's exit code. aadproxy's own lines go to stderr; the command's
// stdin, stdout and stderr are its own.
func runRun(args []string, stdout, stderr io.Writer) int {
	o, err := parseRun(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "aadproxy run: %v\n%s", err, usageHint("run"))
		return exitBadInput
	}
	code, err := runCommand(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "aadproxy run: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			code = exitBadInput
		} else if code == 0 {
			code = exitFindings
		}
	}
	return code
}

func runCommand(o runOptions, stderr io.Writer) (int, error) {
	if o.attach {
		return runAttached(o, stderr)
	}
	po, err := o.proxyOptions()
	if err != nil {
		return 0, err
	}
	po.Tag = filepath.Base(o.command[0])
	home, err := homeDir(o.home)
	if err != nil {
		return 0, err
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		return 0, fmt.Errorf("load CA from %s: %w", home, err)
	}
	w, err := wiring(home, ca)
	if err != nil {
		return 0, err
	}
	tuneGC()
	s, err := openSession(o.startOptions, po, ca, stderr, stderr)
	if err != nil {
		return 0, err
	}
	addr := s.listener.Addr().String()
	w.ProxyURL = "http://" + addr
	scope, _ := proxy.NewScope(o.intercept, o.interceptAll)
	w.Bypasses = scope.Bypasses
	fmt.Fprintf(stderr, "aadproxy %s: running %s through %s", version, po.Tag, addr)
	if s.ui != nil {
		fmt.Fprintf(stderr, "; web inspector: %s", s.ui.url)
	}
	fmt.Fprintln(stderr)
	if err := s.writeRunFile(home, o.startOptions); err == nil {
		defer runfile.Remove(home, os.Getpid())
	}

	code := runWired(o.command, w, stderr)
	if err := s.closeWithin(stopDeadline, nil, stderr); err != nil {
		fmt.Fprintf(stderr, "aadproxy run: %v\n", err)
	}
	return code, nil
}

// runWired runs command with its environment wired by w and returns its
// exit code (127 when it cannot start).
func runWired(command []string, w launch.Wiring, stderr io.Writer) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = launch.Env(os.Environ(), w)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the command from the terminal (same process group);
	// aadproxy waits for it and only passes on what the terminal does not
	// send (a kill from elsewhere).
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "aadproxy run: start %s: %v\n", command[0], err)
		return 127
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-waited:
			break wait
		case sg := <-sig:
			if sg != os.Interrupt {
				cmd.Process.Signal(sg)
			}
		}
	}
	return exitCode(cmd, waitErr)
}

// runAttached runs the command through the running proxy, on a listener
// of its own that the proxy's inspector opens, so its flows still carry
// its name; the listener closes when the command ends.
func runAttached(o runOptions, stderr io.Writer) (int, error) {
	home, err := homeDir(o.home)
	if err != nil {
		return 0, err
	}
	info, err := runfile.Find(home, o.pid)
	if err != nil {
		return 0, err
	}
	if info.UI == "" {
		return 0, fmt.Errorf("the running aadproxy (pid %d) has no web inspector to ask for a listener (started with --no-ui)", info.PID)
	}
	api := &mcpserver.HTTPAPI{Base: info.UI, Token: info.Token}
	tag := filepath.Base(o.command[0])
	var got struct{ Proxy string }
	ctx := context.Background()
	if err := api.Do(ctx, "POST", "/api/listeners", url.Values{"tag": {tag}}, &got); err != nil {
		return 0, fmt.Errorf("ask the running proxy for a listener: %w", err)
	}
	defer api.Do(ctx, "DELETE", "/api/listeners/"+url.PathEscape(got.Proxy), nil, nil)
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		return 0, err
	}
	w, err := wiring(home, ca)
	if err != nil {
		return 0, err
	}
	w.ProxyURL = "http://" + got.Proxy
	scope, _ := proxy.NewScope(nil, false)
	w.Bypasses = scope.Bypasses
	fmt.Fprintf(stderr, "aadproxy: running %s through the running proxy %d (%s, its own listener %s)\n", tag, info.PID, info.Proxy, got.Proxy)
	return runWired(o.command, w, stderr), nil
}

// exitCode is the command's exit status; killed by a signal, 128 + its
// number, as shells report it.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return exitFindings
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := cmd.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	return exitFindings
}

// wiring prepares the trust files a client needs: the full bundle, the CA
// alone and a Java trust store, all in the home.
func wiring(home string, ca *certs.CA) (launch.Wiring, error) {
	bundle, err := caBundle(home, ca)
	if err != nil {
		return launch.Wiring{}, err
	}
	w := launch.Wiring{Bundle: bundle, CACert: ca.CertPath()}
	roots, err := pemCerts(bundle)
	if err != nil {
		return w, err
	}
	store := filepath.Join(home, "java-truststore.p12")
	if w.TrustStorePassword, err = launch.WriteTrustStore(store, roots); err != nil {
		return w, err
	}
	w.TrustStore = store
	return w, nil
}

// pemCerts reads every certificate of a PEM file, skipping ones Go cannot
// parse (some system bundles carry a few).
func pemCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && b.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
	return out, nil
}
