package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aadproxy/aadproxy/certs"
	"github.com/aadproxy/aadproxy/internal/launch"
	"github.com/aadproxy/aadproxy/internal/runfile"
)

// browserOptions are `aadproxy browser [start flags] [--browser NAME] [URL]`.
type browserOptions struct {
	startOptions
	browser    string
	headless   bool
	screenshot string
	pid        int
	url        string
	ownProxy   bool // a start flag was given: a running proxy would ignore it
}

func parseBrowser(args []string, stderr io.Writer) (browserOptions, error) {
	o := browserOptions{startOptions: defaultStartOptions()}
	fs := startFlags("browser", &o.startOptions, stderr)
	fs.StringVar(&o.browser, "browser", "", "`NAME`: "+strings.Join(launch.BrowserNames(), ", ")+" (default: the first installed)")
	fs.BoolVar(&o.headless, "headless", false, "run the browser without a window")
	fs.StringVar(&o.screenshot, "screenshot", "", "with --headless: load URL, save a PNG to `FILE` and exit")
	fs.IntVar(&o.pid, "pid", 0, "use the running proxy with this `PID` (default: the newest running one)")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return o, err
	}
	if fs.NArg() > 1 {
		return o, usagef("want at most one URL, got %q", fs.Args())
	}
	o.url = fs.Arg(0)
	if o.browser != "" && !slices.Contains(launch.BrowserNames(), o.browser) {
		return o, usagef("--browser %q: want one of %s", o.browser, strings.Join(launch.BrowserNames(), ", "))
	}
	if o.screenshot != "" && (!o.headless || o.url == "") {
		return o, usagef("--screenshot needs --headless and a URL")
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "browser", "headless", "screenshot", "pid", "home", "json", "quiet", "open":
		default:
			o.ownProxy = true
			listenSet = listenSet || f.Name == "listen"
		}
	})
	if !listenSet {
		o.listen = "127.0.0.1:0" // a proxy of its own takes a free port
	}
	return o, o.validate()
}

// runBrowser opens a browser with a fresh, private profile pointed at the
// running proxy (or at one of its own, with the start flags given) and
// trusting the CA for that profile only; the profile is deleted on exit.
func runBrowser(args []string, stdout, stderr io.Writer) error {
	o, err := parseBrowser(args, stderr)
	if err != nil {
		return err
	}
	b, err := launch.FindBrowser(o.browser)
	if err != nil {
		return err
	}
	home, err := homeDir(o.home)
	if err != nil {
		return err
	}
	ca, _, err := certs.LoadOrCreate(home)
	if err != nil {
		return fmt.Errorf("load CA from %s: %w", home, err)
	}
	addr, s, err := browserProxy(o, home, ca, stdout, stderr)
	if err != nil {
		return err
	}
	if s != nil {
		defer s.closeWithin(stopDeadline, nil, stderr)
	}
	profile, err := os.MkdirTemp("", "aadproxy-browser-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	cmd, err := b.Command(launch.BrowserRun{Proxy: addr, SPKIHash: ca.SPKIHash(), CACert: ca.CertPath(),
		Profile: profile, Headless: o.headless, Screenshot: o.screenshot, URL: o.url})
	if err != nil {
		return err
	}
	var blog tailWriter
	cmd.Stdout, cmd.Stderr = &blog, &blog // browsers are chatty; shown only if it fails
	fmt.Fprintf(stderr, "aadproxy: %s (%s) through %s, with a fresh profile that trusts the aadproxy CA; it is deleted when the browser closes\n", b.Name, b.Path, addr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.Path, err)
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-sig:
		// Close the browser before its profile goes.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-waited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			err = <-waited
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s exited: %v\n%s", b.Name, err, blog.String())
	}
	if o.screenshot != "" {
		if _, err := os.Stat(o.screenshot); err != nil {
			return fmt.Errorf("%s wrote no screenshot: %s", b.Name, blog.String())
		}
		fmt.Fprintf(stderr, "screenshot: %s\n", o.screenshot)
	}
	return nil
}

// browserProxy returns the address of the proxy the browser uses: the
// running one (found through its run file) unless start flags ask for a
// proxy of its own, which is then started with the inspector.
func browserProxy(o browserOptions, home string, ca *certs.CA, stdout, stderr io.Writer) (string, *session, error) {
	if !o.ownProxy {
		info, err := runfile.Find(home, o.pid)
		if err == nil {
			fmt.Fprintf(stderr, "aadproxy: using the running proxy %d on %s\n", info.PID, info.Proxy)
			return info.Proxy, nil, nil
		}
		if o.pid != 0 || !errors.Is(err, runfile.ErrNone) {
			return "", nil, err
		}
	}
	po, err := o.proxyOptions()
	if err != nil {
		return "", nil, err
	}
	po.Tag = "browser"
	tuneGC()
	s, err := openSession(o.startOptions, po, ca, stdout, stderr)
	if err != nil {
		return "", nil, err
	}
	if s.ui != nil {
		s.ui.announce(stderr, o.open)
	}
	return s.listener.Addr().String(), s, nil
}

// tailWriter keeps the last 8 KiB written to it.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > 8<<10 {
		w.b = w.b[len(w.b)-8<<10:]
	}
	return len(p), nil
}

func (w *tailWriter) String() string { return string(w.b) }
